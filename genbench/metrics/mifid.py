"""Memorization-informed FID (Bai et al. 2021, "On Training Sample Memorization: Lessons from
Benchmarking Generative Modeling with a Large-scale Competition"; the metric of Kaggle's
"Generative Dog Images" competition).

FID divided by a memorization distance, so that a model that copies its training set cannot win on
FID alone::

    d_i   = min_j (1 - |cos(f_gi, f_tj)|)      f_g: the samples' features, f_t: the TRAIN split's
    d     = mean_i d_i                          (column ``mifid_d``)
    MiFID = FID / (d + 1e-14)   where d < eps  (option ``eps``, 0.1: Kaggle's and torchmetrics')
          = FID                 otherwise      (no penalty)

The two references differ on purpose. FID's is the run's (``--reference-split``, or
``--reference-stats``), the same value as the ``fid`` column for the same ``backend`` (computed by
:func:`genbench.metrics.fid.fid_of`, the reference Gaussian shared with ``fid``, and beside ``fid`` the
samples' Gaussian and the distance too, computed once per sample set). The distance's is
always the **train** split, the examples the model saw, whatever ``--reference-split`` says, as
``memorization``'s is: against the test split a model copying its training images would not be
penalised. Its features are the run's reference features when that split is the train split, else
the train split's read through the feature cache (:meth:`EvalContext.split_features`).

As the Kaggle scoring script and torchmetrics' ``_compute_cosine_distance`` and ``_mifid_compute``
(which the tests match on the same features): the absolute cosine (features of opposite directions
count as close; Inception's pooled features are non-negative, where it changes nothing); all-zero
feature rows left out (they have no direction; the reference tests a row's sum, here its norm, which
differs only for signed rows summing to exactly 0); the mean over the samples of each one's nearest
training example (torchmetrics' class passes the real features first, the mean over the training
examples instead; its functions, given the samples first, are Kaggle's); 1e-14 added to ``d`` before
dividing; and torchmetrics' guard, 0 where FID <= 1e-8, so that FID's rounding is not multiplied by
1e14. That guard scores a copy of the reference itself 0, the best value, where the truth is 0/0:
``copy`` against its own train split (FID 0, ``mifid_d`` 0) warns so, and scored against the test
split (``--reference-split test``, as Kaggle's private board was) a copy scores FID x 1e14. One
departure: without the penalty MiFID is FID itself, not FID / (1 + 1e-14), so a board's ``mifid``
equals its ``fid`` exactly wherever the model is not penalised (1e-14 relative from the reference).

``eps`` = 0.1 was chosen for Inception's 2048 pooled features of photographs. The distances depend on
the features: on digits in the ``classifier``'s, even the ``gaussian`` control (per-pixel noise,
nothing copied) lies at d = 0.057 and is penalised, while in ``raw`` pixels it lies at 0.12 and is
not; set ``eps`` for the features, and read ``mifid_d`` beside it.

And one rounding guard: 1 - |cos| of a row with itself can round to -1e-16; a distance is never
below 0, so it is clipped there.

The n x m cosine matrix is never held: the nearest training example is found a block of samples at
a time against every training row (``BLOCK_ELEMENTS`` of the block's product, 256 MiB), on the
extractor's CUDA device where it has one. In float64: a copy's d is then rounding of 1e-16, far
below the 1e-14 guard, so MiFID = FID x 1e14 as in the reference; float32's rounding (about 1e-7 of
the cosine) would give d ~ 1e-7 instead, and a MiFID 10^7 times smaller, for the same copy.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np
import torch

from genbench.errors import MetricInputError
from genbench.metrics._blocks_done import BlocksDone
from genbench.metrics._inputs import check_features, check_same_dim, option, split_fix
from genbench.metrics._knn import BLOCK_ELEMENTS, as_rows, pick_device
from genbench.metrics.base import EvalContext, Metric
from genbench.metrics.fid import DEFAULT_BACKEND, check_backend, fid_of
from genbench.registry import register_metric

#: the threshold below which the distance divides FID (Kaggle's "cosine_distance_eps", torchmetrics')
EPS = 0.1
#: added to the distance before dividing, as Kaggle's scoring script and torchmetrics ("fid_epsilon")
GUARD = 10e-15
#: an FID at most this is rounding, and a penalised MiFID of it 0 (torchmetrics' ``_mifid_compute``)
ZERO_FID = 1e-8


def memorization_distance(
    samples: np.ndarray,
    train: np.ndarray,
    device: torch.device | str = "cpu",
) -> float:
    """The mean over the samples' rows of ``1 - |cos|`` to their nearest row of ``train``, in float64,
    all-zero rows of either left out (the reference's ``cosine_distance`` before thresholding).
    Blocks of sample rows against every training row: never the n x m matrix. Reports its blocks
    as it goes (the metric's progress, :class:`~genbench.metrics._blocks_done.BlocksDone`), of the
    rows it searches: declared before the all-zero rows were left out, the bar ended short of its
    total (12 of 15 blocks with a tenth of each set's rows zero)."""
    dev = torch.device(device)
    gen, ref = _nonzero(as_rows(samples, dev), "sample"), _nonzero(as_rows(train, dev), "train")
    done = BlocksDone(search=len(gen) * len(ref))
    inv_ref = 1.0 / torch.linalg.vector_norm(ref, dim=1)  # the training rows scaled in each product
    rows = max(1, BLOCK_ELEMENTS // len(ref))
    total = 0.0
    for start in range(0, len(gen), rows):
        q = gen[start : start + rows]
        unit = q / torch.linalg.vector_norm(q, dim=1, keepdim=True)
        cos = (unit @ ref.T).abs_().mul_(inv_ref)  # |cos| of each sample of the block with every row
        # rounding may leave |cos| of a row with itself a little above 1: a distance is never below 0
        total += float((1.0 - cos.amax(dim=1)).clamp_(min=0.0).sum())
        done(len(q) * len(ref))
    return total / len(gen)


def _nonzero(x: torch.Tensor, what: str) -> torch.Tensor:
    """``x``'s rows with a direction (the reference leaves all-zero rows out); a warning counts the
    rows left out, one line naming the fix when none is left."""
    keep = x.any(dim=1)
    zero = int((~keep).sum())
    if zero == len(x):
        raise MetricInputError(
            f"mifid: all {len(x)} {what} feature rows are zero, which have no cosine distance; "
            f"use other --features, or drop mifid from --metrics"
        )
    if zero:
        warnings.warn(
            f"mifid: {zero} of {len(x)} {what} feature rows are all zero and have no cosine distance; "
            f"left out of mifid_d, as the reference does",
            stacklevel=3,
        )
        return x[keep]
    return x


def mifid_value(fid: float, distance: float, eps: float = EPS) -> float:
    """FID divided by the thresholded memorization distance: ``fid / (distance + 1e-14)`` where
    ``distance < eps``, else ``fid`` itself (no penalty); 0 where FID is at most 1e-8 and
    penalised (torchmetrics' guard: FID's rounding is not multiplied by up to 1e14)."""
    if distance >= eps:
        return fid
    return fid / (distance + GUARD) if fid > ZERO_FID else 0.0


def check_eps(value: Any) -> float:
    """``eps`` as a float in (0, 1] (the distance lies in [0, 1]; torchmetrics' bounds)."""
    try:
        eps = float(value)
    except (TypeError, ValueError):
        eps = math.nan
    if not 0.0 < eps <= 1.0:  # NaN fails too
        raise MetricInputError(
            f"mifid: option eps={value!r} must be a number in (0, 1]; the default is {EPS}"
        )
    return eps


@register_metric("mifid")
class MiFID(Metric):
    """FID divided by the samples' mean cosine distance to the train split, when below eps (Bai et al. 2021)."""

    version = 1
    # opt-in (--metrics fid,mifid): a nearest training example per sample costs about memorization's
    # search, and the published boards predate it
    runs_by_default = False
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "mifid": False,
        # a diagnostic: small is copying, but large is as much noise as novelty (no arrow on the board)
        "mifid_d": None,
    }
    #: the cosine of 2D points is their angle alone: the nearest of many training points is always
    #: within eps, so every model would be penalised
    supported_kinds: ClassVar[tuple[str, ...]] = ("image",)
    #: its FID compares with --reference-stats where given, as fid's does (named alone, the file was
    #: dropped as "not used" and its FID taken against the split: another mifid than beside fid)
    reference = "stats"
    #: its distance d (and so mifid) reads the train split's features whatever the reference split
    compares_also: ClassVar[dict[str, tuple[str, ...]]] = {"train": ("mifid", "mifid_d")}
    options: ClassVar[dict[str, object]] = {"eps": EPS, "backend": DEFAULT_BACKEND}
    description = (
        "memorization-informed FID: FID / d where d, the samples' mean minimum cosine distance to the train "
        "split's features, is below eps (Bai et al. 2021; Kaggle's Generative Dog Images)"
    )

    def uses_reference_features(self, have_stats: bool) -> bool:
        """Always: the distance reads the train split's features whatever stands in for FID's
        reference (the reference features themselves where they are that split's)."""
        return True

    def check_options(self, options: dict[str, Any]) -> None:
        if "eps" in options:
            check_eps(options["eps"])
        check_backend("mifid", options)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        eps = check_eps(option(ctx, "mifid", "eps", EPS))
        backend = option(ctx, "mifid", "backend", DEFAULT_BACKEND)
        check_backend("mifid", {"backend": backend})
        fid = fid_of(ctx, "mifid", backend)
        x = ctx.sample_features.features  # checked by fid_of
        train = check_features(
            _train_features(ctx), "train", "mifid", 1, "a nearest training example", fix=split_fix("train")
        )
        check_same_dim(np.asarray(x), train, "mifid", "sample and train")
        device = pick_device(ctx.extractor.device if ctx.extractor is not None else None)
        d = memorization_distance(x, train, device)
        if d < eps and fid <= ZERO_FID:
            warnings.warn(
                f"mifid: 0 is 0/0, not a good model: FID is {fid:.3g} (the samples' Gaussian is the "
                f"reference's) and the samples lie at mean cosine distance {d:.3g} from the train split; "
                f"score against other data (--reference-split test) to see the penalty",
                stacklevel=2,
            )
        return {"mifid": mifid_value(fid, d, eps), "mifid_d": d}


def _train_features(ctx: EvalContext) -> np.ndarray:
    """The train split's features: the reference features when they are that split's, else read
    through the feature cache as memorization's test split is (extracted once, for every command)."""
    if ctx.reference_split == "train" and len(ctx.reference_features) > 0:
        return ctx.reference_features.features
    return ctx.split_features("train").features
