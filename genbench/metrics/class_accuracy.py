"""Class accuracy of a class-conditional model: GAN-test (Shmelkov et al. 2018, "How good is my
GAN?").

The share of samples whose predicted class is the class they were drawn for
(``ctx.sample_labels``)::

    class_accuracy     = mean_i [ predicted(x_i) == sample_labels_i ]         (higher is better)
    class_accuracy_ref = mean_j [ predicted(r_j) == true label of r_j ]       r_j: the reference split

The prediction is the dataset's own mode labelling, ``ctx.sample_modes()`` (``Dataset.label_modes``:
its trained classifier on images, the nearest mixture mean on ring8 and grid25), the one the
``modes`` metric counts with; so it applies wherever modes are labelled (not CIFAR-10, which has no
classifier of its own), and the result's protocol names the classifier (``mode_labeller``, its
fingerprint) where one predicted the classes. Shmelkov et al. train the classifier on the real
training set and read GAN-test against its accuracy on real held-out images; ``class_accuracy_ref``
is that ceiling here: the same labelling's accuracy on the reference split against its true labels
(``--reference-split test`` for held-out images; on the train split, the examples the classifier
learnt from, it is near 1). A perfect copy of the reference data scores it; a model scoring above it
draws samples easier to classify than the data's (too typical a class), not better ones. A model that
ignores its labels scores about ``1 / K`` (chance, for K equally likely classes).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.metrics._classes import reference_classes, sample_classes
from genbench.metrics.base import EvalContext, Metric, _checked_modes
from genbench.registry import register_metric

METRIC = "class_accuracy"


@register_metric(METRIC)
class ClassAccuracy(Metric):
    """Share of samples classified as the class they were drawn for (GAN-test, Shmelkov et al. 2018)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "class_accuracy": True,
        # the labelling's own accuracy on the data: the ceiling class_accuracy is read against, not a
        # score of the model (no arrow on the board)
        "class_accuracy_ref": None,
    }
    # in the default set: it applies to class-conditional models alone (applies_to), so an
    # unconditional model's results hold no value of it (their protocol records its version, as for
    # every planned metric; a board's caption names only computed metrics' options)
    description = (
        "GAN-test: share of a class-conditional model's samples that the dataset's mode labeller "
        "classifies as the class they were drawn for, beside its accuracy on the reference split "
        "(Shmelkov et al. 2018)"
    )

    def reads_features(self, options: dict[str, Any]) -> bool:
        return False  # the dataset's mode labelling, as modes

    def applies_to(self, ctx: EvalContext) -> bool:
        # sample_labels first: an unconditional model's samples are not labelled for nothing
        return super().applies_to(ctx) and ctx.sample_labels is not None and ctx.sample_modes() is not None

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        labels = sample_classes(ctx, METRIC)
        if len(labels) == 0:
            raise MetricInputError(f"{METRIC}: no samples to classify; use more samples")
        predicted = ctx.sample_modes()  # what records the labeller in the result's protocol
        if predicted is None:
            raise MetricInputError(
                f"{METRIC}: dataset {ctx.dataset.name!r} has no mode labelling (label_modes) to predict "
                f"the samples' classes with; drop {METRIC} from --metrics"
            )
        return {
            "class_accuracy": float(np.mean(np.asarray(predicted) == labels)),
            "class_accuracy_ref": reference_accuracy(ctx),
        }


def reference_accuracy(ctx: EvalContext) -> float:
    """The mode labelling's accuracy on the reference split against its true labels, computed once a
    command: kept in class_accuracy's own cache on the reference features (labelling MNIST's 60000
    training images again for every model and seed would be the metric's whole cost)."""
    split = ctx.reference_split
    kept: dict[Any, Any] = ctx.reference_features.cache
    key = ("reference accuracy", split)  # these features are of this dataset's split
    if key not in kept:
        x = ctx.dataset.load(split)[0]
        predicted = _checked_modes(ctx.dataset, x, f"label_modes of its {split} split")
        if predicted is None or len(predicted) == 0:
            raise MetricInputError(
                f"{METRIC}: the {split} split of dataset {ctx.dataset.name!r} has no examples to classify; "
                "use a --reference-split that has them"
            )
        truth = reference_classes(ctx, METRIC, len(predicted))
        kept[key] = float(np.mean(np.asarray(predicted) == truth))
    return kept[key]
