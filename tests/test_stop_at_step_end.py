"""A cluster's stop (SIGTERM, SIGUSR1) during a training that saves checkpoints waits for the running
step to end, saves that step's state and stops (:mod:`genbench.termination`). These check the
cases the CLI runs in tests/test_sigterm.py do not reach, in-process with real signals."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
import torch

from genbench.api import TrainContext
from genbench.checkpoint import load_checkpoint
from genbench.errors import Diverged
from genbench.termination import Terminated, sigterm_stops, steps_end_first

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before os.kill returns


def context(tmp_path: Path, every: int = 5) -> TrainContext:
    return TrainContext(
        seed=0, device=torch.device("cpu"), checkpoint_path=tmp_path / "train.pt", checkpoint_every=every
    )


def steps(ctx: TrainContext, n: int, signal_at: int, after_step=None) -> list[int]:
    """A training loop of ``n`` steps whose ``signal_at``-th step gets SIGTERM halfway through."""
    done = []
    for i in range(1, n + 1):
        if i == signal_at:
            sigterm()  # mid-step: nothing is raised here
        done.append(i)
        if after_step is not None:
            after_step(i)
        if ctx.should_checkpoint(i):
            ctx.save_checkpoint({"done": torch.tensor(done)}, i)
    return done


def test_the_stop_is_taken_at_the_step_end_with_that_steps_state_saved(tmp_path: Path):
    ctx, done = context(tmp_path), []
    with pytest.raises(Terminated) as stopped, sigterm_stops(), steps_end_first():
        steps(ctx, 20, signal_at=7, after_step=done.append)
    assert done == list(range(1, 8))  # step 7 ended; no step after it began
    assert stopped.value.exit_code == 143
    saved = load_checkpoint(tmp_path / "train.pt")
    assert saved["step"] == 7 and saved["state"]["done"].tolist() == list(range(1, 8))
    assert ctx.saved_step == 7


def test_a_training_that_catches_the_stop_and_returns_is_stopped_all_the_same(tmp_path: Path):
    """A loop that stops early on KeyboardInterrupt (which ctx.save_checkpoint raises) and returns:
    the run went on as if it had trained to the end."""
    ctx = context(tmp_path)
    with pytest.raises(Terminated), sigterm_stops(), steps_end_first():
        try:
            steps(ctx, 20, signal_at=7)
        except KeyboardInterrupt:
            pass


def test_a_stop_waiting_when_the_training_fails_is_taken_over_its_error(tmp_path: Path):
    """SIGTERM mid-step, then that step diverges: the job was told to stop, and the run would have
    recorded the divergence and gone on to the next model."""
    ctx = context(tmp_path)

    def diverge(i: int) -> None:
        if i == 7:
            raise Diverged(7, float("nan"))

    with pytest.raises(Terminated) as stopped, sigterm_stops(), steps_end_first():
        steps(ctx, 20, signal_at=7, after_step=diverge)
    assert isinstance(stopped.value.__context__, Diverged)


def test_without_resumable_checkpoints_the_stop_is_taken_where_it_lands(tmp_path: Path):
    """--checkpoint-every 0 saves no state to resume from: nothing is gained by waiting."""
    ctx, done = context(tmp_path, every=0), []
    with pytest.raises(Terminated), sigterm_stops(), steps_end_first():
        steps(ctx, 20, signal_at=7, after_step=done.append)
    assert done == list(range(1, 7)) and not (tmp_path / "train.pt").exists()


def test_a_step_that_does_not_end_in_time_is_stopped_where_it_is(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("genbench.termination.STEP_END_WAIT_S", 0.2)
    ctx = context(tmp_path)

    def hang(i: int) -> None:
        if i == 7:
            time.sleep(30)

    start = time.monotonic()
    with pytest.raises(Terminated), sigterm_stops(), steps_end_first():
        steps(ctx, 20, signal_at=7, after_step=hang)
    assert time.monotonic() - start < 20
    assert load_checkpoint(tmp_path / "train.pt")["step"] == 5  # the last periodic one


def test_before_the_training_has_asked_to_checkpoint_the_stop_is_taken_at_once(tmp_path: Path):
    """A fit that never asks ctx.should_checkpoint has no step ends to wait for."""
    with pytest.raises(Terminated), sigterm_stops(), steps_end_first():
        sigterm()
        pytest.fail("not stopped")


def test_outside_a_training_the_stop_is_taken_at_once():
    with pytest.raises(Terminated), sigterm_stops():
        sigterm()
        pytest.fail("not stopped")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_a_training_that_saves_with_its_own_code_is_stopped_at_the_next_step_end(tmp_path: Path):
    """A fit that asks ctx.should_checkpoint at each step's end but writes its checkpoint itself
    (torch.save to its own path) never calls ctx.save_checkpoint, which takes the stop: it was told
    to save at every step until the wait ran out (a write of its whole state per step, for 5 s),
    and was then stopped where it was, often inside one of those writes. It saves the step the stop
    waited for, and is stopped at the next step's end; asked twice at one step's end (once per file
    it writes), both answers are to save."""
    ctx, done, own_saves = context(tmp_path), [], []
    with pytest.raises(Terminated), sigterm_stops(), steps_end_first():
        for i in range(1, 21):
            if i == 7:
                sigterm()  # mid-step
            done.append(i)
            if ctx.should_checkpoint(i):
                own_saves.append((i, "weights"))
            if ctx.should_checkpoint(i):
                own_saves.append((i, "optimizer"))
    assert own_saves == [(5, "weights"), (5, "optimizer"), (7, "weights"), (7, "optimizer")]
    assert done == list(range(1, 9))  # step 8 ended: stopped at a step's end, not inside one
    assert not (tmp_path / "train.pt").exists()


def test_a_stop_survives_pickling_and_copying():
    """A plugin's process pool pickles what its worker raised: Terminated(signum) was rebuilt from its
    message, which is no signal number (ValueError)."""
    import copy
    import pickle

    stopped = pickle.loads(pickle.dumps(Terminated(signal.SIGUSR1)))
    assert (stopped.signum, stopped.exit_code, str(stopped)) == (10, 138, "terminated by SIGUSR1")
    assert copy.copy(Terminated()).signal_name == "SIGTERM"


def test_the_save_of_the_step_a_stop_waited_for_is_not_cut_short(tmp_path: Path, monkeypatch):
    """The wait bounds the step, not the write of its state: a save slower than what was left of the
    wait (a 570 MB CIFAR-10 DDPM state on a shared file system) was cut by the timer's signal, and
    the rerun resumed from the periodic checkpoint before it."""
    import genbench.checkpoint

    monkeypatch.setattr("genbench.termination.STEP_END_WAIT_S", 0.2)
    real_save = genbench.checkpoint.save_checkpoint

    def slow_save(path, payload):
        time.sleep(0.6 if payload["step"] == 7 else 0)
        real_save(path, payload)

    monkeypatch.setattr(genbench.checkpoint, "save_checkpoint", slow_save)
    ctx = context(tmp_path)
    with pytest.raises(Terminated), sigterm_stops(), steps_end_first():
        steps(ctx, 20, signal_at=7)
    assert load_checkpoint(tmp_path / "train.pt")["step"] == 7


def test_ctrl_c_while_a_stop_waits_for_the_step_end_stops_as_ctrl_c(tmp_path: Path, monkeypatch):
    """SIGTERM mid-step, then Ctrl-C before the step ends: Ctrl-C stops at once, and as itself (a
    KeyboardInterrupt: the CLI's exit 130 and its "interrupted" line). It was turned into the
    waiting SIGTERM's stop (exit 143, "terminated (SIGTERM)"); and the wait's timer, left running,
    would have sent SIGTERM again into the unwinding."""
    monkeypatch.setattr("genbench.termination.STEP_END_WAIT_S", 0.2)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # also under a background pytest
    ctx, done = context(tmp_path), []

    def ctrl_c(i: int) -> None:
        if i == 7:
            os.kill(os.getpid(), signal.SIGINT)

    try:
        with pytest.raises(KeyboardInterrupt) as stopped, sigterm_stops():
            try:
                with steps_end_first():
                    steps(ctx, 20, signal_at=7, after_step=lambda i: (ctrl_c(i), done.append(i)))
            finally:
                time.sleep(0.6)  # a cleanup outlasting the wait
    finally:
        signal.signal(signal.SIGINT, before)
    assert type(stopped.value) is KeyboardInterrupt
    assert done == list(range(1, 7))  # stopped inside step 7, not at its end
    assert load_checkpoint(tmp_path / "train.pt")["step"] == 5


def test_ctrl_c_during_the_save_a_stop_waited_for_stops_as_ctrl_c(tmp_path: Path, monkeypatch):
    """SIGTERM mid-step, then Ctrl-C while the state of that step is written: Ctrl-C stops at once,
    as itself (the CLI's exit 130 and "interrupted"), as it does before the step ends. The waiting
    stop was taken over it once the write was cut short, and the command exited 143, "terminated"."""
    import genbench.checkpoint

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # also under a background pytest
    real_save = genbench.checkpoint.save_checkpoint

    def interrupted_save(path, payload):
        if payload["step"] == 7:  # the user's Ctrl-C, inside the write of the state the stop waited for
            os.kill(os.getpid(), signal.SIGINT)
        real_save(path, payload)

    monkeypatch.setattr(genbench.checkpoint, "save_checkpoint", interrupted_save)
    ctx = context(tmp_path)
    try:
        with pytest.raises(KeyboardInterrupt) as stopped, sigterm_stops(), steps_end_first():
            steps(ctx, 20, signal_at=7)
    finally:
        signal.signal(signal.SIGINT, before)
    assert type(stopped.value) is KeyboardInterrupt
    assert load_checkpoint(tmp_path / "train.pt")["step"] == 5  # the write was cut short
