"""Resumable states on time as well as on steps (``--checkpoint-minutes``): every ``--checkpoint-every``
steps or M minutes since the last save, whichever comes first. The CIFAR-10 DDPM on a 2-core CPU takes
about 40 s a step, so its first resumable state came after 500 steps, 5.5 hours: a kill before then
lost all of it. The steps' time comes from a fake clock here: no test sleeps, none asserts a timing."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from test_baselines import IMAGES, data_for, flat_state, tiny
from test_training import TOY, config

import genbench.training
from baselines.gan import GanNS
from genbench import run
from genbench.api import TrainContext
from genbench.checkpoint import load_checkpoint
from genbench.termination import rerun_said

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


class StepClock:
    """A clock that moves ``per_step`` seconds at each step a training reports (``ctx.progress``)."""

    def __init__(self, per_step: float):
        self.now, self.per_step = 1000.0, per_step

    def __call__(self) -> float:
        return self.now

    def step(self, *_: object) -> None:
        self.now += self.per_step


def saved_steps(tmp_path: Path, clock: StepClock, steps: int, **kw) -> list[int]:
    """The steps after which a loop of ``steps`` steps, each taking ``clock.per_step`` s, saves."""
    ctx = TrainContext(
        seed=0, device=torch.device("cpu"), checkpoint_path=tmp_path / "train.pt", clock=clock, **kw
    )
    saved = []
    for i in range(1, steps + 1):
        clock.step()
        if ctx.should_checkpoint(i):
            ctx.save_checkpoint({"i": i}, i)
            saved.append(i)
    return saved


def test_a_slow_training_saves_after_its_minutes_before_its_steps(tmp_path):
    """40 s a step, 500 steps a save: the first state came after 5.5 hours; now after 30 minutes
    (45 steps), and again 30 minutes after each save."""
    clock = StepClock(40.0)
    saved = saved_steps(tmp_path, clock, 200, checkpoint_every=500, checkpoint_minutes=30)
    assert saved == [45, 90, 135, 180]
    assert load_checkpoint(tmp_path / "train.pt")["step"] == 180


def test_a_fast_training_saves_on_its_steps_only(tmp_path):
    """0.1 s a step: 500 steps come long before 30 minutes, so the steps alone decide, as before."""
    saved = saved_steps(tmp_path, StepClock(0.1), 1600, checkpoint_every=500, checkpoint_minutes=30)
    assert saved == [500, 1000, 1500]


def test_minutes_0_saves_on_steps_only_and_checkpoint_every_0_saves_nothing(tmp_path):
    assert saved_steps(tmp_path, StepClock(40.0), 120, checkpoint_every=50, checkpoint_minutes=0) == [50, 100]
    # --checkpoint-every 0 saves no resumable state, on time neither (what it has always meant)
    assert (
        saved_steps(tmp_path / "none", StepClock(40.0), 200, checkpoint_every=0, checkpoint_minutes=30) == []
    )
    assert not (tmp_path / "none").exists()


def test_a_save_on_time_counts_the_next_steps_from_there(tmp_path):
    """A save on time at step 3 is followed by one 5 steps later, not one at the next multiple of 5."""
    clock = StepClock(40.0)
    ctx = TrainContext(
        seed=0,
        device=torch.device("cpu"),
        checkpoint_path=tmp_path / "train.pt",
        checkpoint_every=5,
        checkpoint_minutes=2,
        clock=clock,
    )
    due = []
    for i in range(1, 12):
        clock.step()
        if ctx.should_checkpoint(i):
            due.append(i)
            ctx.save_checkpoint({}, i)
            clock.per_step = 1.0  # fast from the first save on: only the steps count
    assert due == [3, 8]  # 120 s at step 3, then 5 steps after it (not at 5 and 10)


def test_a_resume_from_a_save_on_time_ends_with_the_uninterrupted_weights(tmp_path):
    """Interrupted after a save on time (step 3 of 6, every 500 steps), the rerun resumes there
    and ends with the weights of a training that saved nothing."""
    kw = {"d_steps": 2}
    data = data_for(IMAGES)
    straight = tiny(GanNS, IMAGES, **kw)
    straight.fit(data, TrainContext(seed=0, device=torch.device("cpu")))

    def context(progress) -> TrainContext:
        return TrainContext(
            seed=0,
            device=torch.device("cpu"),
            checkpoint_path=tmp_path / "b.pt",
            checkpoint_every=500,
            checkpoint_minutes=2,
            clock=clock,
            progress=progress,
        )

    clock = StepClock(40.0)

    def interrupt(step: int, total: int, values: dict) -> None:
        clock.step()
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # stopped after the save at step 3, 120 s in
        tiny(GanNS, IMAGES, **kw).fit(data, context(interrupt))
    steps_run: list[int] = []
    resumed = tiny(GanNS, IMAGES, **kw)
    summary = resumed.fit(data, context(lambda s, t, v: (clock.step(), steps_run.append(s))))
    assert summary["resumed_from"] == 3 and steps_run == [4, 5, 6]
    want, got = flat_state(straight.state_dict()), flat_state(resumed.state_dict())
    assert want.keys() == got.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=0, msg=key)


def test_run_saves_on_checkpoint_minutes_and_the_rerun_resumes_there(tmp_path, monkeypatch):
    """RunConfig.checkpoint_minutes reaches the training: 40 s steps, 1 minute, every 500 steps;
    Ctrl-C at step 12 resumes from step 10 (a save at steps 2, 4, ..., 10)."""
    clock = StepClock(40.0)
    monkeypatch.setattr(genbench.training, "TrainContext", functools.partial(TrainContext, clock=clock))
    real, trained = TrainContext.progress, []

    def progress(self, step, total, **values):
        clock.step()
        trained.append(step)
        if step == 12 and len(trained) == 12:
            raise KeyboardInterrupt
        real(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", progress)
    cfg = config(tmp_path, "a", checkpoint_every=500, checkpoint_minutes=1)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run(cfg)
    assert rerun_said(stopped.value) == "rerun to resume training from step 10"
    (result,) = run(cfg)
    assert result.status == "ok" and result.training["resumed_from"] == 10
    assert trained[12:] == list(range(11, 21))


def test_a_stop_before_any_save_names_both_intervals(tmp_path, monkeypatch):
    """Stopped before its first save, the last line names the minutes too: a shorter
    --checkpoint-every alone was not the only fix."""
    from cli_helpers import interrupt_training_at

    interrupt_training_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run(config(tmp_path, "a", checkpoint_every=5, checkpoint_minutes=30))
    assert rerun_said(stopped.value) == (
        f"{TOY} seed 0 had saved no state to resume from (--checkpoint-every 5, --checkpoint-minutes 30), "
        "so a rerun trains it from the start"
    )


def test_checkpoint_every_0_refuses_any_minutes_given_and_takes_none(tmp_path):
    """RunConfig.checkpoint_minutes=30 beside checkpoint_every=0 is refused as 10 is: the check compared
    with the default's value, so a 30 given by hand passed unsaid; not given (None), the run goes on,
    and the caller's RunConfig keeps its None (evaluate would warn of a field set that it ignores)."""
    from genbench.errors import GenbenchError

    with pytest.raises(
        GenbenchError, match="--checkpoint-minutes 30 saves nothing with --checkpoint-every 0"
    ):
        run(config(tmp_path, "a", checkpoint_every=0, checkpoint_minutes=30))
    cfg = config(tmp_path, "b", checkpoint_every=0)
    (result,) = run(cfg)
    assert result.status == "ok" and cfg.checkpoint_minutes is None
