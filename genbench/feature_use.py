"""Whether a command's metrics read features, and the feature extractor `genbench run` and `genbench
eval` build for them: none where no metric reads any (:meth:`genbench.metrics.base.Metric.reads_features`:
memorization in pixels, throughput, modes...). Built all the same, the default extractor of a folder
of images, Inception, stopped `--metrics memorization` on a machine without its weights, though
nothing was extracted with it; and the result's protocol named features its numbers were not
measured in.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from genbench.config import RunConfig, flag_of
from genbench.data.base import Dataset
from genbench.errors import GenbenchError
from genbench.features.base import FeatureExtractor
from genbench.metrics.base import Metric
from genbench.progress import Progress
from genbench.resolve import WEIGHTS_OPTIONS, build_extractor, call_plugin
from genbench.text import and_list


def reads_features(metrics: list[Metric], options: dict[str, dict[str, Any]]) -> bool:
    """Whether any of ``metrics``, with its ``--metric-option`` values in ``options``, reads features;
    a plugin's own bug there is one error line, as in its other checks. Each is asked, not only those
    before the first that reads them: the protocol line asks a metric that declares another split
    (:func:`genbench.metric_splits.split_protocol`), and a raising answer after kid's was a
    traceback there, once the reference features were extracted."""
    answers = [
        call_plugin(
            "metric",
            m.name,
            "raised {error} saying whether it reads features",
            functools.partial(_reads_features, m, options.get(m.name, {})),
            f"drop {m.name} from --metrics",
        )
        for m in metrics
    ]
    return any(answers)


def _reads_features(metric: Metric, options: dict[str, Any]) -> bool:
    return bool(metric.reads_features(options))


def needed_extractor(
    dataset: Dataset,
    config: RunConfig,
    metrics: list[Metric],
    options: dict[str, dict[str, Any]],
    reads: bool,
    device: torch.device,
    console: Progress,
) -> FeatureExtractor | None:
    """The run's feature extractor (:func:`genbench.resolve.build_extractor`) where a metric reads
    features (``reads``: :func:`reads_features` of ``metrics`` with their ``options``), else None,
    with a warning naming the flags given for one (``--features``, a weights file) as unused. Where
    it cannot be built or used (Inception's weights missing offline, which it finds at its first
    batch: :attr:`~genbench.features.base.FeatureExtractor.without_it`), the error names the
    metrics of ``--metrics`` that read no features, which run without it: `--metrics
    fid,memorization` on a folder of images said only how to get the weights, while `--metrics
    memorization` needs none."""
    if reads:
        # of the metrics --metrics names: the default set's (cas, modes, ...) are no choice of the user's
        free = [m.name for m in metrics if not _reads(m, options)] if config.metrics is not None else []
        hint = (
            f"{and_list(free)} {'reads' if len(free) == 1 else 'read'} no features: --metrics "
            f"{','.join(free)} alone runs without them"
            if free
            else ""
        )
        try:
            extractor = build_extractor(dataset, config, device, console)
        except GenbenchError as e:
            if hint:
                e.args = (f"{e}; {hint}", *e.args[1:])
            raise
        extractor.without_it = hint  # its weights fetched at its first batch: the same hint then
        return extractor
    given = {"--features": config.features} if config.features else {}
    given |= {flag_of(o): getattr(config, o) for o in WEIGHTS_OPTIONS if getattr(config, o) is not None}
    if given:
        names = ", ".join(m.name for m in metrics)
        console.warn(
            f"{' and '.join(f'{k} {v}' for k, v in given.items())} {'is' if len(given) == 1 else 'are'} "
            f"not used: none of the metrics ({names}) reads features, so none are extracted; drop "
            f"{' and '.join(given)}, or add a metric that reads features to --metrics"
        )
    return None


def _reads(metric: Metric, options: dict[str, dict[str, Any]]) -> bool:
    """Whether ``metric`` reads features, True where asking raises (a plugin's bug, named where
    :func:`reads_features` asks it): a hint is not to hide the error it is added to."""
    try:
        return bool(metric.reads_features(options.get(metric.name, {})))
    except Exception:
        return True
