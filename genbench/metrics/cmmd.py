"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image
Generation"): the squared maximum mean discrepancy between the CLIP embeddings of the samples and of
the reference images under a Gaussian RBF kernel, times 1000.

As google-research's ``cmmd/distance.py`` computes it: ``k(x, y) = exp(-gamma |x - y|^2)`` with
``gamma = 1 / (2 sigma^2)``, ``sigma = 10``, and the minimum-variance (biased, V-statistic) estimate
of Gretton et al. 2012's Eq. (5), every pair's mean *with* the diagonal::

    CMMD = 1000 (mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) - 2 mean_ij k(x_i, y_j))

so it is 0 for identical sets (to the bit in the same order, to rounding in another: negative
rounding is clipped to 0, a squared norm being never below it), and needs no subsets (KID's
estimate is the unbiased one, on subsets, under a cubic kernel). Lower is better.

It is CMMD under ``--features clip`` (CLIP ViT-L/14@336px, L2-normalised, whose squared distances lie
in [0, 4]: the kernel's scale was chosen for them). Under other features it is the same MMD with
CMMD's kernel, on a scale of its own, and each result's warning says so: on features much larger
than sigma (Inception's pool3, raw pixels) every off-diagonal kernel value underflows towards 0 and
the value only counts the diagonal.

Computed in float64 by blocks of rows (:data:`BLOCK_ELEMENTS` kernel values at once), so CIFAR-10's
50000 x 50000 pairs never exist at once; the reference set's own term is computed once a command and
kept for every model and seed scored against it.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.metrics._inputs import check_features, check_same_dim, reference_rows
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

#: the RBF kernel's bandwidth and the scale that makes the values readable (cmmd/distance.py)
SIGMA = 10.0
SCALE = 1000.0
GAMMA = 1.0 / (2.0 * SIGMA**2)
#: kernel values in one block of rows (64 MB of float64)
BLOCK_ELEMENTS = 2**23
#: the features CMMD is defined in
CLIP_FEATURES = "clip"


def mean_kernel(x: np.ndarray, y: np.ndarray) -> float:
    """``mean_ij exp(-GAMMA |x_i - y_j|^2)`` over every pair (the diagonal too, where ``x`` is ``y``),
    in float64, by blocks of ``x``'s rows. The squared distance is ``|x|^2 + |y|^2 - 2 x.y`` as the
    reference code writes it; the same call on equal arrays gives the same sum, to the bit."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x_sq = np.einsum("ij,ij->i", x, x)
    y_sq = np.einsum("ij,ij->i", y, y)
    rows = max(1, BLOCK_ELEMENTS // max(len(y), 1))
    total = 0.0
    for start in range(0, len(x), rows):
        block = x[start : start + rows]
        d2 = x_sq[start : start + rows, None] + y_sq[None, :] - 2.0 * (block @ y.T)
        total += float(np.exp(-GAMMA * d2).sum())
    return total / (len(x) * len(y))


def cmmd(x: np.ndarray, y: np.ndarray, k_yy: float | None = None) -> float:
    """CMMD's value between feature sets ``x`` and ``y`` (rows; the two sizes may differ); ``k_yy``:
    ``mean_kernel(y, y)`` where already computed."""
    k_xx = mean_kernel(x, x)
    k_yy = mean_kernel(y, y) if k_yy is None else k_yy
    # a squared norm (of the mean embeddings' difference), never below 0: the sums of a set and of
    # its reordered copy (the `copy` control) round apart, and cmmd -6.9e-15 read as below 0
    value = SCALE * (k_xx + k_yy - 2.0 * mean_kernel(x, y))
    return 0.0 if value < 0 else value  # NaN stays NaN: the metric names it


@register_metric("cmmd")
class CMMD(Metric):
    """CLIP-MMD: MMD^2 x 1000 under a Gaussian RBF kernel, sigma 10, biased estimate (Jayasumana et al. 2024)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"cmmd": False}
    description = (
        "CMMD under --features clip: MMD^2 x 1000 of the embeddings, Gaussian RBF kernel (sigma 10), "
        "biased V-statistic as google-research's cmmd; under other features the same MMD in them "
        "(Jayasumana et al. 2024)"
    )
    # opt-in, as fid_inf and sfid: its kernel is CLIP's, and under the other features a default run's
    # value would be a number of no published meaning; under clip, which a user picks for CMMD, it runs
    runs_by_default = False
    runs_by_default_under = (CLIP_FEATURES,)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        x = check_features(ctx.sample_features.features, "sample", "cmmd", why="for an MMD")
        y = reference_rows(ctx, "cmmd", why="for an MMD")
        check_same_dim(x, y, "cmmd")
        # the reference's own term, the same for every model and seed: kept in cmmd's own cache on the
        # reference features (as vendi's vendi_ref), not in the shared one other metrics read
        kept: dict[Any, Any] = ctx.reference_features.cache
        if "k_yy" not in kept:
            kept["k_yy"] = mean_kernel(y, y)
        value = cmmd(x, y, kept["k_yy"])
        name = ctx.extractor.name if ctx.extractor is not None else None
        if name != CLIP_FEATURES:  # the result's line says it (a run's warnings name model and seed)
            warnings.warn(
                f"under --features {name} this is not CMMD but the MMD of CMMD's kernel (sigma {SIGMA:g}, "
                f"made for L2-normalised CLIP embeddings) in those features, on a scale of its own; "
                f"--features clip for CMMD",
                stacklevel=2,
            )
        if not np.isfinite(value):  # finite features whose squared norms overflow float64
            raise MetricInputError("cmmd: the MMD is not finite; check the features for huge values")
        return {"cmmd": value}
