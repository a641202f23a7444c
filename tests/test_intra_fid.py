"""intra_fid: 0 for samples that are the reference class by class, the closed form of two classes of
Gaussian features, torch-fidelity's FID computed per class by hand, labels shuffled between classes
(which FID of all samples cannot see), and one line for each input it cannot use. Every test fails on
the code before intra_fid (no genbench.metrics.intra_fid)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_helpers import listed  # tests/ is on the path

from genbench.errors import MetricInputError
from genbench.features.base import Features
from genbench.metric_calls import not_applicable
from genbench.metrics.base import EvalContext
from genbench.metrics.fid import BACKENDS, FID
from genbench.metrics.intra_fid import IntraFID


class Classes:
    """A dataset of ``len(np.unique(labels))`` classes whose reference split has ``labels``."""

    kind, name = "points", "classes"

    def __init__(self, labels: np.ndarray, num_modes: int | None = None):
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.num_modes = num_modes if num_modes is not None else int(self.labels.max()) + 1

    def load_labels(self, split: str) -> torch.Tensor:
        return self.labels.clone()


def make_ctx(
    samples: np.ndarray,
    sample_labels: np.ndarray | None,
    reference: np.ndarray,
    reference_labels: np.ndarray,
    options: dict | None = None,
    num_modes: int | None = None,
) -> EvalContext:
    if sample_labels is not None:
        sample_labels = np.array(sample_labels, dtype=np.int64)
        sample_labels.setflags(write=False)  # as the contract hands them over
    return EvalContext(
        dataset=Classes(reference_labels, num_modes),
        samples=torch.zeros(len(samples), 1),
        sample_features=Features(np.asarray(samples, dtype=np.float64)),
        reference_features=Features(np.asarray(reference, dtype=np.float64)),
        extractor=None,
        seed=0,
        sample_labels=sample_labels,
        options=options or {},
    )


def with_statistics(rng: np.random.Generator, n: int, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``n`` rows whose sample mean is exactly ``mu`` and unbiased covariance exactly ``diag(var)``
    (whitened standard normals, rescaled): the closed form then holds to rounding, not to 1/n."""
    z = rng.standard_normal((n, len(mu)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return mu + z * np.sqrt(var)


def two_classes(seed: int = 0, n: int = 300, d: int = 4):
    """(reference, reference labels): two classes of Gaussian features, apart."""
    rng = np.random.default_rng(seed)
    ref = np.concatenate([rng.standard_normal((n, d)), rng.standard_normal((n, d)) * 2.0 + 3.0])
    labels = np.repeat([0, 1], n)
    order = rng.permutation(2 * n)  # classes interleaved, as a split's are
    return ref[order], labels[order]


@pytest.mark.parametrize("backend", BACKENDS)
def test_samples_that_are_the_reference_class_by_class_score_zero(backend):
    """Each class's samples are its reference rows (in another order): every per-class FID is 0."""
    ref, labels = two_classes()
    order = np.random.default_rng(1).permutation(len(ref))
    got = IntraFID().compute(
        make_ctx(ref[order], labels[order], ref, labels, {"intra_fid": {"backend": backend}})
    )
    assert got["intra_fid"] == pytest.approx(0.0, abs=1e-8)
    assert got["intra_fid_max"] == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_gaussian_classes_give_the_mean_of_their_closed_forms(backend):
    """Diagonal covariances: each class's FID is |mu_s - mu_r|^2 + sum (sqrt(a) - sqrt(b))^2, and
    intra_fid their mean, intra_fid_max the larger."""
    rng = np.random.default_rng(3)
    d, n = 3, 400
    stats = {  # class -> (sample mean, sample variances, reference mean, reference variances)
        0: (np.zeros(d), np.array([1.0, 2.0, 0.5]), np.array([1.0, 0.0, -1.0]), np.array([1.0, 1.0, 1.0])),
        1: (np.full(d, 5.0), np.array([0.2, 0.3, 4.0]), np.full(d, 4.0), np.array([0.8, 0.3, 1.0])),
    }
    samples, sample_labels, ref, ref_labels = [], [], [], []
    for c, (ms, vs, mr, vr) in stats.items():
        samples.append(with_statistics(rng, n, ms, vs))
        ref.append(with_statistics(rng, n + 50 * c, mr, vr))
        sample_labels += [c] * n
        ref_labels += [c] * (n + 50 * c)
    closed = [
        np.sum((ms - mr) ** 2) + np.sum((np.sqrt(vs) - np.sqrt(vr)) ** 2) for ms, vs, mr, vr in stats.values()
    ]
    ctx = make_ctx(
        np.concatenate(samples),
        sample_labels,
        np.concatenate(ref),
        ref_labels,
        {"intra_fid": {"backend": backend}},
    )
    got = IntraFID().compute(ctx)
    assert got["intra_fid"] == pytest.approx(np.mean(closed), rel=1e-9)
    assert got["intra_fid_max"] == pytest.approx(max(closed), rel=1e-9)
    assert closed[0] != pytest.approx(closed[1])  # the mean and the max tell them apart


def test_matches_torch_fidelity_fid_computed_class_by_class():
    """The mean over classes of torch-fidelity's own FID of each class's rows, three classes of
    unequal sizes and another order of rows."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(5)
    d = 8
    ref_labels = rng.integers(0, 3, 900)
    ref = rng.standard_normal((900, d)) + ref_labels[:, None]
    sample_labels = rng.integers(0, 3, 600)
    samples = rng.standard_normal((600, d)) * 1.3 + 0.8 * sample_labels[:, None]
    by_hand = []
    for c in range(3):
        a = fid_features_to_statistics(torch.from_numpy(samples[sample_labels == c]))
        b = fid_features_to_statistics(torch.from_numpy(ref[ref_labels == c]))
        by_hand.append(fid_statistics_to_metric(a, b, verbose=False)["frechet_inception_distance"])
    for backend in BACKENDS:
        got = IntraFID().compute(
            make_ctx(samples, sample_labels, ref, ref_labels, {"intra_fid": {"backend": backend}})
        )
        assert got["intra_fid"] == pytest.approx(np.mean(by_hand), rel=1e-6)
        assert got["intra_fid_max"] == pytest.approx(max(by_hand), rel=1e-6)


def test_labels_shuffled_between_classes_raise_it_where_fid_sees_nothing():
    """Samples that are the reference, drawn for the wrong classes: FID of all of them stays 0, while
    intra_fid grows from 0 to about the distance between the classes."""
    ref, labels = two_classes()
    right = make_ctx(ref, labels, ref, labels)
    wrong = make_ctx(ref, 1 - labels, ref, labels)  # every sample drawn for the other class
    half = labels.copy()
    half[: len(half) // 2] = np.random.default_rng(2).integers(0, 2, len(half) // 2)
    mixed = make_ctx(ref, half, ref, labels)
    values = [IntraFID().compute(ctx)["intra_fid"] for ctx in (right, mixed, wrong)]
    assert values[0] == pytest.approx(0.0, abs=1e-8)
    assert 1.0 < values[1] < values[2]
    assert values[2] > 9.0  # |mu_0 - mu_1|^2 = 4 * 9 alone, in four dimensions
    assert FID().compute(wrong)["fid"] == pytest.approx(0.0, abs=1e-8)


def test_an_unconditional_model_is_left_out_and_named_says_it_needs_a_conditional_one():
    """applies_to says no for samples without labels (left out quietly in a default set); named with
    --metrics, the run's "not computed" line (metric_calls.not_applicable) says why."""
    ref, labels = two_classes()
    ctx = make_ctx(ref, None, ref, labels)
    assert not IntraFID().applies_to(ctx)
    assert IntraFID().applies_to(make_ctx(ref, labels, ref, labels))
    why = not_applicable(IntraFID(), ctx, SimpleNamespace(label="gaussian"))
    assert "intra_fid: needs a class-conditional model" in why and "\n" not in why


@pytest.mark.parametrize(
    "sample_labels, match",
    [
        (np.zeros(5, dtype=np.int64), r"are 5 for 600 samples; give one int64 class"),
        (np.full(600, 2), r"in \[2, 2\], outside the dataset's 2 classes \[0, 2\)"),
        (np.full(600, -1), r"in \[-1, -1\]"),
        (np.zeros(600) + 0.5, r"of dtype float64"),
    ],
)
def test_sample_labels_of_the_wrong_length_range_or_dtype_are_one_line_errors(sample_labels, match):
    ref, labels = two_classes()
    ctx = make_ctx(ref, None, ref, labels)
    ctx.sample_labels = sample_labels
    with pytest.raises(MetricInputError, match=match):
        IntraFID().compute(ctx)


def test_a_class_with_fewer_than_two_samples_or_reference_rows_names_the_fix():
    ref, labels = two_classes()
    one = labels.copy()
    one[one == 1] = 0
    one[0] = 1  # a single sample drawn for class 1
    with pytest.raises(
        MetricInputError,
        match=r"fewer than 2 samples were drawn for 1 of 2 classes \(class 1: 1\), which have no covariance; use more samples",
    ):
        IntraFID().compute(make_ctx(ref, one, ref, labels))
    # a third class drawn for, which the reference split lacks
    samples, drawn = np.concatenate([ref, ref[:2]]), np.concatenate([labels, [2, 2]])
    with pytest.raises(
        MetricInputError, match=r"fewer than 2 train examples are .*class 2: 0.*a dataset whose train split"
    ):
        IntraFID().compute(make_ctx(samples, drawn, ref, labels, num_modes=3))


def test_before_training_its_count_checks_name_the_samples_that_give_each_class_two():
    """check_classes (called at planning, where a conditional model is in the run): compute's count
    checks on the counts a run will draw. Fails on the code before it: Metric had no check_classes."""
    from genbench.sample_labels import PlannedClasses, stratified_counts

    def planned(train, n, ref=None):
        return PlannedClasses(tuple(stratified_counts(train, n)), tuple(train), "train", ref)

    # train 3 : 1, 4 samples draw (3, 1); 7 draw (5, 2) but 6 draw (5, 1) (the tie to class 0): 7
    with pytest.raises(MetricInputError) as e:
        IntraFID().check_classes({}, planned([3, 1], 4))
    assert str(e.value) == (
        "intra_fid: fewer than 2 of 4 samples are drawn for 1 of 2 classes (class 1: 1), which have no "
        "covariance; use --samples 7 or more"
    )
    IntraFID().check_classes({}, planned([3, 1], 7))  # (5, 2): the boundary passes
    with pytest.raises(MetricInputError, match=r"class 1: 0\).*no number of samples draws any for a class"):
        IntraFID().check_classes({}, planned([4, 0], 4))
    # the reference split's class of one example: compute's own line, before any training
    ref, labels = two_classes()
    thin = labels.copy()
    thin[np.flatnonzero(thin == 1)[1:]] = 0  # one reference example of class 1 left
    with pytest.raises(MetricInputError) as late:
        IntraFID().compute(make_ctx(ref, labels, ref, thin))
    with pytest.raises(MetricInputError) as early:
        IntraFID().check_classes({}, planned([300, 300], 600, (599, 1)))
    assert str(early.value) == str(late.value)
    assert "fewer than 2 train examples are for 1 of 2 classes (class 1: 1)" in str(late.value)
    IntraFID().check_classes({}, planned([300, 300], 600, None))  # unlabelled: compute's to refuse


def test_before_extraction_classes_given_with_the_samples_name_eval_s_fix():
    """`genbench eval`'s check_classes (samples given with their classes): the counts are the labels'
    own, so no --samples is named (none draws more of a class there) but eval's fix; the reference
    split's counts are read only where a metric compares with it. Fails on the code before it: no
    labelled_classes."""
    from genbench.sample_labels import labelled_classes

    ds = Classes(np.array([0, 0, 1, 1, 1]))
    given = labelled_classes([3, 1], ds, "train", reads_reference=True)
    assert given.given and given.reference_counts == (2, 3) and given.fewest_samples(2) is None
    with pytest.raises(MetricInputError) as e:
        IntraFID().check_classes({}, given)
    assert str(e.value) == (
        "intra_fid: fewer than 2 of 4 samples are given for 1 of 2 classes (class 1: 1), which have no "
        "covariance; give 2 or more samples of each class, or leave intra_fid out of --metrics"
    )
    IntraFID().check_classes({}, labelled_classes([2, 2], ds, "train", reads_reference=True))  # boundary
    assert labelled_classes([2, 2], ds, "train", reads_reference=False).reference_counts is None
    thin = Classes(np.array([0, 0, 1]))  # the reference's class of one example: the run's line
    with pytest.raises(MetricInputError, match=r"2 train examples are for 1 of 2 classes \(class 1: 1\)"):
        IntraFID().check_classes({}, labelled_classes([2, 2], thin, "train", reads_reference=True))


def test_reference_statistics_alone_are_refused_and_an_unlabelled_split_named():
    ref, labels = two_classes()
    ctx = make_ctx(ref, labels, np.zeros((0, 4)), labels)
    ctx.reference_stats = (np.zeros(4), np.eye(4))
    with pytest.raises(MetricInputError, match="needs reference features, not \\(mu, sigma\\)"):
        IntraFID().compute(ctx)
    ctx = make_ctx(ref, labels, ref, labels)
    ctx.dataset.load_labels = lambda split: None
    with pytest.raises(MetricInputError, match="the train split of dataset 'classes' has no class labels"):
        IntraFID().compute(ctx)


def test_classes_of_few_rows_warn_once_as_fid_does():
    """fid's singular-covariance warning, said once for all the classes it concerns (not K times)."""
    ref, labels = two_classes(d=20, n=15)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = IntraFID().compute(make_ctx(ref, labels, ref, labels))
    said = [str(w.message) for w in caught]
    assert any(
        "2 of 2 classes have at most 20 samples" in s and "use more than 20 samples per class" in s
        for s in said
    )
    assert sum("reference examples" in s for s in said) == 1
    assert np.isfinite(got["intra_fid"]) and got["intra_fid"] >= 0.0


def test_the_reference_class_gaussians_are_computed_once_for_every_model():
    """Kept in intra_fid's cache on the reference features: a second model's samples against the same
    features reuse them (CIFAR-10's 50000 x 2048 split into 10 covariances for every model and seed)."""
    import genbench.metrics.intra_fid as module

    ref, labels = two_classes()
    shared = Features(np.asarray(ref, dtype=np.float64))
    calls = []
    real = module.gaussian_statistics
    module_stats = lambda f: calls.append(len(f)) or real(f)  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, "gaussian_statistics", module_stats)
        for samples in (ref, ref + 1.0):
            ctx = make_ctx(samples, labels, ref, labels)
            ctx.reference_features = shared
            IntraFID().compute(ctx)
    assert len(calls) == 2 + 2 + 2  # the reference's two classes once, each model's two


def test_listed_in_the_default_set_with_its_paper():
    """Registered through its entry point, in the default set (it applies to class-conditional models
    alone: see test_conditional_metrics_are_quiet_for_unconditional_models), and shown by `genbench
    list metrics` with Miyato & Koyama."""
    from genbench import registry
    from genbench.progress import Progress
    from genbench.resolve import build_metrics

    assert registry.metrics.get("intra_fid") is IntraFID
    quiet = Progress(enabled=False)
    for kind in ("image", "points"):
        assert "intra_fid" in [m.name for m in build_metrics(None, kind, quiet)]
        assert "intra_fid" in [m.name for m in build_metrics(["fid", "intra_fid"], kind, quiet)]
    row = listed("metrics")["intra_fid"]
    assert "opt-in" not in row and "Miyato & Koyama 2018" in row, row
