"""The classes of a class-conditional evaluation, as the class-conditional metrics read them
(``intra_fid``, ``class_accuracy``, ``cas``): the class each sample was drawn for
(:attr:`EvalContext.sample_labels`) and the reference split's true class labels, each checked with a
one-line error that names the fix."""

from __future__ import annotations

import numpy as np

from genbench.errors import MetricInputError
from genbench.metrics.base import EvalContext

#: what a class-conditional metric says of an unconditional model's samples: when the user names it
#: for one, the run's "not computed" line is this (metric_calls.not_applicable reads compute's error); it
#: names how `genbench eval` and evaluate() take the classes too, as samples without them end here
NEEDS_CONDITIONAL = (
    "needs a class-conditional model (GenerativeModel.conditional), whose samples are drawn for given "
    "classes; this model's are not (for samples made elsewhere, give their classes: 'labels' beside "
    "'samples' in the .npz, ADM's arr_1 beside arr_0, or evaluate(..., labels=))"
)


def sample_classes(ctx: EvalContext, metric: str) -> np.ndarray:
    """``ctx.sample_labels`` as a 1-D int64 array, one per sample, in ``[0, num_classes(ctx))``; an
    unconditional model's (None) and a wrong length, dtype or range are one-line errors."""
    labels = ctx.sample_labels
    if labels is None:
        raise MetricInputError(f"{metric}: {NEEDS_CONDITIONAL}")
    a = np.asarray(labels)
    # the sample features' rows, not ctx.num_samples: a metric's context copies the samples on reading
    n = len(ctx.sample_features)
    problem = None
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        problem = f"of dtype {a.dtype} and shape {a.shape}"
    elif len(a) != n:
        problem = f"{len(a)} for {n} samples"
    else:
        k = num_classes(ctx, metric)
        if len(a) and (a.min() < 0 or a.max() >= k):
            problem = f"in [{a.min()}, {a.max()}], outside the dataset's {k} classes [0, {k})"
    if problem:
        raise MetricInputError(
            f"{metric}: the samples' class labels (sample_labels) are {problem}; give one int64 class "
            f"in [0, num_modes) per sample, the class it was drawn for"
        )
    return a.astype(np.int64, copy=False)


def num_classes(ctx: EvalContext, metric: str) -> int:
    """The dataset's number of classes (``num_modes``), which every class label lies below."""
    k = getattr(ctx.dataset, "num_modes", None)
    if k is None:
        raise MetricInputError(
            f"{metric}: dataset {ctx.dataset.name!r} declares no classes (num_modes); use a dataset "
            "with class labels"
        )
    return int(k)


def reference_classes(ctx: EvalContext, metric: str, rows: int) -> np.ndarray:
    """The reference split's true class labels (``Dataset.load_labels``, never a classifier's
    predictions, which ``reference_modes`` falls back to), one for each of its ``rows`` examples."""
    labels = ctx.dataset.load_labels(ctx.reference_split)
    if labels is None:
        raise MetricInputError(
            f"{metric}: the {ctx.reference_split} split of dataset {ctx.dataset.name!r} has no class "
            f"labels to compare each class with; use a --reference-split that has them"
        )
    a = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer) or len(a) != rows:
        raise MetricInputError(
            f"{metric}: the {ctx.reference_split} split's class labels (dtype {a.dtype}, shape {a.shape}) "
            f"are not one integer per example of its {rows}; fix the dataset's labels"
        )
    return a.astype(np.int64, copy=False)
