"""End-to-end CLI runs on tiny embedded data, and one clear line for every kind of bad input."""

from __future__ import annotations

import enum
import hashlib
import json
import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

import genbench
from genbench import GenbenchError, GenerativeModel, RunConfig, evaluate, register_model, registry
from genbench.cli.main import app
from genbench.errors import Diverged
from genbench.progress import Progress
from genbench.resolve import build_metrics, resolve_device
from genbench.results import Result, find_results, load_result


def run_args(out: Path, cache_dir: Path, *extra: str) -> list[str]:
    return ["run", "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress", *extra]


def eval_args(samples: Path, out: Path, cache_dir: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "--samples",
        str(samples),
        "--dataset",
        "digits",
        "--out",
        str(out),
        "--cache-dir",
        str(cache_dir),
        "--no-progress",
        *extra,
    ]


def single_line_error(result) -> str:
    """The CLI's message for a user error: exit 2, one line, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def planned_rows(
    tmp_path: Path, cache_dir: Path, models: list[str], *overrides: str, dataset: str = "digits"
) -> list[tuple[str, str]]:
    """``(model, row label)`` of every variant :func:`genbench.planning.plan` makes of ``models`` with
    ``--set overrides``: what a run would write, without training anything."""
    from genbench.planning import plan, row_label

    config = RunConfig(
        models=models, dataset=dataset, overrides=list(overrides), out=tmp_path, cache_dir=cache_dir
    )
    return [(n, row_label(v, owner)) for n, _, variants, owner in plan(config).models for v in variants]


# -- test models registered in-process --------------------------------------------------------------


@register_model("test-points-only")
class PointsOnly(GenerativeModel):
    """Zeros [n, 2] of ``points``."""

    supported_kinds = ("points",)

    def sample(self, n, *, generator):
        return torch.zeros(n, *self.spec.shape)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@register_model("test-nan")
class EmitsNaN(PointsOnly):
    supported_kinds = ("image", "points")

    def sample(self, n, *, generator):
        return torch.full((n, *self.spec.shape), float("nan"))


@register_model("test-unit-range")
class UnitRange(PointsOnly):
    """Images in [0, 1], as torchvision's ToTensor makes them: in range batch by batch, wrong as a set."""

    supported_kinds = ("image",)

    def sample(self, n, *, generator):
        return torch.rand(n, *self.spec.shape, generator=generator, device=generator.device)


@register_model("test-flaky")
class Flaky(PointsOnly):
    """Samples, or raises as a run that fails at run time does (CUDA out of memory), or diverges, or
    exits as research code's argparse does when called without its arguments."""

    outcome = "ok"

    def sample(self, n, *, generator):
        if self.outcome == "raise":
            raise RuntimeError("CUDA out of memory")
        if self.outcome == "exit":
            raise SystemExit(2)
        if self.outcome == "diverge":
            raise Diverged(step=3, loss=float("nan"))
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)


@register_model("test-tiny-trained")
class TinyTrained(GenerativeModel):
    """Learns the data mean by SGD: a trainable model that trains in milliseconds."""

    @dataclass
    class Config:
        steps: int = 20  # SGD steps
        lr: float = 0.5  # learning rate

    def __init__(self, spec, config=None):
        super().__init__(spec, config)
        self.mean = torch.zeros(spec.shape)

    def fit(self, train, ctx):
        from baselines.training import train_loop

        mean = self.mean.to(train.device).clone().requires_grad_(True)  # train arrives on ctx.device
        opt = torch.optim.SGD([mean], lr=self.config.lr)

        def step(i):
            opt.zero_grad()
            loss = ((train - mean) ** 2).mean()
            loss.backward()
            opt.step()
            return {"loss": float(loss.detach())}

        def state():
            return {"mean": mean.detach().clone(), "opt": opt.state_dict()}

        def load(s):
            with torch.no_grad():
                mean.copy_(s["mean"])
            opt.load_state_dict(s["opt"])

        out = train_loop(ctx, steps=self.config.steps, step=step, state=state, load=load)
        self.mean = mean.detach().cpu().clone()
        return out

    def sample(self, n, *, generator):
        noise = 0.1 * torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)
        x = self.mean.to(noise.device) + noise
        return x.clamp(-1, 1) if self.spec.value_range else x

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, state):
        self.mean = state["mean"]


@register_model("test-broken-last-step")
class BrokenLastStep(TinyTrained):
    """Its last update breaks the weights after its loss was checked: finite losses, NaN weights."""

    def fit(self, train, ctx):
        out = super().fit(train, ctx)
        self.mean = torch.full_like(self.mean, float("nan"))
        return out

    def state_dict(self):  # nested, as the baselines' ({"G": G.state_dict(), "D": ...})
        return {"net": {"mean": self.mean}, "steps": 3}

    def load_state_dict(self, state):
        self.mean = state["net"]["mean"]


@register_model("test-checked")
class Checked(PointsOnly):
    """Checks its config as the README shows, with the two-argument ``check_config``."""

    @dataclass
    class Config:
        steps: int = 1

    @classmethod
    def check_config(cls, spec, config):
        if config.steps < 1:
            raise GenbenchError(f"test-checked.steps must be >= 1, got {config.steps}")


# -- end to end -----------------------------------------------------------------------------------


def test_controls_on_digits_then_report_ranks_copy_first(cli, tmp_path, cache_dir):
    out, boards = tmp_path / "runs", tmp_path / "boards"
    r = cli(*run_args(out, cache_dir, "--models", "copy,collapse,gaussian", "--dataset", "digits"))
    assert r.exit_code == 0, r.output
    files = find_results(out)
    assert len(files) == 3
    res = {json.loads(p.read_text())["model"]: json.loads(p.read_text()) for p in files}
    copy = res["copy"]
    assert copy["protocol"]["num_samples"] == copy["protocol"]["num_reference"]  # train-split size
    assert copy["protocol"]["features"]["name"] == "classifier"
    assert copy["environment"]["torch"] and copy["protocol"]["seed"] == 0
    assert (
        res["copy"]["metrics"]["fid"] < res["gaussian"]["metrics"]["fid"] < res["collapse"]["metrics"]["fid"]
    )
    assert "memorized" in res["copy"]["flags"] and "collapsed" in res["collapse"]["flags"]
    assert res["gaussian"]["flags"] == []
    # each control proves its diagnostic (issue: "controls must prove each diagnostic")
    m = {name: r["metrics"] for name, r in res.items()}
    assert m["copy"]["memorization_rate"] >= 0.9 and m["copy"]["ct"] < -5
    assert m["gaussian"]["memorization_rate"] < 0.05
    assert m["collapse"]["modes_covered"] == 1 and m["collapse"]["mode_kl"] > 2.0  # ~log 10 for one mode
    assert m["gaussian"]["modes_covered"] == 10 and m["copy"]["modes_covered"] == 10
    # the figures a report links to exist
    assert Path(res["copy"]["artifacts"]["nearest_neighbours"]).is_file()
    assert Path(res["copy"]["artifacts"]["samples"]).is_file()

    rep = cli("report", "--out", str(out), "--leaderboards", str(boards))
    assert rep.exit_code == 0, rep.output
    md = (boards / "digits.md").read_text()
    assert md in rep.stdout
    table_rows = [ln for ln in md.splitlines() if ln.startswith("|") and "copy" in ln]
    assert table_rows[0].split("|")[1].strip() == "1"  # copy ranks first by FID ...
    assert "**memorized**" in table_rows[0]  # ... and is flagged, not silently on top
    assert "N = " in md and "classifier" in md and "seed 0; one seed, so cells have no spread" in md
    import pandas as pd

    csv = pd.read_csv(boards / "digits.csv")
    assert {"fid", "fid_std", "memorization_rate", "modes_covered", "samples_per_s"} <= set(csv.columns)
    assert csv.loc[csv["model"] == "copy", "rank"].item() == 1


def test_same_command_gives_same_numbers_and_second_run_loads_checkpoint(cli, tmp_path):
    cache_dir = tmp_path / "cache"  # its own: the session's holds other tests' checkpoints of this model
    args = [
        "--models",
        "test-tiny-trained,gaussian",
        "--dataset",
        "ring8",
        "--samples",
        "300",
        "--seeds",
        "0,1",
    ]
    assert cli(*run_args(tmp_path / "a", cache_dir, *args)).exit_code == 0
    ckpts = list(cache_dir.glob("checkpoints/ring8/test-tiny-trained/seed*/model.pt"))
    assert len(ckpts) == 2
    stamps = [p.stat().st_mtime_ns for p in ckpts]
    r = cli(*run_args(tmp_path / "b", cache_dir, *args))
    assert r.exit_code == 0
    assert [p.stat().st_mtime_ns for p in ckpts] == stamps  # loaded, not retrained
    for pa in find_results(tmp_path / "a"):
        pb = tmp_path / "b" / pa.relative_to(tmp_path / "a")
        ma, mb = json.loads(pa.read_text())["metrics"], json.loads(pb.read_text())["metrics"]
        for k in ("fid", "precision", "recall", "modes_covered"):
            assert ma[k] == mb[k], k
    # seeds differ
    s0 = json.loads((tmp_path / "a/ring8/gaussian/seed0.json").read_text())["metrics"]["fid"]
    s1 = json.loads((tmp_path / "a/ring8/gaussian/seed1.json").read_text())["metrics"]["fid"]
    assert s0 != s1
    r = cli(*run_args(tmp_path / "c", cache_dir, *args, "--retrain"))
    assert r.exit_code == 0 and [p.stat().st_mtime_ns for p in ckpts] != stamps


def interrupt_training_at(monkeypatch: pytest.MonkeyPatch, at: int):
    """Make training raise KeyboardInterrupt (Ctrl-C) when it reports step ``at``; returns the real
    ``TrainContext.progress`` so that the test can undo it."""
    from genbench.api import TrainContext

    real = TrainContext.progress

    def interrupt(self, step, total, **values):
        if step == at:
            raise KeyboardInterrupt
        real(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", interrupt)
    return real


def test_ctrl_c_before_the_first_resumable_state_says_the_rerun_starts_over(cli, tmp_path, monkeypatch):
    """Stopped at step 3 of a training that saves its state every 5 steps, there is no train.pt:
    the command still said "rerun to resume training", and the rerun trained from step 0."""
    from genbench.api import TrainContext

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args = run_args(tmp_path / "runs", tmp_path / "cache", *args, "--checkpoint-every", "5", "--no-figures")
    real = interrupt_training_at(monkeypatch, 3)
    r = cli(*args)
    assert r.exit_code == 130 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == (
        "interrupted: finished results are saved; test-tiny-trained seed 0 had saved no state to resume "
        "from (--checkpoint-every 5), so a rerun trains it from the start"
    )
    assert not list((tmp_path / "cache").rglob("train.pt"))
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*args).exit_code == 0
    (result,) = find_results(tmp_path / "runs")
    assert load_result(result).training["resumed_from"] == 0  # as said: trained from the start


def test_interrupted_training_resumes_to_the_same_result(cli, tmp_path, monkeypatch):
    """Ctrl-C during training keeps the last checkpoint; the rerun resumes from it and ends where an
    uninterrupted run ends, with the whole training log."""
    from genbench.api import TrainContext

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args += ["--checkpoint-every", "5", "--no-figures"]
    assert cli(*run_args(tmp_path / "a", tmp_path / "cache-a", *args)).exit_code == 0
    real = interrupt_training_at(monkeypatch, 12)
    r = cli(*run_args(tmp_path / "b", tmp_path / "cache-b", *args))
    assert r.exit_code == 130 and "rerun to resume" in r.stderr
    assert not find_results(tmp_path / "b")
    monkeypatch.setattr(TrainContext, "progress", real)
    r = cli(*run_args(tmp_path / "b", tmp_path / "cache-b", *args, "--progress"))  # its lines shown
    assert r.exit_code == 0
    # the rerun says it resumed, and from where, as a loaded checkpoint's line names it: it said nothing
    said = " ".join(r.stderr.split())
    assert "test-tiny-trained seed 0: resuming the interrupted training from step 10 (" in said, said
    assert "train.pt)" in said
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert a["training"]["resumed_from"] == 0 and b["training"]["resumed_from"] == 10
    assert a["metrics"]["fid"] == b["metrics"]["fid"]  # the same weights, so the same samples
    assert [row["step"] for row in b["training_log"]] == [row["step"] for row in a["training_log"]]
    c = cli(*run_args(tmp_path / "c", tmp_path / "cache-b", *args))  # third time: loaded, not trained
    assert c.exit_code == 0
    assert json.loads((tmp_path / "c/ring8/test-tiny-trained/seed0.json").read_text())["training"]["loaded"]


def test_an_interrupted_retrain_resumes_when_the_same_command_is_rerun(cli, tmp_path, monkeypatch):
    """--retrain cleared the checkpoint directory on every run: rerunning the interrupted command, as
    Ctrl-C's message says, started the training over. It resumes now, to the same result; once that
    training has finished, --retrain trains anew again."""
    from genbench.api import TrainContext

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args += ["--checkpoint-every", "5", "--no-figures", "--retrain"]
    assert cli(*run_args(tmp_path / "a", tmp_path / "cache-a", *args)).exit_code == 0
    cache = tmp_path / "cache-b"
    assert cli(*run_args(tmp_path / "old", cache, *args[:-1])).exit_code == 0  # a finished checkpoint
    real = interrupt_training_at(monkeypatch, 12)
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 130
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert (b["training"]["loaded"], b["training"]["resumed_from"]) == (False, 10)
    assert a["metrics"]["fid"] == b["metrics"]["fid"]
    assert cli(*run_args(tmp_path / "c", cache, *args)).exit_code == 0  # finished: --retrain trains anew
    c = json.loads((tmp_path / "c/ring8/test-tiny-trained/seed0.json").read_text())
    assert (c["training"]["loaded"], c["training"]["resumed_from"]) == (False, 0)

    def fail_at_12(self, step, total, **values):
        if step == 12:
            raise RuntimeError("a bug")
        real(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", fail_at_12)
    assert cli(*run_args(tmp_path / "e", cache, *args)).exit_code == 1
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*run_args(tmp_path / "e", cache, *args)).exit_code == 0  # failed, not interrupted: anew
    e = json.loads((tmp_path / "e/ring8/test-tiny-trained/seed0.json").read_text())
    assert e["training"]["resumed_from"] == 0
    (final,) = cache.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    assert [f.name for f in final.parent.iterdir()] == ["model.pt"]  # the resumable state is gone
    final.unlink()
    ckpt = final.parent / "train.pt"
    ckpt.write_bytes(b"truncated")  # an unfinished retraining whose checkpoint is corrupt: cleared
    (ckpt.parent / "retraining").touch()
    r = cli(*run_args(tmp_path / "d", cache, *args))
    assert r.exit_code == 0, r.output
    assert (
        json.loads((tmp_path / "d/ring8/test-tiny-trained/seed0.json").read_text())["training"][
            "resumed_from"
        ]
        == 0
    )


#: two trainings of one model, checkpointed every 5 steps
TWO_TRAININGS = (
    "--models test-tiny-trained --dataset ring8 --samples 100 --metrics fid --no-figures "
    "--set test-tiny-trained.steps=10,30 --checkpoint-every 5"
).split()


def record_fits(monkeypatch) -> list[int]:
    """The ``steps`` of every TinyTrained training from now on, in order."""
    fits: list[int] = []
    real_fit = TinyTrained.fit
    monkeypatch.setattr(
        TinyTrained,
        "fit",
        lambda self, train, ctx: fits.append(self.config.steps) or real_fit(self, train, ctx),
    )
    return fits


def test_an_interrupted_retrain_keeps_the_trainings_it_finished(cli, tmp_path, monkeypatch):
    """A --retrain of several models interrupted in the last one: its rerun trained the finished
    ones over again (a whole leaderboard's worth). It loads them now and resumes the interrupted one;
    once the run has finished, the next --retrain trains everything anew."""
    from genbench.api import TrainContext

    fits = record_fits(monkeypatch)
    args = [*TWO_TRAININGS, "--retrain"]
    cache = tmp_path / "cache"
    real = interrupt_training_at(monkeypatch, 12)  # steps=10 finishes first; steps=30 stops at 12
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 130
    assert fits == [10, 30]
    monkeypatch.setattr(TrainContext, "progress", real)
    fits.clear()
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    assert fits == [30]
    rows = {
        r["variant"]: r["training"]
        for r in map(json.loads, map(Path.read_text, find_results(tmp_path / "a")))
    }
    assert rows["steps=10"]["loaded"] and rows["steps=30"]["resumed_from"] == 10
    fits.clear()
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0
    assert fits == [10, 30]


def test_a_run_without_retrain_ends_an_interrupted_retrains_mark(cli, tmp_path, monkeypatch):
    """An interrupted --retrain, then a plain run that loads what it had finished: the mark stayed,
    and any later --retrain, days on, loaded that checkpoint instead of training it."""
    from genbench.api import TrainContext

    fits = record_fits(monkeypatch)
    args = TWO_TRAININGS
    cache = tmp_path / "cache"
    real = interrupt_training_at(monkeypatch, 12)  # steps=10 finishes first; steps=30 stops at 12
    assert cli(*run_args(tmp_path / "a", cache, *args, "--retrain")).exit_code == 130
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0  # loads 10, resumes 30
    fits.clear()
    assert cli(*run_args(tmp_path / "b", cache, *args, "--retrain")).exit_code == 0
    assert fits == [10, 30]


def test_bumping_a_models_version_retrains_instead_of_loading_a_stale_checkpoint(cli, tmp_path, monkeypatch):
    from genbench import registry

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    cache = tmp_path / "cache"
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    monkeypatch.setattr(registry.models.get("test-tiny-trained"), "version", 2)
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert (a["training"]["model_version"], b["training"]["model_version"]) == (1, 2)
    assert not b["training"]["loaded"] and b["training"]["checkpoint"] != a["training"]["checkpoint"]
    assert len(list(cache.glob("checkpoints/ring8/test-tiny-trained/seed0-*/model.pt"))) == 2


def test_the_cost_table_names_the_machines_its_timings_were_measured_on(cli, tmp_path):
    """The boards' samples/s and train_s named no hardware, and a loaded checkpoint's train_s was
    timed wherever it had been trained: results now record the CPU model and torch's threads (the GPU
    on CUDA), checkpoints record where they were trained, and the Cost table says both."""
    import torch

    from genbench.results import machine, machine_text

    cache = tmp_path / "cache"
    args = ["--models", "test-tiny-trained,gaussian", "--dataset", "ring8", "--samples", "100"]
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0  # loads the checkpoint
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert a["environment"]["cpu_threads"] == torch.get_num_threads()
    assert a["environment"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    here = machine_text(machine(a["environment"]["device"]))  # the GPU's name where auto chose CUDA
    if a["environment"]["device"] == "cpu":
        assert here.startswith("CPU") and f"{torch.get_num_threads()} threads" in here
        assert f"({torch.backends.cpu.get_cpu_capability()})" in here
    assert (a["training"]["loaded"], b["training"]["loaded"]) == (False, True)
    assert a["training"]["trained_on"] == b["training"]["trained_on"] == here
    assert cli("report", "--out", str(tmp_path / "b")).exit_code == 0
    board = (tmp_path / "b/leaderboards/ring8.md").read_text()
    cost = board[board.index("## Cost") :]
    # 100 samples, fewer than the default batch (500), were drawn as one batch of 100
    assert RunConfig().batch_size > 100
    batches = "Sampled in batches of 100."
    assert cost.splitlines()[2] == f"Timed on {here}. {batches}"

    # a checkpoint written before the machine was recorded: its train_s is not claimed for this one
    (ckpt,) = cache.glob("checkpoints/ring8/test-tiny-trained/seed0-*/model.pt")
    payload = torch.load(ckpt, weights_only=False)
    del payload["machine"]
    torch.save(payload, ckpt)
    assert cli(*run_args(tmp_path / "c", cache, *args)).exit_code == 0
    assert cli("report", "--out", str(tmp_path / "c")).exit_code == 0
    cost = (tmp_path / "c/leaderboards/ring8.md").read_text().split("## Cost")[1]
    assert cost.splitlines()[2] == (
        f"Sampling timed on {here}; `train_s` when the checkpoints were trained, on a machine they do "
        f"not name (they predate recording it). {batches}"
    )


def test_a_plugin_datasets_changed_data_is_never_served_stale_checkpoints_or_features(
    cli, tmp_path, monkeypatch
):
    """Checkpoints were keyed by the dataset's name, and cached reference features and the protocol's
    fingerprint hashed the first 256 rows: a plugin dataset whose rows past 256 changed got the old
    trained model and the old features, and its results claimed the old data, without a word."""
    from genbench import registry
    from genbench.data.base import Dataset

    class Shifting(Dataset):
        kind, default_features = "points", "raw"
        shift = 0.0

        def _load(self, split):
            x = torch.from_numpy(np.random.default_rng(0).standard_normal((400, 2)).astype(np.float32))
            x[300:] += self.shift  # past the 256 rows the fingerprint reads
            return x, None

    registry.datasets.discover()
    monkeypatch.setattr(registry.datasets, "_entries", dict(registry.datasets._entries))
    registry.datasets.add("test-shifting", Shifting, source="genbench-test-plugin")
    cache = tmp_path / "cache"
    args = ["--models", "test-tiny-trained", "--dataset", "test-shifting"]
    args += ["--samples", "100", "--metrics", "fid"]
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    features = set(cache.glob("features/*.npz"))
    monkeypatch.setattr(Shifting, "shift", 5.0)
    r = cli(*run_args(tmp_path / "b", cache, *args))
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "trained on other data: the train split of dataset 'test-shifting' changed" in line, line
    assert "--retrain" in line
    assert cli(*run_args(tmp_path / "c", cache, *args, "--retrain")).exit_code == 0
    assert set(cache.glob("features/*.npz")) - features  # features of the new data, not the old ones
    a, c = (
        json.loads((tmp_path / d / "test-shifting/test-tiny-trained/seed0.json").read_text()) for d in "ac"
    )
    # and the results say which data they measured: the protocol's fingerprint covers every row
    assert a["protocol"]["dataset_fingerprint"] != c["protocol"]["dataset_fingerprint"]
    assert a["metrics"]["fid"] != c["metrics"]["fid"]


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))],
)
def test_amp_checkpoints_have_a_key_of_their_own_and_results_record_the_precision(cli, tmp_path, device):
    """--amp (bfloat16 autocast on CUDA) was neither in the checkpoint key nor in the result: an fp32
    run loaded bf16-trained weights without a trace. On CUDA --amp trains a checkpoint of its own key;
    on the CPU it is a no-op and loads the fp32 checkpoint. The device is named: on a GPU machine
    auto picks CUDA, where the CPU's expectations failed."""
    from genbench.api import config_hash
    from genbench.training import training_key_config

    cfg = {"lr": 1e-3, "steps": 10}
    assert training_key_config(cfg, False) == cfg  # fp32 keys are unchanged: existing caches load
    assert config_hash("m", "d", training_key_config(cfg, True), 0) != config_hash("m", "d", cfg, 0)
    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args += ["--no-figures", "--device", device]
    for out, extra in (("a", []), ("b", ["--amp"]), ("c", ["--amp"])):
        r = cli(*run_args(tmp_path / out, tmp_path / "cache", *args, *extra))
        assert r.exit_code == 0
        # on the CPU, said once, rather than training in float32 while the user believes bf16
        said = [ln for ln in r.stderr.splitlines() if "--amp" in ln]
        assert said == (
            [f"warning: --amp is mixed precision on CUDA only: training on {device} runs in float32"]
            if extra and device == "cpu"
            else []
        )
    a, b, c = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "abc")
    assert (a["training"]["amp"], a["training"]["loaded"]) == (False, False)
    if device == "cpu":
        assert (b["training"]["amp"], b["training"]["loaded"]) == (False, True)
        assert b["training"]["checkpoint"] == a["training"]["checkpoint"]
    else:  # bf16-trained weights: a key of their own, which the next --amp run loads
        assert (b["training"]["amp"], b["training"]["loaded"]) == (True, False)
        assert b["training"]["checkpoint"] != a["training"]["checkpoint"]
    assert (c["training"]["amp"], c["training"]["loaded"]) == (b["training"]["amp"], True)
    assert c["training"]["checkpoint"] == b["training"]["checkpoint"]


def test_retrain_trains_a_shared_checkpoint_once_per_run(cli, tmp_path, monkeypatch):
    """ddpm and every ddim variant sample one DDPM checkpoint: --retrain trained it anew for each of
    them (three times here; on a GPU, three different networks behind one table)."""
    from baselines.ddpm import DDPM

    fits = []
    real_fit = DDPM.fit
    monkeypatch.setattr(
        DDPM, "fit", lambda self, train, ctx: fits.append(ctx.seed) or real_fit(self, train, ctx)
    )
    args = [
        "--models",
        "ddpm,ddim",
        "--dataset",
        "ring8",
        "--samples",
        "20",
        "--metrics",
        "fid",
        "--no-figures",
    ]
    args += ["--set", "ddpm.train_steps=5", "--set", "ddim.steps=2,3", "--seeds", "0,1"]
    cache = tmp_path / "cache"
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    assert fits == [0, 1]
    fits.clear()
    assert cli(*run_args(tmp_path / "b", cache, *args, "--retrain")).exit_code == 0
    assert fits == [0, 1]  # once per seed, not once per row
    rows = [json.loads(p.read_text()) for p in find_results(tmp_path / "b")]
    assert sorted(r["training"]["loaded"] for r in rows) == [False] * 2 + [True] * 4


def test_a_diverged_shared_checkpoint_is_trained_once_per_run(cli, tmp_path, monkeypatch):
    """Each ddim variant trained the diverging DDPM again up to its divergence (minutes each on
    digits); the rows after the first now record the same divergence."""
    from baselines.ddpm import DDPM

    fits = []
    real_fit = DDPM.fit
    monkeypatch.setattr(
        DDPM, "fit", lambda self, train, ctx: fits.append(ctx.seed) or real_fit(self, train, ctx)
    )
    args = ["--models", "ddpm,ddim", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
    args += ["--set", "ddpm.lr=1e30", "--set", "ddpm.train_steps=50", "--set", "ddim.steps=2,3"]
    r = cli(*run_args(tmp_path, tmp_path / "cache", *args, "--no-figures"))
    assert r.exit_code == 1, r.output
    assert fits == [0]
    rows = [json.loads(p.read_text()) for p in find_results(tmp_path)]
    assert len(rows) == 3 and {r["status"] for r in rows} == {"diverged"}
    assert len({r["error"] for r in rows}) == 1 and "diverged at step" in rows[0]["error"]


def test_set_override_sweeps_variants(cli, tmp_path, cache_dir):
    args = [
        "--models",
        "test-tiny-trained",
        "--dataset",
        "ring8",
        "--samples",
        "100",
        "--set",
        "test-tiny-trained.steps=3,5",
    ]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 0, r.output
    labels = sorted(p.parent.name for p in find_results(tmp_path))
    assert labels == ["test-tiny-trained_steps=3", "test-tiny-trained_steps=5"]
    res = json.loads(find_results(tmp_path)[0].read_text())
    assert res["config"]["steps"] in (3, 5) and res["variant"].startswith("steps=")


def test_a_tuple_field_sweeps_only_values_written_with_colons(tmp_path, cache_dir):
    from genbench.planning import plan

    def variants(value: str) -> list[dict[str, str]]:
        config = RunConfig(
            models=["ddpm"], overrides=[f"ddpm.ch_mult={value}"], out=tmp_path, cache_dir=cache_dir
        )
        return plan(config).models[0][2]

    assert variants("1:2:2") == [{"ch_mult": "1:2:2"}]
    assert variants("1:2,1:2:2") == [{}, {"ch_mult": "1:2:2"}]  # 1:2 is digits' default: plain ddpm
    assert variants("1:,2:") == [{"ch_mult": "1"}, {"ch_mult": "2"}]
    with pytest.raises(GenbenchError, match=r"trailing ':' to sweep them \(ddpm.ch_mult=1:,2:\)"):
        variants("1,2")


def test_a_number_option_whose_default_is_none_is_recorded_as_a_number(tmp_path, cache_dir):
    """``kid.subset_size`` (default None) stayed text: ``0500`` and ``500`` were two protocols, two rows."""
    from genbench.planning import plan

    def options(value: str) -> dict:
        config = RunConfig(
            models=["copy"],
            metrics=["kid"],
            metric_options=[f"kid.subset_size={value}"],
            out=tmp_path,
            cache_dir=cache_dir,
        )
        return plan(config).metric_options

    assert options("0500") == options("500") == {"kid": {"subset_size": 500}}


def test_an_empty_tuple_is_labelled_so_that_the_label_reads_back(register, tmp_path, cache_dir):
    """``--set ddpm.attn_resolutions=:`` was labelled ``attn_resolutions=``, which --set refuses (a
    model of its own: ddpm's U-Net fields are refused on ring8, where it trains an MLP)."""
    from genbench.planning import plan

    class Levels(PointsOnly):
        @dataclass
        class Config:
            levels: tuple[int, ...] = (16,)

    register(registry.models, "test-levels", Levels)
    config = RunConfig(
        models=["test-levels"],
        dataset="ring8",
        overrides=["test-levels.levels=:"],
        out=tmp_path,
        cache_dir=cache_dir,
    )
    (variant,) = plan(config).models[0][2]
    assert variant == {"levels": ":"}
    again = replace(config, overrides=[f"test-levels.{k}={v}" for k, v in variant.items()])
    assert plan(again).models[0][2] == [variant]


def test_an_optional_tuple_field_reads_as_a_tuple():
    """``tuple[int, ...] | None`` came through --set as the raw string ``"1:2"``."""
    from genbench.config import resolve_model_config

    class OptionalLevels(PointsOnly):
        @dataclass
        class Config:
            levels: tuple[int, ...] | None = None

    assert resolve_model_config(OptionalLevels, "ring8", {"levels": "1:2"}).levels == (1, 2)
    assert resolve_model_config(OptionalLevels, "ring8", {"levels": "none"}).levels is None
    with pytest.raises(GenbenchError, match=r"bad value 'a' for [\w-]+\.levels; expected int"):
        resolve_model_config(OptionalLevels, "ring8", {"levels": "a:b"})


def test_a_fixed_length_tuple_field_takes_exactly_its_items():
    """``tuple[int, float]`` took any number of items (``1:2:3`` became a 3-tuple), each read as an int."""
    from genbench.config import resolve_model_config

    def with_defaults(**defaults):
        class Pair(PointsOnly):
            @dataclass
            class Config:
                shape: tuple[int, float] = (1, 0.5)

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Pair

    got = resolve_model_config(with_defaults(), "ring8", {"shape": "2:3"}).shape
    assert got == (2, 3.0) and type(got[1]) is float
    for text in ("1:2:3", "4"):
        with pytest.raises(GenbenchError, match=r"for [\w-]+\.shape; expected 2 items like int:float"):
            resolve_model_config(with_defaults(), "ring8", {"shape": text})
    with pytest.raises(GenbenchError, match=r"expected 2 items like int:float, got 3"):
        resolve_model_config(with_defaults(shape=[1, 2, 3]), "ring8", {})
    with pytest.raises(GenbenchError, match=r"bad value '1.5' for [\w-]+\.shape; expected int"):
        resolve_model_config(with_defaults(), "ring8", {"shape": "1.5:2"})


class Size(enum.Enum):  # at module level: Config's annotations are resolved by name
    SMALL = "small"
    LARGE = "large"


def test_dataset_defaults_are_read_as_the_fields_types_as_set_reads_them():
    """A plugin's per-dataset TOML defaults reached its Config as parsed TOML: an Enum field got the
    text ``"large"``, a Path field a str, a float field the int ``1``, an int field ``1.5``."""
    from genbench.config import resolve_model_config

    def with_defaults(**defaults):
        class Typed(PointsOnly):
            @dataclass
            class Config:
                size: Size = Size.SMALL
                where: Path = Path("a")
                scale: float = 0.5
                steps: int = 10
                levels: tuple[int, ...] = (1,)
                kind: str = "x"

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Typed

    config = resolve_model_config(
        with_defaults(size="large", where="b/c", scale=1, steps=20, levels=[1, 2], kind="y"), "ring8", {}
    )
    assert config.size is Size.LARGE
    assert config.where == Path("b/c")
    assert (type(config.scale), config.scale) == (float, 1.0)
    assert (config.steps, config.levels, config.kind) == (20, (1, 2), "y")
    with pytest.raises(GenbenchError, match=r"bad value '1.5' for [\w-]+\.steps in its 'ring8' config"):
        resolve_model_config(with_defaults(steps=1.5), "ring8", {})
    with pytest.raises(GenbenchError, match=r"bad value 'huge' for [\w-]+\.size in its 'ring8' config"):
        resolve_model_config(with_defaults(size="huge"), "ring8", {})
    with pytest.raises(GenbenchError, match=r"bad value 'true' for [\w-]+\.steps"):
        resolve_model_config(with_defaults(steps=True), "ring8", {})


def test_a_toml_value_and_the_same_set_value_are_read_alike():
    """A model's TOML defaults and ``--set`` read one value two ways: ``train_steps = 1e3`` (a TOML
    float) trained 1000 steps while ``--set m.train_steps=1e3`` was refused; ``lr = nan`` and
    ``inf`` passed every range check and trained, though ``--set`` refuses them; a nested list
    (``[[1, 2]]``), an item with a colon (``["a:b"]``) or a Python tuple for a plain field set
    a value no ``--set`` can write."""
    import math

    from genbench.config import resolve_model_config

    def with_defaults(**defaults):
        class Typed(PointsOnly):
            @dataclass
            class Config:
                steps: int = 10
                lr: float = 0.1
                levels: tuple[int, ...] = (1,)
                names: tuple[str, ...] = ("a",)

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Typed

    def toml(field: str, value) -> str:
        try:
            return repr(getattr(resolve_model_config(with_defaults(**{field: value}), "ring8", {}), field))
        except GenbenchError as e:
            return str(e).replace(" in its 'ring8' config", "")

    def set_(field: str, text: str) -> str:
        try:
            return repr(getattr(resolve_model_config(with_defaults(), "ring8", {field: text}), field))
        except GenbenchError as e:
            return str(e)

    for field, value, text in [
        ("steps", 1e3, "1e3"),
        ("steps", 1000.0, "1000.0"),
        ("steps", 1e20, "1e20"),
        ("steps", 1.5, "1.5"),
        ("lr", math.nan, "nan"),
        ("lr", -math.inf, "-inf"),
        ("levels", [1.0, 2.0], "1.0:2.0"),
        ("levels", [1.5], "1.5:"),
    ]:
        assert toml(field, value) == set_(field, text), (field, value, text)
    assert set_("steps", "1e3") == "1000" and set_("steps", "1.5").startswith("bad value '1.5'")
    assert "expected a finite float" in toml("lr", math.nan)
    for field, value in [("levels", [[1, 2]]), ("levels", [[1]]), ("names", ["a:b"]), ("lr", (0.1,))]:
        assert toml(field, value).startswith("bad value"), (field, value)
    # the number as typed, not rounded to a float's 53 bits; 1e999999999 is refused, not built
    assert set_("steps", "12345678901234567891.0") == "12345678901234567891"
    assert set_("steps", "1e999999999").startswith("bad value")


def test_a_variant_is_named_by_what_it_changes(tmp_path, cache_dir):
    """The published digits board had rows ``ddim`` and ``ddim[steps=50]``: one measurement twice,
    since the sweep's 50 is ddim's default. A value equal to the default names no variant, and one
    value typed two ways (``eta=1``, ``eta=1.0``), or fields set in another order, name one."""

    def rows(models: list[str], *overrides: str) -> list[str]:
        return [label for _, label in planned_rows(tmp_path, cache_dir, models, *overrides)]

    assert rows(["ddim"], "ddim.steps=10,50,100") == ["steps=10", "", "steps=100"]
    assert rows(["ddim"], "ddim.eta=1,1.0,1e0,0.0") == ["eta=1", ""]
    assert rows(["ddim"], "ddim.steps=050", "ddim.clip_denoised=yes") == [""]
    assert rows(["ddim"], "ddim.clip_denoised=off") == ["clip_denoised=false"]
    assert rows(["ddim"], "ddpm.lr=0.002", "ddim.steps=20") == ["steps=20"]  # the owner's default
    assert rows(["ddim"], "ddpm.lr=1e-3") == ["ddpm.lr=0.001"]
    assert rows(["ddim"], "ddim.steps=20", "ddim.eta=0.5") == rows(["ddim"], "ddim.eta=.5", "ddim.steps=20")
    assert rows(["ddim"], "ddim.steps=20", "ddim.eta=0.5", "ddpm.lr=1e-3") == [
        "eta=0.5,steps=20,ddpm.lr=0.001"
    ]
    assert rows(["vae"], "vae.lr=5e-4,1e-3") == ["lr=0.0005", ""]  # 1e-3 is its default


def test_minus_zero_is_one_value_with_zero_in_variants_and_checkpoint_keys(tmp_path, cache_dir):
    """``--set ddpm.grad_clip=-0,0`` (both turn clipping off) were two variants, two rows and two
    checkpoint keys: ``-0.0 == 0.0``, but the label wrote ``-0`` and the key hashed ``-0.0``."""
    from baselines.ddpm import DDPM
    from genbench.config import resolve_model_config
    from genbench.planning import plan
    from genbench.training import checkpoint_subdir

    config = RunConfig(
        models=["ddpm"],
        dataset="ring8",
        overrides=["ddpm.grad_clip=-0,0", "ddpm.mlp_fourier_scale=-0.0"],
        out=tmp_path,
        cache_dir=cache_dir,
    )
    p = plan(config)
    assert p.models[0][2] == [{"grad_clip": "0", "mlp_fourier_scale": "0"}]
    keys = {
        checkpoint_subdir(
            "ring8", "ddpm", DDPM(p.dataset.spec, resolve_model_config(DDPM, "ring8", v)), 0, False
        )
        for v in ({"grad_clip": "-0"}, {"grad_clip": "0"}, {"grad_clip": "-0.0"})
    }
    assert len(keys) == 1


def test_a_tuple_field_of_a_weights_owner_is_checked_as_the_owners_own_is(cli, tmp_path, cache_dir):
    """``--models ddim --set ddpm.ch_mult=1,2`` said "sweep one value at a time" (running one-level
    U-Nets ``1`` and ``2`` in turn), not how to write the tuple, which ``--models ddpm,ddim`` said."""
    for models in ("ddim", "ddim,ddpm", "ddpm,ddim"):
        args = ["--models", models, "--dataset", "ring8", "--set", "ddpm.ch_mult=1,2"]
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert "separate its items with ':' (ddpm.ch_mult=1:2)" in line, line


def test_an_owner_field_that_leaves_its_weights_as_they_are_names_no_dependent_row(cli, tmp_path, cache_dir):
    """``--models ddim --set ddpm.variance=beta`` wrote ``ddim[ddpm.variance=beta]``, plain ddim's
    very samples (ddim samples ddpm's weights with its own sampler): so did a U-Net field on ring8,
    where ddpm trains an MLP. Alone it is refused; with ddpm in --models it is ddpm's variant only."""
    for field in ("ddpm.variance=beta", "ddpm.ch=64"):
        args = ["--models", "ddim", "--dataset", "ring8", "--seeds", "0", "--set", field]
        args += ["--set", "ddpm.train_steps=2", "--samples", "20", "--metrics", "modes"]  # quick if it runs
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert f"--set {field} does not change the ddpm weights that ddim samples on ring8" in line, line
        assert "drop it, or add ddpm to --models" in line, line

    def rows(models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset="ring8")

    assert rows(["ddpm", "ddim"], "ddpm.variance=beta,beta_tilde") == [
        ("ddpm", "variance=beta"),
        ("ddpm", ""),
        ("ddim", ""),
    ]
    assert rows(["ddim"], "ddpm.lr=2e-3", "ddpm.variance=beta_tilde") == [("ddim", "ddpm.lr=0.002")]
    assert rows(["ddpm", "ddim"], "ddpm.lr=2e-3", "ddpm.variance=beta") == [
        ("ddpm", "lr=0.002,variance=beta"),
        ("ddim", "ddpm.lr=0.002"),
    ]
    with pytest.raises(GenbenchError, match="sweeps ddpm, which a dependent model reuses"):
        rows(["ddpm", "ddim"], "ddpm.lr=2e-3,3e-3")


def test_a_field_a_model_does_not_use_on_the_data_names_no_row(cli, tmp_path, cache_dir):
    """``--set ddpm.ch=64`` on ring8 (the U-Net's width, where an MLP trains on the points) wrote a
    ``ddpm[ch=64]`` row holding plain ddpm's very samples; on digits the U-Net reads it."""
    for model, field in [
        ("ddpm", "ch=64"),
        ("ddpm", "clip_denoised=false"),  # points have no range to clip to
        ("ddim", "clip_denoised=false"),
        ("gan-sat", "g_width=8"),
        ("vae", "min_res=2"),
    ]:
        args = ["--models", model, "--dataset", "ring8", "--seeds", "0", "--set", f"{model}.{field}"]
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert f"--set {model}.{field} changes nothing {model} trains or samples on ring8" in line, line

    def rows(dataset: str, models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset=dataset)

    assert rows("digits", ["ddpm"], "ddpm.ch=8") == [("ddpm", "ch=8")]
    assert rows("ring8", ["ddpm"], "ddpm.mlp_hidden=64") == [("ddpm", "mlp_hidden=64")]
    # the VAE's floor on a learned sigma does nothing once sigma is fixed (ring8's config fixes it)
    assert rows("digits", ["vae"], "vae.min_log_sigma=-4") == [("vae", "min_log_sigma=-4")]
    with pytest.raises(GenbenchError, match=r"--set vae.min_log_sigma=-4 changes nothing vae"):
        rows("digits", ["vae"], "vae.min_log_sigma=-4", "vae.decoder_sigma=0.5")
    with pytest.raises(GenbenchError, match=r"--set vae.min_log_sigma=-4 changes nothing vae"):
        rows("ring8", ["vae"], "vae.min_log_sigma=-4")


def test_a_sweep_point_that_leaves_a_field_unused_is_named_without_it(tmp_path, cache_dir):
    """``--set vae.decoder_sigma=none,0.5 --set vae.min_log_sigma=-4``: the floor acts on the learned
    sigma and does nothing on the fixed one. The sweep was refused whole; the fixed point is named by
    what it changes, as a point at a field's default is, and a field no point uses is still refused."""

    def rows(dataset: str, *overrides: str) -> list[str]:
        return [label for _, label in planned_rows(tmp_path, cache_dir, ["vae"], *overrides, dataset=dataset)]

    assert rows("digits", "vae.decoder_sigma=none,0.5", "vae.min_log_sigma=-4") == [
        "min_log_sigma=-4",
        "decoder_sigma=0.5",
    ]
    # ring8's config fixes sigma at 0.1: its plain row is the fixed point, named after nothing
    assert rows("ring8", "vae.decoder_sigma=none,0.1", "vae.min_log_sigma=-4,-5") == [
        "decoder_sigma=none,min_log_sigma=-4",
        "decoder_sigma=none,min_log_sigma=-5",
        "",
    ]
    with pytest.raises(GenbenchError, match=r"--set vae.min_log_sigma=-4 changes nothing vae"):
        rows("digits", "vae.decoder_sigma=0.5,0.25", "vae.min_log_sigma=-4")


@pytest.mark.parametrize("keeps_hparams", [False, True])
def test_an_owners_fields_reach_a_dependent_by_its_training_config(
    register, tmp_path, cache_dir, keeps_hparams
):
    """The rule is the owner's ``train_config`` (what keys its checkpoint), not a list of ddpm's
    fields. With ``keeps_hparams``, an owner whose ``train_config`` returns hyperparameters it kept in
    ``__init__`` (research code's ``self.hparams``): asked of one built model whose config was swapped
    under it, every value gave the same key, and ``--set test-owner.steps=3`` was refused as
    changing nothing, though the runner trains it at 3 steps under another checkpoint key."""

    @dataclass
    class OwnerConfig:
        steps: int = 5
        temperature: float = 1.0  # how it samples: no part of its training config

    class Owner(PointsOnly):
        Config = OwnerConfig

        def __init__(self, spec, config=None):
            super().__init__(spec, config)
            self.hparams = {"steps": self.config.steps}

        def train_config(self):
            return self.hparams if keeps_hparams else {"steps": self.config.steps}

    class Dependent(PointsOnly):
        weights_from = "test-owner"

        @classmethod
        def from_trained(cls, owner, config):
            return cls(owner.spec, config)

    register(registry.models, "test-owner", Owner)
    register(registry.models, "test-dependent", Dependent)

    def rows(models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset="ring8")

    assert rows(["test-dependent"], "test-owner.steps=3") == [("test-dependent", "test-owner.steps=3")]
    assert rows(["test-owner", "test-dependent"], "test-owner.temperature=2") == [
        ("test-owner", "temperature=2"),
        ("test-dependent", ""),
    ]
    assert rows(["test-owner", "test-dependent"], "test-owner.steps=3", "test-owner.temperature=2") == [
        ("test-owner", "steps=3,temperature=2"),
        ("test-dependent", "test-owner.steps=3"),
    ]
    with pytest.raises(GenbenchError, match=r"--set test-owner.temperature=2 does not change the test-owner"):
        rows(["test-dependent"], "test-owner.temperature=2")


def test_a_tuple_written_in_brackets_is_told_the_form_that_works(tmp_path, cache_dir):
    """``--set ddpm.ch_mult=[1,2]`` was told to write ``ddpm.ch_mult=[1:2]``, which failed as
    "bad value '[1'"; a tuple item that is no number named no form at all."""
    from baselines.ddpm import DDPM
    from genbench.config import resolve_model_config
    from genbench.planning import plan

    def error(value: str) -> str:
        config = RunConfig(
            models=["ddpm"], overrides=[f"ddpm.ch_mult={value}"], out=tmp_path, cache_dir=cache_dir
        )
        with pytest.raises(GenbenchError) as e:
            plan(config)
        return str(e.value)

    for typed in ("[1,2]", "(1,2)", "[1, 2]"):
        line = error(typed)
        assert "(ddpm.ch_mult=1:2)" in line and "(ddpm.ch_mult=1:,2:)" in line, line
        fixed = line.split("(ddpm.ch_mult=")[1].split(")")[0]
        assert resolve_model_config(DDPM, "digits", {"ch_mult": fixed}).ch_mult == (1, 2)
    for typed in ("[1:2]", "1;2", "none"):
        assert "write its items as 1:2:2, or : for none" in error(typed), typed


def test_an_unknown_field_in_a_models_dataset_defaults_names_the_close_ones():
    from genbench.config import resolve_model_config

    class Typo(PointsOnly):
        @dataclass
        class Config:
            steps: int = 10
            lr: float = 0.1

        @classmethod
        def dataset_defaults(cls, dataset):
            return {"step": 20}

    with pytest.raises(GenbenchError, match=r"sets unknown field 'step'; did you mean steps\?"):
        resolve_model_config(Typo, "ring8", {})


def test_a_config_file_that_no_model_reads_fails_the_run(cli, tmp_path, cache_dir, monkeypatch):
    """A ``gan-sat.toml`` beside gan-ns.toml (gan-sat reads gan-ns.toml) or a misspelt ``dpm.toml``
    was ignored: the model trained on other defaults than the file's, with nothing said."""
    import shutil

    from baselines import configs
    from genbench.planning import plan

    for stray in ("gan-sat.toml", "dpm.toml"):
        root = tmp_path / stray / "configs"
        shutil.copytree(configs.CONFIG_DIR / "ring8", root / "ring8")
        (root / "ring8" / stray).write_text("steps = 5\n")
        monkeypatch.setattr(configs, "CONFIG_DIR", root)
        args = ["--models", "copy,gan-sat", "--dataset", "ring8", "--set", "gan-sat.steps=2"]
        args += ["--samples", "20", "--metrics", "modes"]
        line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
        assert f"{root / 'ring8' / stray} is read by no model" in line and "rename or remove it" in line
    monkeypatch.setattr(configs, "CONFIG_DIR", tmp_path / "gan-sat.toml" / "configs")
    (configs.CONFIG_DIR / "ring8" / "gan-sat.toml").unlink()
    assert plan(  # the other files as they were: read
        RunConfig(models=["gan-sat"], dataset="ring8", out=tmp_path / "runs", cache_dir=cache_dir)
    ).models[0][2] == [{}]


def test_a_config_folder_that_no_dataset_reads_fails_the_run(cli, tmp_path, cache_dir, monkeypatch):
    """A misspelt ``configs/digts/`` was ignored, every model training on ``digits/``'s defaults;
    so was a folder named by a dataset that reads another's (``stacked-digits`` reads digits')."""
    import shutil

    from baselines import configs

    for folder, said in [
        ("digts", "no installed dataset is named 'digts'; did you mean digits?"),
        ("ring-8", "did you mean ring8?"),
        ("stacked-digits", "stacked-digits reads the digits folder; edit that one"),
        ("my-plugin-data", "no installed dataset is named 'my-plugin-data'; rename it"),
    ]:
        root = tmp_path / folder / "configs"
        shutil.copytree(configs.CONFIG_DIR / "ring8", root / "ring8")
        shutil.copytree(configs.CONFIG_DIR / "ring8", root / folder)
        monkeypatch.setattr(configs, "CONFIG_DIR", root)
        args = ["--models", "copy,vae", "--dataset", "ring8", "--set", "vae.steps=2"]
        args += ["--samples", "20", "--metrics", "modes"]
        line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
        assert f"{root / folder} is read by no dataset: " in line and said in line, line


def test_a_config_folder_of_a_plugin_dataset_is_read_once_it_is_installed(register, monkeypatch, tmp_path):
    import shutil

    from baselines import configs
    from baselines.vae import VAE
    from genbench.data.toy2d import Ring8

    root = tmp_path / "configs"
    shutil.copytree(configs.CONFIG_DIR / "ring8", root / "ring8")
    (root / "test-ring").mkdir()
    (root / "test-ring" / "vae.toml").write_text("steps = 7\n")
    monkeypatch.setattr(configs, "CONFIG_DIR", root)
    with pytest.raises(GenbenchError, match="no installed dataset is named 'test-ring'"):
        VAE.dataset_defaults("ring8")

    class Ring(Ring8):
        pass

    register(registry.datasets, "test-ring", Ring)
    assert VAE.dataset_defaults("test-ring") == {"steps": 7}
    assert VAE.dataset_defaults("ring8")["steps"] == 3000


def test_a_list_or_table_in_dataset_defaults_is_refused_for_a_field_of_one_value():
    """``lr = [0.001]`` (or ``lr_schedule = ["cosine"]``) in a model's TOML set the one value; a list
    reads as a tuple only for a tuple field."""
    from genbench.config import resolve_model_config

    def with_defaults(**defaults):
        class Typed(PointsOnly):
            @dataclass
            class Config:
                lr: float = 0.1
                kind: str = "x"
                levels: tuple[int, ...] = (1,)

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Typed

    assert resolve_model_config(with_defaults(levels=[1, 2]), "ring8", {}).levels == (1, 2)
    for bad in ({"lr": [0.001]}, {"kind": ["y"]}, {"kind": {"a": 1}}):
        with pytest.raises(GenbenchError, match=r"bad value .* for [\w-]+\.(lr|kind) in its 'ring8' config"):
            resolve_model_config(with_defaults(**bad), "ring8", {})


def test_a_union_field_takes_a_value_of_each_of_its_types():
    """``size: int | str = "auto"`` read every value as an int: ``--set m.size=big`` and its own
    default ``"auto"`` in the model's per-dataset defaults both failed as "expected int"."""
    from genbench.config import resolve_model_config

    def with_defaults(**defaults):
        class Union(PointsOnly):
            @dataclass
            class Config:
                size: int | str = "auto"
                scale: float | None = None

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Union

    assert resolve_model_config(with_defaults(size="auto"), "ring8", {}).size == "auto"
    assert resolve_model_config(with_defaults(size=12), "ring8", {}).size == 12
    assert resolve_model_config(with_defaults(), "ring8", {"size": "12"}).size == 12
    assert resolve_model_config(with_defaults(), "ring8", {"size": "big"}).size == "big"
    assert resolve_model_config(with_defaults(), "ring8", {"scale": "none"}).scale is None
    with pytest.raises(GenbenchError, match=r"bad value 'x' for [\w-]+\.scale; expected a finite float"):
        resolve_model_config(with_defaults(), "ring8", {"scale": "x"})


def test_a_union_field_reads_a_value_by_how_it_is_written_as_a_toml_does():
    """``--set m.frac=1.0`` for ``frac: int | float`` was the int 1 (its own checkpoint key, and a
    count where scikit-learn's ``max_samples`` would read a fraction) though ``frac = 1.0`` in a TOML
    is the float; ``--set m.size=1e3`` for ``size: int | str`` was 1000 though ``size = "1e3"`` is
    the text. The float stays a float through the variant's canonical text too, which the runner
    reads back, and is no default of 1."""
    from genbench.config import canonical_variant, resolve_model_config

    def with_defaults(**defaults):
        class Union(PointsOnly):
            @dataclass
            class Config:
                frac: int | float = 1
                size: int | str = "auto"
                width: float | int = 0.5
                mode: int | Literal["auto"] = "auto"
                scale: float = 1  # an int default that the dataclass keeps as the int

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Union

    def toml(field: str, value):
        return getattr(resolve_model_config(with_defaults(**{field: value}), "ring8", {}), field)

    def set_(field: str, text: str):
        return getattr(resolve_model_config(with_defaults(), "ring8", {field: text}), field)

    for field, value, text in [
        ("frac", 1.0, "1.0"),
        ("frac", 1e3, "1e3"),
        ("frac", 2, "2"),
        ("size", "1e3", "1e3"),
        ("size", 12, "12"),
        ("width", 1, "1"),
        ("width", 1.5, "1.5"),
        ("mode", 1e3, "1e3"),
    ]:
        read = set_(field, text)
        assert (type(read), read) == (type(toml(field, value)), toml(field, value)), (field, text)
    assert canonical_variant(with_defaults(), "ring8", {"frac": "1.0"}) == {"frac": "1.0"}
    assert canonical_variant(with_defaults(), "ring8", {"frac": "1e3"}) == {"frac": "1000.0"}
    assert canonical_variant(with_defaults(), "ring8", {"frac": "1"}) == {}
    # a float field alone has no int and float to tell apart: 1.0 is its default of 1
    assert canonical_variant(with_defaults(), "ring8", {"scale": "1"}) == {}
    assert canonical_variant(with_defaults(), "ring8", {"scale": "1.0"}) == {}
    canonical = canonical_variant(with_defaults(), "ring8", {"frac": "1e3"})
    assert type(resolve_model_config(with_defaults(), "ring8", canonical).frac) is float


def test_set_override_through_an_alias_reaches_the_model(cli, tmp_path, cache_dir):
    """``--set gan.steps=3`` sets gan-ns's steps (``gan`` is its alias): it used to be dropped
    without a word, training the default 20k steps under a row that looked like the user's."""
    args = ["--models", "gan", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--set", "gan.steps=3"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "ring8/gan-ns_steps=3/seed0.json").read_text())
    assert (res["config"]["steps"], res["variant"], res["training"]["steps"]) == (3, "steps=3", 3)


def test_a_field_set_twice_under_a_model_and_its_alias_fails(cli, tmp_path, cache_dir):
    args = ["--models", "gan", "--dataset", "ring8", "--set", "gan.steps=3", "--set", "gan-ns.steps=5"]
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
    assert "set the same field of 'gan-ns'" in line and "--set gan-ns.steps=A,B" in line


def test_a_seed_metric_or_sweep_value_given_twice_runs_once(cli, tmp_path, cache_dir):
    args = ["--models", "test-tiny-trained,test-tiny-trained", "--dataset", "ring8", "--samples", "100"]
    args += ["--seeds", "0,1,0", "--metrics", "fid,fid", "--set", "test-tiny-trained.steps=3,3"]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 0, r.output
    written = sorted(str(p.relative_to(tmp_path)) for p in find_results(tmp_path))
    assert written == [f"ring8/test-tiny-trained_steps=3/seed{s}.json" for s in (0, 1)]
    assert "2 of 2 runs ok" in r.stderr
    assert [type(m).__name__ for m in build_metrics(["fid", "fid"], "points", Progress(enabled=False))] == [
        "FID"
    ]


def test_the_cli_leaves_inception_weights_to_each_extractors_variable_as_the_api_does(
    cli, tmp_path, monkeypatch
):
    """With $GENBENCH_INCEPTION_WEIGHTS set, the CLI passed torch-fidelity's file to every extractor
    (clean-inception then failed to load it as TorchScript); the API leaves it None, for each
    extractor to read its own variable. Both build one RunConfig now."""
    import genbench.evaluation
    import genbench.runner

    monkeypatch.setenv("GENBENCH_INCEPTION_WEIGHTS", str(tmp_path / "pt_inception.pth"))
    built: list[RunConfig] = []
    monkeypatch.setattr(genbench.runner, "run", lambda config: built.append(config) or [])
    monkeypatch.setattr(
        genbench.evaluation,
        "evaluate",
        lambda samples, config, name=None: (
            built.append(config) or Result(model="m", dataset="digits", seed=0)
        ),
    )
    args = ["--out", tmp_path, "--no-progress"]
    assert cli("run", "--models", "copy", *args).exit_code == 0
    assert cli("eval", "--samples", tmp_path / "x.npz", "--dataset", "digits", *args).exit_code == 0
    assert built[0] == RunConfig(models=["copy"], out=tmp_path, progress=False)
    assert built[1] == RunConfig(models=[], out=tmp_path, progress=False)
    assert built[0].inception_weights is built[1].inception_weights is None


def test_every_run_flag_is_the_runconfig_field_the_readme_says_with_the_same_default():
    """The README says every flag of `genbench run` is a RunConfig field, but `--set` is ``overrides``
    and `--metric-option` is ``metric_options``: ``RunConfig(set=...)`` is a TypeError. The README
    names each field whose name is not its flag's."""
    import dataclasses

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    defaults = RunConfig()
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    params = [p for p in typer.main.get_command(app).commands["run"].params if p.name != "help"]
    assert {p.name.rstrip("_") for p in params} - {"set", "metric_option"} <= fields
    for p in params:
        flag = p.opts[0]
        field = {"set_": "overrides", "metric_option": "metric_options"}.get(p.name, p.name)
        assert field in fields, flag
        if field != flag.removeprefix("--").replace("-", "_"):
            assert f"`{flag}` is `{field}`" in readme, f"the README does not name {flag}'s field {field}"
        default = p.default if p.default is not None or field not in ("overrides", "metric_options") else []
        if field == "models":
            default = default.split(",")
        elif field == "seeds":
            default = [int(default)]
        assert getattr(defaults, field) == default, flag


def test_report_writes_beside_the_results_and_leaves_the_published_leaderboards_alone(
    cli, tmp_path, cache_dir, monkeypatch
):
    """`genbench report`'s default was `leaderboards/`, which in a clone holds the published boards:
    run's closing "next: genbench report --out runs" and the README's commands wrote the user's runs
    over them. The default is now `leaderboards/` under --out."""
    monkeypatch.chdir(tmp_path)  # as from a clone's root, whose leaderboards/ is published
    (tmp_path / "leaderboards").mkdir()
    out = Path("runs")
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
    r = cli(*run_args(out, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert f"next: genbench report --out {out}" in r.stderr
    r = cli("report", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert (out / "leaderboards/ring8.md").exists() and not list((tmp_path / "leaderboards").iterdir())
    assert set(genbench.report(out)) == {"ring8"}
    assert not list((tmp_path / "leaderboards").iterdir())
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "--leaderboards leaderboards`" not in readme and '"leaderboards")' not in readme


def test_eval_ends_as_run_does_with_the_report_command_to_paste(cli, tmp_path, cache_dir):
    """`genbench run` ended with "next: genbench report --out runs", `genbench eval` with nothing,
    though its result is as much the board's; and an --out with a space gave a command that, pasted,
    passed `report` two arguments."""
    out = tmp_path / "my runs"
    np.savez(tmp_path / "s.npz", samples=digits_test_u8(cache_dir))
    r = cli(*eval_args(tmp_path / "s.npz", out, cache_dir, "--metrics", "fid"))
    assert r.exit_code == 0, r.output
    said = r.stderr.strip().splitlines()[-1]
    assert said == f"results in {out}; next: genbench report --out {shlex.quote(str(out))}", r.stderr
    pasted = shlex.split(said.split("next: genbench ")[1])
    assert cli(*pasted).exit_code == 0 and (out / "leaderboards/digits.md").exists()
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
    r = cli(*run_args(out, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert r.stderr.strip().splitlines()[-1].endswith(said), r.stderr


@pytest.mark.parametrize("command", ["run", "eval", "stats", "report", "list"])
def test_help_shows_every_options_text_whole(command):
    """Rich markup used to swallow "[default: ...]" in option help, leaving "seed ." in --help."""
    r = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    shown = " ".join(r.output.replace("\u2502", " ").split())
    helps = [p.help for p in typer.main.get_command(app).commands[command].params if getattr(p, "help", None)]
    assert helps
    for text in helps:
        assert " ".join(text.replace("\\[", "[").split()) in shown


def test_help_at_80_columns_names_every_default_model():
    """At 80 columns (a pipe's width) the help column is ~19 characters wide, and the default model
    list, one unbreakable token, was cut to "vae,gan-ns,gan-sa…"."""
    from genbench.config import DEFAULT_MODELS

    r = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    shown = " ".join(r.output.replace("\u2502", " ").split())
    for name in DEFAULT_MODELS:
        assert f"{name}," in shown or f"{name})" in shown, name


def test_eval_npz_and_folder(cli, tmp_path, cache_dir):
    from PIL import Image

    from genbench.data.digits import Digits

    x = Digits(cache_dir=cache_dir).load("test")[0]
    u8 = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[:, 0].numpy()
    np.savez(tmp_path / "mine.npz", samples=u8)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, img in enumerate(u8[:100]):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "runs", cache_dir))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "runs/digits/mine/seed0.json").read_text())
    assert res["protocol"]["num_samples"] == len(u8) and res["metrics"]["fid"] >= 0
    assert res["metrics"]["memorization_rate"] < 0.1  # held-out data does not copy the train split
    r = cli(*eval_args(folder, tmp_path / "runs", cache_dir, "--metrics", "fid,prdc"))
    assert r.exit_code == 0, r.output
    assert (
        json.loads((tmp_path / "runs/digits/pngs/seed0.json").read_text())["protocol"]["num_samples"] == 100
    )


def digits_test_u8(cache_dir: Path) -> np.ndarray:
    """The digits test split as the uint8 N x H x W images a user would save."""
    from genbench.data.digits import Digits

    x = Digits(cache_dir=cache_dir).load("test")[0]
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[:, 0].numpy()


def test_names_too_long_for_a_file_name_are_written(cli, tmp_path, cache_dir):
    """A 300-character --name (or a --set sweep over long lists) was scored, then lost: writing the
    result failed with "File name too long ... choose a writable directory with --out". The
    directory now keeps the name's start and a hash of the whole; the row keeps the whole name."""
    from genbench.results import MAX_NAME, safe_name

    samples = tmp_path / "points.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    out = tmp_path / "runs"
    names = ["a" * 299 + "x", "a" * 299 + "y"]  # the same first 200 characters
    args = ["eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir]
    for name in names:  # figures too: their names add a suffix to the directory's
        r = cli(*args, "--no-progress", "--metrics", "fid,prdc", "--name", name)
        assert r.exit_code == 0, r.output
    dirs = sorted(p.name for p in (out / "ring8").iterdir() if p.name != "figures")
    assert len(list((out / "ring8/figures").iterdir())) >= 2
    assert dirs == sorted(safe_name(n) for n in names) and all(len(d) == MAX_NAME for d in dirs)
    rows = {json.loads((out / "ring8" / d / "seed0.json").read_text())["model"] for d in dirs}
    assert rows == set(names)
    assert safe_name("ddpm[steps=10]") == "ddpm_steps=10"  # short names are as they were


def test_a_bad_features_flag_is_named_before_a_rerun_would_replace_a_result(cli, tmp_path, cache_dir):
    """Over an existing result, `--features inception` on points said the result "at features raw"
    would be replaced by one "at features inception": advice to move a good result away for a run
    that could never start. The extractor's own error comes first now, for run and eval alike."""
    out = tmp_path / "runs"
    run = run_args(out, cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "200")
    run += ["--metrics", "fid", "--no-figures"]
    assert cli(*run).exit_code == 0
    line = single_line_error(cli(*run, "--features", "inception"))
    assert "feature extractor 'inception' does not handle points data ('ring8'); use --features raw" in line
    samples = tmp_path / "points.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    evaluation = ["eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir]
    evaluation += ["--no-progress", "--metrics", "fid", "--no-figures"]
    assert cli(*evaluation).exit_code == 0
    line = single_line_error(cli(*evaluation, "--features", "inception"))
    assert "feature extractor 'inception' does not handle points data" in line


def test_inception_weights_the_features_do_not_take_are_named_unused(cli, tmp_path, cache_dir):
    """`--inception-weights w.pt` with the classifier or raw features was ignored without a word (a
    typo'd path too), while an unused --reference-stats gets a warning."""
    run = run_args(
        tmp_path / "runs", cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "200"
    )
    r = cli(*run, "--metrics", "fid", "--no-figures", "--inception-weights", tmp_path / "missing.pt")
    assert r.exit_code == 0, r.output
    assert (
        f"warning: --inception-weights {tmp_path / 'missing.pt'} is not used: the raw features take no"
        in r.stderr
    )
    from genbench import registry

    takes = {
        n: registry.features.get(n).takes_weights
        for n in ("classifier", "raw", "inception", "clean-inception")
    }
    assert takes == {"classifier": False, "raw": False, "inception": True, "clean-inception": True}


def test_eval_never_replaces_a_result_from_other_samples(cli, tmp_path, cache_dir):
    """eval used to write <out>/<dataset>/<file stem>/seed0.json over whatever was there: a trained
    model's result (copy.npz over `genbench run`'s copy), or another folder's samples.npz."""
    out = tmp_path / "runs"
    fast = ("--metrics", "fid", "--no-figures")
    r = cli(*run_args(out, cache_dir, "--models", "copy", "--dataset", "digits", *fast))
    assert r.exit_code == 0, r.output
    run_result = out / "digits/copy/seed0.json"
    before = run_result.read_bytes()
    u8 = digits_test_u8(cache_dir)
    np.savez(tmp_path / "copy.npz", samples=u8)
    line = single_line_error(cli(*eval_args(tmp_path / "copy.npz", out, cache_dir, *fast)))
    assert str(run_result) in line and "--name" in line and "genbench run" in line
    assert run_result.read_bytes() == before
    r = cli(*eval_args(tmp_path / "copy.npz", out, cache_dir, *fast, "--name", "copy-npz"))
    assert r.exit_code == 0, r.output
    for d, n in (("a", 200), ("b", 100)):
        (tmp_path / d).mkdir()
        np.savez(tmp_path / d / "samples.npz", samples=u8[:n])
    assert cli(*eval_args(tmp_path / "a/samples.npz", out, cache_dir, *fast)).exit_code == 0
    a_result = out / "digits/samples/seed0.json"
    recorded = json.loads(a_result.read_text())["protocol"]["samples"]
    assert recorded["path"] == str((tmp_path / "a/samples.npz").resolve()) and len(recorded["sha256"]) == 64
    r = cli(*eval_args(tmp_path / "a/samples.npz", out, cache_dir, *fast))  # the same command again
    assert r.exit_code == 0, r.output
    before = a_result.read_bytes()
    line = single_line_error(cli(*eval_args(tmp_path / "b/samples.npz", out, cache_dir, *fast)))
    assert f"holds the evaluation of {(tmp_path / 'a/samples.npz').resolve()}" in line and "--name" in line
    assert a_result.read_bytes() == before
    # an array passed to the Python API is known by its values
    config = RunConfig(
        dataset="digits", out=out, cache_dir=cache_dir, metrics=["fid"], figures=False, progress=False
    )
    evaluate(u8[:100], config, name="mem")
    evaluate(u8[:100], config, name="mem")
    with pytest.raises(GenbenchError, match="holds the evaluation of other samples; pass --name"):
        evaluate(u8[:50], config, name="mem")
    assert {p.parent.name for p in find_results(out)} == {"copy", "copy-npz", "samples", "mem"}


def test_run_never_replaces_a_result_of_another_protocol(cli, tmp_path, cache_dir):
    """A quick ``--samples 50`` check wrote over the full-size result of the same seed (the report
    keeps protocols apart, but the file was gone). A rerun of the same protocol still replaces it,
    and so does any run over a result without samples."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--metrics", "fid", "--no-figures", "--dataset", "digits")
    assert cli(*run_args(out, cache_dir, *fast, "--samples", "100")).exit_code == 0
    kept = (out / "digits/gaussian/seed0.json").read_bytes()
    for extra, was, now in [
        (("--samples", "50"), "N 100", "N 50"),
        (("--samples", "100", "--features", "raw"), "features classifier", "features raw"),
        (("--samples", "100", "--reference-split", "test"), "reference train", "reference test"),
    ]:
        line = single_line_error(cli(*run_args(out, cache_dir, *fast, *extra)))
        assert (
            f"digits/gaussian/seed0.json holds a result at {was}, which this run at {now} would replace"
            in line
        )
        assert "pass --out" in line
        assert (out / "digits/gaussian/seed0.json").read_bytes() == kept
    assert cli(*run_args(out, cache_dir, *fast, "--samples", "100")).exit_code == 0  # same protocol
    assert cli(*run_args(tmp_path / "elsewhere", cache_dir, *fast, "--samples", "50")).exit_code == 0


def test_run_never_replaces_a_result_a_newer_genbench_wrote(cli, tmp_path, cache_dir):
    """A result this genbench cannot read for being newer (the report says: upgrade genbench) was
    overwritten by a rerun, as a corrupt file is; a hand-broken one still is (the report says: rerun)."""
    import json

    out = tmp_path / "runs"
    fast = (
        "--models",
        "gaussian",
        "--metrics",
        "fid",
        "--no-figures",
        "--dataset",
        "digits",
        "--samples",
        "100",
    )
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    path = out / "digits/gaussian/seed0.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema": 99}))
    kept = path.read_bytes()
    line = single_line_error(cli(*run_args(out, cache_dir, *fast)))
    assert "written by a newer genbench (result schema 99" in line and "pass --out" in line
    assert path.read_bytes() == kept
    path.write_text("{not json")
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    assert json.loads(path.read_text())["status"] == "ok"


def test_run_never_drops_metrics_or_replaces_them_at_other_options(cli, tmp_path, cache_dir):
    """A rerun with fewer --metrics, or with another --metric-option, replaced a seed's result
    silently: ``--metrics fid --metric-option fid.backend=clean-fid`` over a full result left only
    clean-fid's FID. Both are refused; the same command, or one computing more, still reruns."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--no-figures", "--dataset", "digits", "--samples", "100")
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", "fid,prdc")).exit_code == 0
    path = out / "digits/gaussian/seed0.json"
    kept = path.read_bytes()
    for extra, says in [
        (
            ("--metrics", "fid"),
            "holds the values of prdc, which this run (fid) would drop; add prdc to --metrics",
        ),
        (
            ("--metrics", "fid,prdc", "--metric-option", "fid.backend=clean-fid"),
            "holds a result at fid.backend=torch-fidelity, which this run at fid.backend=clean-fid would replace",
        ),
        (
            ("--metrics", "fid,prdc", "--metric-option", "prdc.k_pr=4"),
            "holds a result at prdc.k_pr=3, which this run at prdc.k_pr=4 would replace",
        ),
    ]:
        line = single_line_error(cli(*run_args(out, cache_dir, *fast, *extra)))
        assert f"{path} {says}" in line and "pass --out" in line
        assert path.read_bytes() == kept
    # the options at their defaults, given or not, are the same protocol; more metrics lose nothing
    same = ("--metrics", "fid,prdc", "--metric-option", "prdc.k_pr=3")
    assert cli(*run_args(out, cache_dir, *fast, *same)).exit_code == 0
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", "fid,prdc,kid")).exit_code == 0
    assert {"fid", "precision", "kid"} <= set(load_result(path).metrics)


def test_a_rerun_without_the_metrics_that_did_not_apply_drops_nothing(cli, tmp_path, cache_dir):
    """A full result of a Gaussian records gan_dynamics among its metrics though it has no value of
    it (not a GAN): a rerun listing every other metric was refused, naming gan_dynamics to add."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--no-figures", "--dataset", "ring8", "--samples", "200")
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    old = load_result(out / "ring8/gaussian/seed0.json")
    ran = list(old.protocol["metric_versions"])
    assert "gan_dynamics" in ran and not set(registry.metrics.get("gan_dynamics").higher_is_better) & set(
        old.metrics
    )
    others = [m for m in ran if m != "gan_dynamics"]
    assert others[0] == "fid" and "fid" in old.metrics
    line = single_line_error(cli(*run_args(out, cache_dir, *fast, "--metrics", "fid")))
    assert "holds the values of " in line and "gan_dynamics" not in line, line
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", ",".join(others))).exit_code == 0
    # what a metric that did apply wrote is still protected
    line = single_line_error(cli(*run_args(out, cache_dir, *fast, "--metrics", ",".join(others[1:]))))
    assert f"holds the values of {others[0]}, which this run" in line, line


def test_eval_never_drops_metrics_of_the_same_samples(cli, tmp_path, cache_dir):
    """Evaluating the same samples again under fewer --metrics replaced the evaluation's other values."""
    out = tmp_path / "runs"
    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir)[:100])
    args = eval_args(tmp_path / "mine.npz", out, cache_dir, "--no-figures", "--name", "mine")
    assert cli(*args, "--metrics", "fid,prdc").exit_code == 0
    line = single_line_error(cli(*args, "--metrics", "prdc"))
    assert "holds the values of fid, which this run (prdc) would drop; add fid to --metrics" in line
    assert "pass --name" in line
    assert set(load_result(out / "digits/mine/seed0.json").metrics) >= {"fid", "precision"}
    assert cli(*args, "--metrics", "fid,prdc").exit_code == 0  # the same evaluation reruns


def test_a_result_without_fid_is_replaced_by_one_with_other_reference_stats(cli, tmp_path, cache_dir):
    """A mistyped --reference-stats path wrote a result whose FID failed (the other metrics are
    kept, by design); that result then refused the corrected command as "another protocol", though
    nothing in it was measured with those statistics (they are FID's alone)."""
    from genbench.features.reference import save_reference_stats, stats_identity

    out = tmp_path / "runs"
    args = run_args(out, cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "50")
    args += ["--metrics", "fid,prdc", "--no-figures"]
    good = tmp_path / "stats.npz"
    save_reference_stats(good, np.zeros(2), np.eye(2))
    assert cli(*args, "--reference-stats", str(tmp_path / "stast.npz")).exit_code == 2  # FID failed
    assert "fid" not in load_result(out / "ring8/gaussian/seed0.json").metrics
    res = cli(*args, "--reference-stats", str(good))
    assert res.exit_code == 0, res.output
    assert "fid" in load_result(out / "ring8/gaussian/seed0.json").metrics
    # a result that holds an FID is still kept from one at other statistics
    line = single_line_error(cli(*args))
    assert (
        f"reference stats {stats_identity(good)}, which this run at reference stats none would replace"
        in line
    )


def test_mode_labels_name_their_classifier_when_it_is_not_the_feature_extractor(cli, tmp_path, cache_dir):
    """Mode metrics on digits label samples with the digits classifier whatever --features says, and
    one classifier config trains other weights on another CPU: under --features raw nothing named
    it, so mode numbers from two classifiers were averaged as one protocol."""
    out = tmp_path / "runs"
    common = ("--models", "gaussian", "--no-figures", "--dataset", "digits", "--samples", "100")
    for where, extra in [
        ("raw", ("--features", "raw")),
        ("classifier", ()),
        ("fid-only", ("--features", "raw")),
    ]:
        metrics = "fid" if where == "fid-only" else "fid,modes"
        assert cli(*run_args(out / where, cache_dir, *common, "--metrics", metrics, *extra)).exit_code == 0
    raw, clf, fid_only = (
        load_result(out / where / "digits/gaussian/seed0.json") for where in ("raw", "classifier", "fid-only")
    )
    assert raw.metrics["modes_covered"] >= 1
    assert raw.protocol["mode_labeller"] == clf.protocol["features"]["fingerprint"]
    assert "mode_labeller" not in clf.protocol  # the features are that classifier: named once
    assert "mode_labeller" not in fid_only.protocol  # no metric used mode labels


def test_run_never_replaces_an_evaluation(cli, tmp_path, cache_dir):
    """`genbench eval x.npz --name copy` then `genbench run --models copy` used to write the run's
    result over the evaluation; a run result is still replaced by a rerun."""
    out = tmp_path / "runs"
    fast = ("--metrics", "fid", "--no-figures", "--dataset", "digits")
    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir))
    r = cli(
        *eval_args(
            tmp_path / "mine.npz", out, cache_dir, "--metrics", "fid", "--no-figures", "--name", "copy"
        )
    )
    assert r.exit_code == 0, r.output
    evaluation = out / "digits/copy/seed0.json"
    before = evaluation.read_bytes()
    line = single_line_error(cli(*run_args(out, cache_dir, "--models", "gaussian,copy", *fast)))
    assert f"{evaluation} holds the evaluation of {(tmp_path / 'mine.npz').resolve()}" in line
    assert "--out" in line
    assert evaluation.read_bytes() == before
    assert not (out / "digits/gaussian").exists()  # refused before any work
    for _ in range(2):  # elsewhere it runs, and a rerun replaces its own result
        r = cli(*run_args(tmp_path / "other", cache_dir, "--models", "gaussian,copy", *fast))
        assert r.exit_code == 0, r.output
    # an evaluation of an array passed to the Python API is protected too
    config = RunConfig(
        dataset="digits", out=out, cache_dir=cache_dir, metrics=["fid"], figures=False, progress=False
    )
    evaluate(digits_test_u8(cache_dir)[:100], config, name="gaussian")
    with pytest.raises(GenbenchError, match="holds the evaluation of samples passed to genbench.evaluate"):
        genbench.run(replace(config, models=["gaussian"]))


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--name", "///"], "--name '///' cannot name a result"),  # wrote <out>/digits/seed0.json
        (["--name", ".."], "--name '..' cannot name a result"),  # wrote <out>/seed0.json
        (["--name", "a/b"], "--name 'a/b' cannot name a result"),
        (["--seed", "3,4"], "eval takes one seed, got 3,4; pass one (--seed 3)"),  # used seed 3 only
        # said "malformed seed list 'abc'; use integers like 0,1,2", a list eval refuses
        (["--seed", "abc"], "malformed seed 'abc'; use one integer, e.g. --seed 0"),
        (["--seed", "3,x"], "malformed seed '3,x'; use one integer, e.g. --seed 0"),
        # its fix named --seeds, which eval refuses
        (["--seed=-1"], "seeds must be integers from 0 to 2**32-1, got -1; use e.g. --seed 0"),
        # 0 was a range() traceback; -1 extracted no features and cached that empty reference
        (["--batch-size", "0"], "--batch-size must be positive, got 0"),
        (["--batch-size=-1"], "--batch-size must be positive, got -1"),
    ],
)
def test_eval_bad_input_is_one_line_exit_2(cli, tmp_path, cache_dir, extra, expected):
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 8, 8), np.uint8))
    line = single_line_error(cli(*eval_args(tmp_path / "s.npz", tmp_path / "runs", cache_dir, *extra)))
    assert expected in line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.json"))


def test_eval_refuses_one_samples_file_as_two_seeds(cli, tmp_path, cache_dir):
    """The same file under --seed 0 and --seed 1 was scored twice and the board averaged it as two
    seeds: "fid 58.7 ± 0", a spread over seeds with one sample set behind it."""
    x = digits_test_u8(cache_dir)[:100]
    np.save(tmp_path / "mine.npy", x)
    out = tmp_path / "runs"
    fast = ("--metrics", "fid", "--no-figures")
    assert cli(*eval_args(tmp_path / "mine.npy", out, cache_dir, *fast)).exit_code == 0
    line = single_line_error(cli(*eval_args(tmp_path / "mine.npy", out, cache_dir, *fast, "--seed", "1")))
    assert f"{out / 'digits/mine/seed0.json'} already scored these samples as seed 0" in line
    assert "--name" in line
    assert not (out / "digits/mine/seed1.json").exists()
    # the same values under another file name are the same samples too
    np.save(tmp_path / "copy.npy", x)
    args = eval_args(tmp_path / "copy.npy", out, cache_dir, *fast, "--seed", "1", "--name", "mine")
    assert "already scored these samples as seed 0" in single_line_error(cli(*args))
    # another seed's own samples join the row, and rerunning seed 0 still replaces its own result
    np.save(tmp_path / "mine1.npy", digits_test_u8(cache_dir)[100:200])
    args = eval_args(tmp_path / "mine1.npy", out, cache_dir, *fast, "--seed", "1", "--name", "mine")
    assert cli(*args).exit_code == 0
    assert cli(*eval_args(tmp_path / "mine.npy", out, cache_dir, *fast)).exit_code == 0


def test_a_run_names_its_protocol_before_its_values(cli, tmp_path, cache_dir):
    """Each run's line shows values only (``fid=0.0019``): nothing a run printed named the samples,
    the reference or the features they were measured with. One line says it before the first
    value; a run whose metrics include none of the headline ones shows its own values."""
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "300", "--seeds", "0,1"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, *args, "--metrics", "kid")
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    line = (
        "protocol: ring8, 300 samples per model and seed against the train split (10000 examples), in raw "
        "features (raw-v1), seeds 0,1"
    )
    assert line in err and err.index(line) < err.index("ok copy seed 0")
    assert "ok copy seed 0: kid=" in err, err
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    r = cli(
        *eval_args(tmp_path / "s.npz", tmp_path / "e", cache_dir, "--dataset", "ring8", "--metrics", "fid")
    )
    assert r.exit_code == 0, r.output
    assert (
        "protocol: ring8, 300 samples against the train split (10000 examples), in raw features (raw-v1), "
        "seed 0" in " ".join(r.stderr.split())
    ), r.stderr


def test_eval_of_the_root_folder_asks_for_a_name_before_reading_it(cli, tmp_path, cache_dir):
    """`--samples /` said "--name '' cannot name a result", though no --name was given."""
    line = single_line_error(cli(*eval_args(Path("/"), tmp_path / "runs", cache_dir)))
    assert line == "error: cannot name a result after --samples /; pass --name, e.g. --name my-model"


def test_an_option_of_a_metric_not_computed_names_metrics_in_eval_too(cli, tmp_path, cache_dir):
    """It said "names a metric this run does not compute" in `genbench eval` too."""
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 8, 8), np.uint8))
    extra = ["--metrics", "fid", "--metric-option", "kid.subsets=2"]
    line = single_line_error(cli(*eval_args(tmp_path / "s.npz", tmp_path / "runs", cache_dir, *extra)))
    assert line == (
        "error: --metric-option kid.subsets names a metric not among --metrics; add kid to --metrics or drop "
        "the option"
    )


def test_eval_reads_grey_saved_as_colour_and_16_bit_pngs_as_grey(cli, tmp_path, cache_dir):
    """The same digits saved as RGB, RGBA, palette and 16-bit PNGs, and as an RGB uint8 .npz, score
    as the grey .npz does: eval used to refuse all but the 16-bit ones for digits (it never passed
    the dataset's channels to the loader), and scored the 16-bit ones clipped to black and white."""
    from PIL import Image

    u8 = digits_test_u8(cache_dir)[:200]
    np.savez(tmp_path / "grey.npz", samples=u8)
    np.savez(tmp_path / "rgb.npz", samples=np.repeat(u8[..., None], 3, axis=-1))
    as_saved = {
        "rgb": lambda g: Image.fromarray(np.stack([g] * 3, -1)),
        "rgba": lambda g: Image.fromarray(np.stack([g] * 3 + [np.full_like(g, 255)], -1)),
        "palette": lambda g: Image.fromarray(g).convert("P"),
        "grey16": lambda g: Image.fromarray(g.astype(np.uint16) * 257),
    }
    for folder, save in as_saved.items():
        (tmp_path / folder).mkdir()
        for i, g in enumerate(u8):
            save(g).save(tmp_path / folder / f"{i:03d}.png")
    assert (tmp_path / "grey16/000.png").read_bytes()[24] == 16  # IHDR bit depth (Pillow 10 opens it as I)
    fid = {}
    for src in ["grey.npz", "rgb.npz", *as_saved]:
        r = cli(*eval_args(tmp_path / src, tmp_path / "runs", cache_dir, "--metrics", "fid", "--no-figures"))
        assert r.exit_code == 0, (src, r.output)
        res = json.loads((tmp_path / "runs/digits" / Path(src).stem / "seed0.json").read_text())
        fid[src] = res["metrics"]["fid"]
    assert all(v == pytest.approx(fid["grey.npz"], rel=1e-6) for v in fid.values()), fid


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--modles", "ddpm"], "No such option: --modles"),
        (["run", "--samples", "abc"], "Invalid value for '--samples'"),
        (["run", "--models"], "Option '--models' requires an argument"),
        (["eval", "--dataset", "digits"], "Missing option '--samples'"),
        (["report", "--bogus"], "No such option: --bogus"),
        (["bogus"], "No such command 'bogus'"),
    ],
)
def test_usage_errors_are_one_line_naming_the_help(cli, args, expected):
    """Click's usage errors exited 2 but printed Typer's boxed usage panel, not one ``error:`` line
    as the README says every input error is."""
    line = single_line_error(cli(*args))
    command = "genbench" if args == ["bogus"] else f"genbench {args[0]}"
    assert expected in line and line.endswith(f"(see {command} --help)"), line


def test_a_tilde_after_an_equals_sign_is_the_home_directory(cli, tmp_path, monkeypatch):
    """The shell leaves ``--data-dir=~/gb`` as typed: genbench made ./~/gb, and the error's "put the
    files into ~/gb/mnist" sent users to their home directory, where nothing was found."""
    from genbench.data import download

    def offline(url):
        raise OSError("offline")

    monkeypatch.setattr(download, "_open_url", offline)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    np.savez(tmp_path / "s.npz", samples=np.zeros((4, 1, 28, 28), np.uint8))
    args = ["eval", "--samples", str(tmp_path / "s.npz"), "--dataset", "mnist", "--no-progress"]
    line = single_line_error(cli(*args, "--data-dir=~/gb", "--out=~/runs", "--cache-dir=~/cache"))
    assert f"into {tmp_path / 'home/gb/mnist'} " in line, line
    assert not (tmp_path / "cwd/~").exists()


def test_no_arguments_still_print_the_help(cli):
    r = cli()
    assert "Usage: genbench" in r.output and "error:" not in r.output


def test_evaluate_api_takes_what_eval_takes(cli, tmp_path, cache_dir):
    """genbench.evaluate used to fail on a path (AttributeError) and refuse a numpy array or a uint8
    tensor as "model 'np' returned ndarray from sample()"; now it shares eval's loader."""
    import genbench

    u8 = digits_test_u8(cache_dir)[:200]
    np.savez(tmp_path / "mine.npz", samples=u8)
    r = cli(
        *eval_args(tmp_path / "mine.npz", tmp_path / "cli", cache_dir, "--metrics", "fid", "--no-figures")
    )
    assert r.exit_code == 0, r.output
    expected = json.loads((tmp_path / "cli/digits/mine/seed0.json").read_text())["metrics"]["fid"]
    config = RunConfig(
        dataset="digits",
        out=tmp_path / "api",
        cache_dir=cache_dir,
        metrics=["fid"],
        figures=False,
        progress=False,
    )
    got = {
        "path": genbench.evaluate(tmp_path / "mine.npz", config),
        "str": genbench.evaluate(str(tmp_path / "mine.npz"), config),
        "numpy": genbench.evaluate(u8, config, name="numpy"),
        "tensor": genbench.evaluate(torch.from_numpy(u8)[:, None], config, name="tensor"),
    }
    assert got["path"].model == "mine"  # named after the file, as on the command line
    for how, res in got.items():
        assert res.metrics["fid"] == pytest.approx(expected, rel=1e-6), how


def test_real_test_split_scores_like_held_out_data(cli, tmp_path):
    """The digits test split scored as if it were samples: its FID is the train/test floor (checked
    against torch-fidelity on the same classifier features), nothing is memorized, every mode is
    covered and C_T sees neither copying nor underfitting."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from genbench.data.digits import Digits
    from genbench.features.classifier import Classifier

    # a cache of its own, on the CPU like the reference computation below: reference features cached
    # by an earlier run on CUDA differ from CPU ones in the last bits (about 1e-5 relative)
    cache_dir = tmp_path / "cache"
    digits = Digits(cache_dir=cache_dir)
    test_x = digits.load("test")[0]
    np.savez(tmp_path / "test.npz", samples=test_x.numpy())
    r = cli(
        *eval_args(tmp_path / "test.npz", tmp_path / "runs", cache_dir, "--no-figures", "--device", "cpu")
    )
    assert r.exit_code == 0, r.output
    written = json.loads((tmp_path / "runs/digits/test/seed0.json").read_text())
    m = written["metrics"]
    clf = Classifier(digits, cache_dir=cache_dir)
    stats = [
        fid_features_to_statistics(torch.from_numpy(clf.extract(x).features))
        for x in (test_x, digits.load("train")[0])
    ]
    floor = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert m["fid"] == pytest.approx(floor, rel=1e-6)
    assert m["memorization_rate"] < 0.01 and m["modes_covered"] == 10 and abs(m["ct"]) < 3
    assert (
        not {"collapsed", "memorized"} & set(written["flags"]) and m["mode_kl"] < 0.05
    )  # a flag, not a metric


def test_list_shows_sources(cli):
    r = cli("list", "models")
    assert r.exit_code == 0
    assert "ddpm" in r.stdout and "gan-sat" in r.stdout and "alias of gan-ns" in r.stdout
    assert "Zeros [n, 2] of `points`." in r.stdout  # not eaten as markup


# -- bad input: one line, exit 2, nothing lost --------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--models", "ddmp"], "unknown model 'ddmp'; did you mean 'ddpm'"),
        (["--models", "copy,,gaussian"], "malformed model list"),
        (["--models", "copy", "--dataset", "digitz"], "did you mean 'digits'"),
        (["--models", "copy", "--seeds", "0,x"], "malformed seed list"),
        # torch's "Overflow when unpacking long long" with 45 lines of C++ frames, as a model's failure
        (["--models", "copy", "--samples", "99999999999999999999"], "--samples must be at most 2147483647"),
        # an empty seed item's hint said "names like a,b,c", which then fail as a malformed seed list
        (["--models", "copy", "--seeds", "0,,1"], "malformed seed list '0,,1'; use integers like 0,1,2"),
        (["--models", "copy", "--seeds", ""], "malformed seed list ''; use integers like 0,1,2"),
        # 2**64 failed inside every model, each reported as a plugin's bug (exit 1)
        (["--models", "copy", "--seeds", str(2**64)], "seeds must be integers from 0 to 2**32-1"),
        (["--models", "copy", "--seeds", "0,-1"], "seeds must be integers from 0 to 2**32-1"),
        # KID and IS seed numpy's RandomState (32 bits): they failed, recorded as a plugin's bug
        (["--models", "copy", "--seeds", str(2**32)], "seeds must be integers from 0 to 2**32-1"),
        (["--models", "copy", "--metrics", "fdi"], "did you mean 'fid'"),
        (["--models", "copy", "--features", "inceptoin"], "did you mean 'inception'"),
        (["--models", "copy", "--set", "ddim.steps"], "use MODEL.FIELD=VALUE"),
        (["--models", "copy", "--set", "ddim.steps=10"], "add ddim to --models"),
        (["--models", "copy", "--set", "gan.steps=10"], "add gan to --models"),  # as typed, not gan-ns
        (["--models", "ddim", "--set", "ddim.stepz=10"], "did you mean steps"),
        (["--models", "ddim", "--set", "ddim.steps=ten"], "bad value 'ten' for ddim.steps"),
        # an empty sweep item failed as "bad value ''", or (a str field) set the field to ''
        (
            ["--models", "ddim", "--set", "ddim.steps=10,,20"],
            "malformed --set list '10,,20' in 'ddim.steps=10,,20'",
        ),
        (["--models", "ddpm", "--set", "ddpm.lr_schedule=cosine,"], "malformed --set list 'cosine,'"),
        # nan passes every range check (nan < 0 is False): ddim.eta=nan ran a garbled DDIM step silently
        (
            ["--models", "ddim", "--set", "ddim.eta=nan"],
            "bad value 'nan' for ddim.eta; expected a finite float",
        ),
        (
            ["--models", "ddpm", "--set", "ddpm.lr=inf"],
            "bad value 'inf' for ddpm.lr; expected a finite float",
        ),
        (["--models", "test-points-only", "--dataset", "digits"], "does not handle image data"),
        # values, not only types, are checked before any work: these trained DDPM, or ran copy, first
        (["--models", "copy,ddim", "--dataset", "ring8", "--set", "ddim.steps=0"], "ddim.steps must be >= 1"),
        (["--models", "ddim", "--dataset", "ring8", "--set", "ddim.steps=1001"], "exceeds the ddpm's 1000"),
        (["--models", "ddim", "--dataset", "ring8", "--set", "ddim.eta=-1"], "ddim.eta must be in [0, 1]"),
        # above 1 the step's eps coefficient sqrt(1 - abar_prev - sigma^2) was clamped to 0 silently
        (["--models", "ddim", "--dataset", "ring8", "--set", "ddim.eta=1.5"], "ddim.eta must be in [0, 1]"),
        (
            ["--models", "copy,vae", "--dataset", "ring8", "--set", "vae.lr=-1"],
            "vae.lr and vae.decoder_sigma",
        ),
        (
            ["--models", "copy,ddpm", "--dataset", "ring8", "--set", "ddpm.batch_size=0"],
            "batch_size must be >= 1",
        ),
        (["--models", "ddpm", "--dataset", "ring8", "--set", "ddpm.timesteps=0"], "timesteps must be >= 1"),
        (["--models", "ddpm", "--set", "ddpm.ch_mult=1:0"], "ddpm.ch_mult items must be >= 1, got 1:0"),
        # read as 1:2, digits' default, so the row claimed no change
        (["--models", "ddpm", "--set", "ddpm.ch_mult=1::2"], "malformed tuple '1::2' for ddpm.ch_mult"),
        (["--models", "ddpm", "--set", "ddpm.ch_mult=:1:2"], "malformed tuple ':1:2' for ddpm.ch_mult"),
        (["--models", "ddpm", "--set", "ddpm.ch=2"], "ddpm.ch must be >= 4 for images"),
        # digits' maps are 8 and 4 wide: attention at 3 was never added, yet trained its own checkpoint
        (
            ["--models", "ddim", "--set", "ddpm.attn_resolutions=3"],
            "ddpm.attn_resolutions 3 is no feature-map width of this U-Net on 8x8 images (its widths are 8, 4)",
        ),
        # a GAN's errors name the model by its registered name, the alias's too
        (
            ["--models", "gan-sat", "--dataset", "ring8", "--set", "gan-sat.steps=0"],
            "gan-sat.steps must be >= 1",
        ),
        (
            ["--models", "gan", "--dataset", "ring8", "--set", "gan.lr_g=-1"],
            "gan-ns.lr_g and gan-ns.lr_d must",
        ),
        # Adam refused them inside fit(), after the models before it trained, blamed on the plugin
        (
            ["--models", "copy,gan-ns", "--dataset", "ring8", "--set", "gan-ns.beta2=1"],
            "gan-ns.beta1 and gan-ns.beta2 must be in [0, 1), got 0.5 and 1.0",
        ),
        (["--models", "gan-sat", "--set", "gan-sat.beta1=-0.1"], "gan-sat.beta1 and gan-sat.beta2 must be"),
        # the same networks as min_res=1, trained again under a checkpoint key of their own
        (["--models", "gan-ns", "--set", "gan-ns.min_res=0"], "gan-ns.min_res must be >= 1, got 0"),
        (["--models", "vae", "--set", "vae.min_res=-2"], "vae.min_res must be >= 1, got -2"),
        (["--models", "vae", "--set", "vae.log_every=0"], "vae.log_every must be >= 1, got 0"),
        (["--models", "gan-sat", "--set", "gan-sat.log_every=-1"], "gan-sat.log_every must be >= 1, got -1"),
        (
            ["--models", "test-checked", "--dataset", "ring8", "--set", "test-checked.steps=0"],
            "must be >= 1, got 0",
        ),
        (
            ["--models", "ddpm", "--dataset", "ring8", "--set", "ddpm.beta_end=2"],
            "0 < beta_start <= beta_end < 1",
        ),
        (["--models", "ddim", "--set", "ddpm.ch_mult=1:2:2:2:2"], "cannot downsample 8x8 images 4 times"),
        # commas sweep: this trained two one-level U-Nets (ch_mult=1 and ch_mult=2), not (1, 2, 2)
        (
            ["--models", "ddpm", "--dataset", "ring8", "--samples", "20", "--set", "ddpm.ch_mult=1,2,2"]
            + ["--set", "ddpm.train_steps=5", "--metrics", "fid"],
            "separate its items with ':' (ddpm.ch_mult=1:2:2)",
        ),
        (["--models", "copy", "--metric-option", "fid.backnd=clean-fid"], "did you mean backend"),
        (["--models", "copy", "--metric-option", "fid.backend=cleanfid"], "unknown backend 'cleanfid'"),
        (["--models", "copy", "--metric-option", "memorization.space=feature"], "unknown space 'feature'"),
        (["--models", "copy", "--metric-option", "is.splits=0"], "splits=0 must be an integer >= 1"),
        (["--models", "copy", "--metric-option", "kid.subset_size=none"], "subset_size='none' must be an"),
        (
            ["--models", "copy", "--metric-option", "kid.subsets=5", "--metric-option", "kid.subsets=10"],
            "--metric-option kid.subsets=5 and --metric-option kid.subsets=10 set the same option of 'kid'; "
            "give it once",
        ),
        # a metric named explicitly that cannot handle the data was left out without a word
        (
            ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "is,fid"],
            "metric 'is' does not apply to points data (ring8); drop it from --metrics",
        ),
        (
            ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
            + ["--metric-option", "is.splits=5"],
            "names metric 'is', which does not apply to points data (ring8); drop the option",
        ),
        # step % -5 == 0: a negative interval checkpointed every 5 steps
        (["--models", "copy", "--checkpoint-every", "-5"], "--checkpoint-every must be >= 0 (0 saves no"),
        (["--models", "copy", "--device", "mps"], "device 'mps' is not supported"),
        (
            ["--models", "copy", "--device", "cuda:0"]
            if not torch.cuda.is_available()
            else ["--models", "nope"],
            "not available" if not torch.cuda.is_available() else "unknown model",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, tmp_path, cache_dir, args, expected):
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert expected in line
    assert not find_results(tmp_path / "runs")  # nothing was run


def test_options_given_under_a_metric_and_its_alias_are_refused(cli, tmp_path, cache_dir, monkeypatch):
    # a plugin metric's alias and its name both took options, and the last one silently won
    from genbench.registry import Entry

    registry.metrics.discover()
    alias = Entry(name="frechet", source="test", obj=registry.metrics.get("fid"), alias_of="fid")
    monkeypatch.setitem(registry.metrics._entries, "frechet", alias)
    args = ["--models", "copy", "--metrics", "fid", "--metric-option", "fid.backend=clean-fid"]
    args += ["--metric-option", "frechet.backend=torch-fidelity"]
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert "--metric-option fid.* and --metric-option frechet.* both set options of metric 'fid'" in line
    assert not find_results(tmp_path / "runs")


def test_a_named_metric_that_does_not_apply_to_the_run_says_why_it_was_not_computed(cli, tmp_path, cache_dir):
    """`--features raw` gives no logits: `--metrics fid,is` wrote fid alone, without a word that the IS
    asked for was not computed (its applies_to said no, so its own message never showed). It warns
    now, with that message; the default metric set still leaves such a metric out quietly."""
    args = ["--models", "copy", "--samples", "100", "--features", "raw", "--no-figures"]
    r = cli(*run_args(tmp_path / "named", cache_dir, *args, "--metrics", "fid,is"))
    assert r.exit_code == 0, r.output
    expected = "warning: copy seed 0: not computed: is: the feature extractor gives no logits"
    assert expected in r.stderr
    res = json.loads((tmp_path / "named/digits/copy/seed0.json").read_text())
    assert "fid" in res["metrics"] and "is" not in res["metrics"]

    np.savez(tmp_path / "mine.npz", samples=np.zeros((20, 8, 8), np.uint8))
    extra = ("--features", "raw", "--metrics", "fid,is", "--no-figures")
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "eval", cache_dir, *extra))
    assert "not computed: is: the feature extractor gives no logits" in r.stderr, r.output

    r = cli(*run_args(tmp_path / "default", cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert "not computed" not in r.stderr
    res = json.loads((tmp_path / "default/digits/copy/seed0.json").read_text())
    assert "is" not in res["metrics"] and "is" not in res["metric_errors"]


def test_eval_of_throughput_says_it_measures_only_what_genbench_run_samples(cli, tmp_path, cache_dir):
    """`genbench eval --metrics throughput` wrote an "ok" result without a value and said nothing:
    eval draws no samples, so nothing was timed. It says why now, as for any named metric that does
    not apply; the default metric set leaves it out quietly, and `genbench run` still measures."""
    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir)[:50])
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "eval", cache_dir, "--metrics", "fid,throughput"))
    assert r.exit_code == 0, r.output
    assert (
        "warning: mine seed 0: not computed: throughput: nothing was timed: the samples were not drawn "
        "by genbench (genbench eval); genbench run measures sampling" in r.stderr
    ), r.stderr
    res = json.loads((tmp_path / "eval/digits/mine/seed0.json").read_text())
    assert "fid" in res["metrics"] and "samples_per_s" not in res["metrics"]
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "default", cache_dir, "--no-figures"))
    assert r.exit_code == 0 and "not computed" not in r.stderr, r.output
    args = ["--models", "gaussian", "--samples", "50", "--metrics", "throughput", "--no-figures"]
    r = cli(*run_args(tmp_path / "run", cache_dir, *args))
    assert r.exit_code == 0 and "not computed" not in r.stderr, r.output
    assert (
        json.loads((tmp_path / "run/digits/gaussian/seed0.json").read_text())["metrics"]["samples_per_s"] > 0
    )


def test_the_python_api_refuses_a_named_metric_that_cannot_handle_the_data(tmp_path, cache_dir):
    import genbench

    config = genbench.RunConfig(
        models=["copy"],
        dataset="ring8",
        metrics=["fid", "is"],
        out=tmp_path,
        cache_dir=cache_dir,
        progress=False,
    )
    expected = r"metric 'is' does not apply to points data \(ring8\); drop it from --metrics"
    with pytest.raises(GenbenchError, match=expected):
        genbench.run(config)
    with pytest.raises(GenbenchError, match=expected):
        genbench.evaluate(np.zeros((20, 2), np.float32), config)
    assert not find_results(tmp_path)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        # a string where a list goes was read one character at a time
        ("models", "ddpm", "RunConfig.models must be a list of model names, e.g. ['ddpm'], got 'ddpm'"),
        ("metrics", "fid", "RunConfig.metrics must be a list of metric names"),
        (
            "metrics",
            [],
            "RunConfig.metrics must be a list of metric names, or None for every metric that applies, e.g. ['fid'], got []",
        ),
        ("overrides", "ddim.steps=10", "RunConfig.overrides must be a list of MODEL.FIELD=VALUE strings"),
        ("metric_options", "fid.backend=clean-fid", "RunConfig.metric_options must be a list of METRIC.KEY"),
        ("seeds", 0, "RunConfig.seeds must be a list of integers, e.g. [0, 1, 2], got 0"),  # "no seeds given"
        ("samples", "100", "RunConfig.samples must be an integer"),  # TypeError tracebacks
        ("batch_size", "100", "RunConfig.batch_size must be an integer, e.g. 500, got '100'"),
        ("checkpoint_every", "5", "RunConfig.checkpoint_every must be an integer"),
        # a non-empty string is true: retrain="no" retrained
        ("retrain", "no", "RunConfig.retrain must be True or False, got 'no'"),
        ("amp", 0, "RunConfig.amp must be True or False, got 0"),
        ("figures", "no", "RunConfig.figures must be True or False"),
        ("progress", None, "RunConfig.progress must be True or False"),
        # these raised TypeError tracebacks from torch.device(None) or Path(None)
        ("device", None, "RunConfig.device must be a string, e.g. 'auto', 'cpu' or 'cuda:0', got None"),
        ("out", None, "RunConfig.out must be a path, e.g. 'runs', got None"),
        ("data_dir", 3, "RunConfig.data_dir must be a path or None, got 3"),
        ("cache_dir", 3, "RunConfig.cache_dir must be a path or None, got 3"),
        ("reference_stats", 3, "RunConfig.reference_stats must be a path or None, got 3"),
        ("reference_split", None, "RunConfig.reference_split must be a split name"),
    ],
)
def test_the_python_api_names_the_runconfig_field_of_the_wrong_type(
    tmp_path, cache_dir, field, value, expected
):
    import genbench

    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=20, out=tmp_path, cache_dir=cache_dir, progress=False
    )
    setattr(config, field, value)
    with pytest.raises(GenbenchError) as e:
        genbench.run(config)
    assert str(e.value).startswith(expected)
    if field not in (
        "models",
        "overrides",
        "samples",
        "checkpoint_every",
        "retrain",
        "amp",
    ):  # eval reads it too
        with pytest.raises(GenbenchError) as e:
            genbench.evaluate(np.zeros((20, 2), np.float32), config)
        assert str(e.value).startswith(expected)
    assert not find_results(tmp_path)


def test_evaluate_refuses_an_empty_seed_list(tmp_path, cache_dir):
    """``evaluate(x, RunConfig(seeds=[]))`` scored under seed 0 without a word; `run` refuses it."""
    import genbench

    config = genbench.RunConfig(dataset="digits", out=tmp_path, cache_dir=cache_dir, progress=False, seeds=[])
    x = np.random.default_rng(0).integers(0, 256, (30, 8, 8), np.uint8)
    with pytest.raises(GenbenchError, match=r"^no seed given; pass one, e.g. --seed 0$"):
        genbench.evaluate(x, config)
    assert not find_results(tmp_path)


def test_evaluate_refuses_an_unknown_reference_split_that_no_metric_reads(tmp_path, cache_dir):
    """``evaluate(x, RunConfig(reference_split="val", metrics=["is"]))`` scored, warning that the split
    "val" was not used; with a result there already, it said that result was "at reference train,
    which this evaluation at reference val would replace" and to pass another name."""
    import genbench

    x = np.random.default_rng(0).integers(0, 256, (30, 8, 8), np.uint8)
    config = genbench.RunConfig(dataset="digits", out=tmp_path, cache_dir=cache_dir, progress=False)
    config.figures = False
    genbench.evaluate(x, config)
    for metrics in (["is"], ["fid"]):
        config.metrics, config.reference_split = metrics, "val"
        with pytest.raises(GenbenchError, match="unknown split 'val'; use --reference-split train or test"):
            genbench.evaluate(x, config, name=f"other-{metrics[0]}")
        with pytest.raises(GenbenchError, match="unknown split 'val'; use --reference-split train or test"):
            genbench.evaluate(x, config)
    assert [p.parent.name for p in find_results(tmp_path)] == ["samples"]


def test_the_python_api_names_a_wrong_argument_in_one_line(tmp_path):
    """``run(None)``, ``run({...})``, ``evaluate(x, None)``, ``evaluate(..., name=5)``, ``stats(p, None)``
    and ``report(None)`` raised AttributeError or TypeError from deep inside."""
    import typing

    import genbench

    x = np.zeros((20, 2), np.float32)
    for call, expected in (
        (lambda: genbench.run(None), "run takes a genbench.RunConfig, got NoneType; build one"),
        (lambda: genbench.run({"models": ["copy"]}), "run takes a genbench.RunConfig, got dict"),
        (lambda: genbench.evaluate(x, None), "evaluate takes a genbench.RunConfig, got NoneType"),
        (lambda: genbench.stats(tmp_path / "s.npz", None), "stats takes a genbench.RunConfig"),
        (lambda: genbench.report(None), "out must be a str or a Path, got NoneType"),
        (
            lambda: genbench.report(tmp_path, leaderboards=5),
            "leaderboards must be a str or a Path, got int",
        ),
    ):
        with pytest.raises(GenbenchError, match=expected):
            call()
    config = genbench.RunConfig(dataset="ring8", out=tmp_path, progress=False)
    with pytest.raises(GenbenchError, match="name must be a str"):
        genbench.evaluate(x, config, name=5)
    # what run and evaluate return is reachable, and their hints resolve
    assert genbench.Result.__name__ == "Result" and "Result" in genbench.__all__
    assert typing.get_type_hints(genbench.run)["return"] == list[genbench.Result]


def test_version_names_the_build_as_results_record_it(cli):
    """`genbench --version` was "No such option": a bug report could not say which genbench ran."""
    import genbench
    from genbench.results import environment

    r = cli("--version")
    assert r.exit_code == 0, r.output
    env = environment("cpu")
    assert env["genbench"] == genbench.__version__
    assert r.stdout.startswith(f"genbench {genbench.__version__} (source {env['source_digest']}")
    commit = env["git_commit"]  # a clone's (CI runs one); an installed genbench has none
    assert r.stdout.rstrip().endswith(f", commit {commit})" if commit else ")")


def test_the_version_is_the_one_the_package_declares():
    """``genbench.__version__`` (what `--version` prints and results record) is written by hand
    beside pyproject.toml's: nothing tied the two. A clone's checked against its pyproject.toml."""
    import tomllib

    import genbench

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("no pyproject.toml beside the tests")
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == genbench.__version__


def test_help_genbench_documents_every_public_name():
    """``help(genbench)`` left out the classes imported on first use (GenerativeModel, DataSpec,
    TrainContext: the plugin API) and listed only the module's ``__getattr__`` in their place."""
    import pydoc

    import genbench

    assert set(genbench.__all__) <= set(dir(genbench))
    page = pydoc.render_doc(genbench, renderer=pydoc.plaintext)
    for name in ("GenerativeModel", "DataSpec", "TrainContext", "RunConfig", "Result"):
        assert f"class {name}" in page, name


def test_the_python_api_lists_what_genbench_list_shows():
    """`genbench list` had no API twin but the undocumented registry objects."""
    import genbench

    listed = genbench.registered()
    assert list(listed) == ["models", "datasets", "metrics", "features"]
    models = {e.name: e for e in listed["models"]}
    assert models["ddpm"].source == "genbench" and "Ho et al. 2020" in models["ddpm"].description
    assert models["gan"].alias_of == "gan-ns" and models["ddpm"].error is None
    assert [e.name for e in genbench.registered("metrics")["metrics"]] == [e.name for e in listed["metrics"]]
    with pytest.raises(GenbenchError, match="unknown kind 'model'; did you mean 'models'?"):
        genbench.registered("model")


def test_the_python_api_expands_a_home_directory_as_the_cli_does(tmp_path, cache_dir, monkeypatch):
    """``RunConfig(out="~/runs")`` wrote into ./~/runs, a folder named "~", where the CLI's
    ``--out ~/runs`` (quoted, or ``--out=~/runs``) wrote into the home directory."""
    import genbench

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=20, metrics=["fid"], out="~/runs", cache_dir=cache_dir
    )
    config.progress, config.figures = False, False
    genbench.run(config)
    assert (tmp_path / "home/runs/ring8/copy/seed0.json").is_file() and not (tmp_path / "~").exists()
    assert "ring8" in genbench.report("~/runs")
    assert (tmp_path / "home/runs/leaderboards").is_dir() and config.out == "~/runs"  # the caller's is kept
    # evaluate("~/s.npz") was "samples ~/s.npz not found", where `genbench eval --samples=~/s.npz` read it
    np.savez(tmp_path / "home/s.npz", samples=np.zeros((20, 2), np.float32))
    assert genbench.evaluate("~/s.npz", config).status == "ok"
    assert (tmp_path / "home/runs/ring8/s/seed0.json").is_file()
    genbench.stats("~/ring8.npz", config)
    assert (tmp_path / "home/ring8.npz").is_file()


def test_the_python_api_names_the_run_only_fields_that_evaluate_and_stats_ignore(tmp_path, cache_dir, capsys):
    """``genbench.evaluate(x, RunConfig(samples=5))`` scored all 20 samples without a word, and
    ``genbench.stats`` took a run's seeds and metrics as silently; the CLI sets none of them."""
    import genbench

    np.savez(tmp_path / "s.npz", samples=np.zeros((20, 2), np.float32))
    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=5, overrides=["vae.steps=1"], metrics=["fid"],
        out=tmp_path / "runs",
        cache_dir=cache_dir, progress=False, figures=False,
    )  # fmt: skip
    result = genbench.evaluate(tmp_path / "s.npz", config)
    err = capsys.readouterr().err
    assert result.status == "ok" and result.protocol["num_samples"] == 20
    assert "evaluate does not read RunConfig.models, RunConfig.samples, RunConfig.overrides" in err
    assert "pass samples[:N] to score fewer" in err
    genbench.stats(tmp_path / "ring8.npz", replace(config, seeds=[1], samples=None, overrides=[]))
    err = capsys.readouterr().err
    assert "stats does not read RunConfig.models, RunConfig.seeds, RunConfig.metrics, RunConfig.out" in err
    # what the CLI builds for eval and stats names nothing; neither does the API given only what they read
    for args in (
        ["eval", "--samples", str(tmp_path / "s.npz"), "--dataset", "ring8", "--metrics", "fid", "--out",
         str(tmp_path / "runs"), "--cache-dir", str(cache_dir), "--name", "again", "--no-figures"],
        ["stats", "--out", str(tmp_path / "again.npz"), "--dataset", "ring8", "--cache-dir", str(cache_dir)],
    ):  # fmt: skip
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0 and "does not read" not in r.output, r.output
    genbench.evaluate(tmp_path / "s.npz", replace(config, models=[], samples=None, overrides=[]), name="api")
    assert "does not read" not in capsys.readouterr().err


def test_the_largest_seed_runs_every_seeded_metric(cli, tmp_path, cache_dir):
    args = ["--models", "copy", "--samples", "100", "--metrics", "kid,is,fid", "--no-figures"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--seeds", str(2**32 - 1)))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / f"digits/copy/seed{2**32 - 1}.json").read_text())
    assert {"kid", "is", "fid"} <= set(res["metrics"]) and not res.get("metric_errors")


@pytest.mark.parametrize("seeds", [[-1], [0, 1.5], ["0"], [True], [2**32]])
def test_the_python_api_checks_seeds_as_the_cli_does(tmp_path, cache_dir, seeds):
    import genbench

    config = genbench.RunConfig(
        models=["copy"], seeds=seeds, out=tmp_path, cache_dir=cache_dir, progress=False
    )
    with pytest.raises(GenbenchError, match=r"seeds must be integers from 0 to 2\*\*32-1"):
        genbench.run(config)
    with pytest.raises(GenbenchError, match=r"seeds must be integers from 0 to 2\*\*32-1"):
        genbench.evaluate(np.zeros((10, 8, 8), np.uint8), config)
    assert not find_results(tmp_path)


def test_the_python_api_takes_numpy_integers(tmp_path, cache_dir):
    """``seeds=list(np.arange(2))`` or ``samples=np.int64(20)`` (a sweep's values) were refused:
    "seeds must be integers ..., got 0,1", naming values that are integers."""
    import genbench

    config = genbench.RunConfig(
        models=["copy"],
        dataset="ring8",
        seeds=list(np.arange(2)),
        samples=np.int64(20),
        batch_size=np.int32(10),
        metrics=["fid"],
        out=tmp_path,
        cache_dir=cache_dir,
        progress=False,
        figures=False,
    )
    genbench.run(config)
    for seed in (0, 1):
        result = json.loads((tmp_path / f"ring8/copy/seed{seed}.json").read_text())
        assert result["status"] == "ok" and result["seed"] == seed
        assert result["protocol"]["num_samples"] == 20
    with pytest.raises(GenbenchError, match=r"seeds must be integers from 0 to 2\*\*32-1"):
        genbench.run(replace(config, seeds=[np.int64(-1)]))


def test_weights_broken_by_the_last_step_are_a_divergence_not_a_cached_checkpoint(cli, tmp_path, cache_dir):
    """Each loss is checked before its step's update, so an update that broke the weights on the last
    step was saved and cached, and the result was the plugin's bug ("NaN/inf values from sample()")."""
    args = run_args(tmp_path, cache_dir, "--models", "test-broken-last-step", "--dataset", "ring8")
    args += ["--samples", "50", "--metrics", "fid", "--no-figures"]
    r = cli(*args)
    result = json.loads((tmp_path / "ring8/test-broken-last-step/seed0.json").read_text())
    assert result["status"] == "diverged", (result["status"], result.get("error"))
    assert result["error"] == "diverged at step 20 (NaN or inf weights after training: net.mean)"
    assert not list(cache_dir.glob("checkpoints/ring8/test-broken-last-step/*/model.pt"))
    assert r.exit_code == 1, r.output


def test_loading_a_trained_checkpoint_removes_resumable_state_left_beside_it(cli, tmp_path):
    """A run killed after saving model.pt but before removing train.pt left the resumable state
    (about 570 MB per seed for the CIFAR-10 DDPM) in the cache for good: loading never removed it."""
    from genbench.training import PARTIAL

    cache_dir = tmp_path / "cache"  # its own: the session's holds other configs' checkpoints
    args = run_args(tmp_path, cache_dir, "--models", "test-tiny-trained", "--dataset", "ring8")
    args += ["--samples", "50", "--metrics", "fid", "--no-figures"]
    assert cli(*args).exit_code == 0
    (final,) = cache_dir.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    (final.parent / PARTIAL).write_bytes(final.read_bytes())
    assert cli(*args).exit_code == 0
    assert json.loads((tmp_path / "ring8/test-tiny-trained/seed0.json").read_text())["training"]["loaded"]
    assert final.exists() and not (final.parent / PARTIAL).exists()


def test_a_cuda_index_beyond_the_devices_fails_naming_the_valid_ones(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(
        GenbenchError, match=r"'cuda:5' requested but there are 2 CUDA devices; use cuda:0 to cuda:1"
    ):
        resolve_device("cuda:5")


def test_cifar10_offline_names_the_file_to_provide(cli, tmp_path, cache_dir, monkeypatch):
    import urllib.request

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    line = single_line_error(
        cli(
            *run_args(
                tmp_path / "runs",
                cache_dir,
                "--models",
                "gaussian",
                "--dataset",
                "cifar10",
                "--data-dir",
                str(tmp_path / "data"),
            )
        )
    )
    assert "cifar-10-python.tar.gz" in line and str(tmp_path / "data") in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_dir(cli, tmp_path, cache_dir):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    line = single_line_error(cli(*run_args(ro / "runs", cache_dir, "--models", "copy", "--dataset", "ring8")))
    assert "--out" in line


def test_out_path_that_is_a_file(cli, tmp_path, cache_dir):
    f = tmp_path / "file"
    f.write_text("x")
    line = single_line_error(cli(*run_args(f, cache_dir, "--models", "copy", "--dataset", "ring8")))
    assert "--out" in line


RING8_COPY = "--models copy --dataset ring8 --samples 50 --metrics fid --no-progress".split()


@pytest.mark.parametrize(
    "args, flag",
    [
        (["run", *RING8_COPY, "--out", ""], "--out"),  # wrote ring8/copy/seed0.json here
        (["run", *RING8_COPY, "--cache-dir", " "], "--cache-dir"),  # cached features here
        (["run", *RING8_COPY, "--data-dir", ""], "--data-dir"),
        (["run", *RING8_COPY, "--reference-stats", ""], "--reference-stats"),  # "reference stats ." refused
        (["run", *RING8_COPY, "--inception-weights", ""], "--inception-weights"),  # "weights . not found"
        (["eval", "--samples", "", "--dataset", "ring8"], "--samples"),  # "no PNG/JPEG images in ."
        (["stats", "--out", "", "--dataset", "ring8"], "--out"),  # ". does not end in .npz"
        (["report", "--out", ""], "--out"),  # read every result under here
        (["report", "--leaderboards", ""], "--leaderboards"),  # wrote <dataset>.md here
    ],
)
def test_an_empty_path_is_refused_naming_its_flag(cli, tmp_path, monkeypatch, args, flag):
    """``--out "$OUT"`` with OUT unset passes "", which Path reads as the current directory: results,
    cached features and leaderboards went there without a word."""
    monkeypatch.chdir(tmp_path)
    line = single_line_error(cli(*args))
    assert f"Invalid value for '{flag}': the path is empty" in line and "'.' for here" in line, line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("field", ["out", "cache_dir", "data_dir", "reference_stats", "inception_weights"])
def test_the_python_api_refuses_an_empty_path_as_the_cli_does(tmp_path, monkeypatch, field):
    monkeypatch.chdir(tmp_path)
    config = RunConfig(models=["copy"], dataset="ring8", samples=50, metrics=["fid"], progress=False)
    with pytest.raises(GenbenchError, match=f"^{field} is an empty path; pass a path"):
        genbench.run(replace(config, **{field: ""}))
    for call in (lambda: genbench.report(""), lambda: genbench.stats(" ", config)):
        with pytest.raises(GenbenchError, match="is an empty path"):
            call()
    assert not list(tmp_path.iterdir())


def test_a_failed_rerun_never_replaces_an_ok_result(cli, tmp_path, cache_dir, monkeypatch):
    """A rerun that failed at run time (out of memory, a plugin that no longer imports) replaced the
    ok result of the same seed with a "failed" one. It is written beside it now, as
    seed0.failed.json, until a run of that seed succeeds; a divergence still replaces it."""
    out = tmp_path / "runs"
    args = run_args(out, cache_dir, "--models", "test-flaky", "--dataset", "ring8", "--samples", "50")
    args += ["--metrics", "fid", "--no-figures"]
    result, aside = out / "ring8/test-flaky/seed0.json", out / "ring8/test-flaky/seed0.failed.json"
    assert cli(*args).exit_code == 0
    kept = result.read_bytes()

    monkeypatch.setattr(Flaky, "outcome", "raise")
    res = cli(*args)
    assert res.exit_code == 1
    assert result.read_bytes() == kept and find_results(out) == [result]
    failed = json.loads(aside.read_text())
    assert failed["status"] == "failed" and "CUDA out of memory" in failed["error"]
    assert f"the earlier ok result in {result} is kept" in " ".join(res.stderr.split())

    broken = registry.Entry(name="test-flaky", source="genbench-test-plugin", error="failed to import")
    with monkeypatch.context() as m:
        m.setitem(registry.models._entries, "test-flaky", broken)
        assert cli(*args).exit_code == 1
    assert result.read_bytes() == kept
    assert json.loads(aside.read_text())["error"] == "failed to import"

    monkeypatch.setattr(Flaky, "outcome", "ok")
    assert cli(*args).exit_code == 0
    assert json.loads(result.read_text())["status"] == "ok" and not aside.exists()

    monkeypatch.setattr(Flaky, "outcome", "diverge")
    assert cli(*args).exit_code == 1
    assert json.loads(result.read_text())["status"] == "diverged" and not aside.exists()
    monkeypatch.setattr(Flaky, "outcome", "raise")  # a finding too: a failed attempt keeps it
    assert cli(*args).exit_code == 1
    assert json.loads(result.read_text())["status"] == "diverged" and aside.exists()


def test_a_full_cache_disk_is_a_one_line_error_naming_the_fix_not_the_models_bug(cli, tmp_path, monkeypatch):
    """A checkpoint that cannot be written for want of space failed as "model 'test-tiny-trained'
    raised OSError" (a plugin's bug, exit 1, no fix); the other models still run."""
    import errno

    import genbench.checkpoint
    from genbench.io import atomic_write

    def full(fh):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        genbench.checkpoint, "atomic_write", lambda path, write, fix: atomic_write(path, full, fix=fix)
    )
    args = ["--models", "test-tiny-trained,gaussian", "--dataset", "ring8", "--samples", "100"]
    args += ["--metrics", "fid", "--checkpoint-every", "5", "--no-figures"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args))
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "No space left on device" in line and "free some space" in line and "--cache-dir" in line, line
    bad = json.loads((tmp_path / "runs/ring8/test-tiny-trained/seed0.json").read_text())
    assert (bad["status"], bad["error_kind"]) == ("failed", "user")
    assert json.loads((tmp_path / "runs/ring8/gaussian/seed0.json").read_text())["status"] == "ok"
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def fill_disk_writing(monkeypatch, hits) -> None:
    """The disk fills up part way through every write of a file whose path ``hits(path)``, whether it
    is written in place (``open``) or through :func:`genbench.io.atomic_write`'s temp file."""
    import builtins
    import errno

    import genbench.io

    def full(fh):
        fh.write(b"\x89PNG")  # part of it went out before the disk filled up
        fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    real_open, real_write = builtins.open, genbench.io.atomic_write

    def open_full(file, mode="r", *args, **kwargs):  # written in place
        fh = real_open(file, mode, *args, **kwargs)
        if "w" in mode and isinstance(file, str | os.PathLike) and hits(Path(file)):
            with fh:
                full(fh)
        return fh

    def write_full(path, write, *, fix=genbench.io.FIX_OUT):  # or through a temp file
        return real_write(path, full if hits(Path(path)) else write, fix=fix)

    monkeypatch.setattr(builtins, "open", open_full)
    monkeypatch.setattr(genbench.io, "atomic_write", write_full)


def test_figures_that_cannot_be_written_lose_no_metric_and_leave_no_empty_png(
    cli, tmp_path, cache_dir, monkeypatch
):
    """A full disk while saving a figure failed the whole model ("model 'copy' raised OSError") or
    the memorization metric, losing every value computed, and left empty PNGs behind."""
    fill_disk_writing(monkeypatch, lambda path: path.suffix == ".png")
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--metrics", "fid,memorization"]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "figure was not saved" in r.stderr, r.stderr
    res = json.loads((tmp_path / "ring8/copy/seed0.json").read_text())
    assert res["status"] == "ok" and not res["metric_errors"], res["error"] or res["metric_errors"]
    assert {"fid", "memorization_rate"} <= set(res["metrics"]) and not res["artifacts"]
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_results_and_checkpoints_are_written_with_the_umasks_mode_not_0600(cli, tmp_path):
    """The atomic writes' temp files are 0600, and so was every result, checkpoint and figure renamed
    from them: a shared --out or --cache-dir was unreadable to the rest of the team."""
    old = os.umask(0o022)
    try:
        args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
        assert cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args)).exit_code == 0
    finally:
        os.umask(old)
    written = [*find_results(tmp_path / "runs"), *(tmp_path / "cache").rglob("model.pt")]
    written += list((tmp_path / "runs").rglob("*.png"))
    assert len(written) >= 3
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {p.name: "0o644" for p in written}


def test_a_model_that_calls_sys_exit_fails_alone(cli, tmp_path, cache_dir, monkeypatch):
    """A plugin whose fit or sample calls sys.exit (argparse inside wrapped research code) ended the
    whole run: no result for it, none for the models after it, and its exit code as the run's."""
    monkeypatch.setattr(Flaky, "outcome", "exit")
    args = ["--models", "test-flaky,gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--no-figures"))
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    bad = json.loads((tmp_path / "ring8/test-flaky/seed0.json").read_text())
    assert (bad["status"], bad["error_kind"]) == ("failed", "plugin") and "SystemExit" in bad["error"]
    assert json.loads((tmp_path / "ring8/gaussian/seed0.json").read_text())["status"] == "ok"


def test_a_full_results_disk_says_so_once_and_names_no_file_it_did_not_write(cli, tmp_path, monkeypatch):
    """The failure said "could not be written to X: GenbenchError: cannot write X (...)" (the path and
    the error twice), and when its own record could not be written either, the summary still
    pointed at X, a file that was never written."""
    import errno

    import genbench.results
    from genbench.io import atomic_write

    def full(fh):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(genbench.results, "atomic_write_json", lambda path, obj: atomic_write(path, full))
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args, "--no-figures"))
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert line.count("seed0.json") == 1 and "GenbenchError" not in line and "free some space" in line, line
    assert "(not written)" in r.output and "-> " not in r.output
    assert not (tmp_path / "runs/ring8/gaussian/seed0.json").exists()


class Mkdir:
    """Unpickled, it makes a directory: the side effect of a crafted checkpoint's ``__reduce__``."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("content", ["damaged", "crafted"])
def test_corrupt_checkpoint_keeps_earlier_results(cli, tmp_path, cache_dir, content):
    """A damaged model.pt, or one crafted to run code when unpickled (which it did: checkpoints were
    loaded with weights_only=False), fails its model with one error line naming the fix."""
    from genbench.checkpoint import FORMAT

    cache = tmp_path / "cache"
    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "100"]
    assert cli(*run_args(tmp_path / "runs", cache, *args)).exit_code == 0
    before = {p: p.read_bytes() for p in find_results(tmp_path / "runs")}
    (ckpt,) = cache.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    ran = tmp_path / "ran"
    if content == "damaged":
        ckpt.write_bytes(b"not a checkpoint")
    else:
        torch.save({"format": FORMAT, "state": Mkdir(ran)}, ckpt)
    (tmp_path / "other").mkdir()
    r = cli(*run_args(tmp_path / "other", cache, *args))
    assert r.exit_code == 2
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith("error: test-tiny-trained seed 0: checkpoint")
    assert line.endswith("delete it or rerun with --retrain")
    assert "Traceback" not in r.output and not ran.exists()
    assert {p: p.read_bytes() for p in find_results(tmp_path / "runs")} == before  # nothing lost
    r = cli(*run_args(tmp_path / "runs2", cache, *args, "--retrain"))
    assert r.exit_code == 0


def test_plugin_output_is_checked_and_other_models_go_on(cli, tmp_path, cache_dir):
    r = cli(
        *run_args(
            tmp_path, cache_dir, "--models", "test-nan,gaussian", "--dataset", "ring8", "--samples", "100"
        )
    )
    assert r.exit_code == 1  # the plugin's bug, as a metric's bad values are: not the user's to fix
    bad = json.loads((tmp_path / "ring8/test-nan/seed0.json").read_text())
    assert bad["status"] == "failed" and "test-nan" in bad["error"] and "NaN" in bad["error"]
    assert bad["error_kind"] == "plugin" and "NaN" in r.stderr and "Traceback" not in r.output
    good = json.loads((tmp_path / "ring8/gaussian/seed0.json").read_text())
    assert good["status"] == "ok" and "fid" in good["metrics"]


def test_a_plugin_sampling_images_in_zero_one_fails_and_other_models_go_on(cli, tmp_path, cache_dir):
    """Every batch of [0, 1] images lies in [-1, 1], so they were scored as washed-out grey."""
    args = ["--models", "test-unit-range,gaussian", "--dataset", "digits", "--samples", "100"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--metrics", "fid"))
    assert r.exit_code == 1
    bad = json.loads((tmp_path / "digits/test-unit-range/seed0.json").read_text())
    assert bad["status"] == "failed" and "none below 0" in bad["error"] and "x * 2 - 1" in bad["error"]
    assert json.loads((tmp_path / "digits/gaussian/seed0.json").read_text())["status"] == "ok"


def test_report_from_another_directory_or_of_moved_runs_keeps_the_run_figures(
    cli, tmp_path, cache_dir, monkeypatch
):
    """A run records its figures under --out as given (relative to where it started): a report from
    another directory, or of runs moved elsewhere, dropped every sample and nearest-neighbour grid."""
    import shutil

    monkeypatch.chdir(tmp_path)
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--metrics", "fid,memorization"]
    assert cli(*run_args(Path("runs"), cache_dir, *args)).exit_code == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    for out in (tmp_path / "runs", tmp_path / "moved"):
        if not out.exists():
            shutil.move(tmp_path / "runs", out)  # copied from a cluster, say
        boards = tmp_path / f"boards-{out.name}"
        assert cli("report", "--out", str(out), "--leaderboards", str(boards)).exit_code == 0
        assert sorted(p.name for p in (boards / "ring8").glob("copy-*.png")) == [
            "copy-nearest_neighbours.png",
            "copy-samples.png",
        ]
        assert "ring8/copy-samples.png" in (boards / "ring8.md").read_text()


def test_a_report_out_of_disk_while_copying_a_run_figure_keeps_the_previous_copy(
    cli, tmp_path, cache_dir, monkeypatch
):
    """The report copied each run's figures beside the board with shutil.copyfile, which empties the
    previous copy first: a report killed or out of disk mid-copy left a truncated PNG where the last
    board's figure was, and a full disk was an OSError, not a line naming the fix."""
    out, boards = tmp_path / "runs", tmp_path / "lb"
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--metrics", "fid,memorization"]
    assert cli(*run_args(out, cache_dir, *args)).exit_code == 0
    assert cli("report", "--out", str(out), "--leaderboards", str(boards)).exit_code == 0
    before = {p.name: p.read_bytes() for p in (boards / "ring8").glob("copy-*.png")}
    assert sorted(before) == ["copy-nearest_neighbours.png", "copy-samples.png"]

    fill_disk_writing(monkeypatch, lambda path: path.name.startswith("copy-"))
    line = single_line_error(cli("report", "--out", str(out), "--leaderboards", str(boards)))
    assert "No space left on device" in line and "--leaderboards" in line
    assert {p.name: p.read_bytes() for p in (boards / "ring8").glob("copy-*.png")} == before
    assert not list(boards.rglob("*.tmp"))


@pytest.mark.parametrize("command", ["run", "eval", "stats"])
def test_an_unknown_reference_split_is_one_line_naming_the_flag(cli, tmp_path, cache_dir, command):
    """``--reference-split val`` said "use 'train' or 'test'" without naming the flag, and only once
    the dataset was read; it is checked with the other flags now."""
    common = ["--reference-split", "val", "--cache-dir", str(cache_dir), "--no-progress"]
    args = {
        "run": ["run", "--models", "gaussian", "--dataset", "ring8", "--out", str(tmp_path / "o")],
        "eval": [
            "eval",
            "--samples",
            str(tmp_path / "none.npz"),
            "--dataset",
            "ring8",
            "--out",
            str(tmp_path),
        ],
        "stats": ["stats", "--out", str(tmp_path / "s.npz"), "--dataset", "ring8"],
    }[command]
    line = single_line_error(cli(*args, *common))
    assert "unknown split 'val'" in line and "--reference-split train or test" in line
    assert not list(tmp_path.rglob("*.json")) and not (tmp_path / "s.npz").exists()


def test_report_without_results(cli, tmp_path):
    line = single_line_error(
        cli("report", "--out", str(tmp_path / "none"), "--leaderboards", str(tmp_path / "lb"))
    )
    assert "genbench run" in line


def test_report_counts_each_seed_once_and_names_a_file_in_another_results_place(cli, tmp_path):
    """A backup copy beside a result ("seed0 (1).json", "seed0-old.json") was read as a result too,
    so the report averaged seed 0 twice; a result file under another result's name is an error."""
    import shutil

    out, boards = tmp_path / "runs", tmp_path / "boards"
    proto = {"num_samples": 100, "reference_split": "train", "features": {"name": "raw", "fingerprint": "x"}}
    for seed, fid in ((0, 1.0), (1, 3.0)):
        Result(model="m", dataset="ring8", seed=seed, protocol=proto, metrics={"fid": fid}).write(out)
    for stray in ("seed0 (1).json", "seed0-old.json", "seed0.failed.json", "seed0.json.bak"):
        shutil.copy(out / "ring8/m/seed0.json", out / "ring8/m" / stray)
    assert [p.name for p in find_results(out)] == ["seed0.json", "seed1.json"]
    assert cli("report", "--out", str(out), "--leaderboards", str(boards)).exit_code == 0
    row = pd.read_csv(boards / "ring8.csv").iloc[0]
    assert (row["seeds"], row["n_ok"], row["fid"]) == ("0,1", 2, 2.0)

    for name in ("seed2.json", "seed00.json"):  # seed 0's result under another seed's name
        shutil.copy(out / "ring8/m/seed0.json", out / "ring8/m" / name)
        line = single_line_error(cli("report", "--out", str(out), "--leaderboards", str(boards)))
        assert f"ring8/m/{name}" in line and "ring8/m/seed0.json" in line
        (out / "ring8/m" / name).unlink()


def test_report_with_a_file_where_a_figure_folder_goes(cli, tmp_path, cache_dir):
    """A file named like the dataset inside --leaderboards was a FileExistsError traceback."""
    out, boards = tmp_path / "runs", tmp_path / "lb"
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    assert cli(*run_args(out, cache_dir, *args, "--no-figures")).exit_code == 0
    boards.mkdir()
    (boards / "ring8").touch()
    line = single_line_error(cli("report", "--out", str(out), "--leaderboards", str(boards)))
    assert f"{boards / 'ring8'} is not writable" in line and "--leaderboards" in line


@pytest.mark.parametrize(
    "command, api, kept",
    [
        ("run", "genbench.runner.run", "finished results are saved; rerun to resume training"),
        # eval and report said "rerun to resume training" too
        ("eval", "genbench.evaluation.evaluate", "no result was written"),
        ("report", "genbench.reporting.write_report", "the leaderboards written so far are complete"),
    ],
)
def test_ctrl_c_says_what_each_command_kept(cli, tmp_path, monkeypatch, command, api, kept):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, interrupted)  # each command imports its API function when it runs
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 8, 8), np.uint8))
    args = {
        "run": ["run", "--models", "copy", "--out", str(tmp_path)],
        "eval": ["eval", "--samples", str(tmp_path / "s.npz"), "--dataset", "digits", "--out", str(tmp_path)],
        "report": ["report", "--out", str(tmp_path)],
    }[command]
    r = cli(*args)
    assert r.exit_code == 130 and r.stderr.strip() == f"interrupted: {kept}", r.output


def test_eval_shape_mismatch(cli, tmp_path, cache_dir):
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 28, 28), np.uint8))
    line = single_line_error(cli(*eval_args(tmp_path / "s.npz", tmp_path, cache_dir)))
    assert "shape" in line


def test_the_same_command_reruns_after_its_reference_stats_file_is_fixed(cli, tmp_path, cache_dir):
    """A --reference-stats file that failed to load was recorded as no reference statistics, so the
    rerun after fixing the file was refused as one of another protocol."""
    from genbench.features.reference import save_reference_stats

    stats = tmp_path / "stats.npz"
    np.savez(stats, mean=np.zeros(2))
    args = run_args(tmp_path / "runs", cache_dir, "--models", "gaussian", "--dataset", "ring8")
    args += ["--samples", "50", "--metrics", "fid", "--no-figures", "--reference-stats", str(stats)]
    assert cli(*args).exit_code == 2  # FID's error names the fix
    save_reference_stats(stats, np.zeros(2), np.eye(2))
    res = cli(*args)
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "runs/ring8/gaussian/seed0.json").read_text())
    digest = hashlib.sha256(stats.read_bytes()).hexdigest()[:16]
    assert (
        "fid" in written["metrics"] and written["protocol"]["reference_stats"] == f"stats.npz sha256:{digest}"
    )


def test_reference_stats_are_recorded_by_their_content_not_their_path(cli, tmp_path, cache_dir, monkeypatch):
    """The path was recorded as typed: ``./stats.npz`` and ``stats.npz`` made two protocols (two
    rows of one model), while statistics rewritten in place under the same path made one."""
    from genbench.features.reference import save_reference_stats

    monkeypatch.chdir(tmp_path)
    save_reference_stats(tmp_path / "stats.npz", np.zeros(2), np.eye(2))
    (tmp_path / "copy").mkdir()
    save_reference_stats(tmp_path / "copy/stats.npz", np.zeros(2), np.eye(2))

    def run(out: str, stats: str):
        args = run_args(tmp_path / out, cache_dir, "--models", "gaussian", "--dataset", "ring8")
        return cli(*args, "--samples", "50", "--metrics", "fid", "--no-figures", "--reference-stats", stats)

    for out, stats in [("a", "./stats.npz"), ("b", "stats.npz"), ("c", str(tmp_path / "copy/stats.npz"))]:
        assert run(out, stats).exit_code == 0
    recorded = {
        json.loads((tmp_path / out / "ring8/gaussian/seed0.json").read_text())["protocol"]["reference_stats"]
        for out in "abc"
    }
    assert len(recorded) == 1 and recorded.pop().startswith("stats.npz sha256:")
    save_reference_stats(tmp_path / "stats.npz", np.ones(2), np.eye(2))  # other statistics, same path
    line = single_line_error(run("a", "stats.npz"))
    assert "holds a result at reference stats stats.npz sha256:" in line and "would replace" in line


def test_bad_reference_stats_fail_fid_and_keep_the_other_metrics(cli, tmp_path, cache_dir):
    """A reference .npz with missing keys or the wrong dimension: warned about before any training,
    FID records the error (one line naming the fix, exit 2), every other metric is still written."""
    np.savez(tmp_path / "stats.npz", mean=np.zeros(3))
    args = ["--models", "gaussian", "--dataset", "ring8", "--reference-stats", str(tmp_path / "stats.npz")]
    out = tmp_path / "runs"
    res = cli(*run_args(out, cache_dir, *args))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    warning = res.output.index("FID will not be computed")
    assert warning < res.output.index("error:")  # shown before the work, not only at the end
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "lack mu, sigma" in errors[0] and "save an .npz with mu" in errors[0]
    written = json.loads((out / "ring8" / "gaussian" / "seed0.json").read_text())
    assert "fid" not in written["metrics"] and "lack mu, sigma" in written["metric_errors"]["fid"]
    assert {"kid", "precision", "modes_covered"} <= set(written["metrics"])

    from genbench.features.reference import save_reference_stats

    save_reference_stats(tmp_path / "wide.npz", np.zeros(5), np.eye(5))  # ring8's raw features: 2-D
    args[-1] = str(tmp_path / "wide.npz")
    res = cli(*run_args(tmp_path / "runs2", cache_dir, *args))
    assert res.exit_code == 2
    assert res.output.index("FID will not be computed") < res.output.index("error:")
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "dimension 5" in errors[0] and "--features" in errors[0]


@pytest.mark.parametrize("command", ["run", "evaluate", "stats"])
def test_the_python_api_refuses_an_unknown_reference_split_as_the_cli_does(tmp_path, cache_dir, command):
    """``RunConfig(reference_split="val")`` was checked only where a split was read: `evaluate`
    against --reference-stats read none and scored with a warning that "--reference-split val is not
    used" (where `genbench eval --reference-split val` fails), and `run` said "use 'train' or 'test'"
    without the flag the CLI names."""
    from genbench.features.reference import save_reference_stats

    save_reference_stats(tmp_path / "st.npz", np.zeros(2), np.eye(2))
    config = genbench.RunConfig(
        models=["gaussian"],
        dataset="ring8",
        samples=20,
        metrics=["fid"],
        reference_split="val",
        reference_stats=tmp_path / "st.npz",
        out=tmp_path / "o",
        cache_dir=cache_dir,
        progress=False,
        figures=False,
    )
    x = np.zeros((20, 2), np.float32)
    call = {
        "run": lambda: genbench.run(config),
        "evaluate": lambda: genbench.evaluate(x, replace(config, models=[], samples=None)),
        "stats": lambda: genbench.stats(
            tmp_path / "s.npz", replace(config, models=[], samples=None, metrics=None, reference_stats=None)
        ),
    }[command]
    with pytest.raises(GenbenchError) as e:
        call()
    assert str(e.value) == "unknown split 'val'; use --reference-split train or test"
    assert not list(tmp_path.rglob("*.json")) and not (tmp_path / "s.npz").exists()


def test_the_python_api_leaves_the_callers_global_state_as_it_was(tmp_path, cache_dir):
    """`run` reseeded the caller's global torch generator with each model's seed and left it so (a
    script's own draws after `run` depended on which models and seeds genbench ran), and `run` (a
    points dataset's scatter) and `report` switched the caller's matplotlib backend to Agg: a
    notebook's figures were no longer shown."""
    import matplotlib

    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        torch.manual_seed(123)
        state = torch.random.get_rng_state()
        config = genbench.RunConfig(
            models=["copy", "gaussian"],
            dataset="ring8",
            seeds=[0, 1],
            samples=20,
            metrics=["fid"],
            out=tmp_path,
            cache_dir=cache_dir,
            progress=False,
        )
        assert all(r.status == "ok" for r in genbench.run(config))
        assert torch.equal(torch.random.get_rng_state(), state) and torch.initial_seed() == 123
        assert "ring8" in genbench.report(tmp_path)
        genbench.evaluate(np.zeros((20, 2), np.float32), replace(config, models=[], samples=None, seeds=[0]))
        assert torch.equal(torch.random.get_rng_state(), state)
        assert matplotlib.get_backend() == "svg"
        assert (tmp_path / "ring8/figures").is_dir() and (tmp_path / "leaderboards/ring8").is_dir()
    finally:
        matplotlib.use(backend)


@pytest.mark.parametrize("kind", [5, ["models"]])
def test_the_python_api_names_a_registered_kind_that_is_no_name_in_one_line(kind):
    """``genbench.registered(5)`` raised TypeError from deep inside difflib, where every other API
    function names a wrong argument in one line."""
    with pytest.raises(GenbenchError, match="kind must be one of models, datasets, metrics or features"):
        genbench.registered(kind)


# -- console output: a terminal, a log file, NO_COLOR, a narrow terminal -----------------------------


def _terminal(width: int = 100):
    """A rich console drawing as on a terminal ``width`` columns wide, into a string."""
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=True, width=width, color_system="standard")


def _plain(text: str) -> str:
    """``text`` without its escape codes, each carriage return a line end."""
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")


@pytest.mark.parametrize(
    ("outcome", "message"),
    [("diverge", "diverged at step 3 (loss=nan)"), ("raise", "raised RuntimeError: CUDA out of memory")],
)
def test_a_model_that_fails_is_reported_once(cli, tmp_path, cache_dir, monkeypatch, outcome, message):
    """A model that diverged or raised was warned about and then reported, the same message twice in
    a row ("warning: m seed 0: diverged at step 3" and "diverged m seed 0: diverged at step 3")."""
    monkeypatch.setattr(Flaky, "outcome", outcome)
    args = [
        "--models",
        "test-flaky",
        "--dataset",
        "ring8",
        "--samples",
        "50",
        "--metrics",
        "fid",
        "--no-figures",
    ]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 1 and r.stderr.count(message) == 1, r.stderr
    assert f"{'diverged' if outcome == 'diverge' else 'failed'} test-flaky seed 0: " in r.stderr


def test_progress_in_a_log_file_is_a_few_plain_lines_with_the_loss(cli, tmp_path, cache_dir, monkeypatch):
    """stderr redirected to a file (a cluster job's log): each progress bar left an empty line and a
    training said nothing, not its steps nor its loss, however long it ran. A task that runs long
    enough (genbench.progress.LOG_AFTER_S) now prints a plain line at each tenth of it."""
    import genbench.progress

    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0, raising=False)
    args = [
        "run",
        "--models",
        "test-tiny-trained",
        "--dataset",
        "ring8",
        "--samples",
        "50",
        "--metrics",
        "fid",
    ]
    r = cli(*args, "--no-figures", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert "" not in lines and "\r" not in r.stderr and "\x1b" not in r.stderr, r.stderr
    trained = [ln for ln in lines if ln.startswith("train test-tiny-trained seed 0: ")]
    assert [ln.split()[4] for ln in trained] == [f"{s}/20" for s in range(2, 22, 2)], r.stderr
    assert all(" loss=" in ln for ln in trained), r.stderr
    assert any(ln.startswith("sample test-tiny-trained seed 0: 50/50") for ln in lines), r.stderr

    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 3600.0)  # a task as short as this: no line
    r = cli(*args, "--no-figures", "--out", tmp_path / "runs2", "--cache-dir", tmp_path / "cache2")
    assert r.exit_code == 0 and "" not in r.stderr.splitlines(), r.stderr
    assert not any(ln.startswith(("train ", "sample ")) for ln in r.stderr.splitlines()), r.stderr


def test_a_long_step_says_so_in_a_log_file(monkeypatch):
    """rich's spinner draws nothing in a log file: an hour of reference features (CIFAR-10's
    Inception features on a CPU) printed nothing, a job that looked hung. A step still running after
    LOG_AFTER_S says so, and says when it is done; a short one says nothing."""
    import io
    import time

    from rich.console import Console

    import genbench.progress
    from genbench.progress import Progress

    log = io.StringIO()
    console = Progress(console=Console(file=log, force_terminal=False, force_interactive=False))
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.05)
    with console.status("reference features: cifar10 train (inception)"):
        time.sleep(0.5)
    assert log.getvalue().splitlines() == [
        "reference features: cifar10 train (inception) ...",
        "reference features: cifar10 train (inception): done (0:00:00)",
    ]
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 3600.0)
    with console.status("features of ddim[steps=10] (classifier)"):
        pass
    assert len(log.getvalue().splitlines()) == 2


def test_a_loaded_checkpoints_path_stays_on_one_line_in_a_log_file(cli, tmp_path, monkeypatch):
    """The "loaded" line was wrapped at the console's width (80 columns in a log file), breaking the
    checkpoint's path in two."""
    monkeypatch.setenv("COLUMNS", "40")
    cache = tmp_path / "a-cache-folder-whose-path-is-long-enough-to-wrap"
    args = [
        "run",
        "--models",
        "test-tiny-trained",
        "--dataset",
        "ring8",
        "--samples",
        "20",
        "--metrics",
        "fid",
    ]
    args += ["--no-figures", "--cache-dir", cache]
    assert cli(*args, "--out", tmp_path / "a").exit_code == 0
    r = cli(*args, "--out", tmp_path / "b")
    (checkpoint,) = cache.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    assert f"test-tiny-trained seed 0: loaded {checkpoint}\n" in r.stderr, r.stderr


def test_the_status_line_shows_a_variant_as_written():
    """The spinner's text was read as rich markup: "features of ddim[steps=10] (raw)" showed as
    "features of ddim (raw)", the variant taken for a style."""
    console = _terminal()
    with Progress(console=console).status("features of ddim[steps=10] (raw)"):
        pass
    assert "features of ddim[steps=10] (raw)" in _plain(console.file.getvalue())


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_terminal_keeps_the_progress_numbers(width):
    """In a narrow terminal rich cut every column alike: at 60 columns a training's step count lost
    its total ("1234/…"), at 80 a swept GAN's count and times were gone. The bar and then the
    description give way first now."""
    for description, values in [
        ("train ddpm seed 0", {"loss": 0.03512}),
        ("train gan-ns[lr_d=0.0002,lr_g=0.0001] seed 2", {"loss_d": 1.386, "loss_g": 0.6931}),
    ]:
        console = _terminal(width)
        progress = Progress(console=console)
        update = progress.training(description)
        update(1234, 20000, values)
        progress.training_done()
        shown = _plain(console.file.getvalue())
        assert "1234/20000" in shown and all(f"{k}={v:.4g}" in shown for k, v in values.items()), shown
        assert max(len(ln) for ln in shown.splitlines()) <= width, shown


def test_no_color_means_no_escape_codes(monkeypatch, capsys):
    """With NO_COLOR set, a terminal still got dim and bold as escape codes (rich drops colours only)."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a terminal
    result = Result(model="copy", dataset="ring8", seed=0, metrics={"fid": 1.0}, flags=["memorized"])
    Progress().done(result, Path("runs/ring8/copy/seed0.json"))
    Progress().warn("something to fix")
    err = capsys.readouterr().err
    assert "ok copy seed 0: fid=1" in err and "\x1b" not in err, repr(err)


def test_training_and_loading_name_the_variant_of_a_sweep(cli, tmp_path, monkeypatch):
    """The variants of a sweep each trained as "train test-tiny-trained seed 0" and loaded as
    "test-tiny-trained seed 0: loaded ...": which of them was training could not be told apart."""
    import genbench.progress

    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0, raising=False)
    args = ["run", "--models", "test-tiny-trained", "--set", "test-tiny-trained.lr=0.5,0.25"]
    args += ["--dataset", "ring8", "--samples", "20", "--metrics", "fid", "--no-figures"]
    args += ["--cache-dir", tmp_path / "cache"]
    r = cli(*args, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    for label in ("test-tiny-trained", "test-tiny-trained[lr=0.25]"):
        assert f"train {label} seed 0: 20/20 " in r.stderr, r.stderr
    r = cli(*args, "--out", tmp_path / "b")
    assert r.exit_code == 0 and "test-tiny-trained[lr=0.25] seed 0: loaded " in r.stderr, r.stderr


def test_a_bad_reference_stats_file_is_named_once_before_the_work_and_once_at_the_end(
    cli, tmp_path, cache_dir
):
    """One unreadable --reference-stats file was reported once before the work, then again for each
    model and seed as it was scored, then once more per model and seed at the end: 2 x 2 runs gave
    nine copies of one message. It is said before the work and in one error line at the end."""
    np.savez(tmp_path / "stats.npz", mean=np.zeros(3))
    args = ["--models", "copy,gaussian", "--seeds", "0,1", "--dataset", "ring8", "--samples", "50"]
    args += ["--metrics", "fid,kid", "--no-figures", "--reference-stats", tmp_path / "stats.npz"]
    r = cli(*run_args(tmp_path / "runs", cache_dir, *args))
    assert r.exit_code == 2 and r.stderr.count("lack mu, sigma") == 2, r.stderr
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    runs = "copy seed 0, copy seed 1, gaussian seed 0 and gaussian seed 1"
    assert line.startswith(f"error: {runs}: fid: "), line
    written = json.loads((tmp_path / "runs/ring8/gaussian/seed1.json").read_text())
    assert "lack mu, sigma" in written["metric_errors"]["fid"] and "kid" in written["metrics"]
