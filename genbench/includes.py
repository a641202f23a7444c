"""Plugins from Python files, without packaging: ``--include PATH`` (``RunConfig.include``).

A file named there (or each ``*.py`` of a folder, in sorted order, not recursively) is imported as a
module of its own, so that its ``@genbench.register_model`` (``register_dataset``,
``register_metric``, ``register_features``) decorators register its classes in this process, as an
installed plugin's entry points do; the registries validate them as any other registration.

Each file becomes the module :data:`PREFIX` + its stem + a digest of its path: no name a package or
another included file has, so ``import utils`` elsewhere never finds it, and two ``model.py`` of two
folders are two modules. It is in ``sys.modules`` before it runs (dataclasses and pickling look a
class's module up there), and the file's folder is first on ``sys.path`` while it runs, as ``python
file.py`` has it, so that it imports the files beside it. It runs with ``__name__`` set to its
module's name, so a script's ``if __name__ == "__main__":`` block does not run.

A file is imported once per process for one content: a later call naming it again (the Python API
called twice in a notebook) imports it again only when it was edited since, and its classes then
replace those of its earlier content (:func:`genbench.registry._redefinition`), as a notebook cell
run again does. What a result records of an included class is the file's path and the sha256 of
the content that ran (:func:`genbench.provenance.code_source`); a model's checkpoint key hashes that
digest too (:func:`genbench.training.checkpoint_subdir`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError, said
from genbench.workdir import absolute

#: the start of every included file's module name
PREFIX = "_genbench_include_"


@dataclass(frozen=True)
class IncludedFile:
    """One imported file: where it is, as named and resolved, its module and its content's digest."""

    path: Path  # absolute, symlinks resolved: one file named two ways is imported once
    shown: str  # as the user named it (in `genbench list` and messages)
    module: str
    sha256: str  # of the content that ran


#: resolved path -> the file as last imported
_imported: dict[Path, IncludedFile] = {}
#: module name -> its file, from before the file runs (its decorators ask whose their class is)
_by_module: dict[str, IncludedFile] = {}


def included_file(module: str) -> IncludedFile | None:
    """The included file whose module is ``module``, or None (a package's, a script's, genbench's)."""
    return _by_module.get(module) if module.startswith(PREFIX) else None


def is_included(module: str) -> bool:
    """Whether ``module`` is an included file's (its name says so, imported yet or not)."""
    return module.startswith(PREFIX)


def include(paths: Any, what: str = "RunConfig.include") -> list[IncludedFile]:
    """Import the files ``paths`` names (``.py`` files and folders of them) that this process has not
    imported with their present content; returns every file named. Every path is checked before any
    file runs; a wrong one, or a file that fails, is one :class:`GenbenchError` line naming the fix,
    and ``what`` where ``paths`` is no list of paths (the argument it was given as)."""
    files = include_files(paths, what)
    if not files:
        return []
    from genbench import registry

    # entry points are read before a file's folder is on sys.path: a dist-info folder beside the file
    # is no installed plugin
    for reg in (registry.models, registry.datasets, registry.metrics, registry.features):
        reg.discover()
    return [_import(path, shown) for path, shown in files]


def include_files(paths: Any, what: str = "RunConfig.include") -> list[tuple[Path, str]]:
    """The files ``paths`` names, each once, in order (a folder's ``*.py`` sorted by name): (the
    resolved path, the path as named). ``what``: ``paths`` in messages, as the caller gave it."""
    if not isinstance(paths, Sequence) or isinstance(paths, str | bytes):
        raise GenbenchError(
            f"{what} must be a list of .py files or folders of them, e.g. ['my_model.py'], got {paths!r}"
        )
    found: dict[Path, str] = {}
    for given in paths:
        if not isinstance(given, str | os.PathLike) or not str(given).strip():
            raise GenbenchError(
                f"{what} must be a list of paths of .py files or folders, e.g. ['my_model.py'], "
                f"got {given!r} in it"
            )
        for path, shown in _named_files(Path(given)):
            found.setdefault(path, shown)
    return list(found.items())


def _named_files(given: Path) -> list[tuple[Path, str]]:
    path = absolute(given.expanduser())
    if path.is_dir():
        files = sorted(p for p in path.glob("*.py") if p.is_file())
        if not files:
            from genbench.results import find_results

            if find_results(path):  # results, not code: `report --include runs2` for another folder
                raise GenbenchError(
                    f"--include {given}: the folder holds results, not plugin code (--include takes a "
                    f"plugin's .py file, or a folder of them); to report them beside another folder's, "
                    f"pass it as another --out: genbench report --out FOLDER --out {given} "
                    "--leaderboards DIR"
                )
            raise GenbenchError(
                f"--include {given}: the folder has no .py file; pass a plugin's .py file, or a folder "
                "holding some"
            )
        return [(f.resolve(), str(given / f.name)) for f in files]
    if not path.exists():
        raise GenbenchError(
            f"--include {given}: no such file or folder; pass the path of a .py file that registers "
            "plugins (or of a folder of them)"
        )
    if path.suffix != ".py":
        raise GenbenchError(
            f"--include {given} is not a .py file; pass a Python file whose @genbench.register_model "
            "(or register_dataset, register_metric, register_features) classes to use, or a folder of them"
        )
    return [(path.resolve(), str(given))]


def module_name(path: Path) -> str:
    """The module an included file becomes: :data:`PREFIX`, its stem as an identifier, and a digest
    of its path (two files of one name in two folders are two modules)."""
    stem = re.sub(r"\W", "_", path.stem)
    return f"{PREFIX}{stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"


def _import(path: Path, shown: str) -> IncludedFile:
    try:
        # read once: what is recorded is the digest of what ran, even if an editor saves meanwhile
        source = path.read_bytes()
    except OSError as e:
        raise GenbenchError(f"--include {shown} cannot be read ({e.strerror}); check its permissions") from e
    digest = hashlib.sha256(source).hexdigest()
    known = _imported.get(path)
    if known is not None and known.sha256 == digest:
        return known
    name = module_name(path)
    included = IncludedFile(path=path, shown=shown, module=name, sha256=digest)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None  # a .py path always has one
    module = importlib.util.module_from_spec(spec)
    before = sys.modules.get(name), _by_module.get(name)
    sys.modules[name] = module
    _by_module[name] = included
    folder = str(path.parent)
    sys.path.insert(0, folder)
    # imported here: torch, which the file imports anyway (its plugin's base class needs it)
    from genbench.isolation import plugin_state_kept

    try:
        # the source read above, compiled here rather than by the loader, which reads the file again
        # (and writes a __pycache__ into the user's folder)
        with plugin_state_kept(f"--include {shown}"):
            exec(compile(source, str(path), "exec"), module.__dict__)
    except KeyboardInterrupt:
        _restore(name, *before)
        raise
    except BaseException as e:
        # unlike an installed plugin whose import fails (skipped, recorded as failed, the other models
        # run: it may not even be asked for), a file named on this command line is this run's input:
        # going on without its classes would only fail later as "unknown model", naming no cause
        _restore(name, *before)
        raise GenbenchError(failure_message(shown, path, e)) from e
    finally:
        if folder in sys.path:  # its first occurrence is ours, unless the file put it there again
            sys.path.remove(folder)
    _imported[path] = included
    return included


def _restore(name: str, module: Any, included: IncludedFile | None) -> None:
    """Put ``name``'s entries back as they were before a failed import (as importlib removes a
    module whose import failed)."""
    tables: list[tuple[dict[str, Any], Any]] = [(sys.modules, module), (_by_module, included)]
    for table, value in tables:
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value


def failure_message(shown: str, path: Path, error: BaseException) -> str:
    """One line for a file that failed to import: the file, its line that failed, the exception."""
    line = failure_line(path, error)
    where = f"--include {shown}" + (f", line {line}" if line is not None else "")
    if isinstance(error, GenbenchError):  # a registration refused: its message names the fix
        return f"{where}: {said(error)}"
    if isinstance(error, SyntaxError) and error.filename == str(path):
        text = error.msg  # its str() repeats the file and line
    else:
        text = said(error)
    return f"{where}: {type(error).__name__}: {text}; fix the file, or leave out --include {shown}"


def failure_line(path: Path, error: BaseException) -> int | None:
    """The line of ``path`` where ``error`` was raised (or, raised in a module it imports, its line
    that imported it); a syntax error's own line."""
    if isinstance(error, SyntaxError) and error.filename == str(path):
        return error.lineno
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
    return lines[-1] if lines else None
