"""While a metric computes, the run says which (genbench.scoring._score_metric): prdc took 45
minutes at 50k samples on a CPU, mifid 30, and nothing was shown meanwhile, on a terminal or in a
log file. A metric whose compute extracts a split's features with a bar (memorization in feature
space) shows the bar in place of the spinner: rich before 14.1 draws one live display at a time."""

from __future__ import annotations

import io
import time
from typing import ClassVar

import pytest
from cli_helpers import run_args  # tests/ is on the path
from plugin_helpers import _Metric
from rich.console import Console
from rich.errors import LiveError
from test_cli_console import _plain  # a terminal's text without its escape codes

import genbench.progress
from genbench import registry
from genbench.progress import Progress

pytestmark = pytest.mark.usefixtures("one_thread")

MEMORIZATION = ["--metrics", "memorization", "--metric-option", "memorization.space=features"]


class _OneLive(Console):
    """A terminal as rich before 14.1 drew one (genbench's floor is 13.8): a second live display
    while one is shown raised ``LiveError``; 14.1 nests them."""

    live = 0

    def set_live(self, live):
        if self.live:
            raise LiveError("Only one live display may be active at once")
        self.live += 1
        return super().set_live(live)

    def clear_live(self):
        self.live -= 1
        super().clear_live()


def _terminal() -> Console:
    return _OneLive(file=io.StringIO(), force_terminal=True, force_interactive=True, width=100)


class _SlowReads(_Metric):
    """Reads the test split's features (extracted with a bar), then takes its time."""

    higher_is_better: ClassVar[dict[str, bool | None]] = {"slow_reads": None}

    def compute(self, ctx):
        ctx.split_features("test")
        time.sleep(0.5)
        return {"slow_reads": 1.0}


def _run(cli, tmp_path, *extra):
    args = run_args(tmp_path / "runs", tmp_path / "cache", "--models", "copy", "--dataset", "ring8")
    return cli(*args, "--samples", "100", "--no-figures", *extra)


def test_a_terminal_shows_the_metric_computing_and_the_bar_within_it(cli, tmp_path, monkeypatch):
    """memorization in feature space extracts the test split with a bar while its spinner is shown:
    the spinner is stopped for the bar's time, not a second live display (LiveError before rich 14.1,
    recorded as the metric's error)."""
    console = _terminal()
    monkeypatch.setattr(genbench.progress, "make_console", lambda stderr=False: console)
    r = _run(cli, tmp_path, "--progress", *MEMORIZATION)
    assert r.exit_code == 0, r.output
    shown = _plain(console.file.getvalue())
    assert "copy seed 0: computing memorization" in shown, shown
    assert "test features of ring8 (raw)" in shown and "LiveError" not in shown, shown
    assert "ok copy seed 0: memorization_rate=" in shown, shown
    # the spinner is drawn again once the bar is done: the metric still computes
    after = shown[shown.rindex("test features of ring8 (raw)") :]
    assert "computing memorization" in after, shown
    assert console.live == 0


def test_a_step_within_the_metric_is_said_by_its_spinner(monkeypatch):
    """A status within a status (a cache read while a metric computes) was a second live display."""
    console = _terminal()
    progress = Progress(console=console)
    with progress.status("copy seed 0: computing prdc"):
        time.sleep(0.3)
        with progress.status("reference features: ring8 test (raw)"):
            time.sleep(0.3)  # the spinner is drawn 12.5 times a second
        time.sleep(0.3)
    shown = _plain(console.file.getvalue())
    inner = shown.index("reference features: ring8 test (raw)")
    assert "computing prdc" in shown[:inner] and "computing prdc" in shown[inner:], shown
    assert console.live == 0


def test_a_log_file_says_a_long_metric_and_when_it_is_done(cli, tmp_path, monkeypatch, register):
    """In a log file a metric still computing after LOG_AFTER_S says so, and when it is done, with
    the lines of the extraction within it; a short one, and --no-progress, say nothing."""
    register(registry.metrics, "test-slow-reads", _SlowReads)
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)  # the metric's lines and the extraction's
    r = _run(cli, tmp_path, "--progress", "--metrics", "test-slow-reads")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    start = lines.index("copy seed 0: computing test-slow-reads ...")
    (done,) = [
        i for i, ln in enumerate(lines) if ln.startswith("copy seed 0: computing test-slow-reads: done (")
    ]
    assert start < done and "\x1b" not in r.stderr and "" not in lines, r.stderr
    assert any(ln.startswith("test features of ring8 (raw): 2000/2000") for ln in lines[start:done]), r.stderr

    r = _run(cli, tmp_path, "--no-progress", "--metrics", "test-slow-reads", "--out", tmp_path / "b")
    assert r.exit_code == 0 and "computing" not in r.stderr, r.stderr
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 3600.0)
    r = _run(cli, tmp_path, "--progress", *MEMORIZATION, "--out", tmp_path / "c")
    assert r.exit_code == 0 and "computing" not in r.stderr, r.stderr
