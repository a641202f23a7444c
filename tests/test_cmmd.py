"""The ``cmmd`` metric (Jayasumana et al. 2024): google-research's ``cmmd/distance.py`` MMD, a Gaussian
RBF kernel of sigma 10, the biased (V-statistic) estimate, times 1000, checked on closed forms; the
end-to-end run under ``--features clip`` is in test_clip.py."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import genbench.metrics.cmmd as cmmd_module
from genbench.metrics.cmmd import cmmd, mean_kernel


def k(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The kernel written out: exp(-|a - b|^2 / (2 * 10^2))."""
    return math.exp(-sum((p - q) ** 2 for p, q in zip(a, b, strict=True)) / 200)


def unit_rows(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """``n`` L2-normalised rows, as CLIP embeddings are, around a mean moved by ``shift``."""
    x = np.random.default_rng(seed).normal(size=(n, d))
    x[:, 0] += shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_a_hand_computed_case():
    """Two points against one, in 2-D: every pair's kernel value, the diagonal included."""
    x, y = [(0.0, 0.0), (1.0, 0.0)], [(0.0, 1.0)]
    k_xx = sum(k(a, b) for a in x for b in x) / 4  # (1 + e^-1/200 + e^-1/200 + 1) / 4
    k_yy = 1.0
    k_xy = (k(x[0], y[0]) + k(x[1], y[0])) / 2  # (e^-1/200 + e^-2/200) / 2
    expected = 1000 * (k_xx + k_yy - 2 * k_xy)
    assert expected == pytest.approx(
        1000 * ((1 + math.exp(-0.005)) / 2 + 1 - math.exp(-0.005) - math.exp(-0.01))
    )
    assert cmmd(np.array(x), np.array(y)) == pytest.approx(expected, rel=1e-12)
    # three points in 2-D against two
    x3, y2 = [(0.5, -1.0), (2.0, 3.0), (-4.0, 0.0)], [(1.0, 1.0), (0.0, -2.0)]
    expected = 1000 * (
        sum(k(a, b) for a in x3 for b in x3) / 9
        + sum(k(a, b) for a in y2 for b in y2) / 4
        - 2 * sum(k(a, b) for a in x3 for b in y2) / 6
    )
    assert cmmd(np.array(x3), np.array(y2)) == pytest.approx(expected, rel=1e-12)


def test_identical_sets_give_exactly_zero(monkeypatch):
    """The V-statistic's three means are one sum where the sets are equal: 0 to the bit, in blocks too
    (an unbiased estimate, KID's, leaves the diagonal out and is not 0 here)."""
    x = unit_rows(50, 16, seed=0)
    assert cmmd(x, x.copy()) == 0.0
    monkeypatch.setattr(cmmd_module, "BLOCK_ELEMENTS", 7 * 50)  # blocks of 7 rows, the last short
    assert cmmd(x, x.copy()) == 0.0


def test_a_reordered_copy_is_zero_to_rounding_never_below():
    """The ``copy`` control is its reference in another order: the sums then round apart, and the
    board showed cmmd -6.939e-15 for it on digits, a squared MMD below 0."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 16))  # features as other extractors give them (cmmd warns, computes)
    values = [cmmd(x, x[rng.permutation(len(x))]) for _ in range(20)]
    assert all(0.0 <= v < 1e-9 for v in values), values


def test_blocks_give_the_whole_matrix_value(monkeypatch):
    x, y = unit_rows(40, 8, seed=1), unit_rows(23, 8, seed=2, shift=0.5)
    whole = cmmd(x, y)
    monkeypatch.setattr(cmmd_module, "BLOCK_ELEMENTS", 1)  # a row at a time
    assert cmmd(x, y) == pytest.approx(whole, rel=1e-12)
    # the whole matrix at once, as distance.py computes it
    d2 = ((x[:, None] - y[None]) ** 2).sum(-1)
    assert mean_kernel(x, y) == pytest.approx(np.exp(-d2 / 200).mean(), rel=1e-12)


def test_symmetric_and_positive_for_shifted_sets():
    x, y = unit_rows(60, 32, seed=3), unit_rows(45, 32, seed=4)
    same = cmmd(x, y)
    assert cmmd(y, x) == pytest.approx(same, rel=1e-9)
    shifted = [cmmd(x, unit_rows(45, 32, seed=4, shift=s)) for s in (1.0, 3.0)]
    assert 0 < same < shifted[0] < shifted[1]
    assert all(cmmd(a, b) > 0 for a, b in [(x, x + 0.1), (x[:10], y[:10])])


def test_cmmd_runs_by_default_under_clip_only(tmp_path, cache_dir):
    """A user who picks --features clip picks it for CMMD: without --metrics, cmmd was left out (opt-in)
    and the run scored FID, KID... in CLIP features but not the metric those features are for. Under
    the other extractors it stays opt-in; a --metrics list is what it names, under any."""
    from genbench.config import RunConfig
    from genbench.planning import plan
    from genbench.progress import Progress
    from genbench.resolve import build_metrics

    quiet = Progress(enabled=False)
    default = {
        f: [m.name for m in build_metrics(None, "image", quiet, features=f)] for f in ("clip", "inception")
    }
    assert "cmmd" in default["clip"] and "fid" in default["clip"]
    assert "cmmd" not in default["inception"] and "cmmd" not in build_metrics(None, "image", quiet)
    assert "sfid" not in default["clip"] and "fid_inf" not in default["clip"]  # the other opt-in ones stay so
    assert [m.name for m in build_metrics(["fid"], "image", quiet, features="clip")] == ["fid"]
    # what `genbench run` resolves (its plan; no training, no weights read)
    config = RunConfig(
        models=["gaussian"], dataset="digits", features="clip", out=tmp_path, cache_dir=cache_dir
    )
    assert "cmmd" in [m.name for m in plan(config).metrics]
    config = RunConfig(models=["gaussian"], dataset="digits", out=tmp_path, cache_dir=cache_dir)
    assert "cmmd" not in [m.name for m in plan(config).metrics]


@pytest.mark.parametrize(
    ("under", "by_default", "says"),
    [
        ("clip", False, "runs_by_default_under = 'clip', a string; use a tuple of feature extractor names: "
         "runs_by_default_under = ('clip',)"),
        (("CLIP",), False, "runs_by_default_under = ('CLIP',); use a tuple of feature extractor names"),
        (["clip"], False, "runs_by_default_under = ['clip']; use a tuple of feature extractor names"),
        (("clip",), True, "with runs_by_default = True, which runs it under every extractor; set "
         "runs_by_default = False"),
    ],
)  # fmt: skip
def test_a_bad_runs_by_default_under_is_refused_at_registration(under, by_default, says):
    """A string was read one character at a time (a metric for --features 'c'), and a tuple beside
    runs_by_default = True said nothing: each is one line at registration naming the fix."""
    from genbench import registry
    from genbench.errors import RegistrationError
    from genbench.metrics.base import Metric

    class Declared(Metric):
        higher_is_better = {"declared": False}  # noqa: RUF012
        runs_by_default = by_default
        runs_by_default_under = under

        def compute(self, ctx):
            return {"declared": 0.0}

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError) as e:
        fresh.add("test-declared", Declared)
    assert str(e.value).startswith("metric 'test-declared' declares ") and says in str(e.value), str(e.value)
    assert "test-declared" not in fresh


def test_list_says_cmmd_runs_under_clip():
    """`genbench list metrics` said "only with --metrics cmmd", which --features clip no longer needs."""
    from typer.testing import CliRunner

    import genbench
    from genbench.cli.main import app

    r = CliRunner().invoke(app, ["list", "metrics"], env={"COLUMNS": "250"})  # each row on one line
    assert r.exit_code == 0, r.output
    rows = {ln.split("│")[1].strip(): ln for ln in r.stdout.splitlines() if ln.startswith("│")}
    assert "opt-in (only with --metrics cmmd or under --features clip): " in rows["cmmd"], rows["cmmd"]
    assert "opt-in (only with --metrics sfid): " in rows["sfid"], rows["sfid"]
    entries = {e.name: e for e in genbench.registered("metrics")["metrics"]}
    assert entries["cmmd"].default_under == ("clip",) and entries["sfid"].default_under == ()


@pytest.mark.parametrize("name", ["cmmd", "kid", "vendi", "prdc"])
def test_statistics_alone_are_named_by_every_metric_of_reference_rows(name):
    """A metric of the reference's rows given (mu, sigma) alone names --reference-stats (one check in
    ``_inputs.reference_rows``, where kid, cmmd and vendi each held a copy and prdc none)."""
    import torch

    from genbench import registry
    from genbench.errors import MetricInputError
    from genbench.features.base import Features
    from genbench.metrics.base import EvalContext

    x = unit_rows(20, 4, seed=6)

    class Images:
        kind = "image"
        name = "images"
        num_modes = None

    ctx = EvalContext(
        dataset=Images(),
        samples=torch.zeros(len(x), 1),
        sample_features=Features(x),
        reference_features=Features(np.zeros((0, 4))),
        extractor=None,
        seed=0,
        options={},
        reference_stats=(np.zeros(4), np.eye(4)),
    )
    with pytest.raises(MetricInputError, match=rf"^{name}: needs reference features, not \(mu, sigma\)"):
        registry.metrics.get(name)().compute(ctx)


PLUGIN_FEATURES = """
from genbench.features.raw import Raw
from genbench.metrics.base import Metric


class TwoNamed(Raw):
    description = "raw pixels under two entry-point names"

    def fingerprint(self) -> str:
        return "two-named-v1"


class ForTwoNamed(Metric):
    description = "runs by default under two-named"
    higher_is_better = {"for_two_named": None}
    runs_by_default = False
    runs_by_default_under = ("two-named",)

    def compute(self, ctx):
        return {"for_two_named": 0.0}
"""


@pytest.mark.parametrize("given", ["two-named", "tn"])
def test_runs_by_default_under_an_extractor_by_either_of_its_names(tmp_path, cache_dir, given):
    """A plugin's extractor under two entry points (``tn`` beside ``two-named``, as ``gan`` beside
    ``gan-ns``) is one extractor, known as an alias only once imported: --features tn left out the
    metric declaring ``two-named`` (compared before the import), and the import can make either
    name the alias, so --features two-named could too."""
    import subprocess
    import sys

    from test_registry import fake_distribution  # tests/ is on the path: pytest imports test modules by name

    site = tmp_path / "site"
    site.mkdir()
    (site / "two_named_plugin.py").write_text(PLUGIN_FEATURES)
    target = "two_named_plugin:TwoNamed"
    fake_distribution(
        site,
        "two-named-plugin",
        {
            "genbench.features": {"two-named": target, "tn": target},
            "genbench.metrics": {"for-two-named": "two_named_plugin:ForTwoNamed"},
        },
        ["two_named_plugin.py"],
    )
    code = (
        "from genbench.config import RunConfig; from genbench.planning import plan;"
        f"c = RunConfig(models=['gaussian'], dataset='digits', features={given!r}, out={str(tmp_path)!r},"
        f" cache_dir={str(cache_dir)!r}); print(' '.join(m.name for m in plan(c).metrics))"
    )
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}
    )
    assert out.returncode == 0, out.stderr
    assert "for-two-named" in out.stdout.split() and "fid" in out.stdout.split(), out.stdout


def test_the_reference_term_is_computed_once_for_every_model_and_seed(cli, tmp_path, cache_dir, monkeypatch):
    """mean_kernel(y, y) of the reference once a command: 2 models x 2 seeds compute their own two
    terms each (8) and the reference's one (9 in all)."""
    import json

    from cli_helpers import run_args  # tests/ is on the path

    from genbench.results import find_results

    calls = []
    monkeypatch.setattr(cmmd_module, "mean_kernel", lambda x, y: calls.append(1) or mean_kernel(x, y))
    args = ["--models", "copy,gaussian", "--dataset", "digits", "--features", "raw"]
    args += ["--metrics", "cmmd", "--seeds", "0,1", "--samples", "200"]
    r = cli(*run_args(tmp_path / "runs", cache_dir, *args, "--no-figures"))
    assert r.exit_code == 0, r.output
    assert len(calls) == 9, len(calls)
    values = [json.loads(p.read_text())["metrics"]["cmmd"] for p in find_results(tmp_path / "runs")]
    assert len(values) == 4 and all(v >= 0 for v in values)
