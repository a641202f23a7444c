"""A long sampling says early how long it will take, and how to shorten it, as a long training does
(genbench.training_forecast.Forecast, fed by genbench.sampling_bar), on a terminal and in a log file."""

from __future__ import annotations

import re

import cli_models  # noqa: F401 (registers the test-* models these tests name)
import pytest
from console_clock import Clock, clocked_console  # tests/ is on the path
from rich.console import Console

from genbench.progress import Progress

CIFAR_DDPM = (
    "warning: sample ddpm seed 0: about 3 hours a batch here, so this untimed warm-up batch and then its "
    "50000 samples take about 13 days more; for fewer, pass --samples N"
)
#: the same said after the warm-up (a model that reports no steps): its time is behind
CIFAR_DDPM_TIMED = (
    "warning: sample ddpm seed 0: about 3 hours a batch here, so its 50000 samples take about 12 days "
    "more; for fewer, pass --samples N"
)


def _said(console: Console) -> list[str]:
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())  # a terminal's escape codes
    return [ln for ln in shown.splitlines() if "warning:" in ln]


def _steps(progress: Progress, clock: Clock, n: int, batch: int, steps: int, step_s: float, upto: int):
    """The harness's calls while a model reports ``upto`` of its ``steps`` steps in the warm-up batch,
    each taking ``step_s``."""
    bar = progress.sampling("sample ddpm seed 0", n)
    bar.batch_started(min(batch, n), False)
    for k in range(1, upto + 1):
        clock.now += step_s
        bar.step(k, steps)
    progress.sampling_done()


@pytest.mark.parametrize("terminal", [True, False])
def test_the_cifar10_ddpm_on_a_cpu_says_how_long_its_samples_take_during_its_warm_up_batch(terminal):
    """`genbench run --models ddpm --dataset cifar10` on a CPU: 1000 denoising steps of about 11 s a
    batch of 500, so the untimed warm-up batch and then each of the 100 timed ones take 3 hours. It
    said nothing for days. A sampling that is not long says nothing; nor do steps timed over less
    than MEASURE_S."""
    clock = Clock()
    console = clocked_console(clock, terminal, width=250)
    _steps(Progress(console=console), clock, 500, 500, 1000, 1.0, 100)  # 33 minutes in all
    _steps(Progress(console=console), clock, 50000, 500, 1000, 0.001, 900)  # fast steps, under 10 s
    assert _said(console) == []
    _steps(Progress(console=console), clock, 50000, 500, 1000, 10.8, 3)
    assert _said(console) == [CIFAR_DDPM]


def test_a_forecast_during_the_warm_up_names_the_batch_its_time_counts():
    """`--samples 500` of the CIFAR-10 DDPM on a CPU: one timed batch, after an untimed warm-up batch
    as long. The line said "about 3 hours a batch here, so its 500 samples take about 6 hours more":
    a sum that read as wrong, the 500 samples being one batch."""
    clock = Clock()
    console = clocked_console(clock, False)
    _steps(Progress(console=console), clock, 500, 500, 1000, 10.8, 3)
    assert _said(console) == [
        "warning: sample ddpm seed 0: about 3 hours a batch here, so this untimed warm-up batch and then "
        "its 500 samples take about 6 hours more; for fewer, pass --samples N"
    ]


def test_a_model_that_reports_no_steps_is_timed_by_its_batches():
    """A model without step reports (a plugin, a GAN) is timed from the warm-up batch's end."""
    clock = Clock()
    console = clocked_console(clock, True, width=250)
    progress = Progress(console=console)
    bar = progress.sampling("sample ddpm seed 0", 50000)
    bar.batch_started(500, False)
    clock.now += 10800.0
    bar.batch_started(500, True)
    assert _said(console) == []  # the warm-up's end is where timing starts
    clock.now += 10800.0
    bar(500)
    progress.sampling_done()
    assert _said(console) == [CIFAR_DDPM_TIMED]  # the warm-up is behind it, and not named


def test_the_run_says_it_with_the_flag_to_pass(cli, tmp_path, monkeypatch):
    """`genbench run` wires the forecast to its console: the line names --samples, the flag it takes."""
    import genbench.training_forecast

    monkeypatch.setattr(genbench.training_forecast, "MEASURE_S", 0.0)
    monkeypatch.setattr(genbench.training_forecast, "LONG_TRAINING_S", 0.0)  # any sampling is long
    args = ["run", "--models", "test-stepping", "--dataset", "ring8", "--samples", "8", "--metrics", "fid"]
    r = cli(*args, "--no-figures", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: sample test-stepping")]
    assert re.fullmatch(
        r"warning: sample test-stepping seed 0: about \S+ s a batch here, so its 8 samples take about 0 "
        r"minutes more; for fewer, pass --samples N",
        line,
    ), line
