"""The sampling bar moves within a batch where the model reports its steps (genbench.sampling_bar),
on a terminal and in a log file; the harness's untimed warm-up batch shows as a phase of its own;
what is sampled and timed is the same with the bar as without."""

from __future__ import annotations

import types

import cli_models  # noqa: F401 (registers the test-* models these tests name)
import pytest
import torch
from console_clock import Clock, clocked_console  # tests/ is on the path

import genbench.progress
from genbench.metrics import throughput
from genbench.progress import Progress
from genbench.sampling_bar import STEP_UPDATE_S, SamplingBar
from genbench.sampling_steps import report_step, reporting_steps


def _stepping(clock: Clock, steps: int, seen=None):
    """A sampler whose every step takes 40 s by ``clock`` and is reported; ``seen()`` is called after
    each report (to read what the bar shows then)."""

    def sample(b: int, g: torch.Generator) -> torch.Tensor:
        for k in range(1, steps + 1):
            clock.now += 40.0
            report_step(k, steps)
            if seen is not None:
                seen()
        return torch.randn(b, 2, generator=g)

    return sample


def _draw(progress: Progress, sample, n: int, batch: int) -> torch.Tensor:
    """What the harness does (genbench.scoring.evaluate_into): sample through the bar."""
    bar = progress.sampling("sample ddpm seed 0", n)
    try:
        with reporting_steps(bar.step):
            x, _ = throughput.measure_sampling(
                sample,
                n,
                batch,
                torch.Generator().manual_seed(0),
                "cpu",
                on_batch=bar,
                on_batch_start=bar.batch_started,
            )
    finally:
        progress.sampling_done()
    return x


def test_the_bar_moves_within_the_first_batch_and_shows_its_time_remaining():
    """A batch of the CIFAR-10 DDPM takes hours on a CPU: the bar showed 0/50000 and no time
    remaining for hours (the warm-up batch, then the first). Each reported step now moves it by its
    share of the batch; the untimed warm-up shows as its own phase first."""
    clock = Clock()
    progress = Progress(console=clocked_console(clock, True))
    shown, remaining = [], []

    def seen() -> None:
        assert progress._bar is not None
        (task,) = progress._bar.tasks
        shown.append((task.description, task.completed, task.total, task.fields["values"]))
        if task.description == "sample ddpm seed 0" and task.completed == 2:
            remaining.append(task.time_remaining)

    _draw(progress, _stepping(clock, 10, seen), n=20, batch=10)
    warm_up = [("sample ddpm seed 0, untimed warm-up", k, 10, f"step {k}/10") for k in range(1, 11)]
    timed = [("sample ddpm seed 0", k, 20, f"step {(k - 1) % 10 + 1}/10") for k in range(1, 21)]
    assert shown == warm_up + timed
    assert remaining == [pytest.approx(40.0 * 18)]  # one sample per 40 s, 18 to go, after two steps


def test_in_a_log_file_a_long_batch_says_its_steps_at_each_tenth(monkeypatch):
    """A log file said nothing of a sampling until a tenth of its samples were drawn, a batch of
    hours or more. Its lines now come at each tenth of the steps; the samples are counted whole."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    clock = Clock()
    console = clocked_console(clock, False)
    _draw(Progress(console=console), _stepping(clock, 5), n=4, batch=2)
    lines = [ln.rsplit(" (", 1)[0] for ln in console.file.getvalue().splitlines()]  # less the time
    warm_up = [f"sample ddpm seed 0, untimed warm-up: {2 * k // 5}/2 step {k}/5" for k in range(1, 6)]
    first = [f"sample ddpm seed 0: {2 * k // 5}/4 step {k}/5" for k in range(1, 6)]
    second = [f"sample ddpm seed 0: {2 + 2 * k // 5}/4 step {k}/5" for k in range(1, 6)]
    assert lines == warm_up + first + second


def test_a_run_shows_the_steps_its_model_reports(cli, tmp_path, monkeypatch):
    """`genbench run` binds the model's reports to its bar (here a log file's lines, as CliRunner's
    stderr is no terminal); a model that reports nothing advances it once a batch, as before."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    monkeypatch.setattr(genbench.sampling_bar, "STEP_UPDATE_S", 0.0)  # each step, however fast
    # throughput: the warm-up batch is drawn for it alone
    args = ["run", "--dataset", "ring8", "--samples", "8", "--batch-size", "4", "--metrics", "fid,throughput"]
    args += ["--no-figures", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache"]
    r = cli(*args, "--models", "test-stepping")
    assert r.exit_code == 0, r.output
    said = [ln.rsplit(" (", 1)[0] for ln in r.stderr.splitlines() if ln.startswith("sample ")]
    warm_up = [f"sample test-stepping seed 0, untimed warm-up: {k}/4 step {k}/4" for k in range(1, 5)]
    timed = [f"sample test-stepping seed 0: {k}/8 step {(k - 1) % 4 + 1}/4" for k in range(1, 9)]
    assert said == warm_up + timed, r.stderr
    r = cli(*args, "--models", "test-points-only")
    assert r.exit_code == 0, r.output
    said = [ln.rsplit(" (", 1)[0] for ln in r.stderr.splitlines() if ln.startswith("sample ")]
    assert said == ["sample test-points-only seed 0: 4/8", "sample test-points-only seed 0: 8/8"]


def test_step_reports_move_the_bar_at_most_every_step_update_s_and_never_back():
    """Reports are timed with the samples (a 1000-step sampler of 2D points evaluates its network in
    tens of microseconds): those closer together than STEP_UPDATE_S are dropped, at the cost of a
    clock read. A plugin's report that is no number, or out of range, never fails the sampling."""
    clock, moves = Clock(), []

    def phase(description: str, total: int):
        return lambda completed, values: moves.append((completed, values))

    bar = SamplingBar("sample m seed 0", 100, phase, clock)
    bar.batch_started(10, True)
    for k in range(1, 101):  # 100 steps in 10 * STEP_UPDATE_S
        clock.now += STEP_UPDATE_S / 10
        bar.step(k, 100)
    assert 9 <= len(moves) <= 11
    bar(10)
    moves.clear()
    bar.batch_started(10, True)
    for step, steps in [("x", 4), (None, 4), (1, 0), (float("nan"), 4), (3, 4), (1, 4), (9, 4)]:
        clock.now += STEP_UPDATE_S
        bar.step(step, steps)  # type: ignore[arg-type]
    assert moves == [(17.5, "step 3/4"), (17.5, "step 1/4"), (20.0, "step 9/4")]
    bar(10)
    assert moves[-1] == (20, "")


def test_the_bar_changes_neither_the_samples_nor_the_timed_region(monkeypatch):
    """The bar's work between batches (a phase's start, a kept batch) is outside the timed region;
    the samples are the same, bit for bit, with the bar and its step reports as without. A fake
    clock that the model moves 1 s a batch and the bar 100 s a call: only the model's are timed."""
    now = [0.0]
    monkeypatch.setattr(throughput, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    clock = Clock()
    stepping = _stepping(clock, 3)

    def sample(b: int, g: torch.Generator) -> torch.Tensor:
        now[0] += 1.0
        return stepping(b, g)

    plain, timed = throughput.measure_sampling(sample, 10, 4, torch.Generator().manual_seed(0), "cpu")
    progress = Progress(console=clocked_console(clock, True))
    bar = progress.sampling("sample m seed 0", 10)

    def slow(call):
        def slowed(*args):
            now[0] += 100.0
            call(*args)

        return slowed

    with reporting_steps(bar.step):
        shown, timed_with_bar = throughput.measure_sampling(
            sample,
            10,
            4,
            torch.Generator().manual_seed(0),
            "cpu",
            on_batch=slow(bar),
            on_batch_start=slow(bar.batch_started),
        )
    progress.sampling_done()
    assert torch.equal(plain, shown)
    assert timed["sample_s"] == timed_with_bar["sample_s"] == 3.0  # three batches, one second each
