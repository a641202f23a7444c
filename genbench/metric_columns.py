"""A leaderboard's metric columns: the in-tree tables and their order (:data:`SECTIONS`), the
columns a metric fills (the names of its ``higher_is_better``) and which way each is better, and
which columns are a plugin metric's, shown in a table of their own (:data:`PLUGIN_SECTION`).

Kept apart from :mod:`genbench.leaderboard` (results aggregated into rows), which picks the metric
columns it averages with these; :mod:`genbench.cells` names a failed metric's columns in a cell's
note, and :mod:`genbench.markdown` lays out the tables and their arrows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache

import pandas as pd

from genbench.results import RESERVED_METRIC_KEYS, Result

#: metric columns in display order, with the table they appear in
SECTIONS: dict[str, list[str]] = {
    "Quality": [
        "fid",
        "fid_inf",
        "sfid",
        "mifid",
        "kid",
        "cmmd",
        "is",
        "is_inf",
        "precision",
        "recall",
        "density",
        "coverage",
    ],
    "Memorization and modes": [
        "memorization_rate",
        "authpct",
        "ct",
        "mifid_d",
        "modes_covered",
        "mode_kl",
        "high_quality",
        "vendi",
        "vendi_ref",
    ],
    # class-conditional rows only (an unconditional model's samples have no classes to read)
    "Class-conditional": [
        "intra_fid",
        "intra_fid_max",
        "class_accuracy",
        "class_accuracy_ref",
        "cas",
        "cas_ref",
    ],
    "Cost": ["samples_per_s", "nfe", "peak_memory_mb", "train_s"],
    # GAN rows only (empty columns are dropped): is the generator's gradient vanishing?
    "GAN training dynamics": ["grad_norm_g_early", "grad_norm_g_final", "d_real_final", "d_fake_final"],
}
METRIC_COLUMNS = [c for cols in SECTIONS.values() for c in cols]
#: the table of the columns of metrics from other packages (plugins)
PLUGIN_SECTION = "Other metrics"


@cache
def _declared(metric: str) -> tuple[tuple[str, bool | None], ...]:
    """``metric``'s ``higher_is_better`` as pairs (none when it is uninstalled or broken)."""
    from genbench import registry

    try:
        return tuple(registry.metrics.get(metric).higher_is_better.items())
    except Exception:  # an uninstalled or broken plugin must not stop the report
        return ()


#: metric -> the values its results show it wrote, for a metric that declares none here (its plugin
#: not installed, or failing to import): :func:`learn_recorded_columns`
_recorded: dict[str, frozenset[str]] = {}


@cache
def _other_splits(metric: str) -> tuple[tuple[str, str], ...]:
    """``metric``'s values that compare with another split than the reference, each with its split
    (:func:`genbench.metric_splits.other_splits`; none when it is uninstalled or broken)."""
    from genbench import registry
    from genbench.metric_splits import other_splits

    try:
        return tuple(other_splits(registry.metrics.get(metric)).items())
    except Exception:  # an uninstalled or broken plugin must not stop the report
        return ()


def forget_declared() -> None:
    """Read the metrics' declarations anew: a name unknown when first asked may be registered since
    (a file that `report --include` named)."""
    _declared.cache_clear()
    _other_splits.cache_clear()
    _recorded.clear()


def learn_recorded_columns(results: Iterable[Result]) -> None:
    """Which values each metric that declares none here wrote, read from ``results``: in a result
    whose values came from one such metric alone (``environment.metric_sources`` names the metrics
    that produced a value), the values no other metric declares are its. Without it, a seed where an
    uninstalled plugin's metric failed was an "error" column of the metric's own name, and its real
    columns' cells said "no value recorded" for that seed, the error not theirs."""
    results = list(results)
    named = {str(m) for r in results for m in (r.protocol.get("metric_versions") or {})}
    named |= {str(m) for r in results for m in _sources(r)}
    declared = {c for m in [*_in_tree_metrics(), *named] for c, _ in _declared(m)}
    learned: dict[str, set[str]] = {}
    for r in results:
        undeclared = [m for m in _sources(r) if not _declared(m)]
        if len(undeclared) == 1:
            values = {
                k
                for k in r.metrics
                if k not in declared and k not in RESERVED_METRIC_KEYS and not k.endswith("_std")
            }
            learned.setdefault(undeclared[0], set()).update(values)
    _recorded.clear()
    _recorded.update({m: frozenset(v) for m, v in learned.items() if v})


def _sources(result: Result) -> list[str]:
    """The metrics that produced a value in ``result``, as its environment records them."""
    sources = result.environment.get("metric_sources")
    return [str(m) for m in sources] if isinstance(sources, Mapping) else []


def metric_columns(metric: str) -> frozenset[str]:
    """The columns ``metric`` fills: the names of its ``higher_is_better``; for a metric that
    declares none here, the values its results show it wrote (:func:`learn_recorded_columns`), else
    its own name."""
    return frozenset(c for c, _ in _declared(metric)) or _recorded.get(metric) or frozenset({metric})


def computed_in(runs: pd.DataFrame, metric: str) -> bool:
    """Whether any of ``runs`` holds a value of ``metric``'s columns; True for a metric whose columns
    are unknown (an uninstalled or broken plugin), whose values cannot be told from others'."""
    declared = [c for c, _ in _declared(metric)]
    return not declared or any(c in runs and runs[c].notna().any() for c in declared)


def in_tree_value_owners() -> dict[str, str]:
    """Each value name genbench's own metrics declare -> the metric that writes it."""
    return {c: m for m in _in_tree_metrics() for c, _ in _declared(m)}


def _in_tree_metrics() -> list[str]:
    from genbench import registry

    return [e.name for e in registry.metrics.entries() if e.source == "genbench" and e.alias_of is None]


def column_directions(agg: pd.DataFrame) -> dict[str, bool | None]:
    """Column -> ``True`` (higher is better), ``False`` (lower) or ``None`` (a diagnostic without a
    better direction), as the metric that fills it declares in ``higher_is_better``: every in-tree
    metric (``train_s`` comes from the timings even when ``throughput`` did not run) and the metrics
    the results name. In-tree metrics declare first, as they own their names in a run."""
    directions: dict[str, bool | None] = {}
    for metric in _board_metrics(agg):
        for column, higher in _declared(metric):
            directions.setdefault(column, higher)
    return directions


def column_splits(agg: pd.DataFrame) -> dict[str, str]:
    """Column -> the split it compares the samples with, where the metric that fills it declares
    another than the run's reference split (``compares_with``, ``compares_also``: memorization's
    train split), read as :func:`column_directions` reads the directions."""
    owners: dict[str, str] = {}  # the metric that fills each column: the first to declare it
    for metric in _board_metrics(agg):
        for column, _ in _declared(metric):
            owners.setdefault(column, metric)
    return {c: split for c, m in owners.items() if (split := dict(_other_splits(m)).get(c)) is not None}


def _board_metrics(agg: pd.DataFrame) -> list[str]:
    """The in-tree metrics, then those the results of ``agg`` name, in name order."""
    named = {
        m for text in agg.get("metric_versions", pd.Series(dtype=object)).dropna() for m in json.loads(text)
    }
    return [*_in_tree_metrics(), *sorted(named)]


def plugin_columns(agg: pd.DataFrame) -> list[str]:
    """Aggregated columns that no in-tree metric fills (a plugin metric's), in name order; the
    in-tree ones outside :data:`SECTIONS` (``modes_expected``, ``memorization_rate_heldout``,
    ``memorization_rate_loo``) are only in the CSV."""
    in_tree = {c for m in _in_tree_metrics() for c in metric_columns(m)} | set(METRIC_COLUMNS)
    return sorted(c for c in agg.columns if f"{c}_std" in agg.columns and c not in in_tree)


def is_extra_metric(frame: pd.DataFrame, col: str) -> bool:
    """Metric columns of third-party metrics: numeric, not identity, not a per-run spread."""
    if col in RESERVED_METRIC_KEYS or col.endswith("_std"):
        return False
    return pd.api.types.is_numeric_dtype(frame[col])
