"""A metric that computes for minutes shows how far it is (genbench.metric_bar): prdc took 45
minutes at 50k samples on a CPU, memorization and mifid hours, under a spinner with no count and no
time left. The k-NN metrics count their blocks of distances; on a terminal a bar replaces the
spinner, in a log file a line at each tenth says the blocks done and the time left. The values are
the same to the bit with the progress shown, off, or nowhere; a plugin metric may report its own."""

from __future__ import annotations

import io
import json
import math
import re
import threading
import time
from typing import ClassVar

import numpy as np
import pytest
from cli_helpers import run_args  # tests/ is on the path
from plugin_helpers import _Metric
from test_cli_console import _plain  # a terminal's text without its escape codes
from test_metric_status import MEMORIZATION, _OneLive
from test_mifid import make_ctx

import genbench.progress
from genbench import registry
from genbench.metric_bar import MetricBar
from genbench.metric_steps import reporting_progress
from genbench.metrics import _blocks_done, _knn_memo
from genbench.metrics import mifid as mifid_module
from genbench.metrics.mifid import MiFID
from genbench.progress import Progress
from genbench.results import find_results

pytestmark = pytest.mark.usefixtures("one_thread")

#: a log file's count line of a metric: "copy seed 0: computing prdc: 3/9 blocks, about 0:00:01 left (0:00:00)"
COUNT = re.compile(
    r"^(?P<what>.+): (?P<done>\d+)/(?P<total>\d+) blocks(?P<left>, about \d+:\d\d:\d\d left)? \(\d+:\d\d:\d\d\)$"
)


@pytest.fixture(autouse=True)
def _fresh_memo():
    """No reference k-NN kept from another test: each run computes its blocks."""
    _knn_memo.forget()
    yield
    _knn_memo.forget()


def _run(cli, tmp_path, out: str, *extra):
    args = run_args(tmp_path / out, tmp_path / "cache", "--dataset", "ring8", "--no-figures")
    return cli(*args, *extra)


def _counts(stderr: str, what: str) -> list[str]:
    """The count lines of ``what`` ("copy seed 0: computing prdc"), as "3/9"."""
    found = [m for ln in stderr.splitlines() if (m := COUNT.match(ln)) and m["what"] == what]
    assert all(bool(m["left"]) == (m["done"] != m["total"]) for m in found), stderr  # the time left
    return [f"{m['done']}/{m['total']}" for m in found]


def _values(out) -> dict[str, dict[str, float]]:
    return {str(p.relative_to(out)): json.loads(p.read_text())["metrics"] for p in find_results(out)}


def test_a_log_file_counts_the_blocks_of_prdc_with_the_time_left(cli, tmp_path, monkeypatch):
    """prdc of 10000 samples against ring8's 10000 train examples: three matrices of 10^8 distances
    (the reference's radii, the samples', and one against the other), 9 blocks of 2^25; a line at
    each tenth, between the spinner's "computing prdc ..." and its "done"."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    r = _run(cli, tmp_path, "a", "--models", "copy", "--samples", "10000", "--metrics", "prdc", "--progress")
    assert r.exit_code == 0, r.output
    assert math.ceil(3 * 10_000**2 / 2**25) == 9
    assert _counts(r.stderr, "copy seed 0: computing prdc") == [f"{k}/9" for k in range(1, 10)], r.stderr
    lines = r.stderr.splitlines()
    start = lines.index("copy seed 0: computing prdc ...")
    (done,) = [i for i, ln in enumerate(lines) if ln.startswith("copy seed 0: computing prdc: done (")]
    counted = [i for i, ln in enumerate(lines) if COUNT.match(ln)]
    assert start < counted[0] and counted[-1] < done, r.stderr


def test_the_values_are_the_same_with_the_progress_as_without(cli, tmp_path, monkeypatch):
    """prdc and memorization (pixels, and features with the test split read within) with their
    lines in a log file, with their bar on a terminal, and with --no-progress: the same numbers, to
    the bit."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    common = ["--models", "copy,gaussian", "--samples", "3000", "--metrics", "prdc,memorization"]
    r = _run(cli, tmp_path, "log", *common, "--progress")
    assert r.exit_code == 0, r.output
    # copy's: 10^8 distances of the train split's own k-NN, 3 x 10^7 of the samples against it, and
    # prdc 9 x 10^6 of theirs, memorization 2 x 10^7 of the test split's; gaussian's, the reference's
    # kept: prdc 2 blocks, memorization one (no line)
    counts = {
        (model, metric): _counts(r.stderr, f"{model} seed 0: computing {metric}")
        for model in ("copy", "gaussian")
        for metric in ("prdc", "memorization")
    }
    assert [c[-1:] for c in counts.values()] == [["5/5"], ["5/5"], ["2/2"], []], r.stderr
    _knn_memo.forget()
    r = _run(cli, tmp_path, "off", *common, "--no-progress")
    assert r.exit_code == 0 and "blocks" not in r.stderr, r.output
    _knn_memo.forget()
    console = _OneLive(file=io.StringIO(), force_terminal=True, force_interactive=True, width=100)
    monkeypatch.setattr(genbench.progress, "make_console", lambda stderr=False: console)
    r = _run(cli, tmp_path, "bar", *common, "--progress")
    assert r.exit_code == 0, r.output
    assert "blocks" in _plain(console.file.getvalue()) and console.live == 0
    log, off, bar = (_values(tmp_path / out) for out in ("log", "off", "bar"))
    assert len(log) == 2 and all(len(v) >= 5 for v in log.values()), log
    assert log == off == bar


def test_mifid_reports_its_blocks_and_the_same_value(monkeypatch):
    """mifid's search of the train split, in blocks of 2000 distances here: reported, and the same
    value as unreported."""
    monkeypatch.setattr(mifid_module, "BLOCK_ELEMENTS", 2000)  # 20 sample rows a block
    monkeypatch.setattr(_blocks_done, "BLOCK_ELEMENTS", 2000)
    rng = np.random.default_rng(0)
    ctx = make_ctx(rng.random((300, 8)), rng.random((100, 8)))
    alone = MiFID().compute(ctx)
    told: list[tuple[float, float, str]] = []
    with reporting_progress(lambda *a: told.append(a)):
        shown = MiFID().compute(ctx)
    assert shown == alone
    assert [t[1:] for t in told] == [(15, "blocks")] * 15  # 300 x 100 distances, 2000 a block
    assert [t[0] for t in told] == [float(k) for k in range(1, 16)]


def test_a_terminal_draws_the_bar_in_place_of_the_spinner_and_the_extraction_within_it(
    cli, tmp_path, monkeypatch
):
    """memorization in feature space: the train split's self-join counted on a bar in place of the
    spinner, then the test split extracted with a bar of its own within it, then the metric's bar
    again: one live display at a time (rich before 14.1 raised LiveError for a second one)."""
    console = _OneLive(file=io.StringIO(), force_terminal=True, force_interactive=True, width=100)
    monkeypatch.setattr(genbench.progress, "make_console", lambda stderr=False: console)
    r = _run(cli, tmp_path, "a", "--models", "copy", "--samples", "3000", "--progress", *MEMORIZATION)
    assert r.exit_code == 0, r.output
    shown = _plain(console.file.getvalue())
    assert "LiveError" not in shown and "ok copy seed 0: memorization_rate=" in shown, shown
    extraction = shown.index("test features of ring8 (raw)")
    # 10^8 distances of the train split's own k-NN and 3 x 10^7 of the samples', then 2 x 10^7 of the
    # test split's: 5 blocks of 2^25
    assert re.search(r"computing memorization.*4/5 blocks", shown[:extraction]), shown
    assert re.search(r"computing memorization.*5/5 blocks", shown[extraction:]), shown
    assert console.live == 0


class _Steps(_Metric):
    """A plugin metric that reports its five steps (``compute_progress``)."""

    higher_is_better: ClassVar[dict[str, bool | None]] = {"steps": None}

    def compute(self, ctx):
        for step in range(1, 6):
            time.sleep(0.01)
            self.compute_progress(step, 5)
        self.compute_progress("no number", 5)  # a bad report moves nothing and fails nothing
        return {"steps": 5.0}


def test_a_plugin_metric_reports_its_steps(cli, tmp_path, monkeypatch, register):
    """``Metric.compute_progress(done, total)``: the plugin's steps, a line at each tenth."""
    register(registry.metrics, "test-steps", _Steps)
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    r = _run(
        cli, tmp_path, "a", "--models", "copy", "--samples", "100", "--metrics", "test-steps", "--progress"
    )
    assert r.exit_code == 0, r.output
    said = [ln.rsplit(" (", 1)[0] for ln in r.stderr.splitlines() if ": computing test-steps: " in ln]
    steps = [re.sub(r", about \d+:\d\d:\d\d left$", "", ln) for ln in said[:-1]]
    assert steps == [f"copy seed 0: computing test-steps: {k}/5" for k in range(1, 6)], r.stderr
    assert "left" in said[0] and "left" not in said[-2], r.stderr
    assert said[-1].startswith("copy seed 0: computing test-steps: done"), r.stderr


def test_the_plugin_hook_does_nothing_outside_a_run(capfd):
    """Computed by hand (a notebook), a report goes nowhere: the value comes back and nothing is said."""
    assert _Steps().compute(None) == {"steps": 5.0}
    assert capfd.readouterr() == ("", "")


def test_digits_says_no_more_than_before(cli, tmp_path, monkeypatch):
    """The digits board's sizes are one block of distances or less: no count line, even where
    every step that runs says so (LOG_AFTER_S 0), and no bar."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    args = run_args(tmp_path / "a", tmp_path / "cache", "--dataset", "digits", "--models", "copy")
    r = cli(*args, "--metrics", "prdc,memorization,mifid", "--features", "raw", "--no-figures", "--progress")
    assert r.exit_code == 0, r.output
    assert "computing prdc ..." in r.stderr and "blocks" not in r.stderr, r.stderr


def test_a_log_bar_of_a_metric_follows_the_existing_lines(monkeypatch):
    """Progress.computing in a log file: the lines of TenthLines, once LOG_AFTER_S has passed."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 3600.0)
    console = _OneLive(file=io.StringIO(), width=100)
    with Progress(console=console).computing("x: computing prdc") as bar:
        assert bar is not None
        for k in range(1, 11):
            bar(k, 10, "blocks")
    assert console.file.getvalue() == ""
    with Progress(enabled=False, console=console).computing("x: computing prdc") as bar:
        assert bar is None


def test_reports_from_two_threads_are_shown_one_at_a_time():
    """A plugin whose workers report (each in a copy of its context): the first report of each
    came into the terminal's ``show`` at once, and each drew a bar of its own (``_start_bar``),
    the first of them never stopped."""
    inside, most, first_in = [0], [0], threading.Event()

    def show(done: float, total: float, noun: str) -> None:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        first_in.set()
        time.sleep(0.2)  # drawing a bar: the other thread's report arrives meanwhile
        inside[0] -= 1

    bar = MetricBar(show, time.monotonic)
    one = threading.Thread(target=bar, args=(1, 10, "blocks"))
    one.start()
    assert first_in.wait(5)
    two = threading.Thread(target=bar, args=(2, 10, "blocks"))
    two.start()
    one.join()
    two.join()
    assert most[0] == 1


class _LateTimer(threading.Timer):
    """A step's timer whose thread has not run yet (the GIL held by the step's own thread, whose
    count came due at the same LOG_AFTER_S): it never fires within the step."""

    def start(self) -> None:
        pass


@pytest.mark.parametrize("step", ["computing", "extracting"])
def test_in_a_log_file_the_count_lines_follow_the_running_line(monkeypatch, step):
    """The running line ("x: computing prdc ...") is the timer thread's at LOG_AFTER_S, a count line
    the step's own thread's once its tenths have run as long: a timer not yet run let the counts
    come first, and a step that ended before it ran said neither its running line nor its done."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    monkeypatch.setattr(genbench.progress.threading, "Timer", _LateTimer)
    console = _OneLive(file=io.StringIO(), width=100)
    progress = Progress(console=console)
    with getattr(progress, step)("x: step", *(["images"] if step == "extracting" else [])) as bar:
        for k in range(1, 11):
            bar(k, 10, *(["blocks"] if step == "computing" else []))
    lines = console.file.getvalue().splitlines()
    assert lines[0] == "x: step ..." and lines[-1].startswith("x: step: done ("), lines
    # a line at each tenth, "x: step: 3/10 ..."
    assert [ln.split(": ")[2].split("/")[0] for ln in lines[1:-1]] == [str(k) for k in range(1, 11)], lines


def test_a_terminal_bar_is_drawn_at_its_first_report():
    """The bar was added at 0 and then moved: rich draws a task as it is added, so a terminal read
    "0/5" without its noun (one block done) until the next refresh."""
    console = _OneLive(file=io.StringIO(), force_terminal=True, force_interactive=True, width=100)
    with Progress(console=console).computing("x: computing mifid") as bar:
        bar(1, 5, "blocks")
    shown = _plain(console.file.getvalue())
    assert "1/5 blocks" in shown and "0/5" not in shown, shown


def test_mifid_counts_the_rows_it_searches(monkeypatch):
    """All-zero rows are left out of the search (they have no direction), after the blocks were
    declared of every row: the bar ended at 12 of 15 blocks. Declared of the rows searched, it ends
    at its total."""
    monkeypatch.setattr(mifid_module, "BLOCK_ELEMENTS", 2000)
    monkeypatch.setattr(_blocks_done, "BLOCK_ELEMENTS", 2000)
    rng = np.random.default_rng(0)
    samples, train = rng.random((300, 8)), rng.random((100, 8))
    samples[:30], train[:10] = 0.0, 0.0
    told: list[tuple[float, float, str]] = []
    with pytest.warns(UserWarning, match="all zero"), reporting_progress(lambda *a: told.append(a)):
        MiFID().compute(make_ctx(samples, train))
    assert {t[1] for t in told} == {13}  # 270 x 90 distances, 2000 a block
    assert told[-1][:2] == (13.0, 13)
