"""Whether a command's metrics read features, and the feature extractor `genbench run` and `genbench
eval` build for them: none where no metric reads any (:meth:`genbench.metrics.base.Metric.reads_features`:
memorization in pixels, throughput, modes...). Built all the same, the default extractor of a folder
of images, Inception, stopped `--metrics memorization` on a machine without its weights, though
nothing was extracted with it; and the result's protocol named features its numbers were not
measured in.
"""

from __future__ import annotations

from typing import Any

import torch

from genbench.config import RunConfig, flag_of
from genbench.data.base import Dataset
from genbench.features.base import FeatureExtractor
from genbench.metrics.base import Metric
from genbench.progress import Progress
from genbench.resolve import WEIGHTS_OPTIONS, build_extractor, call_plugin


def reads_features(metrics: list[Metric], options: dict[str, dict[str, Any]]) -> bool:
    """Whether any of ``metrics``, with its ``--metric-option`` values in ``options``, reads features;
    a plugin's own bug there is one error line, as in its other checks."""
    return any(
        call_plugin(
            "metric",
            m.name,
            "raised {error} saying whether it reads features",
            lambda m=m: bool(m.reads_features(options.get(m.name, {}))),
            f"drop {m.name} from --metrics",
        )
        for m in metrics
    )


def needed_extractor(
    dataset: Dataset,
    config: RunConfig,
    metrics: list[Metric],
    reads: bool,
    device: torch.device,
    console: Progress,
) -> FeatureExtractor | None:
    """The run's feature extractor (:func:`genbench.resolve.build_extractor`) where a metric reads
    features (``reads``: :func:`reads_features`), else None, with a warning naming the flags given
    for one (``--features``, a weights file) as unused."""
    if reads:
        return build_extractor(dataset, config, device, console)
    given = [f"--features {config.features}"] if config.features else []
    given += [
        f"{flag_of(option)} {getattr(config, option)}"
        for option in WEIGHTS_OPTIONS
        if getattr(config, option) is not None
    ]
    if given:
        names = ", ".join(m.name for m in metrics)
        console.warn(
            f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} not used: none of the metrics "
            f"({names}) reads features, so none are extracted"
        )
    return None
