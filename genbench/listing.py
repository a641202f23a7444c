"""What `genbench list` shows, as data: every registered model, dataset, metric and feature
extractor, where it comes from, and the plugins that fail to import (``genbench.registered``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from genbench import registry
from genbench.entry_points import Entry
from genbench.errors import GenbenchError

KINDS = ("models", "datasets", "metrics", "features")


@dataclass(frozen=True)
class ListedEntry:
    """One plugin of :func:`genbench.registered` (a line of `genbench list`)."""

    name: str
    source: str  # "genbench", or the distribution (or module) that registered it
    description: str  # one line: the class's ``description`` or its docstring's first line
    alias_of: str | None = None  # the name it stands for (``gan`` -> ``gan-ns``)
    error: str | None = None  # why the plugin failed to import; the others still load
    #: a metric that runs only when ``--metrics`` names it (``Metric.runs_by_default = False``)
    opt_in: bool = False
    #: the extractors under which an opt-in metric runs by default all the same
    #: (``Metric.runs_by_default_under``: ``cmmd`` under ``clip``)
    default_under: tuple[str, ...] = ()
    #: a metric's: whether it reads features at its default options (``Metric.reads_features``;
    #: None where not known: another kind, a broken plugin, or its reads_features raised), and the
    #: options that decide it (``Metric.reads_features_by``: memorization's ``space``)
    reads_features: bool | None = None
    reads_features_by: tuple[str, ...] = ()


def check_kind(kind: str, also: tuple[str, ...] = ()) -> None:
    """Raise "unknown kind ... did you mean ...?" unless ``kind`` is one of :data:`KINDS` or ``also``
    (the CLI's ``genbench list`` takes ``cache`` too)."""
    if kind in KINDS or kind in also:
        return
    close = difflib.get_close_matches(kind, (*KINDS, *also), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    names = ", ".join(KINDS) + "".join(f" or {k}" for k in also)
    raise GenbenchError(f"unknown kind {kind!r}{hint} (use one of {names})")


def registered(kind: str | None = None) -> dict[str, list[ListedEntry]]:
    """``{kind: [ListedEntry, ...]}`` for ``kind`` ("models", "datasets", "metrics" or "features"), or for
    all four; every entry point is imported, so a broken plugin is listed with its error."""
    if kind is not None and not isinstance(kind, str):  # 5 raised TypeError from inside difflib
        raise GenbenchError(
            f"kind must be one of models, datasets, metrics or features (a str), or None for all four; "
            f"got {type(kind).__name__}"
        )
    if kind is not None:
        check_kind(kind)
    out = {}
    for k in [kind] if kind else KINDS:
        reg = getattr(registry, k)
        errors = reg.load_all()
        out[k] = [_listed(k, e, errors.get(e.name)) for e in reg.entries()]
        # a plugin declaring one of genbench's own names: listed beside the built-in, which stays
        out[k] += [
            ListedEntry(name, sources, "", error=why) for name, (sources, why) in sorted(reg.ignored.items())
        ]
        out[k].sort(key=lambda e: e.name)
    return out


def _listed(kind: str, e: Entry, error: str | None) -> ListedEntry:
    """The entry ``e`` of ``kind``, ``error`` why its plugin failed to import (else None); a metric's
    opt-in and whether it reads features come from its class."""
    from genbench.metric_declarations import reads_features_by_default

    metric = kind == "metrics" and error is None and not e.alias_of
    return ListedEntry(
        e.name,
        e.source,
        "" if error is not None or e.alias_of else describe(e.obj),
        alias_of=e.alias_of,
        error=error,
        opt_in=metric and _opt_in(e.obj),
        # empty unless opt-in: registration refuses it beside runs_by_default = True
        default_under=tuple(getattr(e.obj, "runs_by_default_under", ())) if metric else (),
        reads_features=reads_features_by_default(e.obj) if metric else None,
        reads_features_by=tuple(getattr(e.obj, "reads_features_by", ())) if metric else (),
    )


def describe(obj: object) -> str:
    """The class's ``description``, else its docstring's first paragraph on one line: its first line
    alone cut a sentence wrapped over two ("..., one-hot conditioned")."""
    paragraph = (obj.__doc__ or "").strip().split("\n\n")[0]
    text = getattr(obj, "description", "") or " ".join(paragraph.split())
    return str(text).replace("``", "`")  # reST literals read as markdown ones


def _opt_in(obj: object) -> bool:
    # a plugin's opt-in metric said so nowhere: a default run left it out without a word
    return getattr(obj, "runs_by_default", True) is False
