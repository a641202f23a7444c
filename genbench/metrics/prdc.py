"""Precision / recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models") and density / coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity
Metrics for Generative Models").

With ``r_k(x)`` the distance from x to its k-th nearest neighbour within its own set (itself excluded),
real features X (the reference) and fake features Y (the samples):

- precision = share of fakes inside some real ball: ``exists i: |x_i - y_j| < r_k(x_i)`` (k = 3)
- recall    = share of reals inside some fake ball: ``exists j: |x_i - y_j| < r_k(y_j)`` (k = 3)
- density   = ``1/(k M) sum_j #{i: |x_i - y_j| < r_k(x_i)}`` (k = 5; can exceed 1)
- coverage  = share of reals whose nearest fake is inside their ball: ``min_j |x_i - y_j| < r_k(x_i)`` (k = 5)

Swapping the two sets swaps precision and recall (each is the other's definition with the roles of
the sets exchanged); density and coverage have no such symmetry. Identical sets give precision =
recall = coverage = 1.

The definitions, inequalities and k-th-neighbour convention (duplicates count as neighbours) are those
of the ``prdc`` reference package (``prdc.compute_prdc``, by Naeem et al.), which the tests match on
the same inputs. It is written by hand because ``prdc`` holds full N x N distance matrices (20 GB for
50k Inception features, on the CPU); here the distances are computed in row blocks of the
real-vs-fake matrix (memory O(block x N)) on the run's device, by the fast matrix-product expansion,
and recomputed directly wherever rounding could decide a comparison with a radius (see ``_knn``).
Options (``ctx.options["prdc"]``):
``k_pr`` (3) and ``k_dc`` (5), set with ``--metric-option prdc.k_pr=5``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from genbench.errors import MetricInputError
from genbench.metrics._blocks_done import BlocksDone
from genbench.metrics._inputs import (
    MORE_SAMPLES,
    check_features,
    check_int,
    check_same_dim,
    int_option,
    reference_rows,
)
from genbench.metrics._knn import (
    OnBlock,
    as_rows,
    blocks,
    expansion_tolerance,
    kth_neighbour_distance,
    kth_neighbour_distances,
    pick_device,
    refine_near,
)
from genbench.metrics._knn_memo import kept
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

K_PR = 3
K_DC = 5


def prdc(
    real: torch.Tensor,
    fake: torch.Tensor,
    k_pr: int = K_PR,
    k_dc: int = K_DC,
    block: int | None = None,
    real_radii: dict[int, torch.Tensor] | None = None,
    on_block: OnBlock | None = None,
) -> dict[str, float]:
    """Precision and recall with ``k_pr`` neighbours, density and coverage with ``k_dc``.

    ``real`` and ``fake`` are N x D and M x D float64 tensors on the same device. ``real_radii``
    ({k: k-NN radii of ``real``}) may be passed in: they depend on the reference set only, so the
    runner computes them once for every model it scores. ``on_block`` is told of each block's
    distances (the metric's progress).
    """
    radii_real = (
        real_radii
        if real_radii is not None
        else kth_neighbour_distances(real, {k_pr, k_dc}, block, on_block=on_block)
    )
    r_real_pr, r_real_dc = radii_real[k_pr], radii_real[k_dc]
    r_fake_pr = kth_neighbour_distance(fake, k_pr, block, on_block)
    in_real_ball = torch.zeros(len(fake), dtype=torch.bool, device=fake.device)  # precision, per fake
    density_count = torch.zeros(len(fake), dtype=torch.float64, device=fake.device)
    recalled = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    tol = expansion_tolerance(real, fake)
    for start, d in blocks(real, fake, block, on_block):  # d: real rows [start, start+B) x all fakes
        rows = slice(start, start + len(d))
        # a copied example lies on the radius of the real it is a k-th neighbour of: compare exactly
        thresholds = [r_real_pr[rows, None], r_real_dc[rows, None], r_fake_pr[None, :]]
        refine_near(d, real[rows], fake, tol[rows], thresholds)
        in_real_ball |= (d < r_real_pr[rows, None]).any(0)
        density_count += (d < r_real_dc[rows, None]).sum(0)
        recalled[rows] = (d < r_fake_pr[None, :]).any(1)
        covered[rows] = d.min(1).values < r_real_dc[rows]
        del d  # see blocks()
    return {
        "precision": in_real_ball.double().mean().item(),
        "recall": recalled.double().mean().item(),
        "density": (density_count.sum() / (k_dc * len(fake))).item(),
        "coverage": covered.double().mean().item(),
    }


@register_metric("prdc")
class PRDC(Metric):
    """Precision/recall (k=3, Kynkäänniemi et al. 2019) and density/coverage (k=5, Naeem et al. 2020)."""

    # 2: a distance within rounding of a radius is compared exactly (1 let the rounding decide ties)
    version = 2
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "precision": True,
        "recall": True,
        "density": True,
        "coverage": True,
    }
    #: neighbours for precision/recall and for density/coverage
    options: ClassVar[dict[str, object]] = {"k_pr": K_PR, "k_dc": K_DC}
    description = (
        "precision/recall, k=3 (Kynkäänniemi et al. 2019) and density/coverage, k=5 (Naeem et al. 2020), "
        "exact k-NN in blocks"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        for key in ("k_pr", "k_dc"):
            if key in options:
                check_int(options[key], "prdc", key)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        k_pr = int_option(ctx, "prdc", "k_pr", K_PR)
        k_dc = int_option(ctx, "prdc", "k_dc", K_DC)
        # samples need k_pr neighbours (recall's fake balls), reference examples max(k_pr, k_dc)
        k_ref = max(k_pr, k_dc)
        fake = check_features(
            ctx.sample_features.features,
            "sample",
            "prdc",
            min_rows=k_pr + 1,
            why=f"k={k_pr} neighbours besides itself",
            fix=f"{MORE_SAMPLES}, or lower --metric-option prdc.k_pr",
        )
        # the larger k sets the rows needed: when both are that large, lowering one leaves the other
        k_keys = " and ".join(f"prdc.{key}" for key, k in (("k_pr", k_pr), ("k_dc", k_dc)) if k == k_ref)
        real = reference_rows(ctx, "prdc", f"k={k_ref} neighbours besides itself", k_ref + 1, lower=k_keys)
        check_same_dim(fake, real, "prdc")
        # |q|^2 + |r|^2 - 2 q.r, and |q - r|^2, reach 4 max |x|^2: beyond float64 every distance is inf
        # or NaN, and precision, recall, density and coverage came out 0 without a word
        with np.errstate(over="ignore", invalid="ignore"):
            top_sq = max(float(np.einsum("ij,ij->i", a, a).max()) for a in (fake, real))
            overflows = not np.isfinite(4.0 * top_sq)
        if overflows:
            top = max(float(np.abs(fake).max()), float(np.abs(real).max()))
            raise MetricInputError(
                f"prdc: squared distances between features up to {top:.3g} in magnitude overflow float64; "
                f"check that the samples lie in the data's range"
            )
        device = pick_device(ctx.extractor.device if ctx.extractor is not None else None)
        real_t = as_rows(real, device)
        # the reference radii are the same for every model scored against these reference features
        cache = ctx.reference_features.cache
        key = ("prdc-radii", k_pr, k_dc, str(device))
        # the progress: the reference's radii (a self-join, where not kept), the samples' radii and
        # the reference against the samples, each a matrix of distances
        radii = len(real) ** 2 if key not in cache else 0
        done = BlocksDone(radii=radii, samples=len(fake) ** 2, against=len(real) * len(fake))
        if key not in cache:  # and for a later command in this process of the same reference rows
            ks = {k_pr, k_dc}
            cache[key] = kept(
                "prdc-radii",
                real_t,
                tuple(sorted(ks)),
                lambda: kth_neighbour_distances(real_t, ks, on_block=done),
            )
            if not done.done:  # kept from an earlier command: no block computed
                done.resize("radii", 0)
        return prdc(real_t, as_rows(fake, device), k_pr, k_dc, real_radii=cache[key], on_block=done)
