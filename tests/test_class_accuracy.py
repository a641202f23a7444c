"""class_accuracy (GAN-test): on ring8, samples at the means they were drawn for score 1, at another
mean 0, and labels changed for a counted share score the rest; class_accuracy_ref is the labelling's
hand-counted accuracy on a reference split; the labeller is recorded; an unconditional model is left
out. Every test fails on the code before class_accuracy (no genbench.metrics.class_accuracy)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_helpers import listed  # tests/ is on the path

from genbench.data.toy2d import Ring8
from genbench.errors import MetricInputError
from genbench.features.base import Features
from genbench.metric_calls import not_applicable
from genbench.metrics.base import EvalContext
from genbench.metrics.class_accuracy import ClassAccuracy


@pytest.fixture(scope="module")
def ring8(cache_dir) -> Ring8:
    return Ring8(cache_dir=cache_dir)


def make_ctx(dataset, samples: torch.Tensor, sample_labels: np.ndarray | None) -> EvalContext:
    if sample_labels is not None:
        sample_labels = np.array(sample_labels, dtype=np.int64)
        sample_labels.setflags(write=False)  # as the contract hands them over
    flat = samples.reshape(len(samples), -1).double().numpy()
    return EvalContext(
        dataset=dataset,
        samples=samples,
        sample_features=Features(flat),
        reference_features=Features(flat.copy()),
        extractor=None,
        seed=0,
        sample_labels=sample_labels,
    )


def at_means(ring8: Ring8, components: np.ndarray, seed: int = 0) -> torch.Tensor:
    """Points within 1 std of the means of ``components``."""
    rng = np.random.default_rng(seed)
    x = ring8.means[components] + ring8.std * rng.uniform(-0.7, 0.7, (len(components), 2))
    return torch.from_numpy(x.astype(np.float32))


def test_samples_at_the_means_drawn_for_score_one_at_another_mean_zero(ring8):
    drawn = np.random.default_rng(1).integers(0, 8, 400)
    right = ClassAccuracy().compute(make_ctx(ring8, at_means(ring8, drawn), drawn))
    wrong = ClassAccuracy().compute(make_ctx(ring8, at_means(ring8, (drawn + 3) % 8), drawn))
    assert right["class_accuracy"] == 1.0
    assert wrong["class_accuracy"] == 0.0
    # ring8's components lie 76 std apart: its nearest-mean labelling is right on every train example
    assert right["class_accuracy_ref"] == wrong["class_accuracy_ref"] == 1.0


def test_labels_changed_for_a_counted_share_give_the_rest(ring8):
    """80 samples at their components' means; 30 of them handed another class (a permutation of the
    classes with no fixed point): 50 / 80 are classified as drawn."""
    drawn = np.arange(80) % 8
    labels = drawn.copy()
    labels[:30] = np.roll(np.arange(8), 1)[drawn[:30]]  # class c handed c - 1: never itself
    assert np.count_nonzero(labels != drawn) == 30
    got = ClassAccuracy().compute(make_ctx(ring8, at_means(ring8, drawn), labels))
    assert got["class_accuracy"] == 50 / 80


class Rounded:
    """Points on a line, classes 0..3: the mode labeller rounds to the nearest class, and the
    reference split's true labels disagree with it on a counted 3 of its 10 examples."""

    kind, name, num_modes = "points", "rounded", 4
    reference = np.array([0.1, 0.9, 1.2, 2.4, 2.6, 3.0, 0.4, 1.6, 2.2, 3.3])
    truth = np.array([0, 1, 1, 2, 3, 3, 1, 1, 3, 3])  # 0.4 is labelled 1, 1.6 is 1, 2.2 is 3: 7 of 10 agree

    def load(self, split):
        return torch.from_numpy(self.reference[:, None].astype(np.float32)), self.load_labels(split)

    def load_labels(self, split):
        return torch.from_numpy(self.truth.copy())

    def label_modes(self, x):
        return np.clip(np.rint(np.asarray(x, dtype=np.float64)[:, 0]), 0, 3).astype(np.int64)


def test_class_accuracy_ref_is_the_labellings_accuracy_on_the_reference_split():
    samples = torch.tensor([[0.0], [1.1], [2.0], [2.9]])
    got = ClassAccuracy().compute(make_ctx(Rounded(), samples, np.array([0, 1, 3, 3])))
    assert got["class_accuracy"] == 3 / 4  # 2.0 is predicted 2, drawn for 3
    assert got["class_accuracy_ref"] == 7 / 10


def test_the_sample_modes_are_what_it_predicts_with_so_the_labeller_is_recorded(ring8):
    """scoring records the dataset's mode_labeller (a classifier's fingerprint) in the protocol when a
    metric labelled the samples' modes (``ctx.has_cached("sample_modes")``); class_accuracy does,
    through ``ctx.sample_modes()``, the labels ``modes`` counts with."""
    drawn = np.arange(16) % 8
    ctx = make_ctx(ring8, at_means(ring8, drawn), drawn)
    ClassAccuracy().compute(ctx)
    assert ctx.has_cached("sample_modes")
    assert np.array_equal(ctx.sample_modes(), drawn)


def test_an_unconditional_model_is_left_out_without_labelling_its_samples(ring8):
    """applies_to says no before labelling anything (an opt-in metric named for a run of several
    models costs the unconditional ones nothing); named, the run's line says why."""
    ctx = make_ctx(ring8, at_means(ring8, np.arange(8)), None)
    assert not ClassAccuracy().applies_to(ctx)
    assert not ctx.has_cached("sample_modes")
    why = not_applicable(ClassAccuracy(), ctx, SimpleNamespace(label="gaussian"))
    assert "class_accuracy: needs a class-conditional model" in why and "\n" not in why
    assert ClassAccuracy().applies_to(make_ctx(ring8, at_means(ring8, np.arange(8)), np.arange(8)))


def test_a_dataset_without_a_mode_labelling_does_not_apply_and_says_so():
    class Unlabelled(Rounded):
        def label_modes(self, x):
            return None

    ctx = make_ctx(Unlabelled(), torch.zeros(4, 1), np.zeros(4, dtype=np.int64))
    assert not ClassAccuracy().applies_to(ctx)
    with pytest.raises(MetricInputError, match="dataset 'rounded' has no mode labelling"):
        ClassAccuracy().compute(ctx)


def test_sample_labels_out_of_range_are_a_one_line_error(ring8):
    ctx = make_ctx(ring8, at_means(ring8, np.arange(8)), np.arange(8) + 1)
    with pytest.raises(MetricInputError, match=r"in \[1, 8\], outside the dataset's 8 classes \[0, 8\)"):
        ClassAccuracy().compute(ctx)


def test_listed_in_the_default_set_with_its_paper():
    """Registered through its entry point, in the default set (it applies to class-conditional models
    alone: see test_conditional_metrics_are_quiet_for_unconditional_models), and shown by `genbench
    list metrics` with Shmelkov et al."""
    from genbench import registry
    from genbench.progress import Progress
    from genbench.resolve import build_metrics

    assert registry.metrics.get("class_accuracy") is ClassAccuracy
    quiet = Progress(enabled=False)
    for kind in ("image", "points"):
        assert "class_accuracy" in [m.name for m in build_metrics(None, kind, quiet)]
        assert "class_accuracy" in [m.name for m in build_metrics(["class_accuracy"], kind, quiet)]
    row = listed("metrics")["class_accuracy"]
    assert "opt-in" not in row and "Shmelkov et al. 2018" in row, row
