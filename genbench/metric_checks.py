"""Each metric's checks before any training: its ``--metric-option`` values against the options it
declares, the features it measures in (a metric of logits under an extractor that gives none), the
number of samples and the classes they are drawn for. What `genbench run` and `genbench eval` both
check once the metrics are built (:func:`genbench.resolve.build_metrics`): a metric that cannot be
computed fails the command now, in the metric's own line, rather than once every model has trained.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from genbench import registry
from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.errors import GenbenchError, PluginLoadError
from genbench.features.base import FeatureExtractor
from genbench.metric_options import parse_metric_options, resolve_metric_options
from genbench.metrics._inputs import logits_features
from genbench.metrics.base import Metric
from genbench.resolve import call_plugin
from genbench.sample_labels import PlannedClasses
from genbench.text import and_list


def build_metric_options(
    config: RunConfig, metrics: list[Metric], dataset: Dataset
) -> dict[str, dict[str, Any]]:
    """``--metric-option`` values, checked against the options each metric declares."""
    given = parse_metric_options(config.metric_options)
    chosen = {m.name: m for m in metrics}
    out = {}
    named: dict[str, str] = {}  # canonical metric -> the name its options were given under
    for name, opts in given.items():
        canonical = registry.metrics.check(name)
        if canonical not in chosen and not _supports(canonical, dataset.kind):
            raise GenbenchError(
                f"--metric-option {name}.{next(iter(opts))} names metric {name!r}, which does not apply to "
                f"{dataset.kind} data ({dataset.name}); drop the option"
            )
        if canonical not in chosen:
            # the whole value to pass: a run without --metrics leaves the opt-in metrics (fid_inf)
            # out, and --metrics fid_inf alone would compute it and nothing else
            what = (
                f"names {name}, an opt-in metric that a run without --metrics leaves out"
                if config.metrics is None and not registry.metrics.get(canonical).runs_by_default
                else "names a metric not among --metrics"
            )
            raise GenbenchError(
                f"--metric-option {name}.{next(iter(opts))} {what}; "
                f"add {name} to --metrics (--metrics {','.join([*chosen, name])}) or drop the option"
            )
        if canonical in named:  # an alias and its metric (or two aliases): the last one silently won
            raise GenbenchError(
                f"--metric-option {named[canonical]}.* and --metric-option {name}.* both set options of "
                f"metric {canonical!r} ({name!r} is another name for it); give them under one name"
            )
        named[canonical] = name
        metric = chosen[canonical]
        out[canonical] = resolve_metric_options(canonical, dict(metric.options), opts, metric.option_words)
        check_metric_options(chosen[canonical], out[canonical])
    return out


def effective_metric_options(
    metrics: list[Metric], given: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every option of each metric that has some: its declared defaults, then ``--metric-option``
    values (what a result records as ``protocol["metric_options"]``)."""
    return {m.name: {**m.options, **given.get(m.name, {})} for m in metrics if m.options}


def check_metric_options(metric: Metric, options: dict[str, Any]) -> None:
    """``metric.check_options`` before any training; a plugin's own bug there is one error line too."""
    drop = f"drop --metric-option {metric.name}.*"
    call_plugin(
        "metric",
        metric.name,
        "raised {error} checking its options",
        lambda: metric.check_options(options),
        drop,
    )


def check_metric_features(
    metrics: list[Metric], extractor: FeatureExtractor | None, named: Sequence[str] | None = None
) -> None:
    """Each metric's ``check_features`` for the run's extractor, before any training: a metric that
    cannot measure in those features (sfid under ``--features classifier``) fails the command now, in
    one line, rather than once every model has trained; a plugin's own bug there is one line too.
    ``named``: the ``--metrics`` value (None: the default set), for :func:`check_logits`."""
    check_logits(metrics, extractor, named)
    for metric in metrics:
        call_plugin(
            "metric",
            metric.name,
            "raised {error} checking the features it measures in",
            functools.partial(metric.check_features, extractor),
            f"drop {metric.name} from --metrics",
        )


def check_logits(
    metrics: list[Metric], extractor: FeatureExtractor | None, named: Sequence[str] | None
) -> None:
    """Refuse the metrics of logits (``needs_logits``: is, is_inf) that ``--metrics`` names under an
    extractor that declares it gives none (raw, dinov2): the run trained, sampled and extracted every
    feature (hours of ViT-L on a CPU) to say "not computed" at the end. The default set (``named``
    None) leaves them out quietly, as ever; an extractor that does not say (a plugin's) is left to
    the late check, on its output."""
    if named is None or extractor is None or extractor.gives_logits is not False:
        return
    needy = {m.name for m in metrics if m.needs_logits}
    if not needy:
        return
    typed = [n for n in dict.fromkeys(named) if registry.metrics.canonical(n) in needy]
    kept = [n for n in dict.fromkeys(named) if registry.metrics.canonical(n) not in needy]
    one = len(typed) == 1
    # the whole value: the user's next command, with the other metrics it named kept
    drop = f"drop {'it' if one else 'them'} (--metrics {','.join(kept)}) or " if kept else ""
    give = logits_features(extractor.dataset)
    raise GenbenchError(
        f"{'metric' if one else 'metrics'} {and_list(typed)} {'needs' if one else 'need'} logits, which "
        f"--features {extractor.name} does not give (no classifier head); {drop}pass --features "
        f"{' or '.join(give)}, which {'gives' if len(give) == 1 else 'give'} them"
    )


def check_metric_samples(
    metrics: list[Metric],
    options: dict[str, dict[str, Any]],
    num_samples: int,
    extractor: FeatureExtractor | None,
) -> None:
    """Each metric's ``check_samples`` for ``num_samples`` samples in ``extractor``'s features, with
    its ``--metric-option`` values, before any training: ``fid_inf.min_size=5000`` with ``--samples
    1000`` fails the command now, in the metric's own line, rather than once every model has trained."""
    for metric in metrics:
        call_plugin(
            "metric",
            metric.name,
            "raised {error} checking its options against the samples",
            functools.partial(metric.check_samples, options.get(metric.name, {}), num_samples, extractor),
            f"drop --metric-option {metric.name}.*",
        )


def check_metric_classes(
    metrics: list[Metric], options: dict[str, dict[str, Any]], classes: PlannedClasses
) -> None:
    """Each metric's ``check_classes`` for the classes a run's class-conditional models draw their
    samples for, with its ``--metric-option`` values, before any training: ``intra_fid`` on 15
    samples of 8 classes (one class drawn once, no covariance) fails the command now, in the
    metric's own line, rather than once every model has trained."""
    for metric in metrics:
        call_plugin(
            "metric",
            metric.name,
            "raised {error} checking the classes of the samples",
            functools.partial(metric.check_classes, options.get(metric.name, {}), classes),
            f"drop {metric.name} from --metrics",
        )


def _supports(name: str, kind: str) -> bool:
    """Whether metric ``name`` handles ``kind`` data; a plugin that fails to import is reported elsewhere."""
    try:
        return kind in registry.metrics.get(name).supported_kinds
    except PluginLoadError:
        return True
