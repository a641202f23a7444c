"""Ctrl-C during a model plugin's ``fit`` stops the run as genbench's own Ctrl-C does, even when
``fit`` catches the KeyboardInterrupt (a bare ``except:``, a loop that stops early on Ctrl-C): its
half-trained weights are neither cached nor scored, and its resumable state is kept for the rerun.
The same holds for a model's ``sample``, a metric's ``compute`` and a feature extractor's batch:
nothing is scored (or cached) from the part of the work done before Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from typing import ClassVar

import pytest
from cli_helpers import run_args
from cli_models import TinyTrained
from test_training import config

from baselines.controls import Gaussian
from genbench import registry, run
from genbench.api import TrainContext
from genbench.features.raw import Raw
from genbench.isolation import ctrl_c_kept
from genbench.metrics.base import Metric
from genbench.results import find_results

pytestmark = pytest.mark.usefixtures("one_thread", "ctrl_c_delivered")  # tiny networks (tests/conftest.py)


@pytest.fixture
def ctrl_c_delivered():
    """SIGINT raises KeyboardInterrupt, as in a terminal, also when pytest was started with it ignored
    (a background job, ``&`` in a script: Python then installs no handler of its own), where these
    tests' real SIGINTs were ignored and six of them failed with "DID NOT RAISE"."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


STOPS = "test-ctrl-c-stops-early"
FITS = "test-ctrl-c-not-trainable"
SAMPLES = "test-ctrl-c-while-sampling"
COMPUTES = "test-ctrl-c-while-computing"
EXTRACTS = "test-ctrl-c-while-extracting"


class StopsEarly(TinyTrained):
    """A training script's loop: on Ctrl-C it returns what it has (``caught`` "return"), exits as
    scripts do ("exit": ``sys.exit(0)``) or lets it through ("none", as the baselines do)."""

    caught = "return"
    handlers: list[object] = []  # SIGINT's handler as fit and sample saw it, in order

    def fit(self, train, ctx):
        StopsEarly.handlers.append(("fit", signal.getsignal(signal.SIGINT)))
        try:
            return super().fit(train, ctx)
        except KeyboardInterrupt:
            if self.caught == "none":
                raise
            if self.caught == "exit":
                sys.exit(0)
            return {"stopped_early": True}

    def sample(self, n, *, generator):
        StopsEarly.handlers.append(("sample", signal.getsignal(signal.SIGINT)))
        return super().sample(n, generator=generator)


class CaughtWhileFitting(Gaussian):
    """A model that is not trainable (nothing cached) whose fit catches the user's Ctrl-C."""

    def fit(self, train, ctx):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
        return super().fit(train, ctx)


def caught_ctrl_c() -> bool:
    """The user presses Ctrl-C (a real SIGINT) and the caller catches it: True."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        return True
    return False


class CaughtWhileSampling(Gaussian):
    """A model whose ``sample`` catches the user's Ctrl-C and returns its batch all the same."""

    def sample(self, n, *, generator):
        caught_ctrl_c()
        return super().sample(n, generator=generator)


class CaughtWhileComputing(Metric):
    """A metric whose ``compute`` catches the user's Ctrl-C and returns what it has so far."""

    higher_is_better: ClassVar[dict[str, bool | None]] = {"partial": False}

    def compute(self, ctx):
        return {"partial": float(caught_ctrl_c())}


class CaughtWhileExtracting(Raw):
    """A feature extractor whose batch catches the user's Ctrl-C and returns its features all the same."""

    def fingerprint(self) -> str:
        return "caught-while-extracting-v1"

    def _extract_batch(self, x):
        caught_ctrl_c()
        return super()._extract_batch(x)


@pytest.fixture
def stops_early(register, monkeypatch) -> type[StopsEarly]:
    register(registry.models, STOPS, StopsEarly)
    monkeypatch.setattr(StopsEarly, "handlers", [])
    return StopsEarly


def ctrl_c_at(monkeypatch: pytest.MonkeyPatch, at: int):
    """The user presses Ctrl-C (a real SIGINT) when training reports step ``at``; returns the real
    ``TrainContext.progress`` so that the test can undo it."""
    real = TrainContext.progress

    def progress(self, step, total, **values):
        if step == at:
            signal.raise_signal(signal.SIGINT)
        real(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", progress)
    return real


@pytest.fixture
def callers_handler():
    """A SIGINT handler of the Python API's caller that raises KeyboardInterrupt, as Python's does;
    ``calls`` counts its calls. The handler before it is put back afterwards."""
    calls: list[int] = []

    def handler(signum, frame):
        calls.append(signum)
        raise KeyboardInterrupt("the caller's")

    before = signal.signal(signal.SIGINT, handler)
    yield handler, calls
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("caught", ["return", "exit"])
def test_a_fit_that_catches_ctrl_c_is_interrupted_caches_nothing_and_resumes(
    tmp_path, monkeypatch, stops_early, caught
):
    """It returned normally (or exited, recorded as its bug while the run went on): its half-trained
    weights were saved as model.pt and every later run loaded them as the trained model."""
    monkeypatch.setattr(stops_early, "caught", caught)
    (whole,) = run(config(tmp_path, "a", models=[STOPS], cache_dir=tmp_path / "cache-a"))
    cfg = config(tmp_path, "b", models=[STOPS])
    real = ctrl_c_at(monkeypatch, 12)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    assert not find_results(tmp_path / "b")
    (ckpt,) = (d for d in (tmp_path / "cache").glob(f"checkpoints/ring8/{STOPS}/seed0-*") if d.is_dir())
    assert not (ckpt / "model.pt").exists() and (ckpt / "train.pt").exists()
    monkeypatch.setattr(TrainContext, "progress", real)
    (resumed,) = run(cfg)  # resumes from the state saved at step 10, to the uninterrupted weights
    assert resumed.status == "ok" and resumed.training["resumed_from"] == 10
    assert resumed.metrics["fid"] == whole.metrics["fid"]


def test_a_fit_that_is_not_trainable_and_catches_ctrl_c_stops_the_run_unscored(cli, tmp_path, register):
    """Nothing is cached for it, but it was scored as fitted, its result written "ok", and the run
    went on to the next model as if Ctrl-C had not been pressed."""
    register(registry.models, FITS, CaughtWhileFitting)
    args = ["--models", f"{FITS},gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path / "out", tmp_path / "cache", *args, "--no-figures"))
    assert r.exit_code == 130, r.output
    # nothing trainable, so nothing to resume: it said "rerun to resume training"
    last = (
        "interrupted: finished results are saved; rerun to go on (trained models load from their checkpoints)"
    )
    assert r.stderr.splitlines()[-1] == last
    assert not find_results(tmp_path / "out")


def test_a_fit_that_lets_ctrl_c_through_is_interrupted_as_before_and_the_handler_is_restored(
    tmp_path, monkeypatch, stops_early, callers_handler
):
    """The caller's handler is chained, not replaced: it raises the KeyboardInterrupt inside fit as
    before; genbench's own stands around fit only, and the caller's is back after a fit that was
    interrupted, that raised, and that finished."""
    handler, calls = callers_handler
    monkeypatch.setattr(stops_early, "caught", "none")
    real = ctrl_c_at(monkeypatch, 12)
    with pytest.raises(KeyboardInterrupt, match="the caller's"):
        run(config(tmp_path, "a", models=[STOPS]))
    assert calls == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is handler
    monkeypatch.setattr(TrainContext, "progress", real)

    def broken(self, step, total, **values):
        raise RuntimeError("a bug")

    monkeypatch.setattr(TrainContext, "progress", broken)
    (failed,) = run(config(tmp_path, "b", models=[STOPS], cache_dir=tmp_path / "cache-b"))
    assert failed.status == "failed" and signal.getsignal(signal.SIGINT) is handler
    monkeypatch.setattr(TrainContext, "progress", real)
    stops_early.handlers.clear()
    (ok,) = run(config(tmp_path, "c", models=[STOPS], cache_dir=tmp_path / "cache-c"))
    assert ok.status == "ok" and signal.getsignal(signal.SIGINT) is handler
    (fit, in_fit), *sampled = stops_early.handlers
    assert fit == "fit" and in_fit is not handler  # installed around fit (and sample) only
    assert sampled and all(phase == "sample" and seen not in (handler, in_fit) for phase, seen in sampled)
    assert calls == [signal.SIGINT]


def test_ctrl_c_kept_leaves_other_threads_and_an_ignored_sigint_alone():
    """``signal.signal`` raises outside the main thread (genbench.run called from a thread), and a
    process started with SIGINT ignored (``nohup``, a background job) keeps ignoring it."""
    seen: list[object] = []

    def in_thread():
        with ctrl_c_kept():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGINT)]
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with ctrl_c_kept():
            signal.raise_signal(signal.SIGINT)  # ignored: the block goes on
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("where", ["sample", "compute", "extract"])
def test_a_sample_or_compute_that_catches_ctrl_c_stops_the_run_unscored(tmp_path, register, where):
    """The model scored from its samples, or the metric's values of a part of its work, were written
    "ok" and the run went on to the next model as if Ctrl-C had not been pressed. An extractor's
    features of the reference were cached as well, and every later run read them."""
    if where == "extract":
        register(registry.features, EXTRACTS, CaughtWhileExtracting)
        cfg = config(tmp_path, "out", models=["gaussian"], features=EXTRACTS)
    elif where == "sample":
        register(registry.models, SAMPLES, CaughtWhileSampling)
        cfg = config(tmp_path, "out", models=[SAMPLES, "gaussian"])
    else:
        register(registry.metrics, COMPUTES, CaughtWhileComputing)
        cfg = config(tmp_path, "out", models=["gaussian", "copy"], metrics=["fid", COMPUTES])
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    assert not find_results(tmp_path / "out")
    if where == "extract":  # the reference's features, extracted before any model is scored
        assert not list((tmp_path / "cache").glob("features/*.npz"))
    assert signal.getsignal(signal.SIGINT) is before
