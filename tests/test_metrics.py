"""Correctness of the metric suite: closed forms, the reference libraries on the same inputs, the
controls (copies, held-out data, collapse) on embedded datasets, and one clear error per bad input."""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from fresh_process import assert_no_user_warning  # tests/ is on the path
from scipy import linalg
from scipy.spatial.distance import cdist

from genbench.data.base import Dataset
from genbench.data.digits import Digits
from genbench.data.toy2d import Ring8
from genbench.errors import DataError, MetricInputError
from genbench.features.base import Features
from genbench.metrics._knn import kth_neighbour_distances, nearest
from genbench.metrics.base import EvalContext
from genbench.metrics.fid import BACKENDS, FID, frechet_distance, gaussian_statistics
from genbench.metrics.inception_score import InceptionScore
from genbench.metrics.kid import KID
from genbench.metrics.memorization import FIGURE_ROWS, Memorization, copied, mann_whitney_z
from genbench.metrics.modes import Modes, expected_modes, mode_kl
from genbench.metrics.prdc import PRDC, prdc


class FakeData:
    """The least a dataset must offer to the feature-only metrics (FID, KID, PRDC, IS)."""

    def __init__(self, kind: str = "points"):
        self.kind, self.name = kind, "fake"


def make_ctx(
    samples: torch.Tensor | np.ndarray,
    reference: Features | np.ndarray | None = None,
    *,
    dataset=None,
    features: np.ndarray | None = None,
    logits: np.ndarray | None = None,
    options: dict | None = None,
    seed: int = 0,
) -> EvalContext:
    """An EvalContext as the runner builds it; ``features`` default to the flattened samples."""
    samples = torch.as_tensor(samples)
    if features is None:
        features = samples.reshape(len(samples), -1).double().numpy()
    if reference is None:
        reference = Features(np.zeros((2, features.shape[1])))
    elif not isinstance(reference, Features):
        reference = Features(np.asarray(reference, dtype=np.float64))
    return EvalContext(
        dataset=dataset if dataset is not None else FakeData(),
        samples=samples,
        sample_features=Features(features, logits=logits),
        reference_features=reference,
        extractor=None,
        seed=seed,
        options=options or {},
    )


def gaussian_sets(seed: int = 0, n: int = 500, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 feature sets from different Gaussians (shifted mean, correlated covariance)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d))
    b = 0.5 + rng.standard_normal((n, d)) @ (np.eye(d) + 0.3 * rng.standard_normal((d, d)))
    return a, b


def random_psd(rng: np.random.Generator, d: int) -> np.ndarray:
    m = rng.standard_normal((d, d))
    return m @ m.T / d + 0.1 * np.eye(d)


def quiet_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The ``prdc`` reference package (it prints the set sizes)."""
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):
        return {key: float(v) for key, v in compute_prdc(real, fake, k).items()}


def t64(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


@pytest.fixture(scope="module")
def digits(cache_dir: Path) -> Digits:
    """One digits dataset for the module, its classifier cached in the session cache (trains once)."""
    return Digits(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def ring8(cache_dir: Path) -> Ring8:
    return Ring8(cache_dir=cache_dir)


# -- FID --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_closed_form_for_commuting_covariances(backend):
    """Covariances sharing eigenvectors: FID = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2."""
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    # diagonal
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b), backend) == pytest.approx(expected, rel=1e-10)
    # the same spectra in a random common eigenbasis: not diagonal, still commuting
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    assert frechet_distance(mu1, s1, mu2, s2, backend) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_non_commuting_matches_independent_square_roots(backend):
    """Non-commuting covariances: Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), the PSD form.

    Checked in 2D against the closed form for a 2 x 2 PSD M, Tr M^(1/2) = sqrt(tr M + 2 sqrt(det M)),
    and in 5D against scipy's sqrtm of the PSD form.
    """
    s1 = np.array([[2.0, 0.7], [0.7, 1.0]])
    s2 = np.array([[0.5, -0.2], [-0.2, 1.5]])
    assert not np.allclose(s1 @ s2, s2 @ s1)
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    tr_sqrt = np.sqrt(np.trace(s1 @ s2) + 2.0 * np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expected = 5.0 + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2, backend) == pytest.approx(expected, rel=1e-10)

    rng = np.random.default_rng(1)
    s1, s2 = random_psd(rng, 5), random_psd(rng, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    r = linalg.sqrtm(s1).real
    tr_sqrt = np.trace(linalg.sqrtm(r @ s2 @ r).real)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2, backend) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_zero_for_identical_statistics_and_symmetric(backend):
    """FID(P, P) = 0 and FID(P, Q) = FID(Q, P)."""
    rng = np.random.default_rng(2)
    s1, s2 = random_psd(rng, 16), random_psd(rng, 16)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    assert frechet_distance(mu1, s1, mu1, s1, backend) == pytest.approx(0.0, abs=1e-9 * np.trace(s1))
    forward, backward = (
        frechet_distance(mu1, s1, mu2, s2, backend),
        frechet_distance(mu2, s2, mu1, s1, backend),
    )
    assert forward > 1.0
    assert forward == pytest.approx(backward, rel=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_backend_selects_the_trace_formula(backend, monkeypatch):
    """backend="clean-fid" takes Tr (S1 S2)^(1/2) from scipy's sqrtm, as cleanfid.fid.frechet_distance
    does; "torch-fidelity" from the eigenvalues. The two values agree, so only the call tells them apart."""
    from types import SimpleNamespace

    import genbench.metrics.fid as fid_module

    calls = []

    def sqrtm(a, *args, **kwargs):
        calls.append(a.shape)
        return linalg.sqrtm(a, *args, **kwargs)

    monkeypatch.setattr(fid_module, "linalg", SimpleNamespace(sqrtm=sqrtm))
    a, b = gaussian_sets(7, n=100, d=4)
    FID().compute(make_ctx(a, b, options={"fid": {"backend": backend}}))
    assert calls == ([(4, 4)] if backend == "clean-fid" else [])


def cleanfid_frechet(mu1, sigma1, mu2, sigma2, monkeypatch) -> float:
    """clean-fid's own ``frechet_distance``. clean-fid 0.1.35 (its latest release) calls
    ``scipy.linalg.sqrtm(..., disp=False)``, an argument scipy 1.16 deprecated (a DeprecationWarning
    from clean-fid's module, an error under ``-W error::DeprecationWarning``) and scipy 1.18 removed
    (seen on Python 3.12 with scipy 1.18.1: TypeError). So the call is always adapted to the
    signature without it (the same matrix square root; the error estimate it also returned is
    discarded by clean-fid), and the comparison runs at every scipy from the floor up."""
    from types import SimpleNamespace

    from cleanfid import fid as cleanfid_fid

    real = cleanfid_fid.linalg.sqrtm

    def sqrtm(a, disp=True):
        root = real(a)
        return root if disp else (root, None)

    monkeypatch.setattr(cleanfid_fid, "linalg", SimpleNamespace(sqrtm=sqrtm))
    return cleanfid_fid.frechet_distance(mu1, sigma1, mu2, sigma2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_matches_torch_fidelity_and_clean_fid_on_the_same_features(backend, monkeypatch):
    """The FID metric on float64 features equals both libraries' formulas on the same statistics."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    a, b = gaussian_sets(0)
    ours = FID().compute(make_ctx(a, b, options={"fid": {"backend": backend}}))["fid"]
    st_a, st_b = fid_features_to_statistics(t64(a)), fid_features_to_statistics(t64(b))
    tfid = fid_statistics_to_metric(st_a, st_b, verbose=False)["frechet_inception_distance"]
    cfid = cleanfid_frechet(
        np.mean(a, 0), np.cov(a, rowvar=False), np.mean(b, 0), np.cov(b, rowvar=False), monkeypatch
    )
    assert ours > 1.0
    assert ours == pytest.approx(tfid, rel=1e-6)
    assert ours == pytest.approx(cfid, rel=1e-6)
    # and our statistics are torch-fidelity's
    mu, sigma = gaussian_statistics(a)
    np.testing.assert_allclose(mu, st_a["mu"], rtol=1e-12)
    np.testing.assert_allclose(sigma, st_a["sigma"], rtol=1e-12)


def test_fid_retries_a_non_finite_sqrtm_with_eps_on_both_diagonals_as_clean_fid(monkeypatch):
    """Where scipy's sqrtm of S1 S2 is not finite (a product with a repeated zero eigenvalue, as
    rank-deficient covariances of a few samples give; simulated here, since whether it happens depends
    on rounding), the clean-fid backend retries with ``eps * I`` added to both covariances. It equals
    ``cleanfid.fid.frechet_distance`` under the same failing first sqrtm, and the closed form of the
    shifted diagonal covariances, |mu1 - mu2|^2 + sum a + sum b - 2 sum sqrt((a + eps) (b + eps))."""
    from types import SimpleNamespace

    from cleanfid import fid as cleanfid_fid

    import genbench.metrics.fid as fid_module

    def failing_first(real):
        calls = []

        def sqrtm(m, *args, disp=True, **kwargs):
            calls.append(m)
            root = np.full_like(m, np.nan) if len(calls) == 1 else real(m)
            return root if disp else (root, None)

        return sqrtm

    eps = 1e-6  # pytorch-fid's and clean-fid's offset
    rng = np.random.default_rng(5)
    mu1, mu2 = rng.standard_normal(4), rng.standard_normal(4)
    a, b = rng.uniform(1e-6, 1e-5, 4), rng.uniform(0.5, 2.0, 4)  # small variances, where eps shows
    expected = np.sum((mu1 - mu2) ** 2) + a.sum() + b.sum() - 2 * np.sqrt((a + eps) * (b + eps)).sum()
    unshifted = np.sum((mu1 - mu2) ** 2) + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    assert abs(expected - unshifted) > 1e-7 * abs(expected)  # the offset is visible at rel=1e-9

    monkeypatch.setattr(fid_module, "linalg", SimpleNamespace(sqrtm=failing_first(linalg.sqrtm)))
    with pytest.warns(UserWarning, match=r"singular; added 1e-06 to the diagonal of both covariances"):
        ours = frechet_distance(mu1, np.diag(a), mu2, np.diag(b), "clean-fid")
    assert ours == pytest.approx(expected, rel=1e-9)
    real = lambda m: linalg.sqrtm(m)  # noqa: E731 (scipy >= 1.18 has no disp; the wrapper takes it)
    monkeypatch.setattr(cleanfid_fid, "linalg", SimpleNamespace(sqrtm=failing_first(real)))
    assert ours == pytest.approx(cleanfid_fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), rel=1e-12)


def test_fid_falls_back_to_the_eigenvalues_where_sqrtm_leaves_a_large_imaginary_part(monkeypatch):
    """Where scipy's sqrtm of S1 S2 comes back with a non-negligible imaginary part (pytorch-fid and
    clean-fid raise there), the clean-fid backend takes the trace from the eigenvalues of S1 S2
    instead, with a warning. Simulated (whether sqrtm does so depends on rounding) by a sqrtm whose
    diagonal has an imaginary part of 1 and whose real part is wrong: the value must be the closed
    form of the commuting covariances, |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2, neither the
    wrong real part's trace nor the fallback's of another pair of covariances."""
    from types import SimpleNamespace

    import genbench.metrics.fid as fid_module

    def imaginary(m, *args, **kwargs):
        return 2.0 * linalg.sqrtm(m).real + 1j * np.eye(len(m))

    rng = np.random.default_rng(8)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    a, b = rng.uniform(0.1, 3.0, 5), rng.uniform(0.1, 3.0, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    monkeypatch.setattr(fid_module, "linalg", SimpleNamespace(sqrtm=imaginary))
    with pytest.warns(UserWarning, match=r"sqrtm left a large imaginary part; used the eigenvalue formula"):
        ours = frechet_distance(mu1, np.diag(a), mu2, np.diag(b), "clean-fid")
    assert ours == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("rows_per_block", [1, 7, 64, 10_000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gaussian_statistics_summed_in_blocks_equal_np_cov(rows_per_block, dtype, monkeypatch):
    """The covariance is summed over blocks of rows (np.cov's centred copy of every feature was the
    peak of a 50k evaluation); any block size, one that does not divide N included, gives np.cov."""
    import genbench.metrics.fid as fid_module

    a, _ = gaussian_sets(1, n=130, d=6)
    a = (a * 3 + 40).astype(dtype)  # an offset mean, where centring matters
    monkeypatch.setattr(fid_module, "COV_BLOCK_ELEMENTS", rows_per_block * 6)
    mu, sigma = gaussian_statistics(a)
    assert mu.dtype == sigma.dtype == np.float64 and sigma.shape == (6, 6)
    np.testing.assert_allclose(mu, np.mean(a.astype(np.float64), axis=0), rtol=1e-13)
    np.testing.assert_allclose(sigma, np.cov(a.astype(np.float64), rowvar=False), rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(sigma, sigma.T)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_small_n_is_finite_non_negative_and_warns(backend):
    """N < D: singular covariances give a finite, real, >= 0 FID and a warning naming the count."""
    a, b = gaussian_sets(3, n=5)
    ctx = make_ctx(a, b, options={"fid": {"backend": backend}})
    with pytest.warns(UserWarning, match=r"fid: 5 samples for 16-dimensional features"):
        fid = FID().compute(ctx)["fid"]
    assert isinstance(fid, float) and np.isfinite(fid) and fid >= 0.0
    # a collapsed model (one repeated point: zero covariance) is finite too
    with pytest.warns(UserWarning, match="samples"):
        fid = FID().compute(make_ctx(np.repeat(a[:1], 5, 0), b, options={"fid": {"backend": backend}}))["fid"]
    assert np.isfinite(fid) and fid > 0.0


def test_fid_small_reference_warning_names_the_reference_fix_not_more_samples():
    """A reference split with no more examples than feature dimensions: more samples change nothing,
    yet the warning said "use more than 16 samples" (a 300-image CIFAR-10 in raw features read "use
    more than 3072 samples" beside 300 samples)."""
    a, _ = gaussian_sets(5, n=40)
    _, b = gaussian_sets(6, n=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FID().compute(make_ctx(a, b))
    said = [str(w.message) for w in caught if "singular" in str(w.message)]
    assert said == [
        "fid: 10 reference examples for 16-dimensional features: the covariance is singular and FID is "
        "biased upwards; for a comparable FID, compare with a split of more than 16 examples, or in "
        "features of fewer dimensions (--features)"
    ]


def test_fid_warns_at_as_many_samples_as_dimensions():
    """N = D is singular too: the N centred rows sum to 0, so the covariance has rank N - 1 < D."""
    a, b = gaussian_sets(4, n=16, d=16)
    assert np.linalg.matrix_rank(gaussian_statistics(a)[1]) == 15
    with pytest.warns(UserWarning, match=r"fid: 16 (samples|reference examples) for 16-dim") as record:
        FID().compute(make_ctx(a, b))
    assert sorted(str(w.message).split(" for ")[0] for w in record) == [
        "fid: 16 reference examples",
        "fid: 16 samples",
    ]


def test_no_warning_for_enough_samples():
    """The small-N warning is not raised when N > D (it would cry wolf on every run)."""
    a, b = gaussian_sets(23, n=40, d=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FID().compute(make_ctx(a, b))


# -- Inception Score --------------------------------------------------------------------------------


def is_ctx(logits: np.ndarray, **options) -> EvalContext:
    return make_ctx(
        torch.zeros(len(logits), 1, 2, 2),
        dataset=FakeData("image"),
        features=np.zeros((len(logits), 3)),
        logits=logits,
        options={"is": options} if options else None,
    )


def test_is_uniform_predictions_give_one():
    """Equal logits: every p(y|x) is the marginal, KL = 0, IS = 1 in every split."""
    out = InceptionScore().compute(is_ctx(np.full((200, 10), 3.0)))
    assert out["is"] == pytest.approx(1.0, abs=1e-12)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-12)


def test_is_confident_balanced_predictions_give_the_number_of_classes():
    """Confident predictions, equally many per class: IS = exp(H(marginal)) = K.

    With one split it is exactly K. With 10 splits the samples are first shuffled (torch-fidelity,
    seeded), so each split's class histogram is balanced only on average: exp(H) of a histogram of n
    draws falls short of K by about K (K - 1) / (2 n): 0.02 for the splits of n = 2000 here, well inside
    the tolerance of 0.1, which splits of n = 200 (short by about 0.2) would already fail.
    """
    k, per_class = 10, 2000
    labels = np.repeat(np.arange(k), per_class)
    logits = np.zeros((len(labels), k))
    logits[np.arange(len(labels)), labels] = 100.0
    one = InceptionScore().compute(is_ctx(logits, splits=1))
    assert one["is"] == pytest.approx(k, rel=1e-10)
    # the logits are sorted by class: unshuffled, every split would hold one class and score 1
    ten = InceptionScore().compute(is_ctx(logits))
    assert k - 0.1 < ten["is"] <= k + 1e-9
    perm = np.random.default_rng(0).permutation(len(labels))
    assert k - 0.1 < InceptionScore().compute(is_ctx(logits[perm]))["is"] <= k + 1e-9
    # half the classes: K / 2
    assert InceptionScore().compute(is_ctx(logits[labels < 5], splits=1))["is"] == pytest.approx(5, rel=1e-10)


@pytest.mark.parametrize(
    ("n", "classes", "splits", "seed", "scale", "dtype"),
    [
        (300, 10, 10, 7, 3.0, np.float64),
        (257, 7, 6, 0, 10.0, np.float32),
        (1000, 100, 10, 11, 30.0, np.float64),
    ],
)
def test_is_matches_torch_fidelity_with_the_run_seed(n, classes, splits, seed, scale, dtype):
    """Our IS is torch-fidelity's isc_features_to_metric on the same logits, shuffled with the run's
    seed: the seed decides the splits, so another seed gives another is_std. So is the hand-made
    computation that replaces it where it is NaN, to the last bit (the same ops; N not a multiple of
    the splits, float32 logits, confident ones)."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    from genbench.metrics.inception_score import inception_score

    logits = (np.random.default_rng(5).standard_normal((n, classes)) * scale).astype(dtype)
    ctx = is_ctx(logits, splits=splits)
    ctx.seed = seed
    ours = InceptionScore().compute(ctx)
    ref = isc_features_to_metric(t64(logits), splits=splits, shuffle=True, rng_seed=seed)
    assert math.isfinite(ref["inception_score_mean"])
    assert ours == {"is": ref["inception_score_mean"], "is_std": ref["inception_score_std"]}
    assert inception_score(t64(logits), splits, seed) == (ours["is"], ours["is_std"])
    other = isc_features_to_metric(t64(logits), splits=splits, shuffle=True, rng_seed=seed + 1)
    assert float(other["inception_score_std"]) != pytest.approx(ours["is_std"], rel=1e-6)  # can fail


def one_hot_logits(labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """Logits 1000 above the rest at each label: every other class's softmax is exactly 0 in float64
    (it underflows below exp(-745)), so p(y|x) is exactly one-hot."""
    logits = np.zeros((len(labels), classes))
    logits[np.arange(len(labels)), labels] = 1000.0
    return logits


def test_is_of_underflowing_probabilities_is_the_closed_form():
    """A class whose probability is 0 in every sample of a split adds 0 to the KL (0 log 0 = 0).
    torch-fidelity's p * (log p - log q) is 0 * inf = NaN there, and the score was NaN.

    With exactly one-hot p(y|x) a split's KL is the entropy H of its class histogram, so its IS is
    exp(H): the number of classes used where they are used equally, 1 where every prediction is the
    same class."""
    same = InceptionScore().compute(is_ctx(one_hot_logits(np.full(100, 3))))
    assert same == {"is": 1.0, "is_std": 0.0}
    # 4 of the 10 classes, equally often, one split: IS = 4
    four = InceptionScore().compute(is_ctx(one_hot_logits(np.arange(200) % 4), splits=1))
    assert four["is"] == pytest.approx(4.0, rel=1e-12)
    # balanced in every split of the seeded shuffle (torch-fidelity's): IS = 4 in each, spread 0
    order = np.random.RandomState(3).permutation(200)  # position j of the shuffle holds sample order[j]
    labels = np.empty(200, dtype=int)
    labels[order] = np.arange(200) % 4
    ctx = is_ctx(one_hot_logits(labels))
    ctx.seed = 3
    balanced = InceptionScore().compute(ctx)
    assert balanced["is"] == pytest.approx(4.0, rel=1e-12)
    assert balanced["is_std"] == pytest.approx(0.0, abs=1e-12)
    # all 10 classes, 10 samples each, in 10 splits of 10: every split misses some class; its IS is
    # exp(H) of the histogram the seeded shuffle puts in it
    labels = np.repeat(np.arange(10), 10)
    parts = labels[np.random.RandomState(0).permutation(100)].reshape(10, 10)
    scores = []
    for part in parts:
        q = np.bincount(part, minlength=10) / 10
        scores.append(math.exp(-sum(x * math.log(x) for x in q if x > 0)))
    out = InceptionScore().compute(is_ctx(one_hot_logits(labels)))
    assert min(scores) < 10  # a split misses a class: the case that was NaN
    assert out["is"] == pytest.approx(np.mean(scores), rel=1e-12)
    assert out["is_std"] == pytest.approx(np.std(scores), rel=1e-12)


def test_is_at_the_ends_of_float64():
    """Logits of +-1.7e308 (finite, so past the input checks) are more than float64's range apart:
    log_softmax is -inf where softmax is 0, and 0 * -inf was NaN. A probability of 5e-324 (the least
    subnormal) in one of two samples has a mean that rounds to 0: p * (log p - log 0) was inf. The
    true scores are 2 and 1 (to 1e-320)."""
    big = 1.7e308
    assert InceptionScore().compute(is_ctx(np.array([[big, -big], [-big, big]]), splits=1)) == {
        "is": 2.0,
        "is_std": 0.0,
    }
    tiny = InceptionScore().compute(is_ctx(np.array([[744.5, 0.0], [800.0, 0.0]]), splits=1))
    assert torch.tensor([744.5, 0.0], dtype=torch.float64).softmax(0)[1] == 5e-324  # the case it tests
    assert tiny == {"is": 1.0, "is_std": 0.0}


def test_is_fewer_samples_than_splits_names_samples():
    with pytest.raises(MetricInputError, match=r"--samples") as e:
        InceptionScore().compute(is_ctx(np.zeros((7, 10))))
    assert "10 splits" in str(e.value)
    assert "genbench eval: more samples" in str(e.value)  # eval's --samples is a file, not a count


# -- KID --------------------------------------------------------------------------------------------


def test_kid_matches_torch_fidelity_with_the_same_seed():
    """Our KID is torch-fidelity's kid_features_to_metric on the same features and seed."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = gaussian_sets(4, n=300)
    ours = KID().compute(make_ctx(a, b, options={"kid": {"subset_size": 100}}, seed=7))
    ref = kid_features_to_metric(
        t64(a), t64(b), kid_subsets=100, kid_subset_size=100, rng_seed=7, verbose=False
    )
    assert ours["kid"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-12)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-12)
    assert ours["kid"] > 0.1
    # same seed, same number; another seed draws other subsets
    again = KID().compute(make_ctx(a, b, options={"kid": {"subset_size": 100}}, seed=7))
    assert again == ours
    other = KID().compute(make_ctx(a, b, options={"kid": {"subset_size": 100}}, seed=8))
    assert other["kid"] != ours["kid"]


def test_kid_identical_sets_is_about_zero():
    """Identical sets: KID is 0 up to O(1/m), and slightly negative.

    With subsets as large as the sets every subset is the whole set, so KID is exactly the unbiased
    estimate 2 [(S - T) / (m (m - 1)) - S / m^2] = 2 (S / m - T) / (m (m - 1)), with S the sum and T the
    trace of the kernel matrix K. K is positive semi-definite, so S / m = 1'K1 / m <= T: the value lies
    in [-2 T / (m (m - 1)), 0], i.e. within twice the mean self-similarity over m - 1 of zero.
    """
    a, b = gaussian_sets(5, n=400)
    options = {"kid": {"subsets": 5}}  # every subset is the whole set: more would repeat the same value
    same = KID().compute(make_ctx(a, a.copy(), options=options))
    m = len(a)
    kern = (a @ a.T / a.shape[1] + 1.0) ** 3
    s, t = kern.sum(), np.trace(kern)
    assert same["kid"] == pytest.approx(2 * (s / m - t) / (m * (m - 1)), rel=1e-9)
    assert -2 * t / (m * (m - 1)) <= same["kid"] <= 0.0
    assert same["kid_std"] == pytest.approx(0.0, abs=1e-12)
    assert KID().compute(make_ctx(a, b, options=options))["kid"] > 1.0


def test_kid_that_overflows_on_huge_features_names_the_input(recwarn):
    """Points of 1e30 (finite, so past the input checks) made torch-fidelity's spread over subsets
    inf, with numpy's raw "overflow encountered in square"; the run recorded KID's non-finite value
    as the metric's own bug (exit 1). It is the input's: a user error naming the magnitude."""
    a, b = gaussian_sets(7, n=200, d=2)
    with pytest.raises(MetricInputError, match=r"kid: kid_std = inf: the cubic kernel overflows float64 on "):
        KID().compute(make_ctx(a * 1e30, b, options={"kid": {"subsets": 10}}))
    assert not [w for w in recwarn if "overflow" in str(w.message)]
    assert math.isfinite(KID().compute(make_ctx(a * 1e3, b, options={"kid": {"subsets": 10}}))["kid_std"])


def test_kid_default_subset_size_is_the_smaller_set():
    """Without subset_size, subsets hold min(1000, samples, reference examples): here the 120
    reference examples, fewer than the 300 samples (torch-fidelity on the same subset size)."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = gaussian_sets(6, n=300)
    ours = KID().compute(make_ctx(a, b[:120], options={"kid": {"subsets": 10}}, seed=3))
    ref = kid_features_to_metric(
        t64(a), t64(b[:120]), kid_subsets=10, kid_subset_size=120, rng_seed=3, verbose=False
    )
    assert ours["kid"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-12)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-12)


def test_kid_default_subset_size_is_torch_fidelity_s_1000_for_larger_sets():
    """With more than 1000 samples and reference examples, subsets hold 1000 of each: the value is
    torch-fidelity's with its own default ``kid_subset_size`` (1000), not one of a smaller subset."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((1100, 3)), 0.3 + rng.standard_normal((1050, 3))
    ours = KID().compute(make_ctx(a, b, options={"kid": {"subsets": 4}}, seed=2))
    ref = kid_features_to_metric(t64(a), t64(b), kid_subsets=4, rng_seed=2, verbose=False)
    assert ours["kid"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-12)
    assert ours["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-12)


# -- PRDC -------------------------------------------------------------------------------------------


def prdc_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Small random sets with rows duplicated within each set (duplicates count as neighbours)."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((60, 5))
    fake = 0.3 + 1.2 * rng.standard_normal((45, 5))
    real = np.concatenate([real, real[:8], real[:2], real[:1]])
    fake = np.concatenate([fake, fake[5:10], fake[5:7]])
    return rng.permutation(real), rng.permutation(fake)


def lattice_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points on a small integer grid: many exact ties and fakes equal to reals.

    Integer coordinates make every squared distance an exact integer in float64 (in both
    implementations), so the strict inequalities meet real ties and must break them alike.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, (70, 3)).astype(np.float64), rng.integers(0, 4, (50, 3)).astype(np.float64)


PRDC_CASES = [("gaussian", s) for s in range(5)] + [("lattice", s) for s in range(3)]


@pytest.mark.parametrize("case", PRDC_CASES, ids=lambda c: f"{c[0]}{c[1]}")
@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_reference_package(case, k):
    """prdc() equals prdc.compute_prdc on the same inputs, duplicated rows and exact ties included."""
    kind, seed = case
    real, fake = (prdc_inputs if kind == "gaussian" else lattice_inputs)(seed)
    ours = prdc(t64(real), t64(fake), k_pr=k, k_dc=k)
    ref = quiet_prdc(real, fake, k)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_prdc_metric_uses_k3_for_pr_and_k5_for_dc_as_reference():
    """The PRDC metric: precision/recall of compute_prdc(k=3), density/coverage of compute_prdc(k=5)."""
    real, fake = prdc_inputs(10)
    out = PRDC().compute(make_ctx(fake, real))
    pr, dc = quiet_prdc(real, fake, 3), quiet_prdc(real, fake, 5)
    assert out["precision"] == pytest.approx(pr["precision"], abs=1e-12)
    assert out["recall"] == pytest.approx(pr["recall"], abs=1e-12)
    assert out["density"] == pytest.approx(dc["density"], abs=1e-12)
    assert out["coverage"] == pytest.approx(dc["coverage"], abs=1e-12)
    assert out != PRDC().compute(make_ctx(fake, real, options={"prdc": {"k_dc": 3}}))  # the option is read


def test_prdc_identical_sets_and_swap():
    """Identical sets give P = R = C = 1; swapping real and fake swaps precision and recall.

    (Distinct rows: a row with k other copies has a k-NN radius of 0 and nothing is strictly inside it.)
    """
    real, fake = prdc_inputs(11)
    unique = np.unique(real, axis=0)
    same = prdc(t64(unique), t64(unique.copy()))
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    forward, backward = prdc(t64(real), t64(fake)), prdc(t64(fake), t64(real))
    assert forward["precision"] == backward["recall"]
    assert forward["recall"] == backward["precision"]
    assert forward["precision"] != forward["recall"]  # else the swap would prove nothing


@pytest.mark.parametrize("seed", range(3))
def test_prdc_counts_copies_on_the_radius_as_exact_distances_do(seed):
    """A copied example lies *on* the k-NN radius of each real it is a k-th neighbour of, and
    whether it counts must not hang on how two matrix products round: the copy control's density is
    exactly 1, and the collapse control's counts are those of direct distances (scipy's cdist).
    Continuous features made the fast expansion's rounding decide: density 1.001 for a copy, 0.344
    instead of 1/3 for a collapse (and the digits board's copy control, 1.0008)."""
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(400, 128)) * 0.7 + rng.uniform(0, 1, size=128)
    copy = real[rng.permutation(len(real))]
    assert prdc(t64(real), t64(copy), 5, 5) == {
        "precision": 1.0,
        "recall": 1.0,
        "density": 1.0,
        "coverage": 1.0,
    }
    k, collapse = 3, np.repeat(real[:1], 200, axis=0)
    direct = cdist(real, real)
    inside = int((direct[:, 0] < np.sort(direct, axis=1)[:, k]).sum())  # reals whose ball holds real 0
    out = prdc(t64(real), t64(collapse), k, k)
    assert out["precision"] == 1.0 and out["recall"] == 0.0
    assert out["density"] == pytest.approx(inside / k, abs=1e-12)
    assert out["coverage"] == pytest.approx(inside / len(real), abs=1e-12)
    # not compared with the reference package here: its distances are matrix products, so on these
    # ties its own rounding decides (numpy 1.24 and scikit-learn 1.3, the floors, gave density 0.72
    # against the exact 2/3 on an AVX-512 EPYC in seed 0); test_prdc_matches_reference_package
    # compares the two where no example lies on a radius


def test_prdc_recomputes_ties_in_chunks_with_the_same_result(monkeypatch):
    """A collapsed sample set ties whole rows of a block (every sample is the same example); their
    direct distances are recomputed a bounded chunk at a time, with the same counts."""
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 128)) * 0.7 + rng.uniform(0, 1, size=128)
    collapse = t64(np.repeat(real[:1], 200, axis=0))
    whole = prdc(t64(real), collapse, 3, 3)
    monkeypatch.setattr("genbench.metrics._knn.BLOCK_ELEMENTS", 3 * 128)  # 3 pairs per chunk
    assert prdc(t64(real), collapse, 3, 3) == whole


def test_knn_radius_of_a_duplicated_row_is_exactly_zero():
    """Duplicates are neighbours at distance exactly 0 (as in the prdc package), not at the fast
    expansion's rounding error, so nothing lies strictly inside their radius."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 128)) * 0.7 + rng.uniform(0, 1, size=128)
    x[[50, 51, 52]] = x[7]  # four copies of one row
    radii = kth_neighbour_distances(t64(x), [1, 3, 4])
    for i in (7, 50, 51, 52):
        assert radii[1][i] == radii[3][i] == 0.0
        assert radii[4][i] > 0


def test_prdc_blocked_and_cached_radii_equal_the_direct_computation():
    """Row blocks of 1 or 7 rows and reference radii computed beforehand change nothing."""
    rng = np.random.default_rng(12)
    real, fake = t64(rng.standard_normal((200, 8))), t64(0.2 + rng.standard_normal((150, 8)))
    direct = prdc(real, fake)
    assert prdc(real, fake, block=1) == direct
    assert prdc(real, fake, block=7) == direct
    radii = kth_neighbour_distances(real, {3, 5}, block=13)
    assert prdc(real, fake, real_radii=radii) == direct


def test_prdc_metric_cache_is_shared_across_models_without_changing_numbers():
    """A second model scored against the same reference Features gets its fresh-cache numbers."""
    rng = np.random.default_rng(13)
    real = rng.standard_normal((120, 4))
    model_a, model_b = rng.standard_normal((80, 4)), 0.5 + rng.standard_normal((90, 4))
    reference = Features(real)
    first = PRDC().compute(make_ctx(model_a, reference))
    assert reference.cache  # the radii were cached ...
    second = PRDC().compute(make_ctx(model_b, reference))
    assert second == PRDC().compute(make_ctx(model_b, Features(real)))  # ... and reused correctly
    assert first == prdc(t64(real), t64(model_a))


def test_prdc_kept_reference_radii_are_those_of_the_k_asked_for():
    """The reference radii kept on the reference Features for later models are kept per k: a model
    scored with other k against the same Features gets the values of a fresh computation with its
    own k (the prdc package's), not radii of the k an earlier model asked for."""
    real, fake = prdc_inputs(12)
    reference = Features(real)
    PRDC().compute(make_ctx(fake, reference))  # k_pr = 3, k_dc = 5: their radii are kept
    options = {"prdc": {"k_pr": 5, "k_dc": 7}}
    out = PRDC().compute(make_ctx(fake, reference, options=options))
    pr, dc = quiet_prdc(real, fake, 5), quiet_prdc(real, fake, 7)
    assert out == pytest.approx(
        {
            "precision": pr["precision"],
            "recall": pr["recall"],
            "density": dc["density"],
            "coverage": dc["coverage"],
        },
        abs=1e-12,
    )


def test_prdc_too_few_rows_for_k():
    """Samples need k_pr = 3 neighbours, reference examples max(k_pr, k_dc) = 5; the message says which."""
    real = np.random.default_rng(14).standard_normal((50, 3))
    with pytest.raises(MetricInputError, match=r"sample has 3 rows but needs at least 4 \(k=3 .*--samples"):
        PRDC().compute(make_ctx(real[:3], real))
    with pytest.raises(MetricInputError, match=r"reference has 5 rows but needs at least 6 \(k=5 "):
        PRDC().compute(make_ctx(real, real[:5]))
    PRDC().compute(make_ctx(real[:4], real[:6]))  # exactly enough


@pytest.mark.parametrize(
    ("metric", "options", "rows", "fix"),
    [
        (FID, {}, 1, r"use a dataset whose train split has more examples$"),
        (KID, {}, 1, r"use a dataset whose train split has more examples$"),
        (PRDC, {}, 5, r"lower --metric-option prdc\.k_dc, or use a dataset whose train split has more"),
        (PRDC, {"prdc": {"k_pr": 7}}, 6, r"lower --metric-option prdc\.k_pr, or use a dataset whose"),
        (PRDC, {"prdc": {"k_pr": 7, "k_dc": 7}}, 6, r"lower --metric-option prdc\.k_pr and prdc\.k_dc, or"),
        (KID, {"kid": {"subset_size": 30}}, 20, r"lower --metric-option kid\.subset_size or use a dataset"),
    ],
)
def test_too_small_a_reference_set_names_its_fix_not_more_samples(metric, options, rows, fix):
    """More samples leave a small reference split as small as it was: the error names the split, and
    the option where one sets the rows needed."""
    real = np.random.default_rng(15).standard_normal((50, 3))
    with pytest.raises(MetricInputError, match=fix) as e:
        metric().compute(make_ctx(real, real[:rows], options=options))
    assert "--samples" not in str(e.value)


def test_kid_names_both_sets_when_each_is_smaller_than_a_subset():
    """Samples and reference both below kid.subset_size: growing the smaller one alone (what the error
    named) left the other too small, and the next run failed on it."""
    rng = np.random.default_rng(16)
    fake, real = rng.standard_normal((20, 3)), rng.standard_normal((25, 3))
    with pytest.raises(MetricInputError, match=r"use more samples .* and use a dataset whose train split"):
        KID().compute(make_ctx(fake, real, options={"kid": {"subset_size": 30}}))
    with pytest.raises(MetricInputError, match=r"kid\.subset_size or use more samples") as e:
        KID().compute(make_ctx(fake, real, options={"kid": {"subset_size": 22}}))
    assert "dataset whose" not in str(e.value)  # the reference has the 22 rows a subset needs


# -- exact k-NN -------------------------------------------------------------------------------------


def exact_cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


@pytest.mark.parametrize("block", [1, 7, None])
def test_block_distances_equal_the_one_expression_bit_for_bit(block):
    """The block distances hold two block-sized arrays, not three; each block's values are those of
    the expression ``sqrt(max(0, |q|^2 + |r|^2 - 2 q.r))`` on the rows centred on the reference
    rows' mean, to the last bit (which rows PRDC and memorization recompute exactly depends on them)."""
    from genbench.metrics._knn import blocks

    rng = np.random.default_rng(41)
    query, ref = t64(3.0 + rng.standard_normal((53, 9))), t64(3.0 + rng.standard_normal((61, 9)))
    query[4] = ref[10]  # a copy, where rounding lands the squared distance near or below 0
    r = ref - ref.mean(0)
    ref_sq, rows = (r * r).sum(1), 0
    for start, d in blocks(query, ref, block):
        q = query[start : start + len(d)] - ref.mean(0)
        one = (q * q).sum(1, keepdim=True) + ref_sq[None, :] - 2.0 * (q @ r.T)
        assert torch.equal(d, one.clamp_min(0.0).sqrt())
        rows += len(d)
    assert rows == len(query)


def test_block_distances_centre_the_reference_rows_a_chunk_at_a_time(monkeypatch):
    """No centred copy of the whole reference set is made: its rows are centred a chunk at a time
    (here 5 of 61 rows), into the columns of the block they give; with an offset of 1e8, where the
    raw rows' expansion is off by more than the distances, they equal the direct distances."""
    from genbench.metrics._knn import blocks

    monkeypatch.setattr("genbench.metrics._knn.BLOCK_ELEMENTS", 8 * 5 * 9)  # chunks of 5 rows
    rng = np.random.default_rng(42)
    query, ref = t64(1e8 + rng.standard_normal((53, 9))), t64(1e8 + rng.standard_normal((61, 9)))
    chunked = torch.cat([d for _, d in blocks(query, ref, 7)])
    torch.testing.assert_close(chunked, exact_cdist(query, ref), rtol=0, atol=1e-6)


@pytest.mark.parametrize("rows", [4, 5, 7])
def test_squared_norms_in_chunks_equal_the_one_expression_bit_for_bit(rows, monkeypatch):
    """Row norms, where every block distance starts, are summed a chunk of rows at a time (the whole
    N x D product was prdc's and memorization's peak); each chunk gives the bits of ``(x * x).sum(1)``.
    A lone last row would not: two threads split a one-row sum of 40000 values, in another order."""
    from genbench.metrics._knn import squared_norms

    monkeypatch.setattr("genbench.metrics._knn.BLOCK_ELEMENTS", 8 * 2 * 40_000)  # chunks of 2 rows
    x = t64(3.0 + np.random.default_rng(rows).standard_normal((rows, 40_000)))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.equal(squared_norms(x), (x * x).sum(1))
    finally:
        torch.set_num_threads(threads)


def test_nearest_exact_zero_for_copies_and_agrees_with_brute_force():
    """Query rows equal to reference rows are at distance exactly 0; the rest matches torch.cdist."""
    rng = np.random.default_rng(15)
    ref = t64(10.0 + rng.standard_normal((300, 12)))  # an offset makes |q|^2 + |r|^2 - 2 q.r inexact
    copies = torch.tensor([5, 17, 250])
    query = torch.cat([ref[copies], t64(10.0 + rng.standard_normal((40, 12)))])
    dist, idx = nearest(query, ref, 4, block=16)
    assert (dist[:3, 0] == 0).all() and (idx[:3, 0] == copies).all()
    brute = exact_cdist(query, ref).sort(dim=1)
    torch.testing.assert_close(dist, brute.values[:, :4], rtol=1e-12, atol=0)
    assert (idx[3:] == brute.indices[3:, :4]).all()
    assert (dist[:, 1:] >= dist[:, :-1]).all()


def test_kth_neighbour_distances_agree_with_brute_force():
    """k-th nearest other row for several k at once, in blocks, equals sorting torch.cdist."""
    rng = np.random.default_rng(16)
    x = t64(rng.standard_normal((150, 6)))
    out = kth_neighbour_distances(x, [1, 3, 5, 10], block=11)
    brute = exact_cdist(x, x).sort(dim=1).values  # column 0: the row itself
    for k in (1, 3, 5, 10):
        torch.testing.assert_close(out[k], brute[:, k], rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="k=5 neighbours requested among 5 rows"):
        kth_neighbour_distances(x[:5], [5])


# -- memorization -----------------------------------------------------------------------------------


def test_memorization_copies_vs_held_out_on_digits(digits):
    """Training copies: rate 1, authpct 0, ct << 0, flagged. Held-out test data: rate ~0, ct ~0."""
    train, test = digits.load("train")[0], digits.load("test")[0]
    m = Memorization()
    copies = m.compute(make_ctx(train[::4], dataset=digits))  # 360 training images
    assert copies["memorization_rate"] >= 0.9
    assert copies["authpct"] == 0.0
    assert copies["ct"] < -5
    assert m.flags(copies) == ["memorized"]

    held_out = m.compute(make_ctx(test, dataset=digits))
    assert held_out["memorization_rate"] < 0.05
    assert held_out["memorization_rate_heldout"] < 0.05
    assert abs(held_out["ct"]) < 3
    assert held_out["authpct"] > 20  # fresh data sits at the train set's own spacing: ~half authentic
    assert m.flags(held_out) == []


def test_memorization_figure_shows_the_nearest_training_images_without_copying_the_split(
    digits, tmp_path, monkeypatch, clones
):
    """The figure read a second copy of the whole train split for the few images it shows (614 MB at
    CIFAR-10 size, on top of the metric's float64 copies). Copies of training images must sit beside
    themselves: the sample panel equals its nearest training example's panel."""
    import genbench.metrics.nearest_figure as nearest_figure

    train = digits.load("train")[0]
    ctx = make_ctx(train[::4], dataset=digits.handing_out_copies())
    ctx.artifacts_dir = tmp_path
    shown: list[torch.Tensor] = []
    to_image = nearest_figure._to_image
    monkeypatch.setattr(nearest_figure, "_to_image", lambda x: shown.append(x.clone()) or to_image(x))
    cloned = clones()
    Memorization().compute(ctx)
    assert Path(ctx.artifacts["nearest_neighbours"]).is_file()
    assert cloned.count(tuple(train.shape)) == 1  # the metric's own copy, not a second for the figure
    panels = [shown[i : i + 4] for i in range(0, len(shown), 4)]  # a sample and its 3 nearest
    assert len(panels) == FIGURE_ROWS
    for sample, closest, *_ in panels:
        assert torch.equal(sample, closest)


def test_memorization_shared_reference_cache_gives_fresh_cache_numbers(digits):
    """A second model scored against the same reference Features equals a fresh-cache computation."""
    train, test = digits.load("train")[0], digits.load("test")[0]
    m = Memorization()
    reference = Features(np.zeros((2, 1)))
    m.compute(make_ctx(train[:300], reference, dataset=digits))
    assert reference.cache
    shared = m.compute(make_ctx(test[:200], reference, dataset=digits))
    fresh = m.compute(make_ctx(test[:200], Features(np.zeros((2, 1))), dataset=digits))
    assert shared == fresh


class NoTestSplit(Dataset):
    """200 2D points and no test split."""

    kind = "points"

    def _load(self, split):
        if split == "test":
            raise DataError("no test split here; provide one")
        return torch.from_numpy(np.random.default_rng(0).standard_normal((200, 2)).astype(np.float32)), None


def test_memorization_without_test_split_omits_ct_with_a_warning_for_every_model(tmp_path):
    """No test split: ct and the held-out rate are omitted, and each model is told so, not only the
    first one (the reference-side cache remembers the missing split); the train split's
    leave-one-out rate stands in as the chance level."""
    data = NoTestSplit(data_dir=tmp_path, cache_dir=tmp_path)
    reference = Features(np.zeros((2, 2)))
    rng = np.random.default_rng(18)
    for _ in range(2):
        with pytest.warns(UserWarning, match=r"ct omitted, the dataset has no usable test split"):
            out = Memorization().compute(make_ctx(t64(rng.standard_normal((50, 2))), reference, dataset=data))
        assert set(out) == {"memorization_rate", "authpct", "memorization_rate_loo"}


class SmallWide(Dataset):
    """40 train and 40 test points in 100 dimensions: too few rows for C_T's PCA to 64 dimensions."""

    kind = "points"

    def _load(self, split):
        rng = np.random.default_rng(0 if split == "train" else 1)
        return torch.from_numpy(rng.standard_normal((40, 100)).astype(np.float32)), None


def test_memorization_with_a_train_split_too_small_for_ct_keeps_the_other_values(tmp_path):
    """C_T needs 64 training rows here; its failure omits ct with a warning (for every model), and the
    copy rate, AuthPct and the held-out rate are still reported, not lost with it."""
    data = SmallWide(data_dir=tmp_path, cache_dir=tmp_path)
    train = data.load("train")[0].double().numpy()
    samples = np.concatenate([train[:10], np.random.default_rng(3).standard_normal((30, 100))])
    reference = Features(np.zeros((2, 100)))
    for _ in range(2):
        with pytest.warns(UserWarning, match=r"ct omitted, C_T needs at least 64 training examples"):
            out = Memorization().compute(make_ctx(t64(samples), reference, dataset=data))
        assert set(out) == {"memorization_rate", "authpct", "memorization_rate_heldout"}
        assert out["memorization_rate"] == 0.25  # the 10 copies of 40 samples


class Blobs(Dataset):
    """Three far-apart 2D blobs (k-means' three cells are the blobs) with a duplicated training point."""

    kind = "points"
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])

    def _load(self, split):
        rng = np.random.default_rng(31 if split == "train" else 32)
        sizes = (150, 100, 60) if split == "train" else (60, 40, 25)
        x = np.concatenate(
            [c + rng.standard_normal((n, 2)) for c, n in zip(self.centers, sizes, strict=True)]
        )
        if split == "train":
            x = np.concatenate([x, x[:1]])  # a duplicate: it counts as one training example
        return torch.from_numpy(x.astype(np.float32)), None


def nn_ratio_rate(query: np.ndarray, train: np.ndarray) -> float:
    """The share of ``query`` with d1 / d2 < 1/3 (or d1 == 0) to the *distinct* rows of ``train``."""
    d = np.sort(cdist(query, np.unique(train, axis=0)), axis=1)
    return float(np.mean((d[:, 0] == 0) | (d[:, 0] < d[:, 1] / 3)))


def test_memorization_values_by_hand_on_three_blobs(tmp_path):
    """Every memorization value recomputed from its definition with scipy's cdist and numpy, the
    duplicated training point counted once: rate = share with d1 == 0 or d1 / d2 < 1/3; authpct =
    share whose nearest training example has another training example closer than the sample is; ct = the test-share-weighted mean over cells
    with more than 20 samples of the z-scored U of (sample, test) distances to the cell's training
    examples (cells: the three blobs, which k-means finds)."""
    data = Blobs(data_dir=tmp_path, cache_dir=tmp_path)
    train, test = (data.load(split)[0].double().numpy() for split in ("train", "test"))
    rng = np.random.default_rng(33)
    fresh = np.concatenate(
        [c + rng.standard_normal((n, 2)) for c, n in zip(Blobs.centers, (75, 30, 20), strict=True)]
    )
    # copies of 5 training points of blob 0 and of the duplicated one; blob 2 gets 20 samples, on
    # tau's boundary: a cell counts with *more* than 20 (dgm-eval's Qm(pi) > tau, tau = 20 / m)
    samples = np.concatenate([train[1:6], train[-1:], fresh])
    out = Memorization().compute(make_ctx(t64(samples), dataset=data))

    assert out["memorization_rate"] == pytest.approx(nn_ratio_rate(samples, train), abs=1e-12)
    assert out["memorization_rate_heldout"] == pytest.approx(nn_ratio_rate(test, train), abs=1e-12)
    distinct = np.unique(train, axis=0)
    d = cdist(samples, distinct)
    own = np.sort(cdist(distinct, distinct), axis=1)[:, 1]  # to the nearest *other* training example
    authentic = own[d.argmin(1)] < d.min(1)
    assert out["authpct"] == pytest.approx(100 * authentic.mean(), abs=1e-12)
    assert 0 < out["memorization_rate"] < 0.5 and 0 < out["authpct"] < 100  # neither bound: can fail

    def cell(x):
        return cdist(x, Blobs.centers).argmin(1)

    z, w = [], []
    for c in range(3):
        q, p, t = samples[cell(samples) == c], test[cell(test) == c], train[cell(train) == c]
        if len(q) <= 20:
            continue
        lq, lp = cdist(q, t).min(1), cdist(p, t).min(1)
        u = (lq[:, None] > lp[None, :]).sum() + 0.5 * (lq[:, None] == lp[None, :]).sum()
        m, n = len(lq), len(lp)
        z.append((u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12))
        w.append(len(p) / len(test))
    assert len(z) == 2  # blob 2's 20 samples are not above tau
    assert out["ct"] == pytest.approx(np.dot(w, z) / np.sum(w), rel=1e-9)


@pytest.mark.parametrize("in_middle_blob", [20, 21])
def test_ct_of_exact_copies_in_closed_form_and_tau_counts_more_than_20_samples(tmp_path, in_middle_blob):
    """A generator that returns training examples themselves: each copy is at distance exactly 0 from
    the train set and every test example farther, so U = 0 in every cell and its z is
    ``-(n m / 2 - 0.5) / sqrt(n m (n + m + 1) / 12)``; C_T is their mean weighted by the test share
    of each cell (Meehan et al. 2020, as dgm-eval). A cell counts only with *more* than 20 samples
    (dgm-eval: ``Qm(pi) > tau`` with ``tau = 20 / m``): 20 copies in the middle blob leave it out,
    21 bring it in."""
    from genbench.metrics.memorization import ct_score

    data = Blobs(data_dir=tmp_path, cache_dir=tmp_path)
    train, test = (data.load(split)[0].double().numpy() for split in ("train", "test"))
    # distinct training examples of blob 0 (rows 1..), blob 1 (rows 150..) and blob 2 (rows 250..)
    copies = {0: train[1:22], 1: train[150 : 150 + in_middle_blob], 2: train[250:280]}
    gen = np.concatenate(list(copies.values()))
    test_cell = cdist(test, Blobs.centers).argmin(1)
    z, w = [], []
    for c, q in copies.items():
        if len(q) <= 20:
            continue
        n, m = int((test_cell == c).sum()), len(q)
        z.append(-(n * m / 2 - 0.5) / np.sqrt(n * m * (n + m + 1) / 12))
        w.append(n / len(test))
    assert len(z) == (2 if in_middle_blob == 20 else 3)
    assert ct_score(train, test, gen) == pytest.approx(np.dot(w, z) / np.sum(w), rel=1e-12)


def test_ct_distances_are_to_the_training_examples_of_the_cell(tmp_path):
    """C_T compares, in each k-means cell, the samples' and the test examples' distances to the
    nearest training example *of that cell* (Meehan et al. 2020, as dgm-eval), not of the whole set.
    A training example of blob 0 sits at (4, 0), in blob 0's cell but nearer than any of blob 1's
    training examples (all at x >= 9.5) to the test examples at x = 6 and the samples at x = 7,
    which lie in blob 1's cell: within the cell the test examples are the farther (3.5 against 2.5),
    against the whole set the nearer (2 against 3). Recomputed by hand with the cells of the blob
    centres, which k-means' cells are here."""
    from genbench.metrics.memorization import ct_score

    rng = np.random.default_rng(34)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])

    def square(n, centre):  # uniform in the unit square about a centre: blob 1's rows at x >= 9.5
        return centre + rng.uniform(-0.5, 0.5, (n, 2))

    def edge(n, x):  # n points at x, spread along y
        return np.column_stack([np.full(n, x), rng.uniform(-0.5, 0.5, n)])

    train = np.concatenate([*(square(100, c) for c in centres), [[4.0, 0.0]]])
    test = np.concatenate([*(square(40, c) for c in centres), edge(15, 6.0)])
    gen = np.concatenate([*(square(30, c) for c in centres), edge(15, 7.0)])

    def cell(x):
        return cdist(x, centres).argmin(1)

    assert (cell(train[-1:]) == 0).all() and (cell(test[-15:]) == 1).all() and (cell(gen[-15:]) == 1).all()
    z, w = [], []
    for c in range(3):
        q, p, t = gen[cell(gen) == c], test[cell(test) == c], train[cell(train) == c]
        lq, lp = cdist(q, t).min(1), cdist(p, t).min(1)
        u = (lq[:, None] > lp[None, :]).sum() + 0.5 * (lq[:, None] == lp[None, :]).sum()
        m, n = len(lq), len(lp)
        z.append((u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12))
        w.append(len(p) / len(test))
    expected = np.dot(w, z) / np.sum(w)
    # against the whole training set the edge rows' distances swap order: another C_T
    whole = cdist(test[-15:], train).min(1).max() < cdist(gen[-15:], train).min(1).min()
    inside = cdist(test[-15:], train[:-1]).min(1).min() > cdist(gen[-15:], train[100:200]).min(1).max()
    assert whole and inside
    assert ct_score(train, test, gen) == pytest.approx(expected, rel=1e-12)


def test_memorization_flag_needs_the_rate_above_0_1_and_twice_the_held_out_rate():
    """Flag ``memorized``: rate > 0.1 and, when the test split gives one, rate > 2 x the held-out rate,
    so a 2D model at chance level (~1/9 of fresh points pass d1/d2 < 1/3) is not flagged."""
    m = Memorization()
    assert m.flags({"memorization_rate": 0.15, "memorization_rate_heldout": 0.1}) == []
    assert m.flags({"memorization_rate": 0.25, "memorization_rate_heldout": 0.1}) == ["memorized"]
    assert m.flags({"memorization_rate": 0.15}) == ["memorized"]  # no chance level at all: the 0.1 bar alone
    # no test split: the train split's leave-one-out rate is the chance level instead
    assert m.flags({"memorization_rate": 0.15, "memorization_rate_loo": 0.1}) == []
    assert m.flags({"memorization_rate": 0.25, "memorization_rate_loo": 0.1}) == ["memorized"]
    assert m.flags({"memorization_rate": 0.08, "memorization_rate_heldout": 0.0}) == []
    # *above* 0.1: 50 copies of 500 samples, exactly 0.1, are not flagged
    assert m.flags({"memorization_rate": 50 / 500, "memorization_rate_heldout": 0.0}) == []


class Lattice(Dataset):
    """Train split: the integer points 0..9 on a line (each one apart from the next); no test split."""

    kind = "points"

    def _load(self, split):
        if split == "test":
            raise DataError("no test split here; provide one")
        return torch.tensor([[float(i), 0.0] for i in range(10)]), None


def test_authpct_counts_a_sample_as_far_as_its_neighbour_s_own_neighbour_as_not_authentic(tmp_path):
    """Alaa et al. 2022, as dgm-eval (and fls) compute it: authentic when the nearest training
    example's own nearest training example is *closer* than the sample (``<``). On quantised data
    (integer pixels) the two distances tie exactly: a sample one step past the end of the lattice is
    exactly as far from its nearest training point as that point is from the next, and is not
    authentic; samples 3 away are. By hand: 2 of 4, 50."""
    data = Lattice(data_dir=tmp_path, cache_dir=tmp_path)
    samples = torch.tensor([[10.0, 0.0], [-1.0, 0.0], [4.0, 3.0], [12.0, 0.0]], dtype=torch.float64)
    with pytest.warns(UserWarning, match="ct omitted"):
        out = Memorization().compute(make_ctx(samples, Features(np.zeros((2, 2))), dataset=data))
    assert out["authpct"] == 50.0


class UniformNoTest(Dataset):
    """600 points uniform in the unit square, one of them repeated and another 1e-3 from it (whose
    second-nearest other example is the repeated one's next, not its repeat); no test split."""

    kind = "points"

    def _load(self, split):
        if split == "test":
            raise DataError("no test split here; provide one")
        x = np.random.default_rng(41).random((600, 2))
        return torch.from_numpy(np.concatenate([x, x[:1], x[:1] + 1e-3]).astype(np.float32)), None


def test_without_a_test_split_fresh_2d_points_are_not_flagged_memorized(tmp_path):
    """Fresh draws of 2D data pass d1/d2 < 1/3 about 1/9 of the time, above the 0.1 bar: without a
    test split the flag once compared the rate with 0.1 alone and flagged the ideal model (the fresh
    ring8 sampler of a plugin mixture with no test split: memorized on 4 seeds of 4). The chance level
    is then the train split's own, each distinct example against the others (leave one out),
    checked by hand with cdist (the repeated example counted once: its near neighbour is a copy of
    it, d1/d2 ~ 1/20, not d1 = d2 to it and its repeat); 30% exact copies are still flagged."""
    data = UniformNoTest(data_dir=tmp_path, cache_dir=tmp_path)
    distinct = np.unique(data.load("train")[0].double().numpy(), axis=0)
    d = np.sort(cdist(distinct, distinct), axis=1)  # column 0: each example itself
    loo = float(np.mean(d[:, 1] < d[:, 2] / 3))
    fresh = np.random.default_rng(42).random((600, 2))
    m = Memorization()
    with pytest.warns(UserWarning, match="ct omitted"):
        out = m.compute(make_ctx(t64(fresh), dataset=data))
    assert out["memorization_rate_loo"] == pytest.approx(loo, abs=1e-12)
    assert 0.05 < loo < 0.2  # about 1/9: the rate of fresh 2D points, as the samples'
    assert out["memorization_rate"] > 0.1  # the bar alone flagged these fresh draws (old code)
    assert m.flags(out) == []
    copies = np.concatenate([distinct[:180], fresh[:420]])
    with pytest.warns(UserWarning, match="ct omitted"):
        assert m.flags(m.compute(make_ctx(t64(copies), dataset=data))) == ["memorized"]


def test_memorization_ratio_is_strictly_below_one_third():
    """Gu et al. 2023: d1 / d2 < 1/3. A sample at 1 from one training point and 3 from the next sits
    on the boundary (exact distances) and is not a copy; a hair closer is."""
    train = torch.tensor([[1.0, 0.0], [3.0, 0.0], [50.0, 0.0]], dtype=torch.float64)
    d1, d2 = torch.tensor([1.0, 0.999, 0.0]), torch.tensor([3.0, 3.0, 0.0])
    assert copied(d1, d2).tolist() == [False, True, True]  # d1 = d2 = 0: a duplicated example's copy
    dist, _ = nearest(torch.zeros(1, 2, dtype=torch.float64), train, 2)  # the metric's exact distances
    assert dist.tolist() == [[1.0, 3.0]] and copied(dist[:, 0], dist[:, 1]).tolist() == [False]


def test_mann_whitney_z_null_and_shifted():
    """z of two samples of one distribution is ~N(0, 1); a sample shifted lower gives z << 0.

    Also the statistic itself: U counted pair by pair, z-scored with dgm-eval's mean and variance.
    """
    rng = np.random.default_rng(17)
    zs = np.array([mann_whitney_z(rng.standard_normal(60), rng.standard_normal(80)) for _ in range(300)])
    assert abs(zs.mean()) < 0.25  # standard error 0.06
    assert 0.8 < zs.std() < 1.2
    a, b = rng.standard_normal(2000), rng.standard_normal(3000)
    assert abs(mann_whitney_z(a, b)) < 4
    assert mann_whitney_z(a - 0.5, b) < -10
    assert mann_whitney_z(a + 0.5, b) > 10
    x, y = rng.standard_normal(30), rng.standard_normal(40)
    u = (x[:, None] > y[None, :]).sum()
    expected = (u - (30 * 40 / 2 - 0.5)) / np.sqrt(30 * 40 * 71 / 12)
    assert mann_whitney_z(x, y) == pytest.approx(expected, rel=1e-12)


# -- modes ------------------------------------------------------------------------------------------


def test_mode_kl_by_hand():
    """KL(p || q) with q the data histogram smoothed by half a count per mode."""
    q = np.array([5.5, 4.5, 1.5]) / 11.5
    expected = 0.75 * np.log(0.75 / q[0]) + 0.25 * np.log(0.25 / q[1])
    assert mode_kl(np.array([3.0, 1.0, 0.0]), np.array([5.0, 4.0, 1.0])) == pytest.approx(expected, rel=1e-12)
    assert mode_kl(np.array([2.0, 2.0]), np.array([7.0, 7.0])) == pytest.approx(0.0, abs=1e-15)
    # a mode the reference set lacks stays finite
    assert np.isfinite(mode_kl(np.array([1.0, 1.0]), np.array([4.0, 0.0])))


def test_expected_modes_closed_form():
    """sum_k 1 - (1 - q p_k)^n: K (1 - (1 - q/K)^n) for K equal modes; 1.625 for p = (1/2, 1/4, 1/4), n = 2."""
    assert expected_modes(np.full(8, 3.0), 10) == pytest.approx(8 * (1 - (7 / 8) ** 10), rel=1e-12)
    assert expected_modes(np.full(8, 3.0), 10, hit=0.9) == pytest.approx(
        8 * (1 - (1 - 0.9 / 8) ** 10), rel=1e-12
    )
    assert expected_modes(np.array([2.0, 1.0, 1.0]), 2) == pytest.approx(1.625, rel=1e-12)
    assert expected_modes(np.full(1000, 1.0), 500) < 500


class LabelledPoints(Dataset):
    """1D points labelled by their rounded value, with no ``num_modes`` declared (a plugin's right):
    the train split holds modes 0, 1 and 2 five, three and two times."""

    kind = "points"

    def _load(self, split):
        labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 2)
        return labels[:, None].float(), labels

    def label_modes(self, x: torch.Tensor) -> np.ndarray:
        return x[:, 0].round().long().numpy()


def test_modes_without_a_declared_number_of_modes_count_them_from_the_labels(tmp_path):
    """K is then 1 + the largest label of either set: 3 here, where the samples use modes 0 and 1
    only. By hand from the definitions: q = (c + 1/2) / (N + K/2) = (5.5, 3.5, 2.5) / 11.5 and
    p = (1/2, 1/2, 0) give the KL; ``modes_expected`` = sum 1 - (1 - p_k)^4 with p = (.5, .3, .2)."""
    data = LabelledPoints(data_dir=tmp_path, cache_dir=tmp_path)
    assert data.num_modes is None
    out = Modes().compute(make_ctx(torch.tensor([[0.0], [0.0], [1.0], [1.0]]), dataset=data))
    q = np.array([5.5, 3.5, 2.5]) / 11.5
    assert out["mode_kl"] == pytest.approx(0.5 * np.log(0.5 / q[0]) + 0.5 * np.log(0.5 / q[1]), rel=1e-12)
    assert out["modes_covered"] == 2
    assert out["modes_expected"] == pytest.approx(sum(1 - (1 - p) ** 4 for p in (0.5, 0.3, 0.2)), rel=1e-12)


def test_modes_flag_collapsed_below_half_of_the_expected_modes():
    """``collapsed``: modes_covered *below* half of modes_expected; exactly half is not collapsed."""
    m = Modes()
    assert m.flags({"modes_covered": 4.0, "modes_expected": 8.0}) == []
    assert m.flags({"modes_covered": 3.0, "modes_expected": 8.0}) == ["collapsed"]
    assert m.flags({"mode_kl": 0.1}) == []


def test_modes_on_ring8(ring8):
    """Data covers all 8 modes with ~99% high quality; one repeated point covers 1 and is collapsed."""
    m = Modes()
    data = m.compute(make_ctx(ring8.load("test")[0][:500], dataset=ring8))
    assert data["modes_covered"] == 8
    assert data["high_quality"] > 0.95  # the Gaussian mass within 3 std in 2D is 0.989
    assert data["modes_expected"] == pytest.approx(8, abs=1e-6)
    assert data["mode_kl"] < 0.05
    assert m.flags(data) == []

    one = m.compute(make_ctx(ring8.load("train")[0][:1].repeat(500, 1), dataset=ring8))
    assert one["modes_covered"] == 1 and one["high_quality"] == 1.0
    assert one["mode_kl"] > 1.5  # log 8 = 2.08 for an even data histogram
    assert m.flags(one) == ["collapsed"]


def test_reference_modes_read_the_labels_without_copying_the_examples(ring8, clones):
    """A metric's dataset hands out copies; the reference mode labels were read through its ``load``,
    which copied the whole split's examples as well (614 MB for CIFAR-10's train split, per model)."""
    train_x, train_labels = ring8.load("train")
    view = ring8.handing_out_copies()
    cloned = clones()
    labels = make_ctx(train_x[:10], dataset=view).reference_modes()
    np.testing.assert_array_equal(labels, train_labels.numpy())
    assert tuple(train_x.shape) not in cloned and cloned == [tuple(train_labels.shape)]
    view.load_labels("train")[:] = 7  # still a copy: the dataset's own labels are untouched
    np.testing.assert_array_equal(ring8.load("train")[1].numpy(), labels)
    assert ring8.load_labels("train") is train_labels  # the dataset itself hands out its own, as load does


def test_train_data_is_one_copy_on_a_metric_s_dataset_too(ring8, clones):
    """``ctx.train_data()`` copies the train split once: on a metric's dataset (which hands out
    copies already) it must not copy the copy, and on a dataset that does not it must copy."""
    train_x = ring8.load("train")[0]
    cloned = clones()
    for dataset in (ring8, ring8.handing_out_copies()):
        cloned.clear()
        x = make_ctx(train_x[:10], dataset=dataset).train_data()
        assert cloned.count(tuple(train_x.shape)) == 1 and torch.equal(x, train_x) and x is not train_x
    assert ring8.handing_out_copies().hands_out_copies and not ring8.hands_out_copies


def test_load_examples_copies_the_rows_asked_for(ring8):
    """``load_examples`` hands out copies of those rows alone, for one row number too (a 0-d index
    gave a view into the split every later metric and model reads)."""
    train_x = ring8.load("train")[0]
    kept = train_x[:6].clone()
    view = ring8.handing_out_copies()
    for dataset in (ring8, view):
        for index in (3, np.int64(4), [5, 0, 5], np.array([1, 2])):
            rows = dataset.load_examples("train", index)
            want = np.atleast_1d(np.asarray(index))
            assert torch.equal(rows, train_x[torch.as_tensor(want)]) and rows.shape == (len(want), 2)
            rows.add_(100.0)
    assert torch.equal(ring8.load("train")[0][:6], kept)
    with pytest.raises(TypeError, match="integer row numbers"):
        ring8.load_examples("train", [1.7])


def test_a_plugin_dataset_with_labels_and_examples_attributes_of_its_own_keeps_its_modes(tmp_path):
    """Ring8 with class names in ``labels`` and a count in ``examples`` (names a plugin may use):
    the modes metric read the reference labels through a method of that name and failed."""

    class Named(Ring8):
        labels = ("n", "ne", "e", "se", "s", "sw", "w", "nw")
        examples = 8

    named = Named(cache_dir=tmp_path)
    values = Modes().compute(make_ctx(named.load("test")[0][:500], dataset=named.handing_out_copies()))
    assert values["modes_covered"] == 8


def test_modes_on_a_mixture_in_blocks_of_samples_equal_one_block(ring8, monkeypatch):
    """The sample-to-mean distances are computed in blocks of samples (a plugin mixture of many modes
    and dimensions held n x modes x dims offsets at once): any block size gives the same values,
    including blocks of one sample and a last block shorter than the others."""
    import genbench.metrics.modes as modes

    gen = torch.Generator().manual_seed(0)
    pts = ring8.load("train")[0][:301] + 0.05 * torch.randn(301, 2, generator=gen, dtype=torch.float64)
    whole = Modes().compute(make_ctx(pts, dataset=ring8))
    for elements in (1, 16 * 7, 16 * 300):  # 1, 7 and 300 samples per block (8 modes x 2 dims)
        monkeypatch.setattr(modes, "BLOCK_ELEMENTS", elements)
        assert Modes().compute(make_ctx(pts, dataset=ring8)) == whole


def test_modes_on_ring8_count_only_high_quality_samples_and_expect_the_chi2_mass(ring8):
    """modes_covered counts modes with a sample within 3 std (PacGAN), not every nearest mode; and
    modes_expected uses the 2D Gaussian mass within 3 std, 1 - exp(-9/2) (chi-square, 2 dof), as the
    share of an ideal sampler's draws that count."""
    means, std = ring8.means, ring8.std
    # 20 samples on mode 0, 2 std from its mean; 10 at 4 std from mode 1; 20 at the centre of the ring
    # (100 std from every mode) and 10 midway between modes 2 and 3 (38 std from both)
    between = (means[2] + means[3]) / 2
    pts = np.concatenate(
        [
            np.repeat(means[:1] + [0.0, 2 * std], 20, 0),
            np.repeat(means[1:2] * (1 + 4 * std), 10, 0),
            np.zeros((20, 2)),
            np.repeat(between[None], 10, 0),
        ]
    )
    out = Modes().compute(make_ctx(t64(pts), dataset=ring8))
    assert out["modes_covered"] == 1
    assert out["high_quality"] == pytest.approx(20 / 60, abs=1e-12)
    p = np.bincount(ring8.load("train")[1].numpy(), minlength=8) / len(ring8.load("train")[1])
    hit = 1 - np.exp(-4.5)
    assert out["modes_expected"] == pytest.approx(np.sum(1 - (1 - hit * p) ** 60), rel=1e-12)
    # with few draws the count is well below 8, where the mass within 3 std matters
    few = Modes().compute(make_ctx(t64(np.repeat(means[:1], 5, 0)), dataset=ring8))
    assert few["modes_expected"] == pytest.approx(np.sum(1 - (1 - hit * p) ** 5), rel=1e-12)
    assert few["modes_expected"] < 5


def test_modes_on_digits(digits):
    """The test split covers all 10 classes (classifier labels); one repeated image covers 1."""
    m = Modes()
    ctx = make_ctx(digits.load("test")[0], dataset=digits)
    assert m.applies_to(ctx)
    data = m.compute(ctx)
    assert data["modes_covered"] == 10 and data["mode_kl"] < 0.05
    assert "high_quality" not in data
    assert m.flags(data) == []
    one = m.compute(make_ctx(digits.load("train")[0][:1].repeat(300, 1, 1, 1), dataset=digits))
    assert one["modes_covered"] == 1 and one["mode_kl"] > 1.5  # log 10 = 2.3
    assert m.flags(one) == ["collapsed"]


# -- throughput -------------------------------------------------------------------------------------


def _sample_with_scratch(mib: int):
    """A sampler that, per call, holds ``mib`` MiB per sample of scratch while it computes the batch."""

    def sample(b: int, g: torch.Generator) -> torch.Tensor:
        scratch = torch.ones(b, mib << 18)  # 2**18 float32 = 1 MiB per sample
        return torch.zeros(b, 2) + scratch[:, :2]

    return sample


def test_cpu_peak_memory_is_the_batch_working_memory_on_every_call():
    """The resident set, polled, read near 0 MiB once an earlier batch's memory was reused (every
    model after the first in a run, so the published Cost tables said 0.004 MiB); the peak of the
    CPU allocator's running sum is exact: the scratch plus the batch's two small outputs."""
    from genbench.metrics.throughput import measure_sampling

    expected = (4 * 2 * 2**20 + 2 * 4 * 2 * 4) / 2**20  # 2 MiB per sample x 4, and two 4 x 2 floats
    for _ in range(3):  # the same figure every time in one process
        x, t = measure_sampling(_sample_with_scratch(2), 10, 4, torch.Generator().manual_seed(0), "cpu")
        assert x.shape == (10, 2)
        assert t["peak_memory_mb"] == pytest.approx(expected, rel=1e-9)
    # it scales with the batch size, not the number of samples
    _, t = measure_sampling(_sample_with_scratch(2), 10, 2, torch.Generator().manual_seed(0), "cpu")
    assert t["peak_memory_mb"] == pytest.approx((2 * 2 * 2**20 + 2 * 2 * 2 * 4) / 2**20, rel=1e-9)


def test_a_batch_is_released_before_the_next_is_sampled():
    """The previous batch's output stayed alive while the next was sampled, so on CUDA the peak
    (max_memory_allocated) counted it too and grew with --samples beyond the one batch it describes."""
    import weakref

    from genbench.metrics.throughput import measure_sampling

    outputs, alive = [], []

    def sample(n, generator):
        alive.append([ref() is not None for ref in outputs])
        x = torch.randn(n, 2, generator=generator)
        outputs.append(weakref.ref(x))
        return x

    measure_sampling(sample, 12, 4, torch.Generator().manual_seed(0), "cpu", warmup=False)
    assert alive == [[], [False], [False, False]]


def test_samples_per_s_times_the_model_not_the_harnesss_check_of_its_output(monkeypatch):
    """The harness's range check of every batch (on CUDA, three waits for the GPU) was inside the
    timed region, so the one-call models' samples/s timed the harness. A fake clock that each model
    call moves by 1 s and each check by 100 s: only the model's seconds are timed."""
    import types

    from genbench.metrics import throughput

    now = [0.0]
    monkeypatch.setattr(throughput, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    def sample(b, g):
        now[0] += 1.0
        return torch.zeros(b, 2)

    def check(x, b):
        now[0] += 100.0
        return x + 1

    x, t = throughput.measure_sampling(sample, 10, 4, torch.Generator(), "cpu", check=check)
    assert t["sample_s"] == 3.0 and t["samples_per_s"] == 10 / 3.0  # three timed batches, one second each
    assert torch.equal(x, torch.ones(10, 2))  # what the check returned is kept


def test_sampling_holds_the_samples_once():
    """The batches were kept in a list and joined at the end, every sample twice at once (614 MB more
    at 50000 CIFAR-10-sized samples). tracemalloc traces numpy's allocations, not torch's: these
    batches are numpy's, the kept samples torch's, so a batch kept after it was copied shows."""
    import tracemalloc

    from genbench.metrics.throughput import measure_sampling

    rng = np.random.default_rng(0)
    draws = [torch.from_numpy(rng.standard_normal((50, 3, 8, 8), dtype=np.float32)) for _ in range(40)]
    batches = iter([d.clone() for d in draws])  # torch's memory: the draws alone are traced
    one_copy = sum(d.numel() for d in draws) * 4

    def sample(b, g):
        return torch.from_numpy(next(batches).numpy().copy())  # numpy's memory, traced

    tracemalloc.start()
    try:
        x, _ = measure_sampling(sample, 2000, 50, torch.Generator(), "cpu", warmup=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert torch.equal(x, torch.cat(draws))
    assert peak < 0.2 * one_copy, peak / one_copy


def test_sampling_returns_the_samples_on_the_cpu_whatever_the_default_device():
    """The samples were allocated on torch's default device, which a model may set while sampling."""
    from genbench.metrics.throughput import measure_sampling

    def sample(b, g):
        torch.set_default_device("meta")
        return torch.zeros(b, 2, device="cpu")

    try:
        x, _ = measure_sampling(sample, 10, 4, torch.Generator(), "cpu", warmup=False)
    finally:
        torch.set_default_device(None)
    assert x.device.type == "cpu" and torch.equal(x, torch.zeros(10, 2))


def test_cuda_peak_memory_counts_the_batch_not_what_was_on_the_gpu_before(monkeypatch):
    """``max_memory_allocated`` counted the weights, the feature extractor and earlier models' cached
    data, so the figure depended on the order of the models and differed in kind from the CPU's.
    (No GPU here: the CUDA allocator's counters are stood in for.)"""
    from genbench.metrics import throughput

    allocated = {"now": 300 * 2**20}  # on the GPU before sampling: weights, extractor, caches

    def sample(b, g):
        allocated["peak"] = allocated["now"] + 7 * 2**20  # the batch's working memory
        return torch.zeros(b, 2)

    monkeypatch.setattr(throughput, "_sync", lambda device: None)
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda device=None: allocated.pop("peak", None)
    )
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: allocated["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: allocated["peak"])
    _, t = throughput.measure_sampling(sample, 8, 4, torch.Generator(), torch.device("cuda"))
    assert t["peak_memory_mb"] == 7.0


def test_on_cuda_every_clock_read_waits_for_the_gpu_and_the_warm_up_is_not_timed(monkeypatch):
    """CUDA runs kernels asynchronously: a clock read without ``torch.cuda.synchronize`` first timed
    the launches, not the work. Each timed batch's two clock reads follow a sync, and the warm-up
    batch (CUDA context, allocator growth) runs, and is waited for, before the first. (No GPU here:
    the sync and the allocator's counters are stood in for.)"""
    import types

    from genbench.metrics import throughput

    events: list[str] = []
    monkeypatch.setattr(throughput, "_sync", lambda device: events.append(f"sync {device}"))
    clock = types.SimpleNamespace(perf_counter=lambda: events.append("clock") or float(len(events)))
    monkeypatch.setattr(throughput, "time", clock)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: events.append("reset"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 0)

    def sample(b, g):
        events.append(f"sample {b}")
        return torch.zeros(b, 2)

    _, t = throughput.measure_sampling(sample, 10, 4, torch.Generator(), torch.device("cuda:0"))
    sync = "sync cuda:0"
    timed = [sync, "clock", "sample {}", sync, "clock"]
    expected = ["sample 4", sync, "reset"] + [e.format(b) for b in (4, 4, 2) for e in timed]
    assert events == expected
    assert set(t) == {"sample_s", "samples_per_s", "peak_memory_mb"}


def test_without_a_warm_up_batch_only_the_wall_time_is_recorded_not_guessed():
    """samples/s and the CPU's peak memory are measured after (and during) the warm-up batch: without
    one (a run that does not report throughput) they are left out, and the wall time kept."""
    from genbench.metrics.throughput import measure_sampling

    _, t = measure_sampling(_sample_with_scratch(1), 4, 2, torch.Generator(), "cpu", warmup=False)
    assert set(t) == {"sample_s"} and t["sample_s"] > 0


def test_the_profiler_measuring_memory_prints_nothing(capfd):
    """Kineto printed "profiler_start" and, on a CUDA build without a GPU, "gpuGetDeviceCount failed"
    to file descriptor 2, in the middle of the run's progress output."""
    from genbench.metrics.throughput import cpu_peak_bytes

    assert cpu_peak_bytes(lambda: torch.ones(1 << 18)) == 2**20
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_a_profiler_that_fails_costs_the_figure_not_the_batch(monkeypatch):
    """A user already profiling the run (the profiler cannot start twice), or a torch whose event API
    differs: no figure, the batch still runs once, and the user's profiler goes on."""
    import torch.autograd
    import torch.profiler

    from genbench.metrics.throughput import cpu_peak_bytes

    calls = []
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as outer:
        assert cpu_peak_bytes(lambda: calls.append(torch.ones(3).sum())) is None
    assert len(calls) == 1 and any(e.name == "aten::ones" for e in outer.events())

    real = torch.autograd._disable_profiler
    monkeypatch.setattr(torch.autograd, "_disable_profiler", lambda: (real(), object())[1])
    assert cpu_peak_bytes(lambda: calls.append(1)) is None
    assert len(calls) == 2
    assert cpu_peak_bytes(lambda: torch.ones(1 << 10)) is None  # and the profiler was stopped


# -- bad input: one MetricInputError naming the fix ---------------------------------------------------


FEATURE_METRICS = [FID, KID, PRDC]


@pytest.mark.parametrize("metric", FEATURE_METRICS, ids=lambda c: c.__name__)
def test_nan_features(metric):
    a, b = gaussian_sets(20, n=50, d=4)
    a[7, 2] = np.nan
    with pytest.raises(
        MetricInputError, match=r"1 of 50 sample feature rows hold NaN.*check the model's samples"
    ):
        metric().compute(make_ctx(a, b))
    with pytest.raises(MetricInputError, match=r"reference feature rows hold NaN"):
        metric().compute(make_ctx(b, a))


def test_nan_logits():
    logits = np.zeros((20, 10))
    logits[3, 0] = np.nan
    with pytest.raises(MetricInputError, match=r"NaN.*check the model's samples"):
        InceptionScore().compute(is_ctx(logits))


@pytest.mark.parametrize("metric", FEATURE_METRICS, ids=lambda c: c.__name__)
def test_mismatched_feature_dimensions(metric):
    a, b = gaussian_sets(21, n=50, d=4)
    with pytest.raises(MetricInputError, match=r"different dimensions \(4 vs 3\).*--features"):
        metric().compute(make_ctx(a, b[:, :3]))


def test_mismatched_dimensions_memorization_features_space(digits):
    ctx = make_ctx(torch.zeros(20, 1, 8, 8), np.zeros((30, 5)), dataset=digits, features=np.zeros((20, 4)))
    ctx.options = {"memorization": {"space": "features"}}
    with pytest.raises(MetricInputError, match=r"different dimensions.*--features"):
        Memorization().compute(ctx)


@pytest.mark.parametrize("metric", FEATURE_METRICS, ids=lambda c: c.__name__)
def test_features_without_dimensions(metric):
    """A plugin extractor's N x 0 features passed its contract check, and FID came out 0 and
    precision, recall, density and coverage 0 without a word (KID: a ZeroDivisionError, recorded as
    its own bug): an empty feature vector is the extractor's output to check."""
    a, b = gaussian_sets(24, n=50, d=4)
    with pytest.raises(
        MetricInputError, match=r"sample features have no dimensions \(shape \(50, 0\)\).*extractor"
    ):
        metric().compute(make_ctx(a, b[:, :0], features=a[:, :0]))


def test_is_logits_without_classes():
    """Zero logits per sample scored IS = 1 (softmax over no classes) without a word."""
    with pytest.raises(MetricInputError, match=r"is: sample logits features have no dimensions"):
        InceptionScore().compute(is_ctx(np.zeros((50, 0))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fid_of_features_too_large_for_float64_names_the_input(backend, recwarn):
    """Finite features of 1e150 (past the input checks) overflow the covariances' product: numpy's
    eigvals and scipy's sqrtm raised a bare LinAlgError ("Array must not contain infs or NaNs",
    "Internal error in scipy.linalg.sqrtm: -102"), recorded as FID's own bug. It is the input's."""
    a, b = gaussian_sets(25, n=60, d=4)
    options = {"fid": {"backend": backend}}
    for scale in (1e150, 1e200):
        with pytest.raises(
            MetricInputError, match=r"fid: the Fréchet distance is not finite; check the features"
        ):
            FID().compute(make_ctx(a * scale, b * scale, options=options))
    assert not [w for w in recwarn if "overflow" in str(w.message) or "singular" in str(w.message)]
    assert math.isfinite(FID().compute(make_ctx(a * 1e60, b * 1e60, options=options))["fid"])


def test_prdc_of_features_too_large_for_float64_names_the_input():
    """Squared distances of features of 1e155 overflow float64: every distance was inf or NaN and
    precision, recall, density and coverage came out 0 (1e154: 0.15 for 0.905) without a word.
    PRDC is scale-invariant, so below the overflow the values are those of the unscaled features."""
    a, b = gaussian_sets(26, n=80, d=4)
    with pytest.raises(MetricInputError, match=r"prdc: squared distances between features up to .*e\+155 "):
        PRDC().compute(make_ctx(a * 1e155, b * 1e155))
    with pytest.raises(MetricInputError, match=r"overflow float64; check that the samples"):
        PRDC().compute(make_ctx(a * 1e200, b))
    assert PRDC().compute(make_ctx(a * 1e100, b * 1e100)) == PRDC().compute(make_ctx(a, b))


def test_fid_reference_stats_of_another_dimension():
    a, _ = gaussian_sets(22, n=50, d=4)
    ctx = make_ctx(a)
    ctx.reference_stats = (np.zeros(3), np.eye(3))
    with pytest.raises(MetricInputError, match=r"--features"):
        FID().compute(ctx)


def test_reference_stats_npz_missing_keys(tmp_path):
    from genbench.features.reference_stats import load_reference_stats, save_reference_stats

    np.savez(tmp_path / "only_mu.npz", mu=np.zeros(3))
    with pytest.raises(
        MetricInputError,
        match=r"lack sigma \(has mu\); make one with `genbench stats .*, or save an .npz with mu",
    ):
        load_reference_stats(tmp_path / "only_mu.npz")
    np.savez(tmp_path / "wrong.npz", m=np.zeros(3), s=np.eye(3))
    with pytest.raises(MetricInputError, match=r"lack mu, sigma"):
        load_reference_stats(tmp_path / "wrong.npz")
    save_reference_stats(tmp_path / "ok.npz", np.ones(3), 2 * np.eye(3))  # the round trip works
    mu, sigma = load_reference_stats(tmp_path / "ok.npz")
    assert (mu == 1).all() and (sigma == 2 * np.eye(3)).all()


# -- end to end -------------------------------------------------------------------------------------


def test_cli_run_with_too_few_samples_keeps_the_computable_metrics(cli, tmp_path, cache_dir):
    """3 samples: prdc cannot find its neighbours, yet the result JSON holds fid and names prdc."""
    out = tmp_path / "runs"
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "3", "--metrics", "fid,kid,prdc,modes"]
    r = cli("run", "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress", *args)
    assert "Traceback" not in r.output
    res = json.loads((out / "ring8/gaussian/seed0.json").read_text())
    assert res["status"] == "ok"
    assert np.isfinite(res["metrics"]["fid"])
    assert {"kid", "modes_covered"} <= set(res["metrics"])
    assert set(res["metric_errors"]) == {"prdc"}
    assert "--samples" in res["metric_errors"]["prdc"]
    assert not {"precision", "recall", "density", "coverage"} & set(res["metrics"])
    assert r.exit_code == 2, r.output  # a metric that could not be computed is an error the user can fix
    assert "prdc" in r.stderr


def test_knn_metrics_read_read_only_features_without_a_torch_warning():
    """Features are read-only arrays; prdc and memorization's neighbour search took them with
    torch.as_tensor, whose once-per-process "not writable" warning a run printed as the metric's
    (only when no KID or IS, which silence it, ran first). A fresh process, since torch warns once."""
    code = (
        "import numpy as np, torch\n"
        "from genbench.metrics._knn import as_rows\n"
        "a = np.random.default_rng(0).random((20, 3)).astype(np.float32); a.setflags(write=False)\n"
        "assert as_rows(a, torch.device('cpu')).dtype == torch.float64\n"
    )
    assert_no_user_warning(code)
