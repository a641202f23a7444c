"""MiFID: its closed forms (a copy, no penalty, a distance known by construction), torchmetrics'
functions on the same features, the blocks against the dense definition, the controls end to end
(the distance to the train split under --reference-split test), and one line per bad option."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from cli_helpers import listed, run_args, single_line_error  # tests/ is on the path

import genbench.metrics.mifid as mifid_module
from genbench import registry
from genbench.errors import GenbenchError, MetricInputError
from genbench.features.base import Features
from genbench.metrics.base import EvalContext
from genbench.metrics.fid import FID
from genbench.metrics.mifid import MiFID, memorization_distance, mifid_value
from genbench.progress import Progress
from genbench.resolve import build_metrics
from genbench.results import find_results


class Images:
    kind, name = "image", "fake"


def make_ctx(samples: np.ndarray, train: np.ndarray, options: dict | None = None) -> EvalContext:
    """A context whose reference split is the train split, of these features."""
    return EvalContext(
        dataset=Images(),
        samples=torch.zeros(len(samples), 1),
        sample_features=Features(np.asarray(samples, dtype=np.float64)),
        reference_features=Features(np.asarray(train, dtype=np.float64)),
        extractor=None,
        seed=0,
        options=options or {},
    )


def at_angles(cosines: np.ndarray, k: int, d: int, seed: int, sign: float = 1.0):
    """(samples, train): one-hot training rows along ``k`` axes (4 of each, of random lengths: parallel
    or orthogonal) in ``d > k`` dimensions, and
    a sample per cosine, ``c e_j + sqrt(1 - c^2) e_d`` times a random length (and ``sign``): its |cos|
    is ``c`` with its ``e_j`` and 0 with every other training row, so its distance is ``1 - c``."""
    rng = np.random.default_rng(seed)
    train = np.eye(d)[rng.permutation(np.arange(4 * k) % k)] * rng.uniform(0.5, 4.0, (4 * k, 1))
    samples = np.zeros((len(cosines), d))
    samples[np.arange(len(cosines)), rng.integers(0, k, len(cosines))] = cosines
    samples[:, d - 1] = np.sqrt(1.0 - cosines**2)
    return sign * samples * rng.uniform(0.1, 10.0, (len(cosines), 1)), train


def dense_distance(samples: np.ndarray, train: np.ndarray) -> float:
    """The definition as one n x m matrix, in numpy."""
    a = samples / np.linalg.norm(samples, axis=1, keepdims=True)
    b = train / np.linalg.norm(train, axis=1, keepdims=True)
    return float(np.mean(1.0 - np.abs(a @ b.T).max(axis=1)))


def test_a_copy_is_at_distance_zero_and_penalised_by_1e14():
    """Samples that are training rows (rescaled, or negated: the cosine's absolute value) lie at
    d = 0 up to float64 rounding (never below 0), and divide FID by 1e-14 (Kaggle's guard)."""
    rng = np.random.default_rng(0)
    train = rng.standard_normal((300, 12)) + 1.0
    rows = train[rng.integers(0, 300, 200)]
    copies = rows * rng.choice([-1.0, 1.0], (200, 1)) * rng.uniform(0.1, 10.0, (200, 1))
    d = memorization_distance(copies, train)
    assert 0.0 <= d < 1e-15
    # each row with itself: 1 - |cos| rounds to about -1e-16 for some, a distance is never below 0
    alone = [memorization_distance(row[None], row[None]) for row in copies]
    assert min(alone) == 0.0 and max(alone) < 1e-15
    got = MiFID().compute(make_ctx(copies, train))
    fid = FID().compute(make_ctx(copies, train))["fid"]
    assert fid > 1.0 and 0.0 <= got["mifid_d"] < 1e-15
    assert got["mifid"] == pytest.approx(fid / 1e-14, rel=0.05)  # d is below 1e-15


def test_a_copy_of_the_reference_itself_is_zero_with_a_warning():
    """FID 0 over d 0 is 0/0: torchmetrics' guard gives 0, and a warning says it is no good model."""
    rng = np.random.default_rng(1)
    train = rng.standard_normal((200, 8)) + 1.0
    with pytest.warns(UserWarning, match=r"mifid: 0 is 0/0, not a good model.*--reference-split test"):
        got = MiFID().compute(make_ctx(train, train))
    assert got["mifid"] == 0.0 and got["mifid_d"] < 1e-15
    assert mifid_value(1e-9, 0.0) == 0.0 and mifid_value(1e-9, 0.5) == 1e-9


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_no_penalty_at_or_above_eps_is_fid_exactly(eps):
    """Samples orthogonal to every training row (d = 1), and samples at d = eps exactly: MiFID is
    FID itself, bit for bit, the same value as the fid column."""
    rng = np.random.default_rng(2)
    train = np.hstack([np.abs(rng.standard_normal((150, 6))), np.zeros((150, 6))])
    far = np.hstack([np.zeros((120, 6)), np.abs(rng.standard_normal((120, 6)))])
    ctx = make_ctx(far, train, {"mifid": {"eps": eps}})
    got = MiFID().compute(ctx)
    assert got["mifid_d"] == 1.0
    assert got["mifid"] == FID().compute(ctx)["fid"]
    assert mifid_value(7.5, eps, eps) == 7.5  # the threshold itself is not penalised (d < eps is)


@pytest.mark.parametrize(("seed", "sign"), [(3, 1.0), (4, -1.0)])
def test_a_distance_known_by_construction(seed, sign):
    """Each sample at a chosen angle to its nearest training row: d is the mean of 1 - cos, and
    MiFID is FID / (d + 1e-14) below eps, FID above it."""
    rng = np.random.default_rng(seed)
    cosines = rng.uniform(0.9, 1.0, 400)
    samples, train = at_angles(cosines, k=10, d=16, seed=seed, sign=sign)
    want = float(np.mean(1.0 - cosines))
    assert memorization_distance(samples, train) == pytest.approx(want, rel=1e-12)
    ctx = make_ctx(samples, train)
    fid = FID().compute(ctx)["fid"]
    got = MiFID().compute(ctx)
    assert got["mifid_d"] == pytest.approx(want, rel=1e-12) and want < 0.1
    assert got["mifid"] == pytest.approx(fid / (want + 1e-14), rel=1e-12)
    got = MiFID().compute(make_ctx(samples, train, {"mifid": {"eps": want / 2}}))
    assert got["mifid"] == fid


def test_blocks_give_the_dense_definition(monkeypatch):
    """Blocks of a few sample rows (not dividing n) against every training row: the n x m definition."""
    rng = np.random.default_rng(5)
    samples, train = rng.standard_normal((103, 9)), rng.standard_normal((37, 9))
    whole = memorization_distance(samples, train)
    monkeypatch.setattr(mifid_module, "BLOCK_ELEMENTS", 37 * 4)  # blocks of 4 rows
    assert memorization_distance(samples, train) == pytest.approx(whole, rel=1e-13)
    assert whole == pytest.approx(dense_distance(samples, train), rel=1e-13)


def _torchmetrics_mifid(samples: np.ndarray, train: np.ndarray, eps: float) -> tuple[float, float]:
    """torchmetrics' (MiFID, thresholded d) of the samples against the train features, through its
    functions on float64 tensors, the samples first: the order that averages over the samples, as
    Kaggle's script and Bai et al. define it (its class passes the real features first)."""
    mifid = pytest.importorskip("torchmetrics.image.mifid")
    f1, f2 = torch.from_numpy(samples), torch.from_numpy(train)
    mu1, s1 = f1.mean(dim=0), torch.cov(f1.T)
    mu2, s2 = f2.mean(dim=0), torch.cov(f2.T)
    value = mifid._mifid_compute(mu1, s1, f1, mu2, s2, f2, cosine_distance_eps=eps)
    return float(value), float(mifid._compute_cosine_distance(f1, f2, cosine_distance_eps=eps))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("near", [True, False])
def test_agrees_with_torchmetrics(seed, near):
    """Non-negative features as Inception's pooled ones, samples near training rows (d < eps: the
    penalty) or drawn afresh (d >= eps: FID itself), more training rows than samples, so a mean over
    the other set would differ."""
    rng = np.random.default_rng(seed)
    train = np.abs(rng.standard_normal((500, 24)))
    if near:
        samples = train[rng.integers(0, 500, 300)] + 0.15 * np.abs(rng.standard_normal((300, 24)))
    else:
        samples = np.abs(rng.standard_normal((300, 24)) * rng.uniform(0.5, 2.0, 24))
    got = MiFID().compute(make_ctx(samples, train))
    assert (got["mifid_d"] < 0.1) == near  # the regime the case is about
    want, want_d = _torchmetrics_mifid(samples, train, 0.1)
    assert got["mifid"] == pytest.approx(want, rel=1e-6)
    assert want_d == (pytest.approx(got["mifid_d"], rel=1e-9) if near else 1.0)


def test_zero_rows_are_left_out_and_none_left_is_one_error():
    rng = np.random.default_rng(6)
    train = np.abs(rng.standard_normal((50, 5)))
    samples = train[:20] + 0.01
    with pytest.warns(UserWarning, match=r"mifid: 3 of 23 sample feature rows are all zero"):
        d = memorization_distance(np.vstack([samples, np.zeros((3, 5))]), train)
    assert d == pytest.approx(memorization_distance(samples, train), rel=1e-15)
    with pytest.raises(MetricInputError, match=r"mifid: all 4 train feature rows are zero"):
        memorization_distance(samples, np.zeros((4, 5)))
    with pytest.raises(MetricInputError, match=r"mifid: sample and \w+ features have different dimensions"):
        MiFID().compute(make_ctx(rng.standard_normal((20, 5)), rng.standard_normal((20, 6))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning where no row is zero
        memorization_distance(samples, train)


def test_listed_opt_in_and_images_only(cli):
    assert registry.metrics.get("mifid") is MiFID
    quiet = Progress(enabled=False)
    assert "mifid" not in [m.name for m in build_metrics(None, "image", quiet)]
    assert "mifid" in [m.name for m in build_metrics(["fid", "mifid"], "image", quiet)]
    with pytest.raises(GenbenchError, match="metric 'mifid' does not apply to points data"):
        build_metrics(["fid", "mifid"], "points", quiet)
    assert "Bai et al. 2021" in listed("metrics")["mifid"]


def test_copy_is_penalised_and_gaussian_is_not_against_the_test_split(cli, tmp_path, cache_dir):
    """The controls end to end in raw pixels, FID against the test split: ``copy`` (the train split
    itself) lies at d = 0 from the TRAIN split, which the distance compares with whatever the
    reference, so its MiFID is its FID x 1e14; ``gaussian`` (per-pixel noise) lies at 0.12, above eps,
    and its MiFID is its FID. The board's caption says which split each part compares with."""
    out = tmp_path / "runs"
    args = ["--models", "copy,gaussian", "--dataset", "digits", "--metrics", "fid,mifid"]
    r = cli(
        *run_args(out, cache_dir, *args, "--features", "raw", "--reference-split", "test", "--no-figures")
    )
    assert r.exit_code == 0, r.output
    res = {json.loads(p.read_text())["model"]: json.loads(p.read_text()) for p in find_results(out)}
    m = {name: r["metrics"] for name, r in res.items()}
    assert m["copy"]["fid"] > 0.1 and m["copy"]["mifid_d"] < 1e-15
    assert m["copy"]["mifid"] == pytest.approx(m["copy"]["fid"] / 1e-14, rel=0.05)
    assert m["gaussian"]["mifid_d"] > 0.1
    assert m["gaussian"]["mifid"] == m["gaussian"]["fid"]
    protocol = res["copy"]["protocol"]
    assert protocol["reference_split"] == "test" and protocol["features"]["name"] == "raw"
    assert protocol["metric_options"]["mifid"] == {"eps": 0.1, "backend": "torch-fidelity"}
    assert protocol["metric_versions"]["mifid"] == MiFID.version
    r = cli("report", "--out", str(out))
    assert r.exit_code == 0, r.output
    board = (out / "leaderboards" / "digits.md").read_text()
    assert "mifid ↓" in board and "mifid_d" in board
    assert "nearest example of the **train** split whatever the reference split" in board


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("mifid.eps=0", "mifid: option eps=0.0 must be a number in (0, 1]"),
        ("mifid.eps=1.5", "mifid: option eps=1.5 must be a number in (0, 1]"),
        ("mifid.eps=nan", "'nan' for mifid.eps"),
        ("mifid.backend=scipy", "mifid: unknown backend 'scipy'"),
    ],
)
def test_bad_options_are_one_line(cli, tmp_path, cache_dir, option, message):
    args = ["--models", "copy", "--metrics", "mifid", "--metric-option", option]
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert message in line, line


def _counting(monkeypatch, n_samples: int) -> dict[str, int]:
    """Count the samples' Gaussians (``n_samples`` rows) and the Fréchet distances fid_of computes."""
    import genbench.metrics.fid as fid_module

    counts = {"sample gaussian": 0, "distance": 0}
    gaussian, distance = fid_module.gaussian_statistics, fid_module.frechet_distance

    def counted_gaussian(features):
        counts["sample gaussian"] += len(features) == n_samples
        return gaussian(features)

    def counted_distance(*args, **kwargs):
        counts["distance"] += 1
        # as clean-fid's formula warns of a singular product: said by each metric that reads the value
        warnings.warn("fid: the covariance product is singular (stand-in)", stacklevel=2)
        return distance(*args, **kwargs)

    monkeypatch.setattr(fid_module, "gaussian_statistics", counted_gaussian)
    monkeypatch.setattr(fid_module, "frechet_distance", counted_distance)
    return counts


def test_fid_and_mifid_compute_the_samples_gaussian_and_distance_once(tmp_path, cache_dir, monkeypatch):
    """`--metrics fid,mifid` computed the samples' mean, covariance and Fréchet distance twice for
    each sample set (an eigendecomposition of a 2048 x 2048 product in Inception's features): once
    now, for 2 models x 2 seeds, to the same values as each metric computed alone."""
    from genbench.config import RunConfig
    from genbench.runner import run

    def scored(metrics: list[str]) -> dict[tuple[str, int], dict[str, float]]:
        config = RunConfig(
            models=["copy", "gaussian"], dataset="digits", features="raw", samples=100, seeds=[0, 1],
            metrics=metrics, reference_split="test", out=tmp_path / "-".join(metrics), cache_dir=cache_dir,
            device="cpu", figures=False, progress=False,
        )  # fmt: skip
        return {(r.model, r.seed): r.metrics for r in run(config)}

    alone = scored(["fid"])
    mifid_alone = scored(["mifid"])
    counts = _counting(monkeypatch, 100)
    both = scored(["fid", "mifid"])
    assert counts == {"sample gaussian": 4, "distance": 4}, counts
    assert len(both) == 4
    for key, values in both.items():
        assert values["fid"] == alone[key]["fid"], key
        assert (
            values["mifid"] == mifid_alone[key]["mifid"] and values["mifid_d"] == mifid_alone[key]["mifid_d"]
        )


def test_the_kept_distance_is_never_another_backends_or_references(monkeypatch):
    """The samples' features are shared by every metric of a sample set; the distance kept there is
    the one of its backend and its reference only: another backend, or the same samples against
    another reference, computes its own, equal to a fresh computation."""
    rng = np.random.default_rng(0)
    samples, train, other = (
        rng.standard_normal((60, 5)),
        rng.standard_normal((80, 5)),
        rng.standard_normal((70, 5)) + 1,
    )
    fresh = {
        (backend, name): FID().compute(make_ctx(samples, ref, {"fid": {"backend": backend}}))["fid"]
        for backend in ("torch-fidelity", "clean-fid")
        for name, ref in (("train", train), ("other", other))
    }
    from genbench.metrics.fid import frechet_distance, gaussian_statistics

    of_stats = frechet_distance(*gaussian_statistics(samples), np.zeros(5), np.eye(5))
    counts = _counting(monkeypatch, 60)
    ctx = make_ctx(samples, train)
    ctx.options = {"fid": {"backend": "torch-fidelity"}, "mifid": {"backend": "clean-fid"}}
    assert FID().compute(ctx)["fid"] == fresh[("torch-fidelity", "train")]
    got = MiFID().compute(ctx)  # another backend: computed
    assert got["mifid"] == mifid_value(fresh[("clean-fid", "train")], got["mifid_d"], 0.1)
    assert counts == {"sample gaussian": 1, "distance": 2}, counts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert FID().compute(ctx)["fid"] == fresh[("torch-fidelity", "train")]  # kept
    assert counts["distance"] == 2
    # what computing it warned is said again
    assert [str(w.message) for w in caught] == ["fid: the covariance product is singular (stand-in)"]
    # the same sample features against another reference
    against = make_ctx(samples, other)
    against.sample_features = ctx.sample_features
    against.options = {"fid": {"backend": "torch-fidelity"}}
    assert FID().compute(against)["fid"] == fresh[("torch-fidelity", "other")]
    assert counts == {"sample gaussian": 1, "distance": 3}, counts
    # and against --reference-stats given for the same samples
    stats = make_ctx(samples, np.zeros((0, 5)))
    stats.sample_features = ctx.sample_features
    stats.reference_stats = (np.zeros(5), np.eye(5))
    stats.options = {"fid": {"backend": "torch-fidelity"}}
    assert FID().compute(stats)["fid"] == of_stats
    assert counts == {"sample gaussian": 1, "distance": 4}, counts


def test_its_fid_is_against_reference_stats_whether_or_not_fid_is_named(cli, tmp_path, cache_dir):
    """With --reference-stats, mifid's FID is fid's against the file, named alone or beside fid: named
    alone the file was dropped as "not used" and its FID taken against the reference split instead, so
    one command's mifid depended on whether fid ran beside it. The protocol line names it."""
    stats = tmp_path / "test.npz"
    common = ["--dataset", "digits", "--features", "raw"]
    r = cli("stats", *common, "--reference-split", "test", "--out", str(stats), "--cache-dir", str(cache_dir))
    assert r.exit_code == 0, r.output
    values = {}
    for metrics in ("mifid", "fid"):
        out = tmp_path / metrics
        args = ["--models", "gaussian", *common, "--metrics", metrics, "--reference-stats", str(stats)]
        r = cli(*run_args(out, cache_dir, *args, "--no-figures"))
        assert r.exit_code == 0, r.output
        assert "is not used" not in r.output, r.output
        if metrics == "mifid":  # it reads the train split too: the line names both references
            assert "mifid against reference statistics test.npz" in r.output, r.output
        (path,) = find_results(out)
        values.update(json.loads(path.read_text())["metrics"])
    # raw pixels: gaussian lies above eps from the train split, so mifid is its FID, the file's
    assert values["mifid_d"] > 0.1
    assert values["mifid"] == values["fid"]
    # so a rerun against the split would replace a result against the file: refused, as fid's is
    args = ["--models", "gaussian", *common, "--metrics", "mifid"]
    line = single_line_error(cli(*run_args(tmp_path / "mifid", cache_dir, *args, "--no-figures")))
    assert "holds a result at reference stats test.npz" in line, line
