"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the unbiased estimate of the squared MMD between sample and reference features under the
cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets. Computed by
torch-fidelity's ``kid_features_to_metric`` (100 subsets of ``min(1000, N_samples, N_reference)``
examples each), seeded with the run's seed so the same inputs give the same number. ``kid_std`` is
the spread over subsets within this run (the leaderboard's ``_std`` columns are over seeds). KID is
unbiased, so a value slightly below 0 is valid and means the two sets are indistinguishable.

Unbiased for *independent* sets only: samples that are the reference examples themselves (the
``copy`` control) put equal pairs in the cross term that the within-set terms leave out, and KID's
expectation is then ``-(2 / N) (mean_i k(x_i, x_i) - mean_{i != j} k(x_i, x_j))`` over the N reference
examples, far below 0: -11.10 predicted and -11.1 measured for ``copy`` on digits (1437 examples),
against 18.9 for DDPM. A value far below 0 means copies, not a better model than indistinguishable.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.metrics._inputs import (
    MORE_SAMPLES,
    check_features,
    check_int,
    check_same_dim,
    int_option,
    reference_rows,
    shared_tensor,
    split_fix,
)
from genbench.metrics.base import EvalContext, Metric
from genbench.metrics.kid_subset import default_subset_size
from genbench.registry import register_metric

SUBSETS = 100


@register_metric("kid")
class KID(Metric):
    """Kernel Inception Distance via torch-fidelity (Bińkowski et al. 2018)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"kid": False, "kid_std": False}
    #: subsets averaged; subset size (None: min(1000, samples, reference examples))
    options: ClassVar[dict[str, object]] = {"subsets": SUBSETS, "subset_size": None}
    description = "Kernel Inception Distance, cubic polynomial kernel, 100 subsets, torch-fidelity (Bińkowski et al. 2018)"

    def check_options(self, options: dict[str, Any]) -> None:
        for key, minimum in (("subsets", 1), ("subset_size", 2)):
            if key in options:
                check_int(options[key], "kid", key, minimum)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from torch_fidelity.metric_kid import kid_features_to_metric

        x = check_features(ctx.sample_features.features, "sample", "kid", why="for an unbiased MMD")
        ref = reference_rows(ctx, "kid", why="for an unbiased MMD")
        check_same_dim(x, ref, "kid")
        subsets = int_option(ctx, "kid", "subsets", SUBSETS)
        size = int_option(ctx, "kid", "subset_size", default_subset_size(len(x), len(ref)), minimum=2)
        if size > min(len(x), len(ref)):
            # each set smaller than a subset is to grow: more samples leave a small reference split as
            # it was, and a larger split leaves too few samples as they were
            grow = " and ".join(
                fix
                for n, fix in ((len(x), MORE_SAMPLES), (len(ref), split_fix(ctx.reference_split)))
                if n < size
            )
            raise MetricInputError(
                f"kid: subset_size {size} exceeds the {len(x)} samples and {len(ref)} reference examples "
                f"(the smaller is the limit); lower --metric-option kid.subset_size or {grow}"
            )
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named below, in one line
            out = kid_features_to_metric(
                shared_tensor(x),
                shared_tensor(ref),
                kid_subsets=subsets,
                kid_subset_size=size,
                rng_seed=int(ctx.seed),
                verbose=False,
            )
        values = {
            "kid": float(out["kernel_inception_distance_mean"]),
            "kid_std": float(out["kernel_inception_distance_std"]),
        }
        bad = [f"{k} = {v}" for k, v in values.items() if not math.isfinite(v)]
        # finite features (checked above) too large for the cubic kernel: the input's fault, not KID's
        if bad:
            top = max(float(np.abs(x).max()), float(np.abs(ref).max()))
            raise MetricInputError(
                f"kid: {', '.join(bad)}: the cubic kernel overflows float64 on features up to {top:.3g} in "
                f"magnitude; check that the samples lie in the data's range"
            )
        return values
