"""Feature extraction shows its progress (genbench.extraction_bar): a bar with the rows done and the
time left on a terminal, a line at each tenth in a log file, and once, when its first seconds project
an hour or more, how long it will take; the features and the extraction's timing are the same with
it as without, and Ctrl-C still stops it."""

from __future__ import annotations

import re
import signal
import types

import cli_models  # noqa: F401 (registers the test-* models these tests name)
import numpy as np
import pytest
import torch
from console_clock import Clock, clocked_console  # tests/ is on the path

import genbench.extraction_bar
import genbench.progress
import genbench.scoring
import genbench.training_forecast
from genbench import registry
from genbench.config import RunConfig
from genbench.extraction_bar import REFERENCE_HINT
from genbench.features.base import Features, extract_reporting
from genbench.features.raw import Raw
from genbench.features.reference import cache_path, reference_features
from genbench.progress import Progress
from genbench.resolve import build_dataset
from genbench.results import find_results, load_result

CIFAR10 = "reference features of cifar10 train (inception)"


class Ticking(Raw):
    """Raw features whose every batch takes ``batch_s`` by ``clock``."""

    clock: Clock | None = None
    batch_s = 60.0

    def _extract_batch(self, x):
        assert self.clock is not None
        self.clock.now += self.batch_s
        return super()._extract_batch(x)


@pytest.fixture
def ring8(tmp_path):
    return build_dataset("ring8", RunConfig(cache_dir=tmp_path / "cache"))


def _ticking(dataset, clock: Clock, batch: int, cache) -> Ticking:
    ext = Ticking(dataset, cache_dir=cache, batch_size=batch)
    ext.clock = clock
    return ext


def _warnings(console) -> list[str]:
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())  # a terminal's escape codes
    return [ln for ln in shown.splitlines() if "warning:" in ln]


def test_the_bar_counts_the_rows_of_each_batch_and_shows_the_time_left(ring8, tmp_path):
    """`genbench run --dataset cifar10` on a CPU: about two hours of Inception features for the
    reference, shown as a spinner with no count and no time left. The bar now moves with each batch."""
    clock = Clock()
    progress = Progress(console=clocked_console(clock, True))
    ext = _ticking(ring8, clock, 2000, tmp_path)
    seen = []
    with progress.extracting(CIFAR10, "images") as bar:
        assert bar is not None

        def shown(done: int, total: int) -> None:
            bar(done, total)
            assert progress._bar is not None
            (task,) = progress._bar.tasks
            seen.append((task.description, task.completed, task.total, task.time_remaining))

        reference_features(ring8, ext, "train", tmp_path, shown)
    assert progress._bar is None  # stopped at the block's end
    assert [s[:3] for s in seen] == [(CIFAR10, n, 10000) for n in range(2000, 10001, 2000)]
    assert seen[1][3] == 180.0  # 2000 rows a minute: the 6000 left after the second batch


def test_in_a_log_file_it_says_each_tenth_of_the_rows(ring8, tmp_path, monkeypatch):
    """A log file said "reference features: cifar10 train (inception) ..." and, two hours later,
    "done": no count between. Now a line at each tenth of the rows (not one a batch)."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    clock = Clock()
    console = clocked_console(clock, False)
    with Progress(console=console).extracting(CIFAR10, "images") as bar:
        reference_features(ring8, _ticking(ring8, clock, 500, tmp_path), "train", tmp_path, bar)
    lines = console.file.getvalue().splitlines()
    # less the time; and less the status's line "... ..." of a step still running (another thread's)
    counted = [ln.rsplit(" (", 1)[0] for ln in lines if re.search(r": \d+/", ln)]
    assert counted == [f"{CIFAR10}: {n}/10000" for n in range(1000, 10001, 1000)]


@pytest.mark.parametrize("terminal", [True, False])
def test_a_long_extraction_says_how_long_once_and_a_short_one_says_nothing(ring8, tmp_path, terminal):
    """CIFAR-10's Inception features on a 2-core CPU (about 6 images/s): the run said nothing of the
    two hours each of the reference's and the samples' would take. Said once, with what shortens it."""
    clock = Clock()
    console = clocked_console(clock, terminal, width=300)
    progress = Progress(console=console)
    slow = _ticking(ring8, clock, 500, tmp_path / "a")
    slow.batch_s = 600.0  # 0.83 images/s
    with progress.extracting(CIFAR10, "images", REFERENCE_HINT) as bar:  # 10000 rows in 20 batches
        reference_features(ring8, slow, "train", tmp_path / "a", bar)
    assert _warnings(console) == [
        f"warning: {CIFAR10}: about 0.83 images/s here, so its 10000 images take about 3 hours more; "
        "they are cached, once per feature extractor and split, for every later run; --reference-stats "
        "FILE (from genbench stats) with --metrics fid,is needs none"
    ]
    with progress.extracting("features of ddpm (raw)", "samples") as bar:  # 2000 rows in 100 s
        ext = _ticking(ring8, clock, 100, tmp_path)
        ext.batch_s = 5.0
        ext.extract(ring8.load("test")[0], bar)
    assert len(_warnings(console)) == 1


def test_features_are_the_same_with_progress_as_without(ring8, tmp_path):
    """The bar is told of each batch; the features, bit for bit, do not change with it."""
    x = ring8.load("train")[0]
    ext = Raw(ring8, cache_dir=tmp_path, batch_size=300)
    told = []
    with_bar = ext.extract(x, lambda done, total: told.append((done, total)))
    assert np.array_equal(with_bar.features, ext.extract(x).features)
    assert told == [(min(n, 10000), 10000) for n in range(300, 10300, 300)]


def test_an_extractor_that_overrides_extract_itself_runs_as_before(ring8, tmp_path):
    """A plugin's own ``extract(x)`` (the contract is ``_extract_batch``) takes no callback: it is
    called as before, its extraction counted by nothing, rather than failing on the argument."""

    class Own(Raw):
        def extract(self, x: torch.Tensor) -> Features:
            return super().extract(x)

    x = ring8.load("test")[0]
    told = []
    feats = extract_reporting(Own(ring8, cache_dir=tmp_path), x, lambda *a: told.append(a))
    assert len(feats) == 2000 and told == []
    extract_reporting(Raw(ring8, cache_dir=tmp_path, batch_size=1000), x, lambda *a: told.append(a))
    assert told == [(1000, 2000), (2000, 2000)]


def test_a_run_says_both_forecasts_with_their_flags_and_times_no_bar(cli, tmp_path, monkeypatch, register):
    """`genbench run` wires the extraction bars to its console (a log file's here): the reference's
    forecast says that they are cached and what needs none, the samples' names --samples. Each
    batch takes 1 s of the extraction's clock, each bar call 100 s: ``features_s`` counts only the
    extraction's, with the bar and without."""
    now = [0.0]
    clock = types.SimpleNamespace(perf_counter=lambda: now[0])
    monkeypatch.setattr(genbench.scoring, "time", clock)
    monkeypatch.setattr(genbench.extraction_bar, "time", clock)
    monkeypatch.setattr(genbench.training_forecast, "MEASURE_S", 0.0)
    monkeypatch.setattr(genbench.training_forecast, "LONG_TRAINING_S", 0.0)  # any extraction is long
    real_show = genbench.progress.TenthLines.update

    def slow_show(self, *args):
        now[0] += 100.0
        real_show(self, *args)

    monkeypatch.setattr(genbench.progress.TenthLines, "update", slow_show)

    class OneSecond(Raw):
        def _extract_batch(self, x):
            now[0] += 1.0
            return super()._extract_batch(x)

    register(registry.features, "test-one-second", OneSecond)
    args = ["run", "--models", "test-points-only", "--dataset", "ring8", "--samples", "8", "--batch-size"]
    args += ["4", "--metrics", "fid", "--features", "test-one-second", "--no-figures"]
    took = []
    for flags in ([], ["--no-progress"]):
        out = tmp_path / f"runs{len(flags)}"
        r = cli(*args, *flags, "--out", out, "--cache-dir", tmp_path / f"cache{len(flags)}")
        assert r.exit_code == 0, r.output
        (result,) = find_results(out)
        took.append(load_result(result).timings["features_s"])
        said = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:") and "features of" in ln]
        if flags:
            assert said == [], r.stderr
            continue
        assert len(said) == 2, r.stderr
        assert re.fullmatch(
            r"warning: reference features of ring8 train \(test-one-second\): about \S+ examples/s here, "
            r"so its 10000 examples take about \d+ minutes more; they are cached, .*needs none",
            said[0],
        ), said[0]
        assert re.fullmatch(
            r"warning: features of test-points-only \(test-one-second\): about \S+ samples/s here, so "
            r"its 8 samples take about 0 minutes more; for fewer, pass --samples N",
            said[1],
        ), said[1]
    assert took == [2.0, 2.0]  # two batches of four samples, a second each


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("terminal", [True, False])
def test_ctrl_c_still_stops_the_extraction_with_the_bar_shown(ring8, tmp_path, monkeypatch, terminal):
    """Ctrl-C (a real SIGINT) in the third batch stops the extraction there: no later batch, nothing
    cached, and the bar is gone from the terminal."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    batches = []

    class Interrupted(Raw):
        def _extract_batch(self, x):
            batches.append(len(x))
            if len(batches) == 3:
                signal.raise_signal(signal.SIGINT)
            return super()._extract_batch(x)

    progress = Progress(console=clocked_console(Clock(), terminal))
    ext = Interrupted(ring8, cache_dir=tmp_path, batch_size=1000)
    try:
        with pytest.raises(KeyboardInterrupt), progress.extracting(CIFAR10, "images") as bar:
            reference_features(ring8, ext, "train", tmp_path, bar)
    finally:
        signal.signal(signal.SIGINT, before)
    assert batches == [1000, 1000, 1000]
    assert not cache_path(ring8, ext, "train", tmp_path).exists()
    # no live display left: rich 14 keeps a stack of them, the floor's rich one slot
    live = getattr(progress.console, "_live_stack", None)
    assert progress._bar is None and (live == [] if live is not None else progress.console._live is None)
