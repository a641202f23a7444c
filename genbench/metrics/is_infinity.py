"""IS-infinity (Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to
find them"): the Inception Score extrapolated to infinitely many samples.

IS on N samples is biased downwards, to first order linearly in 1/N: the marginal class distribution
``p(y)`` is estimated from the N samples, and the entropy of an estimate falls short. For confident
predictions of K equally likely classes, ``IS_N`` is about ``K (1 - (K - 1) / (2 N))``. ``is_inf``
computes IS with one split (:func:`~genbench.metrics.inception_score.score`, the ``is`` metric's
own, torch-fidelity's value) on random subsets at 15 sizes from ``min_size`` to N and reports the
least-squares intercept at 1/N = 0 (:mod:`genbench.metrics._extrapolation`), as the authors'
``calculate_IS_infinity``.

The smallest subset is ``max(N // 10, 2 K)`` by default for K classes of logits (the paper's 5000 of
50000 samples, with Inception's 1008 classes): the neglected terms in 1/N^2 are smaller than the
linear one by a factor of order K / N, small only for N well above K. A ``min_size`` given must be 2 at least.

Not run by default (``--metrics is,is_inf``), as ``fid_inf``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.features.base import FeatureExtractor
from genbench.metrics import _extrapolation
from genbench.metrics._inputs import check_features, no_logits
from genbench.metrics.base import EvalContext, Metric
from genbench.metrics.inception_score import score
from genbench.registry import register_metric

#: the smallest min_size, and why
IS_FLOOR, IS_FLOOR_WHY = 2, "a score needs 2 samples"


@register_metric("is_inf")
class ISInfinity(Metric):
    """Inception Score extrapolated to infinitely many samples (Chong & Forsyth 2020)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"is_inf": True}
    supported_kinds = ("image",)
    reference = "none"  # the samples' logits alone
    needs_logits = True
    #: subset sizes fitted; the smallest (None: max(N // 10, 2 x the number of classes))
    options: ClassVar[dict[str, object]] = {"points": _extrapolation.POINTS, "min_size": None}
    runs_by_default = False  # as fid_inf: opt-in, --metrics is_inf
    description = (
        "Inception Score extrapolated to infinite N: least-squares intercept of IS on 1/N over 15 random "
        "subsets (Chong & Forsyth 2020)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        _extrapolation.check_options("is_inf", options)

    def check_samples(
        self, options: dict[str, Any], num_samples: int, extractor: FeatureExtractor | None
    ) -> None:
        # the default min_size, 2 K, where the extractor declares its K classes (Inception's 1008):
        # too few samples for it failed once every model had trained, sampled and been extracted
        k = extractor.logits_dim() if extractor is not None else None
        default_floor = 2 * k if k is not None else None
        _extrapolation.check_samples(
            "is_inf", options.get("min_size"), num_samples, IS_FLOOR, IS_FLOOR_WHY, default_floor
        )

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        if ctx.sample_features.logits is None:
            raise MetricInputError(no_logits("is_inf", ctx.dataset))
        logits = check_features(ctx.sample_features.logits, "sample logits", "is_inf", why="for a score")
        sizes = _extrapolation.subset_sizes(
            ctx,
            "is_inf",
            len(logits),
            floor=IS_FLOOR,
            floor_why=IS_FLOOR_WHY,
            default_floor=2 * logits.shape[1],
        )
        seed = int(ctx.seed)
        # one split per subset, as the paper: the subset is the sample set IS is computed on
        values = _extrapolation.subset_values(
            len(logits), sizes, seed, lambda rows: score(np.ascontiguousarray(logits[rows]), 1, seed)[0]
        )
        return {"is_inf": _extrapolation.intercept(sizes, values)}
