"""cas (Classification Accuracy Score, GAN-train): the train split with its labels as samples scores
cas_ref exactly, shuffled labels score about chance, the nearest class mean on ring8 and on a stub of
hand-counted points, cas_ref trained once a command, the same numbers from the same command, an
unconditional model and a test split without labels left out with a line naming why. Every test
fails on the code before cas (no genbench.metrics.cas)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_helpers import listed  # tests/ is on the path

from genbench.data.digits import Digits
from genbench.data.toy2d import Ring8
from genbench.errors import MetricInputError
from genbench.features.base import Features
from genbench.metric_calls import not_applicable
from genbench.metrics import cas as cas_module
from genbench.metrics.base import EvalContext
from genbench.metrics.cas import CAS

#: a short recipe for the digits tests (4 epochs of 1437 images, about a second; 86% on the test split)
SHORT = {"cas": {"examples": 6000}}


@pytest.fixture(scope="module")
def digits(cache_dir) -> Digits:
    return Digits(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def ring8(cache_dir) -> Ring8:
    return Ring8(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def reference() -> Features:
    """One command's reference features, whose cache keeps cas_ref for every test of the module."""
    return Features(np.zeros((1, 1)))


def make_ctx(dataset, samples, sample_labels, reference=None, options=SHORT, seed=0) -> EvalContext:
    if sample_labels is not None:
        sample_labels = np.array(sample_labels, dtype=np.int64)
        sample_labels.setflags(write=False)  # as the contract hands them over
    return EvalContext(
        dataset=dataset,
        samples=torch.as_tensor(samples),
        sample_features=Features(np.zeros((len(samples), 1))),  # cas reads the samples, not features
        reference_features=reference if reference is not None else Features(np.zeros((1, 1))),
        extractor=None,
        seed=seed,
        sample_labels=sample_labels,
        options=options,
    )


def test_the_train_split_with_its_labels_scores_cas_ref_exactly(digits, reference):
    """The same recipe and seed on the same data in the same order train the same weights: the
    samples' score is the ceiling's, to the last digit (checks that cas and cas_ref share the recipe)."""
    x, y = digits.load("train")
    got = CAS().compute(make_ctx(digits, x, y.numpy(), reference))
    assert got["cas"] == got["cas_ref"] > 0.5  # the short recipe's 86%; 0.1 is chance


def test_shuffled_labels_score_about_chance(digits, reference):
    """Digits drawn for classes that have nothing to do with them teach a classifier nothing about the
    test split: about 1 / 10 (below 2 / 10), while the ceiling stays where it was."""
    x, y = digits.load("train")
    shuffled = np.random.default_rng(0).permutation(y.numpy())
    got = CAS().compute(make_ctx(digits, x, shuffled, reference))
    assert got["cas"] < 0.2 < 0.5 < got["cas_ref"]


def at_means(ring8: Ring8, components: np.ndarray, seed: int = 0) -> torch.Tensor:
    """Points within 1 std of the means of ``components``."""
    rng = np.random.default_rng(seed)
    x = ring8.means[components] + ring8.std * rng.uniform(-0.7, 0.7, (len(components), 2))
    return torch.from_numpy(x.astype(np.float32))


def test_ring8_samples_at_the_means_drawn_for_score_one_at_another_mean_zero(ring8):
    """ring8's components lie 76 std apart: class means at the right components classify every test
    point right, and class c's mean at component c + 3 classifies every one as 3 classes off."""
    drawn = np.arange(400) % 8
    right = CAS().compute(make_ctx(ring8, at_means(ring8, drawn), drawn))
    wrong = CAS().compute(make_ctx(ring8, at_means(ring8, (drawn + 3) % 8), drawn))
    assert right == {"cas": 1.0, "cas_ref": 1.0}
    assert wrong == {"cas": 0.0, "cas_ref": 1.0}


class Line:
    """Points on a line, classes 0..2, whose splits are given (every one is checked by hand below)."""

    kind, name, num_modes = "points", "line", 3
    splits = {
        "train": ([0.0, 1.0, 5.0, 9.0], [0, 0, 1, 2]),  # class means 0.5, 5, 9
        "test": ([0.5, 2.9, 3.0, 3.1, 7.0, 10.0], [0, 1, 1, 1, 1, 2]),
    }

    def load(self, split):
        x, y = self.splits[split]
        return torch.tensor(x, dtype=torch.float32)[:, None], self.load_labels(split)

    def load_labels(self, split):
        return torch.tensor(self.splits[split][1])


def test_nearest_class_mean_counted_by_hand():
    """Samples of class 0 at 0 and 2 (mean 1), class 1 at 4 and 6 (mean 5), none of class 2. Test
    points: 0.5 -> 0 (right), 2.9 -> 0 (1.9 < 2.1, wrong), 3.0 -> 0 (a tie, the lowest class: wrong),
    3.1 -> 1 (right), 7.0 -> 1 (right), 10.0 -> 1 (class 2 has no mean: wrong): 3 of 6. The train
    split's means 0.5, 5, 9: 0.5 -> 0, 2.9 -> 1 (2.4 > 2.1), 3.0 -> 1, 3.1 -> 1, 7.0 -> 1 (a tie
    with 9: the lowest class), 10.0 -> 2: all 6."""
    samples = torch.tensor([[0.0], [2.0], [4.0], [6.0]])
    got = CAS().compute(make_ctx(Line(), samples, [0, 0, 1, 1]))
    assert got == {"cas": 3 / 6, "cas_ref": 1.0}


def test_nearest_class_mean_never_holds_every_offset_at_once(monkeypatch):
    """The test x classes x dims offsets are made a block of test points at a time: 2000 points, 50
    classes and 20 dimensions were 16 MB of float64 offsets at once (8 GB for 10000 points of a
    1000-class, 100-dimensional plugin mixture); in blocks of 4096 offsets the peak is the few
    block-sized temporaries and the N labels, and the classes are those of the whole computation."""
    import tracemalloc

    rng = np.random.default_rng(0)
    train, labels = rng.standard_normal((500, 20)), rng.integers(0, 50, 500)
    test = rng.standard_normal((2000, 20))
    means = np.stack([train[labels == c].mean(0) for c in np.unique(labels)])
    whole = np.unique(labels)[((test[:, None, :] - means[None, :, :]) ** 2).sum(-1).argmin(1)]
    monkeypatch.setattr(cas_module, "BLOCK_ELEMENTS", 4096)
    tracemalloc.start()
    try:
        got = cas_module.nearest_class_mean(train, labels, test)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, whole)
    # 3 block temporaries of 4096 float64 (32 KiB each), the labels (16 KiB) and the 50 x 20 means,
    # with room; the offsets at once were 2000 x 50 x 20 x 8 bytes = 16 MB
    assert peak < 1_000_000, peak


def test_cas_ref_is_trained_once_a_command_and_the_same_command_gives_the_same_numbers(digits, monkeypatch):
    """Two models scored in one command (one reference cache) train the recipe three times, not four;
    a second command (a fresh cache) gives the same numbers bit for bit; another seed another net."""
    x, y = digits.load("train")
    half = slice(0, None, 2)  # every second training image: samples unlike the train split
    calls = []
    train = cas_module.train_classifier
    monkeypatch.setattr(cas_module, "train_classifier", lambda *a: calls.append(a[3].seed) or train(*a))
    command = Features(np.zeros((1, 1)))
    first = CAS().compute(make_ctx(digits, x[half], y[half].numpy(), command))
    CAS().compute(make_ctx(digits, x[1::2], y[1::2].numpy(), command))
    assert calls == [0, 0, 0]  # model 1, the reference, model 2
    again = CAS().compute(make_ctx(digits, x[half], y[half].numpy()))
    assert again == first and first["cas"] != first["cas_ref"]
    other = CAS().compute(make_ctx(digits, x[half], y[half].numpy(), seed=1))
    assert calls[-2:] == [1, 1] and other != first


def test_an_unconditional_model_is_left_out_and_named_says_why(ring8):
    ctx = make_ctx(ring8, at_means(ring8, np.arange(8)), None)
    assert not CAS().applies_to(ctx)
    why = not_applicable(CAS(), ctx, SimpleNamespace(label="gaussian"))
    assert "cas: needs a class-conditional model" in why and "\n" not in why
    assert CAS().applies_to(make_ctx(ring8, at_means(ring8, np.arange(8)), np.arange(8)))


def test_a_test_split_without_labels_is_left_out_and_named_is_one_line_naming_the_fix():
    class Unlabelled(Line):
        def load_labels(self, split):
            return None if split == "test" else super().load_labels(split)

    ctx = make_ctx(Unlabelled(), torch.zeros(3, 1), [0, 1, 2])
    assert not CAS().applies_to(ctx)
    with pytest.raises(MetricInputError, match="test split of dataset 'line' has no class labels") as e:
        CAS().compute(ctx)
    assert "use a dataset whose test split has class labels" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"examples": 0}, "option examples=0 must be an integer >= 1"),
        ({"lr": 0.0}, "lr=0.0 must be a positive number"),
    ],
)
def test_a_recipe_that_cannot_train_is_refused_before_any_training(options, said):
    with pytest.raises(MetricInputError, match=said):
        CAS().check_options(options)


def test_listed_in_the_default_set_with_its_recipe_as_options():
    """In the default set (conditional models alone), with Ravuri & Vinyals in `genbench list metrics`
    and the dataset classifier's recipe as its options (recorded in every result)."""
    from genbench import registry
    from genbench.features.classifier import ClassifierConfig
    from genbench.progress import Progress
    from genbench.resolve import build_metrics

    assert registry.metrics.get("cas") is CAS
    quiet = Progress(enabled=False)
    for kind in ("image", "points"):
        assert "cas" in [m.name for m in build_metrics(None, kind, quiet)]
    assert CAS.options == {
        "width": 16,
        "feature_dim": 128,
        "examples": 60_000,
        "batch_size": 64,
        "lr": 3e-3,
        "shift": 1,
    }
    assert ClassifierConfig(**CAS.options) == ClassifierConfig()  # the dataset classifier's own
    row = listed("metrics")["cas"]
    assert "opt-in" not in row and "Ravuri & Vinyals 2019" in row, row
