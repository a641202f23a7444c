"""The Vendi Score: its closed forms, the ``vendi-score`` reference package on the same inputs, the
d x d dual against the n x n definition, the controls end to end, and one line per bad option."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from cli_helpers import listed, run_args, single_line_error  # tests/ is on the path

from genbench import registry
from genbench.errors import GenbenchError, MetricInputError
from genbench.features.base import Features
from genbench.metrics.base import EvalContext
from genbench.metrics.vendi import Vendi, score_of_eigenvalues, vendi_score
from genbench.progress import Progress
from genbench.resolve import build_metrics
from genbench.results import find_results

ORDERS = [0.0, 0.5, 1.0, 2.0, 7.5]


class Images:
    kind, name = "image", "fake"


def make_ctx(samples: np.ndarray, reference: np.ndarray, options: dict | None = None, seed: int = 0):
    """A context of these sample and reference features (the samples themselves are not read)."""
    return EvalContext(
        dataset=Images(),
        samples=torch.zeros(len(samples), 1),
        sample_features=Features(np.asarray(samples, dtype=np.float64)),
        reference_features=Features(np.asarray(reference, dtype=np.float64)),
        extractor=None,
        seed=seed,
        options=options or {},
    )


def clusters(k: int, size: int, d: int, seed: int = 0) -> np.ndarray:
    """``k`` clusters of ``size`` identical rows, the clusters' rows mutually orthogonal and scaled
    differently (the cosine similarity ignores lengths), in ``d >= k`` dimensions, shuffled."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, k)))[0].T  # k orthonormal rows
    x = np.repeat(basis * rng.uniform(0.5, 3.0, (k, 1)), size, axis=0)
    return x[rng.permutation(len(x))]


@pytest.mark.parametrize("q", ORDERS)
def test_closed_forms(q):
    """n identical samples: 1; n orthonormal: n; k equal clusters, mutually orthogonal: k, at any q
    (every nonzero eigenvalue is equal, so every Rényi entropy is the same)."""
    rng = np.random.default_rng(1)
    one = np.repeat(rng.standard_normal((1, 16)), 50, axis=0) * rng.uniform(0.1, 5.0, (50, 1))
    assert vendi_score(one, q) == pytest.approx(1.0, rel=1e-9)
    for n, d in ((20, 20), (20, 64)):  # n = d, and fewer samples than dimensions (the n x n side)
        orthonormal = np.linalg.qr(rng.standard_normal((d, n)))[0].T
        assert vendi_score(orthonormal, q) == pytest.approx(n, rel=1e-9)
    for k, size, d in ((3, 40, 16), (7, 5, 7), (4, 10, 100)):
        assert vendi_score(clusters(k, size, d), q) == pytest.approx(k, rel=1e-9)


@pytest.mark.parametrize("q", [200.0, 1000.0])
def test_a_high_order_is_finite(q):
    """A high q (towards the q = inf cousin, 1 / the largest eigenvalue) raised eigenvalues of 1/500
    to the q-th power, which underflowed to 0: log(0) / (1 - q) scored 500 orthonormal rows inf."""
    rng = np.random.default_rng(3)
    orthonormal = np.linalg.qr(rng.standard_normal((600, 500)))[0].T
    assert vendi_score(orthonormal, q) == pytest.approx(500, rel=1e-9)
    assert vendi_score(clusters(40, 5, 64), q) == pytest.approx(40, rel=1e-9)


def test_order_infinity_is_one_over_the_largest_eigenvalue():
    """Two orthogonal clusters of 10 and 30 identical rows: eigenvalues 1/4 and 3/4, so q = inf
    scores 4/3; k equal clusters score k, as at every order; and no order scores below it (the
    Rényi entropies fall with q), which q = 1000 nears."""
    rng = np.random.default_rng(4)
    basis = np.linalg.qr(rng.standard_normal((8, 2)))[0].T
    two = np.repeat(basis, [10, 30], axis=0) * rng.uniform(0.5, 2.0, (40, 1))
    assert vendi_score(two, math.inf) == pytest.approx(4 / 3, rel=1e-12)
    assert vendi_score(clusters(5, 8, 16), math.inf) == pytest.approx(5, rel=1e-9)
    x = rng.standard_normal((200, 32)) + rng.uniform(0, 1, 32)
    scores = [vendi_score(x, q) for q in (1.0, 2.0, 7.5, 1000.0, math.inf)]
    assert scores == sorted(scores, reverse=True)
    assert scores[-2] == pytest.approx(scores[-1], rel=1e-2)


def test_order_zero_is_the_rank():
    """q = 0 counts the nonzero eigenvalues: the rank of the features, not the eigenvalues that
    rounding left positive in their null space."""
    rng = np.random.default_rng(2)
    for n, d, rank in ((200, 40, 7), (30, 80, 11), (100, 64, 64)):
        x = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
        assert np.linalg.matrix_rank(x) == rank
        assert vendi_score(x, 0.0) == rank


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_the_vendi_score_package(seed):
    """``vendi_score.vendi`` (Friedman & Dieng's package) on the same features. Its ``score_X`` passes
    q=1 to ``score_K`` whatever q it is given, and ``intdiv_X`` calls ``intdiv`` with a signature it
    does not have (whose body reads an undefined ``samples``; vendi-score 0.0.3), so orders other than
    1 are compared through ``score_dual`` and ``score_K`` alone. ``score_K`` keeps every eigenvalue
    rounding left above 0, which weighs at q < 1 (300 x 64 features leave 236 near 1e-17, each
    1e-8.5 at q = 0.5): its other orders are compared on a K of full rank (fewer samples than
    dimensions)."""
    vendi = pytest.importorskip("vendi_score.vendi")
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(seed)
    tall = rng.standard_normal((300, 64)) + rng.uniform(0, 2, 64)  # n > d: through X^T X
    ours = vendi_score(tall)
    assert ours == pytest.approx(vendi.score_dual(tall), rel=1e-10, abs=1e-8)
    assert ours == pytest.approx(vendi.score_X(tall), rel=1e-10, abs=1e-8)
    for q in (0.5, 2.0, 7.5):
        assert vendi_score(tall, q) == pytest.approx(vendi.score_dual(tall, q=q), rel=1e-10, abs=1e-8)
    # order infinity, which the package spells "inf" (as --metric-option vendi.q=inf does)
    assert vendi_score(tall, math.inf) == pytest.approx(vendi.score_dual(tall, q="inf"), rel=1e-10)
    wide = rng.standard_normal((64, 300)) + rng.uniform(0, 2, 300)  # n < d: through X X^T
    unit = normalize(wide)
    for q in (0.5, 1.0, 2.0, 7.5, "inf"):
        ours = vendi_score(wide, math.inf if q == "inf" else q)
        assert ours == pytest.approx(vendi.score_K(unit @ unit.T, q=q), rel=1e-10, abs=1e-8)


@pytest.mark.parametrize("q", ORDERS)
def test_the_dual_is_the_n_by_n_definition(q):
    """Through X^T X / n (64 x 64), the score of the eigenvalues of K / n (300 x 300) itself."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 64)) * rng.uniform(0.1, 10.0, (300, 1))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    primal = score_of_eigenvalues(np.linalg.eigvalsh(unit @ unit.T / len(x)), q)
    assert vendi_score(x, q) == pytest.approx(primal, rel=1e-10)


def test_samples_and_reference_are_scored_at_the_same_n():
    """The score grows with n: the larger set is a seeded subset of the smaller one's size. Distinct
    one-hot rows score their count, so each number names the n it was computed on."""
    eye = np.eye(200)
    for n_samples, n_ref in ((200, 50), (50, 200), (120, 120)):
        ctx = make_ctx(eye[:n_samples], eye[-n_ref:], seed=5)
        n = min(n_samples, n_ref)
        assert Vendi().compute(ctx) == pytest.approx({"vendi": n, "vendi_ref": n}, rel=1e-9)
    x, ref = clusters(2, 100, 8, seed=1), clusters(8, 50, 8, seed=1)  # 200 samples, 400 reference rows
    first = Vendi().compute(make_ctx(x, ref, seed=1))
    assert first["vendi"] == pytest.approx(2.0, rel=1e-9)
    # a subset of 200 of the 400 reference rows: 8 clusters, unequal by chance, score just under 8
    assert 7.0 < first["vendi_ref"] < 8.0
    assert Vendi().compute(make_ctx(x, ref, seed=1)) == first  # the same seed draws the same subset


def test_bad_inputs_are_one_error_each():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 8))
    with pytest.raises(MetricInputError, match=r"2 of 20 sample feature rows are all zero"):
        Vendi().compute(make_ctx(np.vstack([x[:18], np.zeros((2, 8))]), x))
    with pytest.raises(MetricInputError, match=r"different dimensions \(8 vs 9\)"):
        Vendi().compute(make_ctx(x, rng.standard_normal((20, 9))))
    with pytest.raises(MetricInputError, match=r"needs at least 2 \(a diversity of one sample"):
        Vendi().compute(make_ctx(x[:1], x))
    for q in (-1.0, float("nan"), "two"):
        with pytest.raises(MetricInputError, match=r"vendi: option q=.* must be a number >= 0"):
            Vendi().check_options({"q": q})


def test_listed_opt_in_and_images_only(cli):
    """Opt-in, so the default set (and the published boards) stay as they were; named, it runs on
    images. On 2D points the cosine similarity sees angles only (at most 2), so it is not run there."""
    assert registry.metrics.get("vendi") is Vendi
    quiet = Progress(enabled=False)
    assert "vendi" not in [m.name for m in build_metrics(None, "image", quiet)]
    assert "vendi" in [m.name for m in build_metrics(["vendi"], "image", quiet)]
    with pytest.raises(GenbenchError, match="metric 'vendi' does not apply to points data"):
        build_metrics(["fid", "vendi"], "points", quiet)
    assert "Friedman & Dieng 2023" in listed("metrics")["vendi"]


def test_collapse_scores_far_below_copy_and_gaussian_on_digits(cli, tmp_path, cache_dir):
    """The controls end to end: ``copy`` (the train split itself) scores the reference's own number,
    ``collapse`` (one image repeated) 1, and the result names the protocol both were computed at."""
    out = tmp_path / "runs"
    args = ["--models", "copy,collapse,gaussian", "--dataset", "digits", "--metrics", "vendi,fid"]
    r = cli(*run_args(out, cache_dir, *args, "--no-figures"))
    assert r.exit_code == 0, r.output
    res = {json.loads(p.read_text())["model"]: json.loads(p.read_text()) for p in find_results(out)}
    m = {name: r["metrics"] for name, r in res.items()}
    assert m["copy"]["vendi"] == pytest.approx(m["copy"]["vendi_ref"], rel=1e-9)
    assert m["collapse"]["vendi"] == pytest.approx(1.0, rel=1e-6)
    assert m["gaussian"]["vendi"] > 2.0 and m["copy"]["vendi"] > 2.0
    assert m["collapse"]["vendi"] < 0.5 * min(m["copy"]["vendi"], m["gaussian"]["vendi"])
    assert len({m[name]["vendi_ref"] for name in m}) == 1  # one reference, one n, one seed
    protocol = res["collapse"]["protocol"]
    assert protocol["num_samples"] == protocol["num_reference"] == 1437  # n: the whole train split
    assert protocol["features"]["name"] == "classifier" and protocol["seed"] == 0
    assert protocol["metric_options"]["vendi"] == {"q": 1.0}
    assert protocol["metric_versions"]["vendi"] == Vendi.version


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("vendi.q=-1", "vendi: option q=-1.0 must be a number >= 0 or inf"),
        ("vendi.q=two", "'two' for vendi.q"),
        ("vendi.q=nan", "'nan' for vendi.q"),
        ("vendi.q=Infinity", "'Infinity' for vendi.q"),  # the word is inf, the reference's spelling
    ],
)
def test_bad_options_are_one_line(cli, tmp_path, cache_dir, option, message):
    args = ["--models", "copy", "--metrics", "vendi", "--metric-option", option]
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert message in line, line


def test_order_infinity_end_to_end(cli, tmp_path, cache_dir):
    """``--metric-option vendi.q=inf`` scores order infinity and records the word, which the board's
    caption names; the score of copy is its reference's, of collapse 1, as at every order."""
    out = tmp_path / "runs"
    args = ["--models", "copy,collapse", "--dataset", "digits", "--metrics", "vendi"]
    r = cli(*run_args(out, cache_dir, *args, "--metric-option", "vendi.q=inf", "--no-figures"))
    assert r.exit_code == 0, r.output
    res = {json.loads(p.read_text())["model"]: json.loads(p.read_text()) for p in find_results(out)}
    copy, collapse = res["copy"], res["collapse"]
    assert copy["protocol"]["metric_options"]["vendi"] == {"q": "inf"}
    assert copy["metrics"]["vendi"] == pytest.approx(copy["metrics"]["vendi_ref"], rel=1e-9)
    assert collapse["metrics"]["vendi"] == pytest.approx(1.0, rel=1e-6)
    assert 1.0 < copy["metrics"]["vendi_ref"] < 1437  # 1 / the largest eigenvalue of 1437 rows
    report = cli("report", "--out", str(out), "--leaderboards", str(tmp_path / "lb"))
    assert report.exit_code == 0, report.output
    assert "vendi.q=inf" in (tmp_path / "lb" / "digits.md").read_text()
