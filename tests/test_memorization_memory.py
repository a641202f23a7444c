"""memorization in pixel space holds float64 copies of the samples and the splits: at 64 x 64 RGB and
50000 samples more than a 24 GiB machine has, found by an OOM kill after every other metric ran.
The plan says so before any work, in one warning line naming the fixes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import genbench.memorization_memory as mm

SAID = "memorization in pixel space holds about"


def test_estimate_is_the_float64_copies_held_at_once():
    knn = 3 * 2**28  # the k-NN's three exact-distance temporaries of 2**25 float64 values
    # no test split: the samples and the train split, compared by the k-NN
    assert mm.memorization_bytes(100, 200, 0, 3) == 8 * 3 * (100 + 200) + knn
    # a test split: C_T's PCA centres a copy of the train split beside it and the test split
    assert mm.memorization_bytes(100, 200, 50, 3) == 8 * 3 * (2 * 200 + 50) + knn
    # ... and projects the samples through it (their copy and its centred copy)
    assert mm.memorization_bytes(1000, 200, 50, 3) == 8 * 3 * 2 * 1000 + knn
    # the audit's case: 64 x 64 RGB, 50000 samples against a 50000-image train split
    assert mm.memorization_bytes(50_000, 50_000, 0, 64 * 64 * 3) / 2**30 == pytest.approx(9.905, abs=1e-3)


def test_physical_memory_is_none_where_sysconf_is_missing(monkeypatch):
    assert mm.physical_memory() is None or mm.physical_memory() > 0
    monkeypatch.delattr(os, "sysconf", raising=False)  # Windows has no os.sysconf
    assert mm.physical_memory() is None


def _eval(cli, tmp_path, *more: str):
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32))
    return cli(
        "eval", "--samples", tmp_path / "s.npz", "--dataset", "ring8", "--metrics", "memorization",
        "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache", *more,
    )  # fmt: skip


def test_eval_warns_when_the_copies_exceed_physical_memory(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(mm, "physical_memory", lambda: 1024)
    r = _eval(cli, tmp_path)
    assert r.exit_code == 0, r.output  # a warning: swap may hold it
    said = [ln for ln in r.stderr.splitlines() if SAID in ln]
    assert len(said) == 1, r.stderr
    line = said[0]
    assert line.startswith("warning: memorization in pixel space holds about ")
    assert "of 50 samples, " in line and "(2 values each)" in line and "0.0 GiB of memory" in line
    for fix in ("--metric-option memorization.space=features", "fewer --samples", "out of --metrics"):
        assert fix in line
    # said before any work: ahead of the protocol line, which comes before the features
    assert r.stderr.index(SAID) < r.stderr.index("ring8"), r.stderr


@pytest.mark.parametrize(
    "memory, more", [(2**40, ()), (1024, ("--metric-option", "memorization.space=features"))]
)
def test_eval_says_nothing_when_it_fits_or_compares_features(cli, tmp_path, monkeypatch, memory, more):
    monkeypatch.setattr(mm, "physical_memory", lambda: memory)
    r = _eval(cli, tmp_path, *more)
    assert r.exit_code == 0, r.output
    assert SAID not in r.stderr, r.stderr


def test_run_warns_in_its_plan(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(mm, "physical_memory", lambda: 1024)
    r = cli(
        "run", "--models", "copy", "--dataset", "ring8", "--metrics", "memorization", "--samples", "50",
        "--seeds", "0", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sum(SAID in ln for ln in r.stderr.splitlines()) == 1, r.stderr
