"""Mode collapse on data with known modes (classes, mixture components).

From the mode label of every sample (``ctx.sample_modes()``: the dataset's classifier, or the nearest
mixture mean) and of every reference example (``ctx.reference_modes()``: the split's own labels where
the dataset has them, its digits' classes or mixture components, else the same labeller). So a copy
of the reference set has ``mode_kl`` of the labeller's errors, not 0 (1.5e-5 for the ``copy`` control
on the digits train split, where the classifier errs on 2 of 1437 examples):

- ``modes_covered``: number of modes with at least one sample, the rule of VEEGAN (Srivastava et al.
  2017) and PacGAN (Lin et al. 2018) on Stacked-MNIST. On 2D mixtures (datasets exposing ``means``,
  K x 2, and ``std``) only high-quality samples count, as in VEEGAN's and PacGAN's 2D experiments: a
  mode is covered when its mean is the nearest mean of at least one high-quality sample (VEEGAN: "the
  number of mixture components whose mean is nearest to at least one high quality sample"; PacGAN's
  ``MetricLogger`` alike). Where the 3-std discs of two modes overlap (a plugin mixture; never ring8
  or grid25), a sample inside both covers only its nearest, not every mode it lies within 3 std of.
- ``high_quality`` (2D mixtures only): share of samples within 3 std of their nearest mean (VEEGAN,
  PacGAN).
- ``mode_kl``: ``KL(p_samples || p_data)`` between mode histograms (VEEGAN, PacGAN). Modes without
  samples contribute 0; the data histogram is smoothed with half a count per mode (the
  Krichevsky-Trofimov estimate, ``(c_k + 1/2) / (N + K/2)``) so that the KL is finite when samples land
  in a mode the reference set happens not to contain.
- ``modes_expected``: how many modes an ideal sampler would cover with the same number of samples:
  ``sum_k 1 - (1 - q p_k)^N`` with ``p_k`` the data's mode frequencies and ``q`` the share of an ideal
  sampler's draws that count (1; on 2D mixtures the Gaussian mass within 3 std). It is the yardstick
  for ``modes_covered`` (1000 modes cannot all be hit with 500 samples), not a score.

Flag ``collapsed``: ``modes_covered`` is below half of ``modes_expected``: the samples reach fewer than
half the modes that chance alone would reach with as many draws from the data. A GAN on ring8 covering
6 of 8 modes is not flagged; one repeated sample, or DCGAN's ~99 of 1000 Stacked-MNIST modes, is.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from genbench.errors import MetricInputError
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

#: pseudo-count added to every mode of the data histogram (Krichevsky-Trofimov)
SMOOTHING = 0.5
#: a 2D sample is high quality within this many standard deviations of a mean (PacGAN)
NUM_STD = 3.0
#: sample-to-mean offsets computed at once on a mixture (float64: 128 MB), in blocks of samples
BLOCK_ELEMENTS = 2**24
#: flagged collapsed below this share of the modes an ideal sampler would cover
COLLAPSE_SHARE = 0.5


def mode_histogram(labels: np.ndarray, num_modes: int, what: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise MetricInputError(
            f"modes: {what} mode labels must be a 1-D integer array; fix the dataset's labeller"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_modes):
        raise MetricInputError(
            f"modes: {what} mode labels fall outside [0, {num_modes}); fix the dataset's num_modes or labeller"
        )
    return np.bincount(labels, minlength=num_modes).astype(np.float64)


def mode_kl(sample_counts: np.ndarray, data_counts: np.ndarray, smoothing: float = SMOOTHING) -> float:
    """KL(sample histogram || smoothed data histogram), natural log."""
    p = sample_counts / sample_counts.sum()
    q = (data_counts + smoothing) / (data_counts.sum() + smoothing * len(data_counts))
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def expected_modes(data_counts: np.ndarray, n: int, hit: float = 1.0) -> float:
    """Expected number of modes hit by ``n`` draws from the data histogram (each counting w.p. ``hit``)."""
    p = data_counts / data_counts.sum()
    return float(np.sum(1.0 - (1.0 - hit * p) ** n))


@register_metric("modes")
class Modes(Metric):
    """Modes covered, mode KL and (2D) high-quality share (VEEGAN 2017, PacGAN 2018)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "modes_covered": True,
        "mode_kl": False,
        "high_quality": True,
        "modes_expected": None,  # the dataset's number of modes, what modes_covered is read against
    }
    description = (
        "modes covered, KL(sample modes || data modes) and the 2D share within 3 std of a mode "
        "(Srivastava et al. 2017; Lin et al. 2018)"
    )

    def reads_features(self, options: dict[str, Any]) -> bool:
        return False  # the dataset's mode labels (its classifier's, or the nearest mixture mean)

    def applies_to(self, ctx: EvalContext) -> bool:
        return (
            super().applies_to(ctx) and ctx.sample_modes() is not None and ctx.reference_modes() is not None
        )

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        sample_labels, data_labels = ctx.sample_modes(), ctx.reference_modes()
        if sample_labels is None or data_labels is None:
            k = ctx.dataset.num_modes
            # a plugin declaring num_modes was told it had no mode labels, not that label_modes labels them
            fix = (
                f" (it declares num_modes = {k}, but its label_modes(x) gives None: override it to give "
                f"each example's mode in [0, {k}))"
                if k is not None
                else ""
            )
            raise MetricInputError(
                f"modes: dataset {ctx.dataset.name!r} has no mode labels{fix}; drop the modes metric"
            )
        sample_labels, data_labels = np.asarray(sample_labels), np.asarray(data_labels)
        if len(sample_labels) == 0 or len(data_labels) == 0:
            raise MetricInputError("modes: no samples or no reference examples to label; use more samples")
        k = ctx.dataset.num_modes
        if k is None:
            k = int(max(sample_labels.max(), data_labels.max())) + 1
        sample_counts = mode_histogram(sample_labels, k, "sample")
        data_counts = mode_histogram(data_labels, k, "reference")
        n = len(sample_labels)
        values = {"mode_kl": mode_kl(sample_counts, data_counts)}

        means, std = getattr(ctx.dataset, "means", None), getattr(ctx.dataset, "std", None)
        if means is not None and std is not None:
            pts = torch.as_tensor(ctx.samples).detach().cpu().double().reshape(n, -1).numpy()
            means = np.asarray(means, dtype=np.float64)
            if pts.shape[1] != means.shape[1]:
                raise MetricInputError(
                    f"modes: samples have {pts.shape[1]} coordinates but the mixture means {means.shape[1]}; "
                    f"sample points shaped like the dataset"
                )
            # in blocks of rows: the n x modes x dims offsets at once were 40 GB for 50k samples of
            # a 1000-mode, 100-dimensional plugin mixture; each row's arithmetic is the same
            rows = max(1, BLOCK_ELEMENTS // max(1, means.size))
            nearest, dist = np.empty(n, dtype=np.int64), np.empty(n)
            for i in range(0, n, rows):
                d = np.sqrt(((pts[i : i + rows, None, :] - means[None, :, :]) ** 2).sum(-1))
                nearest[i : i + rows], dist[i : i + rows] = d.argmin(1), d.min(1)
            hq = dist < NUM_STD * float(std)
            values["high_quality"] = float(hq.mean())
            values["modes_covered"] = float(len(np.unique(nearest[hq])))
            # mass of an isotropic Gaussian within NUM_STD std: chi-square with dim degrees of freedom
            from scipy.stats import chi2

            hit = float(chi2.cdf(NUM_STD**2, df=means.shape[1]))
        else:
            values["modes_covered"] = float(np.count_nonzero(sample_counts))
            hit = 1.0
        values["modes_expected"] = expected_modes(data_counts, n, hit)
        return values

    def flags(self, values: dict[str, float]) -> list[str]:
        covered, expected = values.get("modes_covered"), values.get("modes_expected")
        if covered is None or expected is None:
            return []
        return ["collapsed"] if covered < COLLAPSE_SHARE * expected else []
