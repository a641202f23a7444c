"""Reading a registry's entry-point group into its name table, without importing anything.

One :class:`Entry` per declared name, with the distribution that declares it. A name declared with
different targets (two distributions both declaring ``vae``, or an entry point naming another class
than the one a decorator registered) becomes an error entry naming every declaration, whatever
order ``sys.path`` lists them in; the other names still work. A name genbench itself declares (a
built-in or a baseline) stays genbench's when a plugin declares it too: the plugin's declaration is
ignored, with a message saying so. :class:`genbench.registry.Registry` decides when to read
(:meth:`~genbench.registry.Registry.discover`) and imports an entry's module when it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

from genbench.errors import RegistrationError
from genbench.registration_checks import check_name, target_of
from genbench.text import and_list

#: the distribution of the built-ins and the baselines
GENBENCH = "genbench"


@dataclass
class Entry:
    """One registered name: where it comes from, and its object once loaded."""

    name: str
    #: the distribution that provides it ("genbench" for the built-ins and baselines); for a class
    #: registered by decorator from no installed distribution (a script, a test), its top-level module
    source: str
    obj: Any = None
    entry_point: metadata.EntryPoint | None = None
    alias_of: str | None = None
    error: str | None = None  # set when loading failed
    #: when several distributions declare the name: every ``module:attr`` they declare
    declared: frozenset[str] = frozenset()

    @property
    def loaded(self) -> bool:
        return self.obj is not None


def is_genbench(dist: str) -> bool:
    """Whether distribution ``dist`` is genbench itself (its built-ins and the baselines)."""
    return dist.lower().replace("_", "-") == GENBENCH


def points_at(ep: metadata.EntryPoint, obj: Any) -> bool:
    """True when entry point ``ep`` (``module:attr``) names ``obj`` itself."""
    module, _, attr = ep.value.partition(":")
    return module.strip() == getattr(obj, "__module__", None) and attr.strip() == getattr(
        obj, "__qualname__", None
    )


def normalised(value: str) -> str:
    """An entry point's ``module:attr`` without the spaces the format allows around ``:``."""
    module, sep, attr = value.partition(":")
    return f"{module.strip()}{sep}{attr.strip()}"


def read_entry_points(kind: str, group: str, entries: dict[str, Entry]) -> dict[str, tuple[str, str]]:
    """Add the names declared in entry-point ``group`` to ``entries`` (the ``kind`` registry's table),
    as the module docstring says; names already there keep their state (a loaded class, an import
    error). Returns, for each of genbench's own names that a plugin declares too, (the other
    distributions, why their declaration is ignored). Never fails.

    A plugin's declaration of one of genbench's names made an error entry like the others, and took
    the built-in down with it: a plugin declaring ``fid`` left every default run without FID, exit 0.
    """
    ignored: dict[str, tuple[str, str]] = {}
    declared: dict[str, dict[str, str]] = {}  # name -> {target: the source that declares it}
    own: dict[str, metadata.EntryPoint] = {}  # name -> genbench's own entry point of that name
    for ep in metadata.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        if is_genbench(dist):
            own.setdefault(ep.name, ep)
        targets = declared.setdefault(ep.name, {})
        entry = entries.get(ep.name)
        if entry is None:
            try:
                check_name(kind, ep.name)
            except RegistrationError as e:
                entries[ep.name] = Entry(name=ep.name, source=dist, entry_point=ep, error=str(e))
            else:
                entries[ep.name] = Entry(name=ep.name, source=dist, entry_point=ep)
        elif not targets and entry.entry_point is None and entry.loaded:
            if points_at(ep, entry.obj):
                # the decorator ran first (its module was imported) and the entry point names the
                # same class: one registration reached two ways; the distribution is its source
                entry.entry_point, entry.source = ep, dist
            else:
                targets[target_of(entry.obj)] = entry.source
        targets.setdefault(normalised(ep.value), dist)
    for name, targets in declared.items():
        theirs = {t: d for t, d in targets.items() if not is_genbench(d)}
        if name in own and theirs:
            ignored[name] = _ignored_message(kind, name, theirs)
            entry = entries[name]
            if not entry.loaded:  # a plugin's entry point may have been read first
                entry.entry_point = own[name]
            entry.source = GENBENCH
            targets = {t: d for t, d in targets.items() if is_genbench(d)}
        if len(targets) > 1:
            entry = entries[name]
            found = sorted((source, target) for target, source in targets.items())
            listed = [f"{source} ({target})" for source, target in found]
            entry.source = ", ".join(sorted({source for source, _ in found}))
            entry.declared = frozenset(targets)
            entry.error = (
                f"{kind} {name!r} is declared by {'both ' if len(listed) == 2 else ''}{and_list(listed)}; "
                "uninstall one of them"
            )
    return ignored


def _ignored_message(kind: str, name: str, theirs: dict[str, str]) -> tuple[str, str]:
    found = sorted((source, target) for target, source in theirs.items())
    listed = and_list([f"{source} ({target})" for source, target in found])
    sources = sorted({source for source, _ in found})
    why = (
        f"{kind} plugin {name!r} from {listed} is ignored: {name!r} is genbench's own "
        f"{kind}; rename that entry point in {and_list(sources)}"
    )
    return ", ".join(sources), why


def misplaced(kind: str, group: str, name: str) -> str | None:
    """Why ``name``, unknown in ``group``, is not found where a distribution declares it in another
    group that names genbench (``genbench.model`` for ``genbench.models``, ``genbench_models``), or
    None. Such a plugin installs cleanly and is never read: the run said only "unknown model", which
    sent its author to the class and the install, not to the group's spelling. Read only on that
    error's path (it lists every installed entry point)."""
    found = sorted(
        {
            (ep.group, dist.metadata["Name"] or "unknown distribution")
            for dist in metadata.distributions()  # entry_points() of no group is a dict on Python 3.11
            for ep in dist.entry_points
            if ep.name == name and ep.group != group and "genbench" in ep.group.lower()
        }
    )
    if not found:
        return None
    where = and_list([f"{dist} declares it in the entry-point group {g!r}" for g, dist in found])
    return (
        f"unknown {kind} {name!r}: {where}, which is not {group!r}; a {kind} registers in "
        f'[project.entry-points."{group}"] of its pyproject.toml: fix the group there and reinstall'
    )
