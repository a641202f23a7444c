"""Whether a run or an evaluation may write its result over one already on disk: the checks that
refuse, before any work and again just before writing, to replace a result that measured something
else (an evaluation's samples, another protocol, metrics or metric options this one would lose, a
newer genbench's schema), and the fingerprints of features and data they compare.

Kept apart from :mod:`genbench.planning` (the plan of a run), which calls them once every model is
resolved; :mod:`genbench.runner` and :mod:`genbench.evaluation` apply the same rules at the write.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.errors import GenbenchError
from genbench.features.base import FeatureExtractor
from genbench.io import as_written
from genbench.metric_checks import effective_metric_options
from genbench.metrics.base import Metric
from genbench.metrics.kid_subset import used_metric_options
from genbench.model_plan import row_label
from genbench.results import Result
from genbench.shared_folders import check_rows_apart, other_row

if TYPE_CHECKING:
    from genbench.model_plan import Failed
    from genbench.weights_owner import Owner


#: the fingerprints :func:`add_fingerprints` adds to a run's ``measures``
FINGERPRINTS = ("features_fingerprint", "dataset_fingerprint")


def add_fingerprints(
    measures: dict[str, Any], extractor: FeatureExtractor | None, dataset: Dataset, reads: bool
) -> None:
    """Add to ``measures`` the fingerprints a result records that its names do not say: the features'
    weights and preprocessing (``--inception-weights`` another file, a classifier retrained on another
    machine, an extractor plugin's new version) and, when a metric reads the data (``reads``), its
    content (a re-downloaded dataset); else the reference statistics file stands for the data. Once,
    and only when a result exists to compare with: the classifier's fingerprint trains it, the
    dataset's hashes both splits. No ``extractor`` (no metric reads features): no features'
    fingerprint (None)."""
    if "features_fingerprint" in measures:
        return
    if reads:
        measures["dataset_fingerprint"] = dataset.fingerprint()
    measures["features_fingerprint"] = extractor.checked_fingerprint() if extractor is not None else None


def check_no_results_replaced(
    config: RunConfig,
    dataset: str,
    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]],
    failed: list[Failed],
    measures: dict[str, Any],
    metrics: list[Metric],
    options: dict[str, dict[str, Any]],
    fingerprints: Callable[[], None] | None = None,
) -> None:
    """Refuse, before any work, to write a result over one that measured something else:

    - one that `genbench eval` wrote (it records its samples): ``genbench eval x.npz --name ddpm``
      then ``genbench run --models ddpm`` replaced the evaluation silently;
    - one of another protocol (``measures``: sample count, reference split, features, reference
      statistics, and the fingerprints that ``fingerprints()`` adds to it when a result is there):
      a quick ``--samples 200`` check replaced the full-size result of the same seed, whose numbers
      the report keeps apart, with nothing left to keep;
    - one that :func:`metrics_replaced` says this run's ``metrics`` and ``options`` would lose;
    - one that a newer genbench wrote (its schema is newer than this one reads). A file no genbench
      can read as a result is replaced, as the report's error about it says to do;
    - another row's, whose folder this row's shares (:mod:`genbench.shared_folders`), as are two
      rows of this run that would share one.

    Reference statistics are FID's alone: a result without an FID (its ``--reference-stats`` file
    was mistyped, or FID was not asked for) measured nothing with them, and is replaced.

    A result of the same protocol is replaced, as a rerun should; so is one without samples. Not
    by a failure, though: a "failed" result goes beside an ok one (:func:`genbench.runner.write_result`)."""
    from genbench.results import load_result

    rows = [(name, row_label(v, owner)) for name, _, variants, owner in models for v in variants]
    failing = {(f.model, f.variant) for f in failed}  # a broken plugin's "failed" results are written too
    check_rows_apart(Path(config.out), dataset, rows + sorted(failing))
    assert config.seeds is not None  # plan's check_config_types(run=True) set the default
    for name, label in rows + sorted(failing):
        for seed in dict.fromkeys(config.seeds):
            row = Result(model=name, dataset=dataset, seed=seed, variant=label)
            path = row.path(Path(config.out))
            if not path.exists():
                continue
            try:
                old = load_result(path)
            except GenbenchError as e:  # a newer genbench's result: its numbers are kept
                raise GenbenchError(f"{e}; this run would replace it: {REPLACE_FIX}") from e
            except Exception:  # not a result genbench can read (the report says: rerun it): replaced
                continue
            if clash := other_row(old, row):
                raise GenbenchError(f"{path} {clash}; {REPLACE_FIX}")
            why = replaced_by_run(
                old, measures, metrics, options, failing=(name, label) in failing, fingerprints=fingerprints
            )
            if why:
                raise GenbenchError(f"{path} {why}")


def replaced_by_run(
    old: Result,
    measures: dict[str, Any],
    metrics: list[Metric],
    options: dict[str, dict[str, Any]],
    failing: bool = False,
    fix: str = "",
    fingerprints: Callable[[], None] | None = None,
) -> str | None:
    """Why a run's result of ``measures``, ``metrics`` and ``options`` must not replace ``old``, with
    the fix (``fix``, by default :data:`REPLACE_FIX`); None when it may. The rule of
    :func:`check_no_results_replaced`, which the runner applies again just before writing (another
    process may have written ``old`` since). ``failing``: this run's result will be a failure (a
    broken plugin), which goes beside an ok result. ``fingerprints()`` adds the fingerprints to
    ``measures`` (:func:`add_fingerprints`), called only when the protocols are compared: an
    evaluation in the way, or a run of broken plugins alone, trained the classifier and hashed the
    data before its refusal or its failures."""
    fix = fix or REPLACE_FIX
    samples = old.protocol.get("samples")
    if samples:
        what = samples.get("path") or "samples passed to genbench.evaluate"
        return f"holds the evaluation of {what}, which this run would replace; {fix}"
    if old.status != "ok" or failing:
        return None
    if fingerprints is not None:
        fingerprints()
    why = protocol_replaced(old, measures, "run", metrics)
    if why:
        return f"{why}; {fix}"
    why = metrics_replaced(old, metrics, options)
    return f"{why}, {fix}" if why else None


#: how a run avoids replacing a result it must not
REPLACE_FIX = "pass --out to write this run elsewhere, or move that file away"


def protocol_replaced(old: Result, measures: dict[str, Any], by: str, metrics: list[Metric]) -> str | None:
    """How ``old`` differs from a result of ``measures`` (sample count, reference split, features,
    reference statistics, and the :data:`FINGERPRINTS` of features and data that both record),
    which ``by`` ("run") with ``metrics`` would replace; None when it does not. Reference statistics
    count only for a result with a value compared with them (:func:`_measured_with_stats`): one
    without (a mistyped --reference-stats path, IS alone) measured nothing with them; nor, when no
    metric of ``metrics`` reads the data
    (:func:`genbench.planning.reads_reference`), with the reference split, which is then the one the statistics file
    names (none for a mistyped path: the corrected command was refused as another protocol). What
    such a result holds of the split's (KID) :func:`metrics_replaced` keeps."""
    features = old.protocol.get("features") or {}
    was = {
        **old.protocol,
        "features": features.get("name"),
        "features_fingerprint": features.get("fingerprint"),
    }
    # a fingerprint the result does not record (an older genbench's, an evaluation that read no data)
    # is no difference
    was = {k: v for k, v in was.items() if k not in FINGERPRINTS or isinstance(v, str)}
    differ = [k for k, v in measures.items() if k in was and was[k] != v]
    if "features" in differ and "features_fingerprint" in differ:  # another extractor: the name says it
        differ.remove("features_fingerprint")
    if was["features"] is None or measures.get("features") is None:
        # one of them measured in no features (no metric read any: memorization in pixels): its
        # values are of no extractor, and what the other would lose of them metrics_replaced says
        differ = [k for k in differ if k not in ("features", "features_fingerprint")]
    measured = _measured_with_stats(old)
    if not measured and "reference_stats" in differ:
        differ.remove("reference_stats")
    have_stats = measures.get("reference_stats") is not None
    split_from_stats = not any(m.uses_reference_features(have_stats) for m in metrics)
    if (
        not measured
        and old.protocol.get("reference_stats") is not None
        and split_from_stats
        and "reference_split" in differ
    ):
        differ.remove("reference_split")
    if not differ:
        return None
    return (
        f"holds a result at {_describe(was, differ)}, which this {by} at {_describe(measures, differ)} "
        f"would replace{_fingerprints_differ(differ, old.environment)}"
    )


def _fingerprints_differ(differ: list[str], environment: dict[str, Any]) -> str:
    """What a difference of fingerprints means, which the hashes alone do not say; of a result that
    other genbench code wrote (``environment``'s source digest is not this one's, or it records
    none), that its fingerprints may have been computed another way: a result of genbench before
    2 December hashed the first 256 rows of the data alone, and was said to be of changed data."""
    from genbench.environment import source_digest

    meanings = []
    if "features_fingerprint" in differ:
        meanings.append("the features' weights or preprocessing changed")
    if "dataset_fingerprint" in differ:
        meanings.append("the dataset's content changed")
    if not meanings:
        return ""
    other_code = environment.get("source_digest", "") != source_digest()
    howelse = ", or the other genbench code that wrote it computed its fingerprints another way"
    return f" ({' and '.join(meanings)}{howelse if other_code else ''})"


def metrics_replaced(old: Result, metrics: list[Metric], options: dict[str, dict[str, Any]]) -> str | None:
    """What a result of ``metrics`` with ``options`` (``--metric-option`` values) would lose by
    replacing ``old``, with the fix's first step; None when nothing. ``old`` holds

    - a metric this one does not compute: ``--metrics fid`` over a full result left FID alone;
    - a metric computed with other options: ``--metric-option fid.backend=clean-fid`` replaced
      torch-fidelity's FID. An option that ``old`` does not record (one a newer metric version
      added) is not a difference; nor is a default given explicitly where the report names the
      value it stands for (:func:`~genbench.metrics.kid_subset.used_metric_options`: a result of
      200 samples at ``kid.subset_size`` unset, so 200, is replaced by a rerun at
      ``kid.subset_size=200``, and the other way round), as the report shows them one protocol.

    Asked once :func:`protocol_replaced` found ``old`` of this result's sample count and reference:
    ``old``'s ``num_samples`` and ``num_reference`` stand for this result's too."""
    names = [m.name for m in metrics]
    dropped = [m for m in _metrics_with_values(old) if m not in names]
    if dropped:
        return (
            f"holds the values of {', '.join(dropped)}, which this run ({', '.join(names)}) would drop; "
            # the whole value: a run without --metrics (every metric but the opt-in ones, which the
            # result holds) has none to add to, and --metrics fid_inf alone would drop the others
            f"add {','.join(dropped)} to --metrics (--metrics {','.join([*names, *dropped])})"
        )
    was = used_metric_options(old.protocol) or {}
    given = as_written(effective_metric_options(metrics, options))
    now = used_metric_options({**old.protocol, "metric_options": given}) or {}
    differ = [
        (m, k)
        for m in names
        for k, v in (was.get(m) or {}).items()
        if k in (now.get(m) or {}) and now[m][k] != v
    ]
    if not differ:
        return None
    before = ", ".join(f"{m}.{k}={was[m][k]}" for m, k in differ)
    after = ", ".join(f"{m}.{k}={now[m][k]}" for m, k in differ)
    return (
        f"holds a result at {before}, which this run at {after} would replace; set the same --metric-option"
    )


def _measured_with_stats(old: Result) -> bool:
    """Whether a value of ``old`` (not an error: a mistyped path's FID has none) is of a metric that
    compares with reference statistics: fid, and mifid, sfid or fid_inf named without it (a mifid
    against a file was replaced by one against the split, without a word)."""
    if "fid" in old.metrics:
        return True
    for name in old.protocol.get("metric_versions") or {}:
        try:
            metric = registry.metrics.get(name)
        except Exception:  # not installed, or broken: as before, only fid's value counts
            continue
        if metric.reference == "stats" and set(metric.higher_is_better) & set(old.metrics):
            return True
    return False


def _metrics_with_values(old: Result) -> list[str]:
    """The metrics of ``old`` that left a value or an error: not those that did not apply to it
    (gan_dynamics to a VAE), which a rerun without them loses nothing of. Every metric counts when a
    value cannot be traced to an installed metric's declared names (an uninstalled plugin's, or one
    written under an undeclared name): nothing is dropped on a guess."""
    ran = list(old.protocol.get("metric_versions") or {})
    declared: dict[str, frozenset[str]] = {}
    for name in ran:
        try:
            declared[name] = frozenset(registry.metrics.get(name).higher_is_better)
        except Exception:  # not installed, or broken: its values cannot be told apart
            return ran
    if not set(old.metrics) <= frozenset().union(*declared.values()):
        return ran
    return [m for m in ran if m in old.metric_errors or declared[m] & set(old.metrics)]


def _describe(protocol: dict[str, Any], keys: list[str]) -> str:
    from genbench.protocols import PROTOCOL_FIELDS  # the report's names; imported here: it loads pandas

    def shown(k: str) -> str:
        if k == "features_fingerprint":  # "inception features <fingerprint>"
            return f"{protocol.get('features')} features {protocol[k]}"
        return f"{PROTOCOL_FIELDS[k]} {'none' if protocol[k] is None else protocol[k]}"

    return ", ".join(shown(k) for k in keys)
