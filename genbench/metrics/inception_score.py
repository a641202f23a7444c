"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

``IS = exp(E_x KL(p(y|x) || p(y)))`` from the classifier's logits of the samples, computed as
torch-fidelity's ``isc_features_to_metric`` does: samples shuffled with the run's seed
(``np.random.RandomState(seed).permutation``), split into 10 parts at ``i * N // 10``, the score
computed per part in float64; ``is`` is the mean and ``is_std`` the spread (``np.std``) over parts.
It ranges from 1 (every prediction the same, or every prediction uniform) to the number of classes
(confident and balanced predictions). It applies only when the feature extractor has a classifier
head (logits): the 1008-way Inception logits on natural images, the dataset classifier on digits.

The value is torch-fidelity's. Where it is not finite, the same computation is redone by hand
(:func:`inception_score`, torch-fidelity's function op for op, the same value to the last bit on
ordinary logits, tested) with one addition that torch-fidelity lacks: a class whose probability is 0
contributes 0 to the KL divergence (``0 log 0 = 0``). torch-fidelity's ``p * (log p - log q)`` is then
``0 * inf = NaN``, so a split in which some class's softmax underflows to 0 in every sample (logits
more than ~745 apart: a very confident classifier, one-hot-like logits), or logits more than
float64's range apart (``log p = -inf``), made the whole score NaN (or inf, where a lone subnormal
probability's mean rounds to 0).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from genbench.errors import MetricInputError
from genbench.metrics._inputs import check_features, check_int, int_option, no_logits, shared_tensor
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
    needs_logits = True
    description = (
        "Inception Score over 10 splits from the extractor's logits, torch-fidelity (Salimans et al. 2016)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        if "splits" in options:
            check_int(options["splits"], "is", "splits")

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        if ctx.sample_features.logits is None:
            raise MetricInputError(no_logits("is", ctx.dataset))
        splits = int_option(ctx, "is", "splits", SPLITS)
        logits = check_features(
            ctx.sample_features.logits,
            "sample logits",
            "is",
            min_rows=splits,
            why=f"one per split, {splits} splits",
        )
        mean, std = score(logits, splits, int(ctx.seed))
        return {"is": mean, "is_std": std}


def score(logits: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    """Mean and spread over ``splits`` parts of the Inception Score of the N x C float64 ``logits``
    (checked by :func:`check_features`): torch-fidelity's value, or :func:`inception_score`'s where
    that is not finite."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = isc_features_to_metric(shared_tensor(logits), splits=splits, shuffle=True, rng_seed=seed)
    mean, std = float(out["inception_score_mean"]), float(out["inception_score_std"])
    if not (math.isfinite(mean) and math.isfinite(std)):  # 0 * inf in its KL: see the module docstring
        mean, std = inception_score(shared_tensor(logits), splits, seed)
    return mean, std


def inception_score(logits: torch.Tensor, splits: int, seed: int) -> tuple[float, float]:
    """Mean and spread over ``splits`` parts of the Inception Score of the N x C ``logits``.

    torch-fidelity's ``isc_features_to_metric(logits, splits, shuffle=True, rng_seed=seed)`` op for
    op, with ``0 log 0 = 0``, which torch-fidelity lacks: it is NaN where a class's probability is 0
    in every sample of a split (see the module docstring). :class:`InceptionScore` calls it there only."""
    n = logits.shape[0]
    logits = logits[np.random.RandomState(seed).permutation(n), :].double()
    p = logits.softmax(dim=1)
    log_p = logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        p_part, log_p_part = p[part], log_p[part]
        q = p_part.mean(dim=0, keepdim=True)
        kl = p_part * (log_p_part - q.log())
        # p = 0: the term is 0 (0 log 0 = 0), not 0 * inf = NaN. q = 0 with p > 0 happens only when
        # a lone subnormal p (< 2.3e-308) is rounded to 0 by the mean; its term, between 0 and p log n,
        # is below float64's resolution of the sum, so it is 0 too rather than inf.
        kl = torch.where((p_part > 0) & (q > 0), kl, 0.0)
        scores.append(kl.sum(dim=1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))
