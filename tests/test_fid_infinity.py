"""FID-infinity and IS-infinity (Chong & Forsyth 2020): the bias they remove, checked against closed
forms; their fit, checked against the reference code's scikit-learn regression; their options and
errors; and the opt-in columns on a board.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_helpers import digits_test_u8, eval_args, run_args, single_line_error
from plugin_helpers import run_ring8
from test_metrics import FakeData, make_ctx, one_hot_logits

from genbench import runner
from genbench.data.toy2d import Ring8
from genbench.errors import MetricInputError
from genbench.metrics import _extrapolation, fid
from genbench.metrics.fid import FID, frechet_distance, gaussian_statistics
from genbench.metrics.fid_infinity import FIDInfinity
from genbench.metrics.inception_score import score
from genbench.metrics.is_infinity import ISInfinity
from genbench.progress import Progress
from genbench.resolve import build_metrics

#: the closed-form cases: d-dimensional N(delta, I) samples against the exact statistics (0, I)
D, N, SEEDS = 32, 4000, range(12)
#: E[FID_N] - FID for them, to first order in 1/N: the sample mean's error gives E|mu_hat - mu|^2 = d/N,
#: and the covariance term Tr(S + I - 2 S^(1/2)) = sum_i (sqrt(l_i) - 1)^2 ~ |S - I|_F^2 / 4, whose
#: expectation is (d (d - 1) + 2 d) / (4 (N - 1)) for the unbiased S (entries of variance 1/(N-1)
#: off the diagonal, 2/(N-1) on it): 0.074 here
BIAS = (D + D * (D + 1) / 4) / N


def gaussian_ctx(seed: int, delta: np.ndarray, n: int = N, **options) -> object:
    x = np.random.default_rng(seed).standard_normal((n, len(delta))) + delta
    ctx = make_ctx(
        torch.zeros(n, 1), features=x, seed=seed, options={"fid_inf": options} if options else None
    )
    ctx.reference_stats = (np.zeros(len(delta)), np.eye(len(delta)))
    return ctx


@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_fid_inf_removes_the_bias_of_fid_at_n(shift):
    """Mean over 12 seeds. FID at N carries its bias, BIAS (its spread over seeds is about 0.06 BIAS,
    0.02 BIAS for the mean of 12). FID_inf extrapolates it away: its spread is larger (an
    extrapolation; about 0.16 BIAS per seed, 0.3 with the shifted mean's cross term 2 delta.(mu_hat -
    mu)), so its mean is within 0.1 BIAS at 1 sigma and 0.3 BIAS is over 3 sigma. For the shifted
    mean the true FID is |delta|^2 (equal covariances). Returning FID at N (no fit) fails both."""
    delta = np.zeros(D)
    delta[0] = shift
    true = float(delta @ delta)
    fid, fid_inf = [], []
    for seed in SEEDS:
        ctx = gaussian_ctx(seed, delta)
        fid.append(FID().compute(ctx)["fid"] - true)
        fid_inf.append(FIDInfinity().compute(ctx)["fid_inf"] - true)
    assert np.mean(fid) == pytest.approx(BIAS, rel=0.2)  # the bias is there, as derived
    assert abs(np.mean(fid_inf)) < 0.3 * BIAS


def fitted(monkeypatch) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (sizes, values) every fit of :func:`_extrapolation.intercept` is given, from now on."""
    seen = []
    real = _extrapolation.intercept

    def spy(sizes, values):
        seen.append((np.array(sizes), np.array(values)))
        return real(sizes, values)

    monkeypatch.setattr(_extrapolation, "intercept", spy)
    return seen


def test_fid_inf_is_the_reference_codes_regression(monkeypatch):
    """As mchong6/FID_IS_infinity's calculate_FID_infinity: 15 sizes np.linspace(min, N, 15) as ints,
    the last all N samples (FID at N, the fid metric's value), and the prediction at 1/N = 0 of
    sklearn's LinearRegression of FID on 1/N."""
    from sklearn.linear_model import LinearRegression

    seen = fitted(monkeypatch)
    ctx = gaussian_ctx(0, np.full(D, 0.1))
    value = FIDInfinity().compute(ctx)["fid_inf"]
    ((sizes, fids),) = seen
    assert sizes.tolist() == np.linspace(N // 10, N, 15).astype(np.int32).tolist()
    assert fids[-1] == FID().compute(ctx)["fid"]
    assert len(set(fids.tolist())) == 15  # a random subset per size
    reg = LinearRegression().fit(1 / sizes.reshape(-1, 1), fids)
    assert value == pytest.approx(reg.predict(np.array([[0.0]]))[0], rel=1e-9, abs=1e-12)
    assert value < fids[-1] - 0.5 * BIAS  # and the extrapolation moved it


def test_fid_inf_default_smallest_subset_is_twice_the_dimension(monkeypatch):
    """N // 10 below 2 d: the smallest subset is 2 d (far from a singular covariance), not N // 10."""
    seen = fitted(monkeypatch)
    FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=500))
    assert seen[0][0][0] == 2 * D and seen[0][0][-1] == 500


def test_each_subset_size_draws_a_subset_of_its_own():
    """Each size is an independent uniform draw (the reference code shuffles anew per size), not a
    prefix of one shuffle: nested subsets share their rows, so one unlucky small subset pushes every
    larger one the same way and tilts the fitted line. Of independent draws of 64 to 900 of 1000 rows,
    one lying inside the next has a chance below 1e-30; of nested prefixes, certainty."""
    drawn = []
    sizes = np.linspace(64, 1000, 15).astype(np.int64)
    _extrapolation.subset_values(1000, sizes, 3, lambda rows: drawn.append(rows) or 0.0)
    assert drawn[-1] == slice(None)  # the largest subset is all N samples, as a view
    subsets = [set(rows.tolist()) for rows in drawn[:-1]]
    assert [len(s) for s in subsets] == sizes[:-1].tolist()
    assert all(r.tolist() == sorted(r.tolist()) for r in drawn[:-1])
    assert not any(small <= large for small, large in zip(subsets, subsets[1:], strict=False))


def test_fid_inf_is_deterministic_in_the_seed():
    a = FIDInfinity().compute(gaussian_ctx(3, np.zeros(D)))
    assert FIDInfinity().compute(gaussian_ctx(3, np.zeros(D))) == a
    ctx = gaussian_ctx(3, np.zeros(D))
    ctx.seed = 4  # the same samples, other subsets
    assert FIDInfinity().compute(ctx) != a


def test_fid_inf_too_few_samples_and_bad_options_name_the_fix():
    # 4 d samples are the fewest for the default (sizes 2 d to 4 d); one fewer names both fixes
    FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=4 * D))
    with pytest.raises(MetricInputError) as e:
        FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=4 * D - 1))
    assert "127 samples are too few" in str(e.value) and "at least 128" in str(e.value)
    assert "fid_inf.min_size between 33 and 126" in str(e.value) and "\n" not in str(e.value)
    # a min_size given may go down to d + 1, not to a singular covariance
    assert FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=100, min_size=33))["fid_inf"] < 1
    with pytest.raises(MetricInputError, match=r"min_size 32 is too small .*fid_inf\.min_size=33 or more"):
        FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=100, min_size=32))
    with pytest.raises(MetricInputError, match=r"min_size 100 leaves no range .* below 100"):
        FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=100, min_size=100))
    for options, message in (
        ({"points": 1}, "fid_inf: option points=1 must be an integer >= 2"),
        ({"min_size": 1}, "fid_inf: option min_size=1 must be an integer >= 2"),
    ):
        with pytest.raises(MetricInputError, match=message):
            FIDInfinity().check_options(options)
    FIDInfinity().check_options({"points": 2, "min_size": None})


@pytest.mark.parametrize("min_size", [None, 5, D + 1, 40])
def test_samples_too_few_for_any_min_size_name_more_samples_alone(min_size):
    """D samples or fewer in D dimensions: no min_size works (it must exceed D and stay below N). The
    errors named one bound's fix each, which the other then refused: "set min_size=33 or more",
    then "below 20"; the default's "between 33 and 19". More samples are the one fix now."""
    options = {} if min_size is None else {"min_size": min_size}
    with pytest.raises(MetricInputError) as e:
        FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=20, **options))
    line = str(e.value)
    assert "20 samples are too few" in line and "use more samples" in line, line
    assert "--metric-option" not in line and "\n" not in line, line
    # before any training, the same line: the default min_size's too (it failed only once computed)
    with pytest.raises(MetricInputError) as early:
        FIDInfinity().check_samples(options, 20, SimpleNamespace(feature_dim=lambda: D))
    assert str(early.value) == line


def is_inf_ctx(logits: np.ndarray, seed: int = 0) -> object:
    n = len(logits)
    return make_ctx(
        torch.zeros(n, 1, 2, 2),
        dataset=FakeData("image"),
        features=np.zeros((n, 3)),
        logits=logits,
        seed=seed,
    )


def test_too_few_samples_for_the_default_min_size_is_the_early_line_of_each():
    """Left unset, min_size is max(N // 10, 2 d) for fid_inf (d features) and max(N // 10, 2 K) for
    is_inf (K classes): N below 4 d (4 K) was refused only by computing the metric, once every model
    had trained. Where the extractor declares d (K), the check before training gives the same line;
    where it does not, it leaves it to the computation; with enough samples it passes."""
    with pytest.raises(MetricInputError) as late:
        FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=100))
    with pytest.raises(MetricInputError) as early:
        FIDInfinity().check_samples({"min_size": None}, 100, SimpleNamespace(feature_dim=lambda: D))
    assert str(early.value) == str(late.value)
    assert "100 samples are too few: its smallest subset is 64" in str(late.value)
    k = 50
    logits = one_hot_logits(np.random.default_rng(0).integers(0, k, 150), k)
    with pytest.raises(MetricInputError) as late:
        ISInfinity().compute(is_inf_ctx(logits))
    with pytest.raises(MetricInputError) as early:
        ISInfinity().check_samples({}, 150, SimpleNamespace(logits_dim=lambda: k))
    assert str(early.value) == str(late.value)
    assert "150 samples are too few: its smallest subset is 100" in str(late.value)
    FIDInfinity().check_samples({}, 100, SimpleNamespace(feature_dim=lambda: None))  # unknown d
    FIDInfinity().check_samples({}, 4 * D, SimpleNamespace(feature_dim=lambda: D))
    ISInfinity().check_samples({}, 150, SimpleNamespace(logits_dim=lambda: None))
    ISInfinity().check_samples({}, 4 * k, SimpleNamespace(logits_dim=lambda: k))


def test_is_inf_of_identical_predictions_is_one():
    """Every p(y|x) the same: IS = 1 in every subset, so the fitted line is flat at 1."""
    logits = np.tile(np.random.default_rng(0).standard_normal(7), (500, 1))
    assert ISInfinity().compute(is_inf_ctx(logits))["is_inf"] == pytest.approx(1.0, abs=1e-9)


def test_is_inf_removes_the_bias_of_is_at_n():
    """Confident (one-hot) predictions of K classes drawn uniformly: IS_n = exp(H(histogram of n draws)),
    and 2 n (log K - H) is about chi-square with K - 1 degrees of freedom, so E[IS_n] = K (1 + 1/n)^(-(K-1)/2)
    ~ K - K (K - 1) / (2 n): 0.61 short of K = 50 at n = 2000, while the limit is K. IS at N's spread
    over seeds is about 0.2 of that bias (0.06 for the mean of 12), IS_inf's about the same: its
    mean is within 0.25 of the bias from K at 4 sigma. Returning IS at N (no fit) fails."""
    k, n = 50, 2000
    bias = k - k * (1 + 1 / n) ** (-(k - 1) / 2)
    at_n, inf = [], []
    for seed in SEEDS:
        logits = one_hot_logits(np.random.default_rng(seed).integers(0, k, n), k)
        at_n.append(score(logits, 1, seed)[0])
        inf.append(ISInfinity().compute(is_inf_ctx(logits, seed))["is_inf"])
    assert k - np.mean(at_n) == pytest.approx(bias, rel=0.2)
    assert abs(np.mean(inf) - k) < 0.25 * bias


def test_is_inf_is_the_reference_codes_regression(monkeypatch):
    from sklearn.linear_model import LinearRegression

    seen = fitted(monkeypatch)
    logits = np.random.default_rng(1).standard_normal((600, 10)) * 3
    value = ISInfinity().compute(is_inf_ctx(logits))["is_inf"]
    ((sizes, scores),) = seen
    assert sizes.tolist() == np.linspace(60, 600, 15).astype(np.int32).tolist()
    assert scores[-1] == pytest.approx(score(logits, 1, 0)[0], rel=1e-12)  # one split of all N
    reg = LinearRegression().fit(1 / sizes.reshape(-1, 1), scores)
    assert value == pytest.approx(reg.predict(np.array([[0.0]]))[0], rel=1e-9)


def test_opt_in_not_in_the_default_metrics_but_runs_when_named():
    default = {m.name for m in build_metrics(None, "image", Progress(enabled=False))}
    assert {"fid", "is"} <= default and not default & {"fid_inf", "is_inf"}
    named = [m.name for m in build_metrics(["fid_inf", "is_inf"], "image", Progress(enabled=False))]
    assert named == ["fid_inf", "is_inf"]


def test_eval_and_report_show_fid_inf_and_is_inf(cli, tmp_path, cache_dir):
    """Digits' 360 test images as samples, in the classifier's 128-d features: too few for fid_inf's
    default smallest subset (2 x 128, and N twice that), refused before scoring in its one-line error
    with the fix (it was recorded once fid, is and is_inf had been scored); with min_size=129 both run
    and the board shows their columns beside fid and is."""
    np.savez(tmp_path / "test.npz", samples=digits_test_u8(cache_dir))
    out = tmp_path / "runs"
    metrics = ("--metrics", "fid,fid_inf,is,is_inf", "--no-figures")
    line = single_line_error(cli(*eval_args(tmp_path / "test.npz", tmp_path / "few", cache_dir, *metrics)))
    assert "fid_inf: 360 samples are too few" in line and "fid_inf.min_size between 129 and 359" in line
    assert not list((tmp_path / "few").rglob("*.json"))
    r = cli(
        *eval_args(tmp_path / "test.npz", out, cache_dir, *metrics, "--metric-option", "fid_inf.min_size=129")
    )
    assert r.exit_code == 0, r.output
    res = json.loads((out / "digits/test/seed0.json").read_text())
    m = res["metrics"]
    assert {"fid", "fid_inf", "is", "is_inf"} <= set(m) and not res.get("metric_errors")
    assert m["fid_inf"] < m["fid"] and m["is_inf"] > m["is"]  # bias removed: FID down, IS up
    assert res["protocol"]["metric_options"]["fid_inf"] == {"points": 15, "min_size": 129}
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 0, r.output
    board = (tmp_path / "boards/digits.md").read_text().splitlines()
    header = next(ln for ln in board if ln.startswith("|") and "fid_inf" in ln).split("|")
    assert [c.strip() for c in header if c.strip().startswith(("fid", "is"))] == [
        "fid ↓",
        "fid_inf ↓",
        "is ↑",
        "is_inf ↑",
    ]


def test_cli_option_errors_are_one_line(cli, tmp_path, cache_dir):
    np.savez(tmp_path / "test.npz", samples=digits_test_u8(cache_dir))
    args = eval_args(tmp_path / "test.npz", tmp_path / "runs", cache_dir, "--metrics", "fid_inf")
    line = single_line_error(cli(*args, "--metric-option", "fid_inf.points=1"))
    assert "fid_inf: option points=1 must be an integer >= 2" in line


@pytest.mark.parametrize(
    "metrics, extra, said",
    [
        (
            "fid,fid_inf",
            ("--metric-option", "fid_inf.min_size=5000"),
            "fid_inf: min_size 5000 leaves no range of subset sizes in 1000",
        ),
        # at or below the digits classifier's 128 dimensions (known before any extraction)
        (
            "fid,fid_inf",
            ("--metric-option", "fid_inf.min_size=100"),
            "fid_inf: min_size 100 is too small (a subset of 128 rows",
        ),
        (
            "is,is_inf",
            ("--metric-option", "is_inf.min_size=1000"),
            "is_inf: min_size 1000 leaves no range of subset sizes in 1000",
        ),
        # the default min_size: 2 x Inception's 2048 features (N of 8192 at least), 2 x its 1008 classes
        (
            "fid,fid_inf",
            ("--features", "inception"),
            "fid_inf: 1000 samples are too few: its smallest subset is 4096",
        ),
        (
            "is,is_inf",
            ("--features", "inception"),
            "is_inf: 1000 samples are too few: its smallest subset is 2016",
        ),
        # the digits classifier's 10 classes: a default min_size of 20 needs 40 samples (the
        # classifier declared no logits width, so this failed once every model had trained)
        (
            "is,is_inf",
            ("--samples", "30"),
            "is_inf: 30 samples are too few: its smallest subset is 20",
        ),
    ],
)
def test_a_min_size_that_cannot_work_fails_a_run_before_any_training(
    cli, tmp_path, cache_dir, monkeypatch, random_inception_weights, metrics, extra, said
):
    """It was the metric's error once every model had trained and sampled (hours on a CPU before a
    typo showed); now the run fails first, in the same line, training and writing nothing. So is too
    few samples for the default min_size, whose bounds (N, and the width the extractor declares) are
    known before training too: it was refused only once every model had trained, sampled and been
    extracted, while a min_size given was refused first."""

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the metric options were checked")

    monkeypatch.setattr(runner, "train_or_load", no_training)
    out = tmp_path / "runs"
    args = [
        "--models",
        "copy",
        "--dataset",
        "digits",
        "--samples",
        "1000",
        "--no-figures",
        "--metrics",
        metrics,
    ]
    if "inception" in extra:
        args += ["--inception-weights", str(random_inception_weights)]
    line = single_line_error(cli(*run_args(out, cache_dir, *args, *extra)))
    assert said in line, line
    assert not list(out.rglob("*.json"))


def test_a_min_size_that_cannot_work_fails_an_evaluation_before_any_scoring(cli, tmp_path, cache_dir):
    """`genbench eval` knows N from the samples file: the line is the one computing the metric gives."""
    np.savez(tmp_path / "test.npz", samples=digits_test_u8(cache_dir))  # 360 samples
    out = tmp_path / "runs"
    args = eval_args(tmp_path / "test.npz", out, cache_dir, "--metrics", "fid,fid_inf", "--no-figures")
    line = single_line_error(cli(*args, "--metric-option", "fid_inf.min_size=360"))
    with pytest.raises(MetricInputError) as late:
        FIDInfinity().compute(gaussian_ctx(0, np.zeros(D), n=360, min_size=360))
    assert line == f"error: {late.value}"
    assert not list(out.rglob("*.json"))  # fid, scored in vain before, is not written either


def test_the_reference_gaussian_is_computed_once_for_every_metric_model_and_seed(
    tmp_path, cache_dir, monkeypatch
):
    """fid and fid_inf each computed the reference's mean and covariance for every model and seed
    (seconds at CIFAR-10's 50000 x 2048 on a CPU): once a command now, to the same bits."""
    reference = Ring8(cache_dir=cache_dir).load("train")[0].double().numpy()  # raw features: the points
    of_reference = []

    def counted(features):
        of_reference.append(len(features) == len(reference))
        return gaussian_statistics(features)

    monkeypatch.setattr(fid, "gaussian_statistics", counted)
    results = run_ring8(tmp_path, cache_dir, metrics=["fid", "fid_inf"], seeds=[0, 1], save_samples=True)
    assert sum(of_reference) == 1, of_reference
    monkeypatch.undo()
    for model, result in results.items():  # the last seed's; each its values of the old path
        x = np.load(tmp_path / f"runs/ring8/{model}/seed1.samples.npz")["samples"].astype(np.float64)
        assert result.metrics["fid"] == frechet_distance(
            *gaussian_statistics(x), *gaussian_statistics(reference)
        )
        ctx = make_ctx(torch.as_tensor(x), reference, seed=1)
        assert result.metrics["fid_inf"] == FIDInfinity().compute(ctx)["fid_inf"]
