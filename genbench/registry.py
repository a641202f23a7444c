"""Registries for models, datasets, metrics and feature extractors.

In-tree entries register with a decorator (``@register_model("vae")``); other packages, and our own
``baselines`` package, register through entry-point groups (``genbench.models``,
``genbench.datasets``, ``genbench.metrics``, ``genbench.features``). Entry points are discovered
lazily: listing names imports nothing, and a module is imported only when one of its names is used.

Validation happens at registration and fails loudly: a name taken is checked here; a bad name (or
one of genbench's own folders under ``--out``, :mod:`genbench.layout`), a
wrong type, an abstract class, a version that is not a positive integer, a model ``Config`` that is
not a dataclass, ``supported_kinds`` that is not a collection of known kinds in
:mod:`genbench.registration_checks`. How entry points are read, and who gets a name two
distributions declare, is :mod:`genbench.entry_points`. A name not found is looked for again among
entry points when ``sys.path`` changed since they were read (a folder added, a package installed in
the process); then an unknown name fails with "did you mean" (as lm-evaluation-harness does). A
plugin whose module fails to import raises :class:`PluginLoadError` naming its distribution; other
entries still load. What an import leaves changed of torch's global settings and the working
directory is restored (:func:`genbench.isolation.plugin_state_kept`). A class registered by a file
that ``--include`` named is sourced to that file (:mod:`genbench.includes`).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from genbench.distributions import distribution_of, path_state
from genbench.entry_points import Entry as Entry
from genbench.entry_points import is_genbench as is_genbench
from genbench.entry_points import misplaced, normalised, points_at, read_entry_points
from genbench.errors import PluginLoadError, RegistrationError, UnknownNameError, said
from genbench.includes import included_file, is_included
from genbench.registration_checks import KINDS as KINDS
from genbench.registration_checks import NAME_RE as NAME_RE
from genbench.registration_checks import (
    check_class,
    check_decorator_name,
    check_folder_name,
    check_name,
    checked_aliases,
    target_of,
)
from genbench.registration_checks import kind_fix as kind_fix
from genbench.script_code import script_code
from genbench.shadowing import shadowing
from genbench.text import and_list

T = TypeVar("T")
#: the class a ``register`` decorator is given and hands back unchanged (type checkers keep it)
_C = TypeVar("_C", bound=type)


class Registry(Generic[T]):
    """A name -> class registry with lazy entry-point discovery.

    ``kind`` names the registry in messages ("model"); ``group`` is its entry-point group;
    ``base`` is the class every entry must subclass (checked at registration).
    """

    def __init__(
        self, kind: str, group: str, base: Callable[[], type] | type, plural: str, decorator: str = ""
    ):
        self.kind = kind
        #: the name genbench exports :meth:`register` as, for messages (``register_model``)
        self.decorator = decorator or f"register_{kind}"
        self.plural = plural
        self.group = group
        self._base = base
        self._entries: dict[str, Entry] = {}
        self._discovered = False
        self._path_state: tuple[tuple[str, int | None], ...] = ()  # sys.path when entry points were read
        #: name -> (the other distributions declaring one of genbench's own names, why they are ignored)
        self.ignored: dict[str, tuple[str, str]] = {}
        #: ``explain_unknown(name)``: a message for an unknown ``name`` that says more than "did you mean"
        #: (who asked for it), or None
        self.explain_unknown: Callable[[str], str | None] | None = None

    # -- registration -------------------------------------------------------------------------
    @property
    def base(self) -> type:
        b = self._base
        return b if isinstance(b, type) else b()

    def _owned_by_other(self, entry: Entry, obj: Any) -> bool:
        """Whether ``entry`` belongs to something else than ``obj``: another loaded class, or an entry
        point (or a conflict between several) naming another class. Only the class an entry point
        names may fill that entry point's name; any other class would silently take it over."""
        if entry.loaded:
            return entry.obj is not obj
        if entry.declared:
            return target_of(obj) not in entry.declared
        return entry.entry_point is not None and not points_at(entry.entry_point, obj)

    def _describe(self, entry: Entry) -> str:
        """Who owns ``entry``, for messages: its source and the class it names."""
        if entry.loaded:
            return f"{entry.source} ({target_of(entry.obj)})"
        if entry.entry_point is not None:
            return f"{entry.source} ({normalised(entry.entry_point.value)})"
        return entry.source

    def _registered_as(self, obj: Any, skip: set[str]) -> str | None:
        """The name (not an alias, not in ``skip``) under which ``obj`` is already registered here:
        loaded, or an entry point naming it that is not imported yet."""
        for other, entry in self._entries.items():
            if other in skip or entry.alias_of is not None or entry.error:
                continue
            if entry.obj is obj or (
                not entry.loaded and entry.entry_point is not None and points_at(entry.entry_point, obj)
            ):
                return other
        return None

    def add(self, name: str, obj: Any, *, source: str = "genbench", aliases: tuple[str, ...] = ()) -> None:
        """Register ``obj`` under ``name`` (and ``aliases``), validating name, type and uniqueness.

        Everything is checked before anything is written: a registration that fails leaves the
        registry as it was. Entry points are read first, so a name an installed distribution declares
        (a baseline's included) cannot be taken by another class, whatever the order.
        """
        check_name(self.kind, name)
        check_folder_name(self.kind, name)
        aliases = checked_aliases(self.kind, name, aliases)
        check_class(self.kind, self.base, name, obj)
        self.discover()
        existing = self._entries.get(name)
        redefined = existing is not None and existing.alias_of is None and _redefinition(existing.obj, obj)
        if (
            existing is not None
            and not redefined
            and (existing.alias_of is not None or self._owned_by_other(existing, obj))
        ):
            alias = f" as an alias of {existing.alias_of!r}" if existing.alias_of is not None else ""
            raise RegistrationError(
                f"{self.kind} {name!r} is already registered by {self._describe(existing)}{alias}; "
                "choose another name"
            )
        other_name = self._registered_as(obj, {name, *aliases})
        if other_name is not None:
            raise RegistrationError(
                f"{self.kind} {name!r}: {target_of(obj)} is already registered as {other_name!r}; "
                f"a class has one name: give it more with aliases=({name!r},) where it is registered, "
                "or register a subclass"
            )
        for alias in aliases:
            other = self._entries.get(alias)
            if other is None:
                continue
            if other.alias_of is not None and other.alias_of != name:
                raise RegistrationError(
                    f"{self.kind} alias {alias!r} is already taken by {self._describe(other)} "
                    f"as an alias of {other.alias_of!r}"
                )
            if other.alias_of is None and (other.loaded or self._owned_by_other(other, obj)):
                # free only when it is an entry point naming this very class, not imported yet
                raise RegistrationError(
                    f"{self.kind} alias {alias!r} is already taken by {self._describe(other)}"
                )
        # every check passed: write
        if existing is None:
            self._entries[name] = Entry(name=name, source=source, obj=obj)
        elif not existing.loaded:
            existing.obj = obj  # the entry point's own module is registering itself
        elif redefined:  # its aliases name the new class too
            for entry in [existing, *(e for e in self._entries.values() if e.alias_of == name)]:
                entry.obj = obj
        # else: the same class again (a module imported twice): nothing changes
        obj.registered_name = name
        for alias in aliases:
            other = self._entries.get(alias)
            ep = other.entry_point if other is not None else None
            src = other.source if other is not None else source
            error = other.error if other is not None and other.declared else None
            declared = other.declared if other is not None else frozenset()
            self._entries[alias] = Entry(
                name=alias, source=src, obj=obj, alias_of=name, entry_point=ep, error=error, declared=declared
            )

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[_C], _C]:
        """Class decorator registering a subclass of this registry's base class under ``name``
        (and ``aliases``), validated now: ``@genbench.register_model("my-gan")`` on a
        ``GenerativeModel``; ``register_dataset``, ``register_metric`` and ``register_features`` alike.
        A bad name, a wrong base class or a name already taken fails here, in one line; a name
        that is no str (the class itself, for ``@genbench.register_model`` without parentheses)
        fails at once, before there is a class to decorate."""
        check_decorator_name(self.kind, self.decorator, name)

        def deco(cls: _C) -> _C:
            self.add(name, cls, source=_source_of(cls), aliases=aliases)
            # a script's class: its file is read now, as near as genbench gets to when it started (an
            # edit while the run trains is not the code that ran)
            script_code(cls)
            return cls

        return deco

    # -- discovery ----------------------------------------------------------------------------
    def discover(self) -> None:
        """Read entry-point names (without importing anything), once: conflicts become error entries
        and a plugin's declaration of one of genbench's own names is ignored, recorded in
        :attr:`ignored` (runs warn, `genbench list` shows it); see :mod:`genbench.entry_points`.
        :meth:`_rediscover` reads them again when ``sys.path`` changed. Discovery itself never fails.
        """
        if self._discovered:
            return
        self._discovered = True
        self._path_state = path_state()  # before reading: a change while reading is read again
        self.ignored.update(read_entry_points(self.kind, self.group, self._entries))

    def _rediscover(self) -> bool:
        """Read entry points again when ``sys.path`` changed since they were read: a folder added to it
        (a script putting a plugin's folder with its ``*.dist-info`` there after genbench was
        imported), or a folder on it changed (a package installed in this process). Unchanged, it
        costs a ``stat`` per ``sys.path`` entry. Names already known keep their state (a loaded class,
        an import error); new names are added, and a name that a new distribution also declares
        becomes a conflict, as it would have been read at first. Returns whether it read them."""
        if not self._discovered:
            self.discover()
            return True
        if path_state() == self._path_state:
            return False
        importlib.invalidate_caches()  # importlib.metadata and the import system cache folder listings
        self._discovered = False
        self.discover()
        return True

    def _load(self, entry: Entry) -> Any:
        if entry.error:
            raise PluginLoadError(entry.error)
        if entry.obj is not None:
            return entry.obj
        ep = entry.entry_point
        assert ep is not None
        # imported here: listing names imports nothing, torch included
        from genbench.isolation import plugin_state_kept

        try:
            # a module's top-level ``torch.set_default_dtype(torch.float64)``, ``set_default_device``,
            # ``os.chdir`` or thread count ran every later model and metric under it, as a call into
            # the plugin would have without its guard
            with plugin_state_kept(
                f"{self.kind} plugin {entry.name!r} from {entry.source} (importing {ep.module})"
            ):
                obj = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # a broken plugin must not take the others down, even one
            # that calls sys.exit or parses arguments at import; KeyboardInterrupt still stops everything
            # a package of the same name earlier on sys.path is not the plugin's fault
            fix = shadowing(ep) or f"fix or uninstall {entry.source}"
            entry.error = (
                f"{self.kind} plugin {entry.name!r} from {entry.source} failed to import "
                f"({ep.value}): {type(e).__name__}: {said(e)}; {fix}"
            )
            raise PluginLoadError(entry.error) from e
        entry = self._entries[entry.name]  # the module's decorators may have replaced it (aliases)
        if entry.obj is None:  # the module did not register itself with the decorator
            try:
                owner = self._owner_of(obj, entry.name)
                if owner is None:
                    self.add(entry.name, obj, source=entry.source)
                else:  # another entry point names the same class (``gan`` beside ``gan-ns``): an alias
                    self.add(owner, obj, source=self._entries[owner].source, aliases=(entry.name,))
            except RegistrationError as e:
                entry.error = f"{self.kind} plugin {entry.name!r} from {entry.source}: {e}"
                raise PluginLoadError(entry.error) from e
            self._entries[entry.name].entry_point = ep
        return self._entries[entry.name].obj

    def _owner_of(self, obj: Any, name: str) -> str | None:
        """The name, other than ``name``, that ``obj`` is registered (or declared) under here: the one
        its decorator gave it when that is among them."""
        own = obj.__dict__.get("registered_name") if isinstance(obj, type) else None
        entry = self._entries.get(own) if isinstance(own, str) and own != name else None
        if (
            entry is not None
            and entry.alias_of is None
            and not entry.error
            and not self._owned_by_other(entry, obj)
        ):
            return own
        return self._registered_as(obj, {name})

    # -- lookup -------------------------------------------------------------------------------
    def names(self, *, include_aliases: bool = True) -> list[str]:
        self.discover()
        return sorted(n for n, e in self._entries.items() if include_aliases or e.alias_of is None)

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._entries or (self._rediscover() and name in self._entries)

    def check(self, name: str) -> str:
        """Fail with "did you mean" unless ``name`` is registered; returns the canonical name."""
        if name not in self:
            explained = self.explain_unknown(name) if self.explain_unknown is not None else None
            raise UnknownNameError(
                explained
                or misplaced(self.kind, self.group, name)
                or f"unknown {self.kind} {name!r}{self.did_you_mean(name)} (see `genbench list {self.plural}`)"
            )
        entry = self._entries[name]
        return entry.alias_of or name

    def did_you_mean(self, name: str) -> str:
        """``"; did you mean 'ddpm'?"`` for the names close to ``name``, or ``""``."""
        names = self.names()
        # case first: difflib scores "DDPM" against "ddpm" 0 (every letter differs), so it had no hint
        same = [n for n in names if n.lower() == name.lower()]
        close = same or difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""

    def canonical(self, name: str) -> str:
        """Like :meth:`check`, after importing ``name``'s module: an alias that a package also declares
        as an entry point (``gan`` beside ``gan-ns``) is only known as an alias once its module has
        registered it. A plugin that fails to import keeps the name it was given."""
        self.check(name)
        try:
            self.get(name)
        except PluginLoadError:
            pass
        return self.check(name)

    def source(self, name: str) -> str:
        """Where ``name`` comes from: "genbench", "baselines", or the plugin's distribution."""
        self.check(name)
        return self._entries[name].source

    def get(self, name: str) -> T:
        """Return the registered class, importing its module on first use."""
        canonical = self.check(name)
        entry = self._entries[name]
        obj = self._load(entry)
        if entry.alias_of is not None:
            return obj
        return self._entries[canonical].obj if self._entries[canonical].loaded else obj

    def entries(self) -> Iterator[Entry]:
        self.discover()
        for name in self.names():
            yield self._entries[name]

    def load_all(self) -> dict[str, str]:
        """Import every entry; return {name: error} for those that failed (for `genbench list`)."""
        errors = {}
        for entry in list(self.entries()):
            try:
                self._load(entry)
            except PluginLoadError as e:
                errors[entry.name] = str(e)
        return errors


def _redefinition(old: Any, new: Any) -> bool:
    """Whether ``new`` is ``old``'s class defined again in an interactive session (a notebook cell run
    twice): the same name in ``__main__``, which has no entry point; or in an included file imported
    again (:mod:`genbench.includes`: edited since a first call, or fixed after its import failed).
    It replaces the old class: the second run of the cell failed, "already registered ...; choose
    another name"."""
    return (
        isinstance(old, type)
        and old is not new
        and old.__module__ == new.__module__
        and (old.__module__ == "__main__" or is_included(old.__module__))
        and old.__qualname__ == new.__qualname__
    )


def ignored_plugins() -> list[str]:
    """Why each plugin declaration of a name genbench itself has is ignored, in every registry (runs
    warn with these lines; `genbench list` shows them beside the built-in)."""
    out = []
    for reg in (models, datasets, metrics, features):
        reg.discover()
        out += [reg.ignored[name][1] for name in sorted(reg.ignored)]
    return out


def _source_of(obj: Any) -> str:
    """Where a class registered by decorator comes from: the file ``--include`` named, its module's
    distribution (what `genbench list` and errors name, as for an entry point), else its top-level
    module."""
    module = getattr(obj, "__module__", "") or ""
    included = included_file(module)
    if included is not None:
        return included.shown
    return distribution_of(module) or module.split(".")[0] or "unknown"


def _unknown_features(name: str) -> str | None:
    """The error for an unknown feature extractor ``name`` that a loaded dataset declares as its
    ``default_features``, naming that dataset plugin and the fix; None when none declares it.

    Checked here, when the extractor is looked up, and not when the dataset registers: a dataset's
    extractor may come from another plugin, registered by its module's decorator after the dataset
    is (a script registering a dataset then its extractor, or two plugin modules imported in either
    order), so at registration "not registered" would not mean "unknown". When it is looked up it
    must be there (entry points were just read again if sys.path changed). Failing here, not when
    the dataset loads, leaves ``--features NAME`` to run the dataset with another extractor.
    """
    declaring = [
        e
        for e in datasets._entries.values()
        if e.alias_of is None and e.loaded and getattr(e.obj, "default_features", None) == name
    ]
    if not declaring:
        return None
    who = and_list([f"{e.name!r} from {e.source}" for e in declaring])
    sources = and_list(sorted({e.source for e in declaring}))
    close = difflib.get_close_matches(name, features.names(), n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"dataset plugin {who} declares default_features = {name!r}, which is no registered feature "
        f"extractor{hint}; fix or uninstall {sources}, or pass --features {close[0] if close else 'NAME'} "
        "(see `genbench list features`)"
    )


def _unknown_metric(name: str) -> str | None:
    """The error for an unknown metric ``name`` that is a value one of genbench's metrics writes (a
    board's column: ``precision`` is ``prdc``'s), naming that metric; None for any other name.
    "did you mean 'is_inf'?" for ``--metrics precision`` sent its reader nowhere near ``prdc``."""
    from genbench.metric_columns import in_tree_value_owners

    owner = in_tree_value_owners().get(name)
    if owner is None or owner == name:
        return None
    return (
        f"unknown metric {name!r}: {name!r} is a value of metric {owner!r}, which computes it; "
        f"name {owner!r} instead (see `genbench list metrics`)"
    )


def _model_base() -> type:
    from genbench.api import GenerativeModel

    return GenerativeModel


def _dataset_base() -> type:
    from genbench.data.base import Dataset

    return Dataset


def _metric_base() -> type:
    from genbench.metrics.base import Metric

    return Metric


def _features_base() -> type:
    from genbench.features.base import FeatureExtractor

    return FeatureExtractor


models: Registry = Registry("model", "genbench.models", _model_base, "models")
datasets: Registry = Registry("dataset", "genbench.datasets", _dataset_base, "datasets")
metrics: Registry = Registry("metric", "genbench.metrics", _metric_base, "metrics")
features: Registry = Registry(
    "feature extractor", "genbench.features", _features_base, "features", decorator="register_features"
)
features.explain_unknown = _unknown_features
metrics.explain_unknown = _unknown_metric

register_model = models.register
register_dataset = datasets.register
register_metric = metrics.register
register_features = features.register
