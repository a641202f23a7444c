"""FID-infinity (Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to
find them"): FID extrapolated to infinitely many samples.

FID on N samples is biased upwards by a term about ``b / N`` whose slope ``b`` depends on the
generator, so two models scored at one N can swap ranks at another. ``fid_inf`` computes FID
(:func:`~genbench.metrics.fid.frechet_distance` of :func:`~genbench.metrics.fid.gaussian_statistics`,
the ``fid`` metric's own, against the same reference statistics, ``--reference-stats`` included) on
random subsets at 15 sizes from ``min_size`` to N and reports the least-squares intercept at 1/N = 0
(:mod:`genbench.metrics._extrapolation`), as the authors' ``calculate_FID_infinity``. The trace
term is torch-fidelity's eigenvalue formula, ``fid``'s default (``fid.backend`` is ``fid``'s alone).

The smallest subset: the paper's is 5000 of 50000 samples for 2048-dimensional Inception features,
N / 10 and about 2.4 times the dimension. At d or fewer rows the covariance is singular, and near d
its eigenvalues are far from the population's, where FID's bias is no longer linear in 1/N (the
terms in (d/N)^2 are not small). So ``min_size`` is ``max(N // 10, 2 d)`` by default, which needs
N >= 4 d (the sizes span a factor of 2 at least): 512 samples for the digits classifier's 128
features, 8192 for Inception's 2048. A ``min_size`` given must exceed d.

Not run by default: it costs 15 Fréchet distances, each an eigen-decomposition of a d x d matrix
(seconds each for Inception's 2048 on a CPU). Name it: ``--metrics fid,fid_inf``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from genbench.features.base import FeatureExtractor
from genbench.metrics import _extrapolation
from genbench.metrics._inputs import check_features
from genbench.metrics.base import EvalContext, Metric
from genbench.metrics.fid import DEFAULT_BACKEND, frechet_distance, gaussian_statistics, reference_statistics
from genbench.registry import register_metric


@register_metric("fid_inf")
class FIDInfinity(Metric):
    """FID extrapolated to infinitely many samples (Chong & Forsyth 2020)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"fid_inf": False}
    reference = "stats"  # as FID: --reference-stats stand in for the reference features
    #: subset sizes fitted; the smallest (None: max(N // 10, 2 x the feature dimension))
    options: ClassVar[dict[str, object]] = {"points": _extrapolation.POINTS, "min_size": None}
    runs_by_default = False  # 15 Fréchet distances: opt-in, --metrics fid_inf
    description = (
        "FID extrapolated to infinite N: least-squares intercept of FID on 1/N over 15 random subsets "
        "(Chong & Forsyth 2020)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        _extrapolation.check_options("fid_inf", options)

    def check_samples(
        self, options: dict[str, Any], num_samples: int, extractor: FeatureExtractor | None
    ) -> None:
        # the default min_size too: max(N // 10, 2 d) with N below 4 d failed once every model had
        # trained, sampled and been extracted, where a min_size given failed here
        d = extractor.feature_dim() if extractor is not None else None
        floor, why = _floor(d) if d is not None else (None, "")
        default_floor = 2 * d if d is not None else None
        _extrapolation.check_samples(
            "fid_inf", options.get("min_size"), num_samples, floor, why, default_floor
        )

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        x = check_features(ctx.sample_features.features, "sample", "fid_inf", why="for a covariance")
        mu_ref, sigma_ref = reference_statistics(ctx, "fid_inf", x)
        d = x.shape[1]
        floor, why = _floor(d)
        sizes = _extrapolation.subset_sizes(ctx, "fid_inf", len(x), floor, why, default_floor=2 * d)

        def fid(rows: np.ndarray | slice) -> float:
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by frechet_distance
                mu, sigma = gaussian_statistics(x[rows])
            return frechet_distance(mu, sigma, mu_ref, sigma_ref, backend=DEFAULT_BACKEND)

        values = _extrapolation.subset_values(len(x), sizes, int(ctx.seed), fid)
        return {"fid_inf": _extrapolation.intercept(sizes, values)}


def _floor(d: int) -> tuple[int, str]:
    """The smallest ``min_size`` in ``d``-dimensional features, and why."""
    return d + 1, f"a subset of {d} rows or fewer has a singular covariance in {d} dimensions"
