"""Which installed distribution provides a module, and a cheap test of whether that can have
changed (``sys.path``, or a folder on it, changed). The registry names a plugin registered by
decorator by its distribution, as it names one found through an entry point, and reads entry points
again when a name is missing and the path changed.
"""

from __future__ import annotations

import functools
import importlib.machinery
import os
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, TypeVar

T = TypeVar("T")


def path_state() -> tuple[tuple[str, int | None], ...]:
    """``sys.path`` with the modification time of each folder on it (None where there is none): what
    changes when a folder is added to it or a distribution is installed into one of its folders."""
    state = []
    for entry in sys.path:
        try:
            mtime: int | None = os.stat(entry or ".").st_mtime_ns
        except (OSError, TypeError, ValueError):  # a path hook's name, a folder not there (yet)
            mtime = None
        state.append((str(entry), mtime))
    return tuple(state)


#: name -> (the path state it was computed under, its value)
_per_path: dict[str, tuple[tuple[tuple[str, int | None], ...], Any]] = {}


def _cached_per_path(build: Callable[[], T]) -> Callable[[], T]:
    """``build()``, computed again only when :func:`path_state` changed (what is installed can have)."""

    def cached() -> T:
        state = path_state()
        hit = _per_path.get(build.__name__)
        if hit is None or hit[0] != state:
            hit = _per_path[build.__name__] = (state, build())
        return hit[1]

    return cached


@_cached_per_path
def _top_level_distributions() -> Mapping[str, list[str]]:
    """:func:`importlib.metadata.packages_distributions` (it reads every installed distribution's file
    list: a fraction of a second)."""
    return metadata.packages_distributions()


@_cached_per_path
def _plugin_distributions() -> dict[str, set[str]]:
    """Top-level module -> the distributions whose genbench entry points name a module under it: a
    plugin's own distribution, read in milliseconds (no installed distribution's file list)."""
    found: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group.startswith("genbench."):
                found.setdefault(ep.module.partition(".")[0], set()).add(dist.name)
    return found


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides ``module``, or None (a script, a test module)."""
    top = module.partition(".")[0]
    if not top or top == "__main__":
        return None
    plugins = _plugin_distributions().get(top, set())
    if len(plugins) == 1:
        return next(iter(plugins))
    names = list(dict.fromkeys(_top_level_distributions().get(top, [])))  # a dist found twice is one
    if len(names) <= 1:
        return names[0] if names and not _shadowed(names[0], top) else None
    # a namespace package several distributions share: the one whose files include the module's
    path = getattr(sys.modules.get(module), "__file__", None)
    if path is None:
        return None
    path = os.path.realpath(path)
    for name in names:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        if any(os.path.realpath(f.locate()) == path for f in files):
            return name
    return None


def version_of(dist: str | None) -> str | None:
    """The installed version of distribution ``dist`` (None for None, or one not installed): one
    metadata lookup, again only when what is installed can have changed (:func:`path_state`)."""
    if dist is None:
        return None
    return _version(dist, path_state())


@functools.lru_cache(maxsize=64)
def _version(dist: str, state: tuple[tuple[str, int | None], ...]) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _shadowed(dist: str, top: str) -> bool:
    """Whether the imported ``top`` is not the one ``dist`` installed, though ``dist`` installs a
    ``top`` too: a project's own ``tests`` package (or ``models``, ``utils``) shadows a distribution
    that ships one by mistake (torch-fidelity ships ``tests``), and a model defined there was
    recorded as that distribution's, at its version. False where it cannot tell: ``top`` not
    imported, a namespace package, or ``dist``'s files not listing ``top``'s (an editable install)."""
    path = getattr(sys.modules.get(top), "__file__", None)
    if not isinstance(path, str):
        return False
    return _installed_elsewhere(dist, top, os.path.realpath(path), path_state())


@functools.lru_cache(maxsize=64)
def _installed_elsewhere(dist: str, top: str, path: str, state: tuple[tuple[str, int | None], ...]) -> bool:
    """Whether ``dist``'s files list ``top``'s own file (``top/__init__.py``, ``top.py``, an extension
    ``top.*.so``), none of them at ``path``; one metadata read per distribution, again only when
    :func:`path_state` changed. Any of its forms, not only the imported one's: a distribution's
    ``top.py`` shadowed by a project's package ``top/`` (or the reverse) had no file to compare."""
    try:
        own = installed_files(metadata.distribution(dist), top)
    except metadata.PackageNotFoundError:
        return False
    return bool(own) and path not in own


def installed_files(dist: metadata.Distribution, top: str) -> list[str]:
    """The real paths of the files by which ``dist`` installs the top-level module ``top`` (its
    ``top/__init__.py``, ``top.py`` or an extension ``top.*.so``), as its file list records them;
    none for a distribution whose list does not name them (an editable install). What the module
    Python imported is compared with: a project's own ``top`` of that name shadows it otherwise."""
    suffixes = importlib.machinery.all_suffixes()  # .py, .pyc, .cpython-312-x86_64-linux-gnu.so, ...
    forms = {(f"{top}{s}",) for s in suffixes} | {(top, f"__init__{s}") for s in suffixes}
    return [os.path.realpath(f.locate()) for f in dist.files or [] if tuple(f.parts) in forms]
