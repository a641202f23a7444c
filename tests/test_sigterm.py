"""SIGTERM (a cluster job past its time limit, or preempted) stops `genbench` as Ctrl-C does: what
is finished is kept, the file being written leaves no temp file, the last periodic checkpoint is
intact and the same command resumes from it, and the command says so and exits 143. Python's
default SIGTERM killed the process with no ``finally`` run, the log ending mid-line.

Each test runs `genbench` in a child process and sends it a real SIGTERM where the child says it is
(a gate file): training, a checkpoint or result being written, a plugin's ``fit`` that catches it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from test_baselines import flat_state  # tests/ is on the path: pytest puts it there

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: the child: genbench's CLI, holding still at the point named by $STOP_AT (and saying so by
#: creating $GATE) until it gets SIGTERM. "step:N": when training reports step N; "write:NAME:K":
#: inside the K-th write of a file named NAME, after its temp file is written and before the rename
CHILD = """
import os, signal, sys, time
from dataclasses import dataclass
from pathlib import Path

import torch

import genbench.io
import genbench.termination
from genbench.api import GenerativeModel, TrainContext
from genbench.registry import register_model

GATE = Path(os.environ["GATE"])
kind, *where = os.environ["STOP_AT"].split(":")
# a step held still at "step:N" is stopped after this wait rather than the default 5 s
genbench.termination.STEP_END_WAIT_S = 0.5


def hold():
    GATE.touch()
    time.sleep(60)  # SIGTERM ends it


if kind == "step":
    real_progress = TrainContext.progress

    def progress(self, step, total, **values):
        if step == int(where[0]):
            hold()
        real_progress(self, step, total, **values)

    TrainContext.progress = progress
elif kind == "signal":  # "signal:NAME[+NAME]:K": send itself each NAME inside the K-th backward pass
    real_backward, passes = torch.Tensor.backward, []
    # Ctrl-C raises, as in a terminal, also where the test runs in the background (SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def backward(self, *args, **kwargs):
        passes.append(1)
        if len(passes) == int(where[1]):
            GATE.touch()
            for name in where[0].split("+"):
                os.kill(os.getpid(), getattr(signal, name))
        return real_backward(self, *args, **kwargs)

    torch.Tensor.backward = backward
elif kind == "write":
    real_replace, writes = os.replace, []

    class Os:  # genbench.io's os, with a rename that holds still at the chosen write
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            if Path(dst).name == where[0]:
                writes.append(dst)
                if len(writes) == int(where[1]):
                    hold()
            real_replace(src, dst)

    genbench.io.os = Os()


@register_model("test-catches-sigterm")
class CatchesIt(GenerativeModel):
    # a training script's loop that stops early on Ctrl-C (here SIGTERM) and returns what it has

    @dataclass
    class Config:
        scale: float = 1.0

    def fit(self, train, ctx):
        try:
            hold()
        except KeyboardInterrupt:
            return {"stopped_early": True}

    def sample(self, n, *, generator):
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {"scale": torch.tensor(self.config.scale)}

    def load_state_dict(self, state):
        pass


from genbench.cli.main import main

sys.argv[0] = "genbench"
main()
"""


def run_args(tmp_path: Path, model: str = "vae") -> list[str]:
    """``model`` on ring8; the VAE (or the GAN) trained 20 steps with a resumable checkpoint every 5
    (seconds)."""
    args = ["run", "--models", model, "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    if model in ("vae", "gan-ns"):
        args += ["--set", f"{model}.steps=20", "--set", f"{model}.batch_size=32", "--checkpoint-every", "5"]
    args += ["--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache")]
    return [*args, "--device", "cpu", "--no-progress", "--no-figures"]


def terminated(
    tmp_path: Path, stop_at: str, model: str = "vae", signum: int = signal.SIGTERM, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """Run the child until it holds still at ``stop_at``, send it ``signum`` (unless it signals
    itself, "signal:..."), and return how it ended; ``popen``: more arguments of its Popen."""
    gate = tmp_path / "holding"
    env = {**os.environ, "GATE": str(gate), "STOP_AT": stop_at, "COLUMNS": "250"}
    env["OMP_NUM_THREADS"] = "1"  # tiny networks (tests/conftest.py's one_thread)
    cmd = [sys.executable, "-c", CHILD, *run_args(tmp_path, model)]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    try:
        deadline = time.monotonic() + 120
        while not gate.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                out, err = child.communicate(timeout=10) if child.poll() is not None else ("", "")
                pytest.fail(f"the child never reached {stop_at}: {child.returncode}\n{out}\n{err}")
            time.sleep(0.05)
        if not stop_at.startswith("signal:"):
            child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return subprocess.CompletedProcess(cmd, child.returncode, out, err)


def temp_files(tmp_path: Path) -> list[Path]:
    """The hidden temp files of interrupted writes (genbench.io.atomic_write's)."""
    return sorted(p for p in tmp_path.rglob(".*.tmp"))


def train_pt(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "cache" / "checkpoints").rglob("train.pt"))


#: what the last line says of a training stopped before it saved a state to resume from
STARTS_OVER = (
    "had saved no state to resume from (--checkpoint-every {every}, --checkpoint-minutes 30), "
    "so a rerun trains it from the start"
)


def assert_stopped(ended: subprocess.CompletedProcess[str], rerun: str = "rerun to resume training") -> None:
    """Exit 143, no traceback, and the last line says it was terminated and what a rerun does."""
    assert ended.returncode == 143, (ended.returncode, ended.stderr)
    assert "Traceback" not in ended.stderr, ended.stderr
    last = ended.stderr.strip().splitlines()[-1]
    assert last == f"terminated (SIGTERM): finished results are saved; {rerun}"


@pytest.mark.parametrize(
    ("stop_at", "resumes_from"),
    [("step:12", 10), ("write:train.pt:2", 5)],
    ids=["a-step-that-does-not-end", "writing-a-checkpoint"],
)
def test_sigterm_stops_training_cleanly_and_the_rerun_resumes(tmp_path: Path, cli, stop_at, resumes_from):
    """SIGTERM at step 12 of 20 (checkpoints at 5 and 10) in a step that does not end within the
    wait (held still), or while the step-10 checkpoint is being written: no temp file is left, the
    last whole checkpoint is kept, and the same command resumes from it. The default SIGTERM left
    the write's temp file (as large as the checkpoint) for a day."""
    ended = terminated(tmp_path, stop_at)
    assert temp_files(tmp_path) == []
    assert_stopped(ended, f"rerun to resume training from step {resumes_from}")
    assert len(train_pt(tmp_path)) == 1
    assert not list((tmp_path / "runs").rglob("seed0.json"))  # nothing was scored

    rerun = cli(*run_args(tmp_path))
    assert rerun.exit_code == 0, rerun.output
    result = json.loads(next((tmp_path / "runs").rglob("seed0.json")).read_text())
    assert result["training"]["resumed_from"] == resumes_from
    assert train_pt(tmp_path) == []  # removed with the final model.pt written


def trained_state(tmp_path: Path) -> dict[str, torch.Tensor]:
    """The weights in the one model.pt under ``tmp_path``'s cache, by dotted name."""
    (final,) = (tmp_path / "cache" / "checkpoints").rglob("model.pt")
    return flat_state(torch.load(final, weights_only=True)["state"])


@pytest.mark.parametrize(
    ("model", "signame", "backward"),
    # the GAN's 23rd backward pass is step 12's discriminator's, before its generator's update
    [("vae", "SIGTERM", 12), ("gan-ns", "SIGTERM", 23), ("vae", "SIGUSR1", 12)],
)
def test_a_cluster_stop_saves_the_state_of_the_step_it_lands_in(
    tmp_path: Path, cli, model, signame, backward
):
    """SIGTERM, or SIGUSR1 (SLURM's ``--signal=USR1@90``), inside step 12 of 20 (checkpoints every 5):
    the step ends, its state is saved, and the rerun resumes from step 12 and ends with the weights
    of an uninterrupted run. The stop was taken mid-step, and the rerun trained steps 11 and 12
    again from the step-10 checkpoint (hours, for a preempted CIFAR-10 job with checkpoints every
    500 steps); SIGUSR1 killed the process outright, leaving the write in progress half done."""
    ended = terminated(tmp_path, f"signal:{signame}:{backward}", model)
    assert ended.returncode == 128 + getattr(signal, signame), ended.stderr
    assert "Traceback" not in ended.stderr, ended.stderr
    last = ended.stderr.strip().splitlines()[-1]
    assert (
        last == f"terminated ({signame}): finished results are saved; rerun to resume training from step 12"
    )
    assert temp_files(tmp_path) == []

    rerun = cli(*run_args(tmp_path, model))
    assert rerun.exit_code == 0, rerun.output
    result = json.loads(next((tmp_path / "runs").rglob("seed0.json")).read_text())
    assert result["training"]["resumed_from"] == 12
    whole = cli(*run_args(tmp_path / "whole", model))
    assert whole.exit_code == 0, whole.output
    resumed, uninterrupted = trained_state(tmp_path), trained_state(tmp_path / "whole")
    assert resumed.keys() == uninterrupted.keys()
    for key, value in uninterrupted.items():
        assert torch.equal(resumed[key], value), key


def test_ctrl_c_while_sigterm_waits_for_the_step_end_stops_as_ctrl_c(tmp_path: Path, cli):
    """SIGTERM inside step 12, then Ctrl-C before the step ends: the command stops at once, and as
    Ctrl-C does elsewhere (exit 130, "interrupted"); it exited 143 and said "terminated (SIGTERM)".
    Step 12 did not end, so the rerun resumes from the step-10 checkpoint."""
    ended = terminated(tmp_path, "signal:SIGTERM+SIGINT:12")
    assert ended.returncode == 130, ended.stderr
    assert "Traceback" not in ended.stderr, ended.stderr
    last = ended.stderr.strip().splitlines()[-1]
    assert last == "interrupted: finished results are saved; rerun to resume training from step 10"
    assert temp_files(tmp_path) == []

    rerun = cli(*run_args(tmp_path))
    assert rerun.exit_code == 0, rerun.output
    result = json.loads(next((tmp_path / "runs").rglob("seed0.json")).read_text())
    assert result["training"]["resumed_from"] == 10


def test_sigterm_before_the_first_checkpoint_says_the_rerun_trains_from_the_start(tmp_path: Path):
    """At step 3, before the step-5 checkpoint, there is nothing to resume: the command said "rerun
    to resume training" all the same."""
    ended = terminated(tmp_path, "step:3")
    assert train_pt(tmp_path) == []
    label = "vae[batch_size=32,steps=20]"  # run_args' --set, as the run names it
    assert_stopped(ended, f"{label} seed 0 {STARTS_OVER.format(every=5)}")


def test_sigterm_while_writing_the_trained_model_says_the_rerun_saves_it(tmp_path: Path, cli):
    """SIGTERM while model.pt is written, the training done (its step-20 state saved): the last line
    said "rerun to go on (trained models load from their checkpoints)", of a model.pt there was none
    of; the rerun resumes the state of step 20, the last, trains nothing and saves it."""
    ended = terminated(tmp_path, "write:model.pt:1")
    assert temp_files(tmp_path) == []
    label = "vae[batch_size=32,steps=20]"  # run_args' --set, as the run names it
    assert_stopped(
        ended,
        f"rerun to save {label} seed 0's trained model from its state at its last step (20): nothing is trained again",
    )
    rerun = cli(*run_args(tmp_path))
    assert rerun.exit_code == 0, rerun.output
    result = json.loads(next((tmp_path / "runs").rglob("seed0.json")).read_text())
    assert result["training"]["resumed_from"] == 20
    assert train_pt(tmp_path) == [] and list((tmp_path / "cache" / "checkpoints").rglob("model.pt"))


def test_sigterm_while_writing_a_result_leaves_no_temp_file(tmp_path: Path):
    """SIGTERM while the result JSON is being written (the training done, its model.pt saved)."""
    ended = terminated(tmp_path, "write:seed0.json:1")
    assert temp_files(tmp_path) == []
    assert_stopped(
        ended, "rerun to go on (trained models load from their checkpoints)"
    )  # no training stopped
    assert not list((tmp_path / "runs").rglob("seed0.json"))
    assert list((tmp_path / "cache" / "checkpoints").rglob("model.pt"))  # the finished training is kept


def test_sigterm_caught_by_fit_still_stops_the_run(tmp_path: Path):
    """A training loop that stops early on KeyboardInterrupt (which SIGTERM raises) and returns: its
    half-trained weights are neither cached nor scored, as with Ctrl-C."""
    ended = terminated(tmp_path, "fit", model="test-catches-sigterm")
    # its fit saves no resumable state: it said "rerun to resume training" all the same
    assert_stopped(ended, f"test-catches-sigterm seed 0 {STARTS_OVER.format(every=500)}")
    assert not list((tmp_path / "cache" / "checkpoints").rglob("model.pt"))
    assert not list((tmp_path / "runs").rglob("seed0.json"))


def test_a_second_sigterm_while_stopping_does_not_cut_the_cleanup_short(tmp_path: Path, monkeypatch):
    """A job can get SIGTERM twice (srun forwards the one its step also got from slurmstepd; a
    `kill` of the process group after the job's own): the second, arriving while the first unwinds,
    raised again inside the cleanup, and the write in progress left its temp file behind."""
    import genbench.io
    from genbench.io import atomic_write
    from genbench.termination import Terminated, sigterm_stops

    def sigterm() -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before os.kill returns

    real_unlink = os.unlink

    class Os:  # genbench.io's os, with the second SIGTERM arriving as the temp file is removed
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def unlink(path):
            sigterm()
            real_unlink(path)

    monkeypatch.setattr(genbench.io, "os", Os())
    with pytest.raises(Terminated), sigterm_stops():
        atomic_write(tmp_path / "result.json", lambda fh: (fh.write(b"{}"), sigterm()))
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the command's handler is gone
