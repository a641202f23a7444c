"""The Vendi Score (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for Machine
Learning"), a reference-free diversity number: the effective number of distinct samples.

With K the n x n cosine similarity of the features (rows scaled to unit length, ``K = X X^T``, so
``K_ii = 1``) and ``lambda_i`` the eigenvalues of ``K / n`` (non-negative, summing to 1), the score is
the exponential of their entropy: ``exp(-sum_i lambda_i log lambda_i)``. It is 1 when every sample is
the same and n when all are orthogonal; k equal clusters of identical samples, mutually orthogonal,
score k. Order ``q`` (Pasarkar & Dieng 2024, "Cousins of the Vendi Score") uses Rényi's entropy,
``exp(log(sum_i lambda_i^q) / (1 - q))``: q = 1 is the paper's score (the limit), q = 0 the rank of
K, and a larger q weighs the largest eigenvalues (the dominant modes) more, up to ``q = inf``,
``1 / max_i lambda_i``, set by the word ``inf`` as the reference package spells it.

The score grows with n, so a number is comparable only with another at the same n: ``vendi`` is the
samples' and ``vendi_ref`` the reference split's, both on ``n = min(samples, reference examples)``
rows (the protocol's ``num_samples`` and ``num_reference``), the larger set a random subset seeded
with the run's seed. By default a run draws as many samples as the train split holds, so both are the
whole sets. ``copy`` scores its reference's ``vendi_ref``; a collapsed model far below it.

The definitions are those of the ``vendi-score`` reference package (``vendi_score.vendi``, by
Friedman & Dieng), which the tests match on the same inputs.
Option (``ctx.options["vendi"]``): ``q`` (1), set with ``--metric-option vendi.q=2`` (or ``=inf``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.special import logsumexp

from genbench.errors import MetricInputError
from genbench.metrics._inputs import check_features, check_same_dim, option, reference_rows
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

#: the paper's order (Shannon entropy)
Q = 1.0
#: rows scaled and multiplied at once: float64 copies of 4096 x 2048 features (64 MB), not of all 50000
BLOCK_ROWS = 4096


def vendi_score(x: np.ndarray, q: float = Q) -> float:
    """The Vendi Score of order ``q`` of the rows of ``x`` (N x D, no zero row) under the cosine
    similarity, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return score_of_eigenvalues(similarity_eigenvalues(x), q)


def similarity_eigenvalues(x: np.ndarray) -> np.ndarray:
    """The eigenvalues of ``K / n``, K the cosine similarity of the n rows of ``x``, through the smaller
    Gram matrix: ``X^T X / n`` (D x D) has the nonzero eigenvalues of ``X X^T / n`` (n x n), so 50000
    Inception features cost a 2048 x 2048 eigendecomposition, not a 50000 x 50000 one (20 GB);
    ``X X^T / n`` where D exceeds n (raw pixels of few samples). Float64 throughout: the entropy sums
    thousands of eigenvalues down to 1e-10."""
    n, d = x.shape
    if d <= n:
        gram = np.zeros((d, d))
        for start in range(0, n, BLOCK_ROWS):  # the unit rows a block at a time: no copy of all x
            unit = _unit_rows(x[start : start + BLOCK_ROWS])
            gram += unit.T @ unit
    else:
        unit = _unit_rows(x)
        gram = unit @ unit.T
    return np.linalg.eigvalsh(gram / n)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def score_of_eigenvalues(eigenvalues: np.ndarray, q: float = Q) -> float:
    """``exp`` of the Rényi entropy of order ``q`` of ``eigenvalues`` (Shannon's at q = 1). Those
    within rounding of 0 (below ``max * size * eps``, numpy's ``matrix_rank`` tolerance for the
    matrix) are its null space: they count for nothing at q = 0, which is then the rank, rather than
    as many as rounding left positive."""
    w = np.asarray(eigenvalues, dtype=np.float64)
    top = float(w.max())
    p = w[w > top * len(w) * np.finfo(np.float64).eps]
    if q == 0:
        return float(len(p))
    if q == math.inf:  # the limit of the formula below: the largest eigenvalue alone
        return 1.0 / top
    if q == 1:
        return float(np.exp(-np.sum(p * np.log(p))))
    # log(sum p^q) from the logs: p^q underflows to 0 at a high q (500 equal eigenvalues at q = 200
    # gave log(0) / (1 - q), a score of inf for 500 distinct samples)
    return float(np.exp(logsumexp(q * np.log(p)) / (1.0 - q)))


@register_metric("vendi")
class Vendi(Metric):
    """Vendi Score of the samples and of as many reference examples (Friedman & Dieng 2023)."""

    version = 1
    # opt-in (--metrics fid,vendi): it costs about FID's covariance, but the published boards predate it
    # and a default metric would give every later run columns those boards lack
    runs_by_default = False
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        # two-sided, as ct: read against vendi_ref, not "higher is better" (no arrow on the board):
        # noise scores far above the data (raw digits: 62.6 against the train split's 6.65)
        "vendi": None,
        # the yardstick vendi is read against (the data's diversity at the same n), not a score
        "vendi_ref": None,
    }
    #: Vendi images' features; 2D points' cosine similarity (their angle alone) is at most 2
    supported_kinds: ClassVar[tuple[str, ...]] = ("image",)
    #: the order of the Rényi entropy (1: the paper's Shannon entropy)
    options: ClassVar[dict[str, object]] = {"q": Q}
    #: order infinity, as the reference package's ``q="inf"``
    option_words: ClassVar[dict[str, tuple[str, ...]]] = {"q": ("inf",)}
    description = (
        "Vendi Score: exp of the entropy of the cosine-similarity eigenvalues, the effective number of "
        "distinct samples, beside the reference's at the same n (Friedman & Dieng 2023)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        if "q" in options:
            _check_q(options["q"])

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        q = _check_q(option(ctx, "vendi", "q", Q))
        why = "a diversity of one sample is 1 whatever the model"
        x = check_features(ctx.sample_features.features, "sample", "vendi", why=why)
        ref = reference_rows(ctx, "vendi", why=why)
        check_same_dim(x, ref, "vendi")
        # the score grows with n: both at the smaller set's size, the larger one a seeded subset
        n = min(len(x), len(ref))
        x, ref = (_subset(a, n, ctx.seed) for a in (x, ref))
        _check_nonzero(x, "sample")
        _check_nonzero(ref, "reference")
        cache = ctx.reference_features.cache  # the same for every model of this n, seed and q
        key = ("vendi", n, int(ctx.seed), q)
        if key not in cache:
            cache[key] = vendi_score(ref, q)
        return {"vendi": vendi_score(x, q), "vendi_ref": cache[key]}


def _subset(a: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` rows of ``a`` drawn with ``seed`` (sorted), or ``a`` itself when it has ``n``."""
    if len(a) <= n:
        return a
    return a[np.sort(np.random.default_rng(seed).permutation(len(a))[:n])]


def _check_nonzero(a: np.ndarray, what: str) -> None:
    """A zero feature vector has no cosine similarity (K_ii = 0, not 1); one line naming it."""
    zero = int((~a.any(axis=1)).sum())
    if zero:
        raise MetricInputError(
            f"vendi: {zero} of {len(a)} {what} feature rows are all zero, whose cosine similarity is "
            f"undefined; use other --features, or drop vendi from --metrics"
        )


def _check_q(value: Any) -> float:
    """``value`` as an order ``q >= 0``, finite or the word ``"inf"``, else one line naming ``vendi.q``."""
    if value == "inf":
        return math.inf
    q = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    if not (math.isfinite(q) and q >= 0):
        raise MetricInputError(
            f"vendi: option q={value!r} must be a number >= 0 or inf (1: the paper's score)"
        )
    return q
