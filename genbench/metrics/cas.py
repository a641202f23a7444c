"""Classification Accuracy Score of a class-conditional model (Ravuri & Vinyals 2019, "Classification
Accuracy Score for Conditional Generative Models"), a.k.a. GAN-train (Shmelkov et al. 2018, "How good
is my GAN?").

A classifier is trained on the model's samples, each labelled with the class it was drawn for
(``ctx.sample_labels``), and tested on the dataset's **test** split, real data it never saw::

    cas     = accuracy on the test split of a classifier trained on (samples, sample_labels)   (higher is better)
    cas_ref = accuracy on the test split of the same recipe trained on the train split          (the ceiling)

``class_accuracy`` (GAN-test) asks whether the samples look like their class to a classifier of the
real data; ``cas`` asks the converse, whether the samples hold what a classifier needs to learn the
real classes: a model that draws only the most typical example of each class scores class_accuracy
1 but a low cas, and one that ignores its labels about ``1 / K`` (chance). Ravuri & Vinyals report
both numbers, the real-data ceiling beside the samples' score; a perfect copy of the train split with
its labels, in its order, scores ``cas == cas_ref`` exactly (the same recipe on the same data).

The recipe:

- images: the dataset classifier's (:mod:`genbench.features.classifier`: ``SmallCNN`` trained by
  ``train_classifier``, on one CPU thread with deterministic operations only), its ``ClassifierConfig``
  fields as this metric's options (recorded in the result's metric options) and its seed the run's
  seed, for cas and cas_ref alike: the two differ by their training data alone, and the same command
  gives the same numbers on one machine. Ravuri & Vinyals train a ResNet-50 on 1.2M ImageNet samples
  at 128 or 256 px, with data augmentation and a tuned schedule; here a two-block CNN trained for
  ``examples`` examples (60000: about 42 epochs of digits' 1437 samples, seconds on a CPU; minutes
  for CIFAR-10's 50000), which suits the small images genbench's CPU boards use and keeps
  numbers comparable only within genbench (not with the paper's ImageNet CAS).
- 2D points (ring8, grid25): the nearest class mean. Each class's mean of its training points (the
  samples drawn for it; the train split's examples of it for cas_ref) and each test point assigned the
  class of the nearest mean (the lowest class on a tie; a class with no training points is never
  predicted). It is the Bayes rule for equal isotropic Gaussian classes, which these are, has no
  seed and no settings (the options are the CNN's and do not apply), and its accuracy can be counted
  by hand.

cas_ref depends on the dataset, the recipe and the seed, not on the model: it is computed once a
command for each seed (kept in cas's cache on the reference features), whatever ``--reference-split``
(it trains on the train split and tests on the test split, as cas tests on the test split). It needs
the dataset's test split with class labels: a dataset without one is a one-line error naming the fix.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch

from genbench.errors import GenbenchError, MetricInputError
from genbench.features.small_cnn import ClassifierConfig, accuracy, one_thread, train_classifier
from genbench.metrics._classes import num_classes, sample_classes
from genbench.metrics._inputs import MORE_SAMPLES, check_int, option
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

METRIC = "cas"
#: test-point-to-class-mean offsets computed at once (float64: 128 MB), in blocks of test points
BLOCK_ELEMENTS = 2**24
#: the CNN recipe's settings, as options: the dataset classifier's defaults (seed and version are not
#: options: the seed is the run's, the version ClassifierConfig's)
RECIPE: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(ClassifierConfig) if f.name not in ("seed", "version")
}
#: what the metric's error says when the test split cannot be used
TEST_FIX = "use a dataset whose test split has class labels, or drop cas from --metrics"


@register_metric(METRIC)
class CAS(Metric):
    """Test-split accuracy of a classifier trained on a class-conditional model's samples (CAS)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "cas": True,
        # the recipe's accuracy trained on real data: the ceiling cas is read against, not a score of
        # the model (no arrow on the board)
        "cas_ref": None,
    }
    # in the default set: it applies to class-conditional models alone (applies_to), so unconditional
    # results hold no value of it (their protocol records its version and options, as for every
    # planned metric; a board's caption names only computed metrics' options), and on the data such
    # models are trained on here
    # (digits) its classifier trains in seconds a model and seed, less than the model's own sampling
    options: ClassVar[dict[str, object]] = dict(RECIPE)
    description = (
        "Classification Accuracy Score (GAN-train): test-split accuracy of a classifier trained on a "
        "class-conditional model's samples with the labels they were drawn for, beside the same recipe "
        "trained on the train split (Ravuri & Vinyals 2019; Shmelkov et al. 2018)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        _config(options, seed=0)

    def reads_features(self, options: dict[str, Any]) -> bool:
        return False  # a classifier trained on the samples themselves

    def applies_to(self, ctx: EvalContext) -> bool:
        # sample_labels first: an unconditional model's run does not load the test split for nothing;
        # a dataset without a labelled test split is left out quietly (named, compute's error says why)
        return super().applies_to(ctx) and ctx.sample_labels is not None and _test_problem(ctx) is None

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        labels = sample_classes(ctx, METRIC)
        k = num_classes(ctx, METRIC)
        if problem := _test_problem(ctx):
            raise MetricInputError(
                f"{METRIC}: needs the dataset's test split with class labels, {problem}; {TEST_FIX}"
            )
        cfg = _config({key: option(ctx, METRIC, key, default) for key, default in RECIPE.items()}, ctx.seed)
        samples = _checked_samples(ctx, len(labels))
        return {"cas": _score(ctx, samples, labels, k, cfg), "cas_ref": reference_score(ctx, k, cfg)}


def reference_score(ctx: EvalContext, k: int, cfg: ClassifierConfig) -> float:
    """cas_ref: the recipe trained on the train split and tested on the test split, computed once a
    command for each recipe and seed: kept in cas's own cache on the reference features (training it
    again for every model was half the metric's cost)."""
    kept: dict[Any, Any] = ctx.reference_features.cache
    key = ("cas_ref", ctx.dataset.kind, k, cfg)  # a frozen dataclass: the seed and every setting
    if key not in kept:
        x, y = ctx.dataset.load("train")
        if y is None or len(y) == 0:
            raise MetricInputError(
                f"{METRIC}: the train split of dataset {ctx.dataset.name!r} has no labelled examples to "
                "train the reference classifier on; use a dataset with class labels"
            )
        labels = _as_int64(y)
        if labels.min() < 0 or labels.max() >= k:
            raise MetricInputError(
                f"{METRIC}: the train split's class labels lie in [{labels.min()}, {labels.max()}], outside "
                f"dataset {ctx.dataset.name!r}'s {k} classes [0, {k}); fix the dataset's labels"
            )
        kept[key] = _score(ctx, x, labels, k, cfg)
    return kept[key]


def _score(ctx: EvalContext, x: torch.Tensor, y: np.ndarray, k: int, cfg: ClassifierConfig) -> float:
    """Accuracy on the test split of the recipe trained on ``(x, y)``."""
    xt, yt = ctx.dataset.load("test")
    truth = _as_int64(yt)
    if ctx.dataset.kind == "points":
        train = x.detach().cpu().double().reshape(len(x), -1).numpy()
        test = xt.detach().cpu().double().reshape(len(xt), -1).numpy()
        return float(np.mean(nearest_class_mean(train, y, test) == truth))
    if tuple(x.shape[1:]) != tuple(xt.shape[1:]):
        raise MetricInputError(
            f"{METRIC}: the samples have shape {tuple(x.shape[1:])} but the test split's examples "
            f"{tuple(xt.shape[1:])}; sample images of the dataset's shape"
        )
    net = train_classifier(x, torch.tensor(y), k, cfg)  # a copy: the sample labels are read-only
    with one_thread():  # as trained: the same predictions whatever the machine's core count
        return accuracy(net, xt.float().cpu(), torch.from_numpy(truth))


def nearest_class_mean(train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The class of the nearest class mean of ``train`` (N x D, labelled ``labels``) for each row of
    ``test``: the lowest class on a tie (argmin's first); a class without training rows is never
    predicted."""
    present = np.unique(labels)
    means = np.stack([train[labels == c].mean(0) for c in present])
    # in blocks of test rows, as modes' offsets: the test x classes x dims offsets at once were 8 GB
    # for 10000 test points of a 1000-class, 100-dimensional plugin mixture; each row's arithmetic
    # (and so its class) is the same
    rows = max(1, BLOCK_ELEMENTS // max(1, means.size))
    nearest = np.empty(len(test), dtype=np.int64)
    for i in range(0, len(test), rows):
        d2 = ((test[i : i + rows, None, :] - means[None, :, :]) ** 2).sum(-1)
        nearest[i : i + rows] = d2.argmin(1)
    return present[nearest]


def _config(options: dict[str, Any], seed: int) -> ClassifierConfig:
    """The recipe's ClassifierConfig from the options given (the defaults for the others), each
    setting checked: one line naming ``cas.KEY`` when it cannot train."""
    values = {**RECIPE, **options}
    for key in ("examples", "batch_size", "width", "feature_dim"):
        values[key] = check_int(values[key], METRIC, key)
    values["shift"] = check_int(values["shift"], METRIC, "shift", minimum=0)
    lr = values["lr"]
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not np.isfinite(lr) or lr <= 0:
        raise MetricInputError(f"{METRIC}: option lr={lr!r} must be a positive number")
    values["lr"] = float(lr)
    return ClassifierConfig(**{key: values[key] for key in RECIPE}, seed=int(seed))


def _test_problem(ctx: EvalContext) -> str | None:
    """Why the dataset's test split cannot test the classifier (None when it can)."""
    try:
        labels = ctx.dataset.load_labels("test")
    except GenbenchError as e:  # no test split at all (a plugin's, an unavailable download)
        return f"and dataset {ctx.dataset.name!r} has none usable ({e})"
    if labels is None or len(labels) == 0:
        what = "no class labels" if labels is None else "no examples"
        return f"and the test split of dataset {ctx.dataset.name!r} has {what}"
    return None


def _checked_samples(ctx: EvalContext, n: int) -> torch.Tensor:
    """The samples to train on, float32 on the CPU: at least one, every value finite."""
    if n == 0:
        raise MetricInputError(f"{METRIC}: no samples to train a classifier on; {MORE_SAMPLES}")
    x = ctx.samples.detach().cpu().float()
    bad = int((~torch.isfinite(x.reshape(len(x), -1))).any(1).sum())
    if bad:
        raise MetricInputError(
            f"{METRIC}: {bad} of {len(x)} samples hold NaN or inf, which no classifier trains on; "
            "check the model's samples"
        )
    return x


def _as_int64(labels: Any) -> np.ndarray:
    a = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    return a.astype(np.int64, copy=False)
