"""Two genbench processes at once sharing a cache directory, as cluster jobs launched together do
(one per model: ddim takes ddpm's checkpoint): one checkpoint is trained once. Two writing one
--out: neither replaces a result of the other that it must not."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from test_features import held_until_waited_for
from test_registry import (
    fake_distribution,  # tests/ is on the path: pytest imports test modules by their name
)

from genbench import registry
from genbench.config import RunConfig

#: a trainable model whose training waits for a file, so that the test decides when it ends
GATED_MODULE = """
import os, time
from dataclasses import dataclass
from pathlib import Path

import torch

from genbench.api import GenerativeModel

GATE = Path(os.environ["GATE_DIR"])


class Gated(GenerativeModel):
    @dataclass
    class Config:
        scale: float = 1.0

    def fit(self, train, ctx):
        with open(GATE / "fits", "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        deadline = time.monotonic() + 240
        while not (GATE / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"steps": 1}

    def sample(self, n, *, generator):
        return self.config.scale * torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {"scale": torch.tensor(self.config.scale)}

    def load_state_dict(self, state):
        pass
"""


def _wait_for(condition, what: str, procs, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        ended = [p for p in procs if p.poll() is not None]
        assert not ended and time.monotonic() < deadline, f"no {what}; ended: {[p.args for p in ended]}"
        time.sleep(0.1)


@pytest.mark.parametrize("retrain", [[], ["--retrain"]], ids=["plain", "retrain"])
def test_two_processes_needing_one_checkpoint_train_it_once(tmp_path: Path, retrain: list[str]):
    """Both trained it in full (each slowing the other down, each recording the slowed time, the last
    one's model.pt replacing the first's); the second now waits for the first, then loads its weights.
    With --retrain too (cluster jobs retraining a board, one per model): the second waited for the
    first's training, then cleared it and trained again, though what it waited for was trained anew
    after it started."""
    site, gate = tmp_path / "site", tmp_path / "gate"
    site.mkdir()
    gate.mkdir()
    (site / "gated_plugin.py").write_text(GATED_MODULE)
    fake_distribution(site, "gated-plugin", {"genbench.models": {"test-gated": "gated_plugin:Gated"}})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p),
        "GATE_DIR": str(gate),
        "COLUMNS": "250",
    }
    common = ["--models", "test-gated", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    common += ["--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-figures", *retrain]

    logs = []

    def start(out: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "genbench", "run", *common, "--out", str(tmp_path / out)]
        logs.append(open(tmp_path / f"{out}.log", "w"))  # noqa: SIM115 - closed when the processes end
        return subprocess.Popen(cmd, env=env, stdout=logs[-1], stderr=subprocess.STDOUT, text=True)

    first = start("a")
    procs = [first]
    try:
        _wait_for(lambda: (gate / "fits").exists(), "training in the first process", procs)
        second = start("b")
        procs.append(second)
        waits = lambda: "waiting for it" in (tmp_path / "b.log").read_text()  # noqa: E731
        trains_too = lambda: len((gate / "fits").read_text().split()) > 1  # noqa: E731 - what it did before
        _wait_for(lambda: waits() or trains_too(), "wait or training in the second process", procs)
        (gate / "go").touch()
        for p in procs:
            p.wait(timeout=240)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for log in logs:
            log.close()
    output = {out: (tmp_path / f"{out}.log").read_text() for out in "ab"}
    assert [p.returncode for p in procs] == [0, 0], output
    assert len((gate / "fits").read_text().split()) == 1, output  # one training, in the first process
    a, b = (json.loads((tmp_path / out / "ring8/test-gated/seed0.json").read_text()) for out in "ab")
    assert (a["training"]["loaded"], b["training"]["loaded"]) == (False, True)
    assert b["training"]["checkpoint"] == a["training"]["checkpoint"]
    assert b["metrics"]["fid"] == a["metrics"]["fid"]


# -- one --out written by two processes -------------------------------------------------------------
def _intruding_metric(target: Path, source: Path):
    """A metric that copies ``source`` to ``target`` while the run is under way, as another genbench
    process writing the same model and seed into the same --out would."""
    from genbench.metrics.base import Metric

    class Intruder(Metric):
        higher_is_better: ClassVar[dict[str, bool]] = {}

        def compute(self, ctx):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return {"intruder": 1.0}

    return Intruder


def _ring8_config(out: Path, cache_dir: Path, samples: int, metrics: list[str]) -> RunConfig:
    return RunConfig(
        models=["gaussian"],
        dataset="ring8",
        samples=samples,
        metrics=metrics,
        out=out,
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
    )


@pytest.mark.parametrize(("theirs", "kept"), [(100, True), (200, False)])
def test_a_result_written_by_another_process_during_a_run_is_not_replaced(
    theirs, kept, register, tmp_path, cache_dir, capsys
):
    """Two runs of one model and seed into one --out at once, ``--samples 100`` and ``--samples 200``:
    both passed the check made before any work, and the last to finish replaced the other's result.
    The check is made again at the write; a result of another protocol is kept, and this run's goes
    beside it. One of the same protocol is replaced, as a rerun's is."""
    from genbench import run
    from genbench.results import find_results, load_result

    other = run(_ring8_config(tmp_path / "other", cache_dir, theirs, ["fid"]))[0]
    source = other.path(tmp_path / "other")
    target = other.path(tmp_path / "runs")
    register(registry.metrics, "test-intruder", _intruding_metric(target, source))
    capsys.readouterr()
    mine = run(_ring8_config(tmp_path / "runs", cache_dir, 200, ["fid", "test-intruder"]))[0]
    asides = list(target.parent.glob("seed0.aside-*.json"))
    assert find_results(tmp_path / "runs") == [target]
    if kept:
        assert target.read_bytes() == source.read_bytes()  # the other process's result, untouched
        assert [load_result(a).metrics for a in asides] == [mine.metrics]  # this run's, beside it
        assert load_result(asides[0]).protocol["num_samples"] == 200
        err = " ".join(capsys.readouterr().err.split())
        assert f"{target} was written while this run ran" in err and f"is written to {asides[0]}" in err
        assert "move it into an --out of its own" in err
    else:
        assert asides == [] and load_result(target).metrics == mine.metrics


def test_a_newer_genbench_result_written_during_a_run_is_not_replaced(register, tmp_path, cache_dir, capsys):
    """A result this genbench cannot read because a newer one wrote it was replaced like a corrupt
    file, its numbers lost; it is kept, and this run's result goes beside it."""
    import json

    from genbench import run
    from genbench.results import load_result

    other = run(_ring8_config(tmp_path / "other", cache_dir, 100, ["fid"]))[0]
    source = other.path(tmp_path / "other")
    source.write_text(json.dumps({**json.loads(source.read_text()), "schema": 99}))
    target = other.path(tmp_path / "runs")
    register(registry.metrics, "test-intruder", _intruding_metric(target, source))
    capsys.readouterr()
    mine = run(_ring8_config(tmp_path / "runs", cache_dir, 100, ["fid", "test-intruder"]))[0]
    asides = list(target.parent.glob("seed0.aside-*.json"))
    assert target.read_bytes() == source.read_bytes()
    assert [load_result(a).metrics for a in asides] == [mine.metrics]
    err = " ".join(capsys.readouterr().err.split())
    assert "written by a newer genbench (result schema 99" in err and f"is written to {asides[0]}" in err


def test_a_result_written_by_another_process_during_an_evaluation_is_not_replaced(
    register, tmp_path, cache_dir, capsys
):
    """``genbench eval`` checks before any work that it replaces only an evaluation of the same
    samples; a run's result written into its file meanwhile was replaced all the same."""
    from genbench import evaluate, run
    from genbench.results import find_results, load_result

    other = run(_ring8_config(tmp_path / "other", cache_dir, 100, ["fid"]))[0]
    source = other.path(tmp_path / "other")
    target = other.path(tmp_path / "runs")  # gaussian/seed0.json: the evaluation's --name gaussian
    register(registry.metrics, "test-intruder", _intruding_metric(target, source))
    config = _ring8_config(tmp_path / "runs", cache_dir, 100, ["fid", "test-intruder"])
    capsys.readouterr()
    mine = evaluate(np.random.default_rng(0).standard_normal((150, 2)), config, name="gaussian")
    asides = list(target.parent.glob("seed0.aside-*.json"))
    assert target.read_bytes() == source.read_bytes()
    assert [load_result(a).metrics for a in asides] == [mine.metrics]
    assert find_results(tmp_path / "runs") == [target]
    err = " ".join(capsys.readouterr().err.split())
    assert "was written while this evaluation ran" in err and f"is written to {asides[0]}" in err
    assert "move its file into an --out of its own" in err


def test_the_last_line_after_a_result_written_aside_names_its_fix_not_the_report(
    register, tmp_path, cache_dir, cli
):
    """After `genbench eval` or `genbench run` wrote a result aside (another process wrote its file
    while it ran), the last line said ``next: genbench report --out runs``, whose board does not read
    that file: it names the file and the fix its warning gave, and the report for the others."""
    from genbench import run
    from genbench.leaderboard import load_results
    from genbench.results import load_result

    other = run(_ring8_config(tmp_path / "other", cache_dir, 100, ["fid"]))[0]
    source = other.path(tmp_path / "other")
    target = other.path(tmp_path / "runs")  # gaussian/seed0.json, the evaluation's row too
    register(registry.metrics, "test-intruder", _intruding_metric(target, source))
    np.save(tmp_path / "gaussian.npy", np.random.default_rng(0).standard_normal((150, 2)))
    out = tmp_path / "runs"
    common = ("--dataset", "ring8", "--out", out, "--cache-dir", cache_dir, "--device", "cpu")
    common += ("--metrics", "fid,test-intruder", "--no-figures", "--no-progress")
    fix = "which the report does not read: to report it, move it to ring8/gaussian/seed0.json in an --out of its own"

    r = cli("eval", "--samples", tmp_path / "gaussian.npy", *common)
    (aside,) = target.parent.glob("seed0.aside-*.json")
    assert r.exit_code == 0 and r.stderr.splitlines()[-1] == f"{aside} is written aside, {fix}"
    moved = tmp_path / "own" / "ring8" / "gaussian" / "seed0.json"  # as it says: the report reads it
    moved.parent.mkdir(parents=True)
    aside.rename(moved)
    assert [r.metrics for r in load_results(tmp_path / "own")] == [load_result(moved).metrics]

    target.unlink()  # else the run refuses, before any work, to replace it
    r = cli("run", "--models", "gaussian,copy", "--samples", "200", *common)
    (aside,) = target.parent.glob("seed0.aside-*.json")
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[-1] == (
        f"2 of 2 runs ok; {aside} is written aside, {fix}; the other results in {out}; "
        f"next: genbench report --out {out}"
    )


def test_the_last_line_finds_a_result_written_aside_under_an_out_given_with_a_tilde(tmp_path, monkeypatch):
    """`--out=~/runs` reaches the command as typed (no shell expands it there); the results were
    written under the home directory, but the last line looked for the aside file in ./~/runs and
    sent the user to the report, which does not read it."""
    from genbench.cli.run import report_hint
    from genbench.results import Result

    monkeypatch.setenv("HOME", str(tmp_path))
    result = Result(model="gaussian", dataset="ring8", seed=0, protocol={"num_samples": 100})
    aside = result.write(tmp_path / "runs", to=result.aside_path(tmp_path / "runs"))
    said = report_hint(Path("~/runs"), [result])
    assert said.startswith(f"{aside} is written aside, which the report does not read"), said


# -- a process that waited for one that ended without saving ------------------------------------
def _tiny_model():
    """A trainable model that trains in no time and counts its trainings."""
    import torch

    from genbench.api import GenerativeModel

    class Tiny(GenerativeModel):
        fits = 0

        def fit(self, train, ctx):
            type(self).fits += 1
            return {"steps": 1}

        def sample(self, n, *, generator):
            return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

        def state_dict(self):
            return {"scale": torch.tensor(1.0)}

        def load_state_dict(self, state):
            pass

    return Tiny


def test_a_process_that_waited_for_a_training_never_saved_says_it_trains_it(
    register, tmp_path, monkeypatch, capsys
):
    """The holder of a checkpoint's lock was killed (``kill -9``, a cluster job out of time) before
    it saved: the job that waited for it trained it itself, having said only "waiting for it", so a
    log file without progress lines stayed silent for the whole training as if it still waited. It
    now says that it trains it."""
    from genbench import run
    from genbench.progress import Progress

    tiny = register(registry.models, "test-tiny", _tiny_model())
    config = _ring8_config(tmp_path / "probe", tmp_path / "probe-cache", 100, ["fid"])
    probe = run(dataclasses.replace(config, models=["test-tiny"]))[0]
    ckpt_dir = Path(probe.training["checkpoint"]).parent
    lock = (
        tmp_path / "cache" / ckpt_dir.relative_to(tmp_path / "probe-cache").parent / f"{ckpt_dir.name}.lock"
    )
    lock.parent.mkdir(parents=True)

    thread = held_until_waited_for(lock, Progress, monkeypatch, attr="warn")
    capsys.readouterr()
    tiny.fits = 0
    config = _ring8_config(tmp_path / "runs", tmp_path / "cache", 100, ["fid"])
    mine = run(dataclasses.replace(config, models=["test-tiny"]))[0]
    thread.join()
    err = " ".join(capsys.readouterr().err.split())
    assert "another genbench process is training it; waiting for it" in err
    assert (
        "test-tiny seed 0: the genbench process it waited for ended without saving it (killed or failed); "
        "training it here" in err
    )
    assert tiny.fits == 1 and mine.training["loaded"] is False


def test_a_retrain_that_waited_for_a_process_loading_the_checkpoint_does_not_say_it_failed(
    register, tmp_path, monkeypatch, capsys
):
    """``--retrain`` waited for another process that held the lock while it loaded the saved
    checkpoint (a run without --retrain), then cleared that checkpoint and trained it anew, as asked:
    it said "the genbench process it waited for ended without saving it (killed or failed)", of a
    process that had neither failed nor had anything to save."""
    from genbench import run
    from genbench.progress import Progress

    tiny = register(registry.models, "test-tiny", _tiny_model())
    config = dataclasses.replace(
        _ring8_config(tmp_path / "runs", tmp_path / "cache", 100, ["fid"]), models=["test-tiny"]
    )
    first = run(config)[0]  # the checkpoint the other process loads
    ckpt_dir = Path(first.training["checkpoint"]).parent
    lock = ckpt_dir.parent / f"{ckpt_dir.name}.lock"

    thread = held_until_waited_for(lock, Progress, monkeypatch, attr="warn")  # a loading run's
    capsys.readouterr()
    tiny.fits = 0
    mine = run(dataclasses.replace(config, retrain=True, out=tmp_path / "again"))[0]
    thread.join()
    err = " ".join(capsys.readouterr().err.split())
    assert "another genbench process is training it; waiting for it" in err
    assert "ended without saving it" not in err, err
    assert tiny.fits == 1 and mine.training["loaded"] is False


def test_a_long_wait_for_another_process_says_so_again_with_the_time_waited(tmp_path, monkeypatch):
    """A job waiting on another's lock said "waiting for it" once, then nothing for the hours of a
    CIFAR-10 training: a log that read as a hung job. It now says so again every WAIT_REMINDER_S,
    with the time waited so far, then goes on once the lock is free."""
    from genbench import io

    monkeypatch.setattr(io, "WAIT_REMINDER_S", 0.05)
    lock = tmp_path / "seed0.lock"
    said: list[str] = []
    console = types.SimpleNamespace(warn=said.append)
    # the process training it, until this one has said it still waits
    thread = held_until_waited_for(lock, console, monkeypatch, attr="warn", until="still training it")
    with io.alone(lock, "ddpm seed 0", "training it", console.warn) as waited:
        pass
    thread.join()
    assert waited is True
    assert said[0] == f"ddpm seed 0: another genbench process is training it; waiting for it ({lock})"
    assert said[1] == "ddpm seed 0: another genbench process is still training it; waited 0:00:00 so far"
    assert io._clock(2 * 3600 + 3 * 60 + 4.9) == "2:03:04"
