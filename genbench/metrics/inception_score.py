"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

``IS = exp(E_x KL(p(y|x) || p(y)))`` from the classifier's logits of the samples, computed by
torch-fidelity's ``isc_features_to_metric``: samples shuffled with the run's seed, split into 10
parts, the score computed per part; ``is`` is the mean and ``is_std`` the spread over parts. It ranges
from 1 (every prediction the same, or every prediction uniform) to the number of classes (confident and
balanced predictions). It applies only when the feature extractor has a classifier head (logits): the
1008-way Inception logits on natural images, the dataset classifier on digits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from genbench.errors import MetricInputError
from genbench.metrics._inputs import check_features, check_int, int_option, shared_tensor
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

SPLITS = 10


@register_metric("is")
class InceptionScore(Metric):
    """Inception Score from the sample logits via torch-fidelity (Salimans et al. 2016)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"is": True, "is_std": False}
    options: ClassVar[dict[str, object]] = {"splits": SPLITS}  # the samples are scored in this many parts
    supported_kinds = ("image",)
    reference = "none"  # the samples' logits alone
    description = (
        "Inception Score over 10 splits from the extractor's logits, torch-fidelity (Salimans et al. 2016)"
    )

    def applies_to(self, ctx: EvalContext) -> bool:
        return super().applies_to(ctx) and ctx.sample_features.logits is not None

    def check_options(self, options: dict[str, Any]) -> None:
        if "splits" in options:
            check_int(options["splits"], "is", "splits")

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from torch_fidelity.metric_isc import isc_features_to_metric

        if ctx.sample_features.logits is None:
            raise MetricInputError(
                "is: the feature extractor gives no logits; use one with a classifier head (inception, classifier)"
            )
        splits = int_option(ctx, "is", "splits", SPLITS)
        logits = check_features(
            ctx.sample_features.logits,
            "sample logits",
            "is",
            min_rows=splits,
            why=f"one per split, {splits} splits",
        )
        out = isc_features_to_metric(
            shared_tensor(logits), splits=splits, shuffle=True, rng_seed=int(ctx.seed)
        )
        return {"is": float(out["inception_score_mean"]), "is_std": float(out["inception_score_std"])}
