"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium").

FID is the Fréchet (2-Wasserstein) distance between Gaussians fitted to two feature sets::

    FID = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

Statistics are float64 means and unbiased covariances (``np.cov``), as torch-fidelity's
``fid_features_to_statistics`` computes them. The trace term is computed by either backend's formula
(option ``ctx.options["fid"]["backend"]``):

- ``"torch-fidelity"`` (default): ``Tr (S_1 S_2)^(1/2) = sum_i sqrt(lambda_i(S_1 S_2))``, the real part
  of the square roots of the eigenvalues, as ``torch_fidelity.metric_fid.fid_statistics_to_metric``.
- ``"clean-fid"``: the matrix square root ``scipy.linalg.sqrtm(S_1 S_2)``, as
  ``cleanfid.fid.frechet_distance`` (and pytorch-fid, and the TTUR original).

Both are the same quantity: S_1 S_2 is similar to a PSD matrix, so its eigenvalues are real and
non-negative and the trace of its principal square root is the sum of their square roots. On the same
features the two agree to about 1e-10 relative when the covariances are well conditioned (the tests
check both against the libraries to 1e-6). Which Inception network and resizing produced the features
is the feature extractor's choice (``inception`` for torch-fidelity's, ``clean-inception`` for
clean-fid's), not this option's.

Why we compute the distance by hand instead of calling the libraries: both libraries can fail on the
small-N, singular covariances this harness meets every day (2D toys, a few hundred samples, a collapsed
model). clean-fid's ``frechet_distance`` raises ``ValueError`` when ``sqrtm`` leaves an imaginary part
and may return NaN when the product stays singular; torch-fidelity's asserts equal dtypes and prints.
Here, as pytorch-fid does, a non-finite ``sqrtm`` is retried with ``eps * I`` added to both
covariances and a negligible imaginary part is dropped; a non-negligible one falls back to the
eigenvalue formula (with a warning) instead of raising; and a result below zero by rounding is 0. The
value is never NaN or complex: statistics that overflow float64 (features beyond about 1e75) are an
input error naming the features.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import linalg

from genbench.errors import MetricInputError
from genbench.metrics._inputs import check_features, check_same_dim, option, reference_rows
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

if TYPE_CHECKING:
    from genbench.features.base import FeatureExtractor

BACKENDS = ("torch-fidelity", "clean-fid")
DEFAULT_BACKEND = "torch-fidelity"
#: diagonal offset added when sqrtm of the product is not finite (pytorch-fid's and clean-fid's value)
EPS = 1e-6


#: the key of the sample features' mean and covariance in their ``Features.shared`` (:func:`fid_of`)
SAMPLE_GAUSSIAN = ("fid", "sample gaussian")

#: elements of one block of rows in :func:`gaussian_statistics` (64 MB of float64)
COV_BLOCK_ELEMENTS = 2**23


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance in float64: torch-fidelity's ``fid_features_to_statistics`` and
    clean-fid's, ``np.cov``, equal to rounding (tested). Written out to sum over blocks of rows:
    ``np.cov`` centres a float64 copy of all the features first, 1.2 GB for 50000 samples in raw
    CIFAR-10 pixels, which was the peak of a 50k evaluation's memory."""
    f = np.asarray(features)
    f = f[:, None] if f.ndim == 1 else f
    n, d = f.shape
    mu = f.mean(axis=0, dtype=np.float64)
    sigma = np.zeros((d, d))
    rows = max(1, COV_BLOCK_ELEMENTS // max(d, 1))
    for start in range(0, n, rows):
        centred = np.subtract(f[start : start + rows], mu, dtype=np.float64)
        sigma += centred.T @ centred
    with np.errstate(divide="ignore", invalid="ignore"):  # one row: NaN, as np.cov gives (callers need 2)
        sigma /= n - 1
    return mu, sigma


def _product(s1: np.ndarray, s2: np.ndarray) -> np.ndarray | None:
    """S1 S2, or None where it overflows float64 (features of huge magnitude): numpy's eigvals and
    scipy's sqrtm raise a bare LinAlgError on it, which named neither FID nor the input."""
    with np.errstate(over="ignore", invalid="ignore"):
        product = s1 @ s2
    return product if np.isfinite(product).all() else None


def _trace_sqrt_eig(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr (S1 S2)^(1/2) from the eigenvalues of S1 S2 (torch-fidelity's formula); NaN on overflow."""
    product = _product(s1, s2)
    if product is None:
        return math.nan
    eig = np.linalg.eigvals(product).astype(np.complex128)
    return float(np.sqrt(eig).real.sum())


def _trace_sqrt_sqrtm(s1: np.ndarray, s2: np.ndarray, eps: float = EPS) -> float:
    """Tr (S1 S2)^(1/2) with scipy's sqrtm, made robust as pytorch-fid does; NaN on overflow."""
    product = _product(s1, s2)
    if product is None:
        return math.nan
    covmean = linalg.sqrtm(product)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        warnings.warn(
            f"fid: the covariance product is singular; added {eps} to the diagonal of both covariances "
            f"(use more samples than feature dimensions)",
            stacklevel=3,
        )
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3) or not np.isfinite(covmean).all():
            warnings.warn(
                "fid: sqrtm left a large imaginary part; used the eigenvalue formula instead",
                stacklevel=3,
            )
            return _trace_sqrt_eig(s1, s2)
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    backend: str = DEFAULT_BACKEND,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), float64, never NaN or complex
    (MetricInputError where the statistics overflow float64)."""
    if backend not in BACKENDS:
        raise MetricInputError(f"fid: unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise MetricInputError(
            f"fid: statistics do not match (mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}); "
            f"compute both with the same feature extractor (--features)"
        )
    diff = mu1 - mu2
    tr = _trace_sqrt_eig(s1, s2) if backend == "torch-fidelity" else _trace_sqrt_sqrtm(s1, s2)
    with np.errstate(over="ignore", invalid="ignore"):
        fid = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr)
    if not np.isfinite(fid):  # statistics that overflow float64 (features beyond about 1e75)
        raise MetricInputError("fid: the Fréchet distance is not finite; check the features for huge values")
    return max(fid, 0.0)


def check_backend(metric: str, options: dict[str, Any]) -> None:
    """``metric``'s ``backend`` option (FID's trace formula, sfid's too): one of :data:`BACKENDS`."""
    backend = options.get("backend", DEFAULT_BACKEND)
    if backend not in BACKENDS:
        raise MetricInputError(f"{metric}: unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


@register_metric("fid")
class FID(Metric):
    """Fréchet distance between Gaussians fitted to sample and reference features (Heusel et al. 2017)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"fid": False}
    reference = "stats"  # --reference-stats stand in for the reference features
    #: the trace formula: "torch-fidelity" (eigenvalues) or "clean-fid" (scipy's sqrtm)
    options: ClassVar[dict[str, object]] = {"backend": DEFAULT_BACKEND}
    description = (
        "Fréchet Inception Distance, float64, torch-fidelity's formula (clean-fid's as option backend) "
        "(Heusel et al. 2017)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        check_backend("fid", options)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        backend = option(ctx, "fid", "backend", DEFAULT_BACKEND)
        self.check_options({"backend": backend})
        return {"fid": fid_of(ctx, "fid", backend)}


def fid_of(ctx: EvalContext, metric: str, backend: str = DEFAULT_BACKEND) -> float:
    """FID of ``ctx``'s sample features against its reference (``--reference-stats``, else the
    reference split's Gaussian, computed once a command: :func:`reference_statistics`), errors and
    warnings named as ``metric``'s: the ``fid`` column, and what ``mifid`` divides (the same value
    for the same backend, not a second implementation). The samples' Gaussian and the distance are
    kept in ``ctx.sample_features.shared`` (the distance per backend and reference), so the second
    of fid and mifid looks them up."""
    x = check_features(ctx.sample_features.features, "sample", metric, why="for a covariance")
    warn_if_singular(metric, len(x), x.shape[1], "samples", f"use more than {x.shape[1]} samples")
    kept = ctx.sample_features.shared  # cleared when a metric changes the features in place
    if SAMPLE_GAUSSIAN not in kept:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by frechet_distance
            mu1, s1 = gaussian_statistics(x)
        for a in (mu1, s1):  # the next metric reads them: none may change them
            a.setflags(write=False)
        kept[SAMPLE_GAUSSIAN] = (mu1, s1)
    mu1, s1 = kept[SAMPLE_GAUSSIAN]
    mu2, s2 = reference_statistics(ctx, metric, x)
    # fid and mifid of one sample set: the same distance, an eigendecomposition of a d x d product
    # (seconds at 2048) computed once. Kept with the very reference arrays it was computed against
    # (the split's kept Gaussian, or --reference-stats'): another reference is another object, and
    # holding these keeps their ids from being reused
    key = ("fid", "distance", backend)
    done = kept.get(key)
    if done is not None and done[0] is mu2 and done[1] is s2:
        value, said = done[2], done[3]
        for w in said:  # the warnings it gave: each metric's result says them, as before
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = frechet_distance(mu1, s1, mu2, s2, backend=backend)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    kept[key] = (mu2, s2, value, tuple(caught))
    return value


def reference_statistics(ctx: EvalContext, metric: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's mean and covariance for ``metric``'s Fréchet distance to the sample features
    ``x``: ``--reference-stats`` where given (checked against ``x``'s dimension), else
    :func:`gaussian_statistics` of the reference features, computed once a command
    (:func:`reference_gaussian`)."""
    if ctx.reference_stats_error is not None:
        raise MetricInputError(ctx.reference_stats_error)
    if ctx.reference_stats is not None:
        mu2, s2 = (np.asarray(a, dtype=np.float64) for a in ctx.reference_stats)
        d = x.shape[1]
        if mu2.shape != (d,) or s2.shape != (d, d):
            raise MetricInputError(
                f"{metric}: reference statistics have dimension {mu2.shape[0]} but the sample features have "
                f"{d}; compute them with the same feature extractor (--features)"
            )
        if not (np.isfinite(mu2).all() and np.isfinite(s2).all()):
            raise MetricInputError(f"{metric}: reference statistics hold NaN or inf; recompute them")
        return mu2, s2
    ref = reference_rows(ctx, metric, why="for a covariance")
    check_same_dim(x, ref, metric)
    # more samples change nothing here: the reference split is the short side
    fix = f"compare with a split of more than {ref.shape[1]} examples, or in features of fewer dimensions (--features)"
    warn_if_singular(metric, len(ref), ref.shape[1], "reference examples", fix)
    return reference_gaussian(ctx, lambda: ref)


def reference_gaussian(
    ctx: EvalContext, rows: Callable[[], np.ndarray], extractor: FeatureExtractor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gaussian_statistics` of the reference split's features, ``rows()`` (checked; called
    only when not kept), in ``extractor``'s features (None: the run's, ``ctx.reference_features``):
    computed once and kept, read-only, in ``ctx.reference_features.shared`` for every metric, model
    and seed of the command. fid and fid_inf each computed it for every model and seed (seconds at
    CIFAR-10's 50000 x 2048 on a CPU); sfid's spatial one is kept the same way."""
    key: tuple[Any, ...] = ("gaussian",)
    if extractor is not None:  # another network's (sfid's tap), of the same split
        key = (*key, ctx.reference_split, extractor.checked_fingerprint(), str(extractor.device))
    kept = ctx.reference_features.shared
    if key not in kept:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by frechet_distance
            mu, sigma = gaussian_statistics(rows())
        for a in (mu, sigma):  # every later metric and model reads them: none may change them
            a.setflags(write=False)
        kept[key] = (mu, sigma)
    return kept[key]


def warn_if_singular(metric: str, n: int, dim: int, what: str, fix: str, value: str = "FID") -> None:
    """Warn that ``n`` rows of ``dim``-dimensional features give a singular covariance, if they do
    (``value``: what it biases, ``FID`` or ``sFID``)."""
    if n <= dim:
        warnings.warn(
            f"{metric}: {n} {what} for {dim}-dimensional features: the covariance is singular and {value} is "
            f"biased upwards; for a comparable {value}, {fix}",
            stacklevel=3,
        )
