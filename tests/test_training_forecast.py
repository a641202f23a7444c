"""A long training says early how long it will take, and how to shorten it
(genbench.training_forecast), on a terminal and in a log file; the bar's time remaining shows for
steps slower than rich's 30 s speed window."""

from __future__ import annotations

import re

import cli_models  # noqa: F401 (registers the test-* models these tests name)
import pytest
from console_clock import Clock, clocked_console  # tests/ is on the path

from genbench.progress import Progress

CIFAR_DDPM = "about 40 s a step here, so its 800000 steps take about 370 days more"


def _train(progress: Progress, clock: Clock, steps: list[int], total: int, every_s: float, **kw) -> None:
    update = progress.training("train ddpm seed 0", **kw)
    for step in steps:
        clock.now += every_s
        update(step, total, {"loss": 1.0})
    progress.training_done()


@pytest.mark.parametrize("terminal", [True, False])
def test_the_paper_sized_ddpm_on_a_cpu_says_how_long_it_takes_after_its_first_steps(terminal):
    """`genbench run --dataset cifar10` on a CPU: 40 s a step of 800000. The bar showed 1/800000 and
    no time remaining, a log file nothing at all until a tenth of the steps (about 37 days). A
    training that is not long says nothing, nor do fast first steps timed over less than MEASURE_S
    (the first may be slow: allocations)."""
    clock = Clock()
    console = clocked_console(clock, terminal)
    hint = "for a shorter training pass --set ddpm.train_steps=N"
    _train(Progress(console=console), clock, [1, 2, 3], 20, 40.0, hint=lambda total: hint)  # 11 minutes left
    _train(Progress(console=console), clock, list(range(1, 50)), 1000, 0.1, hint=lambda total: hint)
    _train(Progress(console=console), clock, [1, 2, 3], 800_000, 40.0, hint=lambda total: hint)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())  # a terminal's escape codes
    said = [ln for ln in shown.splitlines() if "warning:" in ln]
    assert said == [f"warning: train ddpm seed 0: {CIFAR_DDPM}; {hint}"], shown


def test_the_run_names_the_models_step_field_to_shorten_it(cli, tmp_path, monkeypatch):
    """The hint names the --set of the config field holding the step count, as `genbench run` takes it."""
    import genbench.training_forecast

    monkeypatch.setattr(genbench.training_forecast, "MEASURE_S", 0.0)
    monkeypatch.setattr(genbench.training_forecast, "LONG_TRAINING_S", 0.0)  # any training is long
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
    r = cli(*args, "--no-figures", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: train test-tiny-trained")]
    assert line.endswith(
        "steps take about 0 minutes more; for a shorter training pass --set test-tiny-trained.steps=N"
    )


def test_the_bar_shows_the_time_remaining_of_steps_slower_than_30_s():
    """rich keeps the speed samples of its last 30 s only: a 40 s step left one sample, no speed, and
    the bar's time remaining stayed -:--:-- for the whole training."""
    clock = Clock()
    progress = Progress(console=clocked_console(clock, True))
    update = progress.training("train ddpm seed 0")
    for step in (1, 2, 3):
        clock.now += 40.0
        update(step, 800_000, {"loss": 1.0})
    assert progress._bar is not None
    assert progress._bar.tasks[0].time_remaining == pytest.approx(40.0 * (800_000 - 3))
    progress.training_done()


def test_the_hint_names_the_step_count_field_where_another_field_has_the_same_value():
    """``--set ddpm.train_steps=1000`` equals the DDPM's ``timesteps``: the hint named no field
    (``ddpm.FIELD``) where one of the two is the step count by its name."""
    from genbench.training_forecast import shorten_hint

    config = {"timesteps": 1000, "train_steps": 1000, "warmup": 100, "lr": 2e-4}
    assert shorten_hint("ddpm", config, 1000).endswith("--set ddpm.train_steps=N")
    assert shorten_hint("gan-ns", {"steps": 10, "d_steps": 1, "batch": 10}, 10).endswith("gan-ns.steps=N")
    # none named as a step count among the equal ones: the hint says what to look for
    assert "my.FIELD (its step count)" in shorten_hint("my", {"a": 5, "b": 5}, 5)
