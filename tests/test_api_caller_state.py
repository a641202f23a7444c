"""The Python API called many times in one process, between the caller's own torch code (an Optuna
sweep, a notebook): a call trains as the command does whatever torch settings the caller's code is
in, and leaves every global setting it could touch as it found it, also when it raises or is
interrupted; the next call then works and scores as it would alone, and nothing a call loaded
outlives it."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import signal
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from cli_models import TinyTrained

import genbench
from genbench import GenbenchError, RunConfig, registry
from genbench.isolation import default_device, deterministic_mode

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


def _state() -> dict[str, Any]:
    """What a call could leave changed for the caller's code that runs next."""
    numpy_rng = np.random.get_state()
    return {
        "threads": torch.get_num_threads(),
        "interop threads": torch.get_num_interop_threads(),
        "grad mode": torch.is_grad_enabled(),
        "inference mode": torch.is_inference_mode_enabled(),
        "default dtype": torch.get_default_dtype(),
        "default device": default_device(),
        "deterministic algorithms": deterministic_mode(),
        "cudnn": (
            torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.enabled,
        ),
        "matmul precision": torch.get_float32_matmul_precision(),
        "torch generator": torch.random.get_rng_state().tolist(),
        "numpy generator": (numpy_rng[1].tolist(), *numpy_rng[2:]),
        "python generator": random.getstate(),
        "warning filters": list(warnings.filters),
        "logging": (logging.root.level, list(logging.root.handlers), logging.root.manager.disable),
        "signal handlers": [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)],
        "environment": dict(os.environ),
        "working directory": os.getcwd(),
        "matplotlib": (matplotlib.get_backend(), dict(matplotlib.rcParams)),
    }


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in before if after[k] != before[k]]


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


@contextlib.contextmanager
def _default_device(device: str) -> Iterator[None]:
    torch.set_default_device(device)
    try:
        yield
    finally:
        torch.set_default_device(None)


@contextlib.contextmanager
def _cpu_after() -> Iterator[None]:
    """torch's default device the CPU again after the block, as the next test expects it, whatever
    failed in it (up to three device modes a failing check left on torch's stack)."""
    try:
        yield
    finally:
        for _ in range(3):
            if torch.empty(1).device.type == "cpu":
                break
            torch.set_default_device(None)


#: what a researcher's code is often inside when it calls genbench
CALLERS: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] = {
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
    "float64": lambda: _default_dtype(torch.float64),
    "meta device": lambda: _default_device("meta"),
    # the same default as a block (torch's own idiom, a notebook's `with torch.device("cuda"):`):
    # set_default_device(None) clears the global default alone, and a call ran under this one
    "meta device block": lambda: torch.device("meta"),
}


def _vae_run(out, cache_dir, samples: int, steps: int) -> RunConfig:
    """A ring8 VAE's run, trained by every call (never loaded from an earlier call's checkpoint)."""
    return RunConfig(
        models=["vae"],
        dataset="ring8",
        samples=samples,
        metrics=["fid"],
        overrides=[f"vae.steps={steps}"],
        retrain=True,
        out=out,
        cache_dir=cache_dir,
        progress=False,
    )


@pytest.mark.parametrize("caller", list(CALLERS))
def test_a_run_inside_the_callers_torch_settings_trains_as_the_command_does(tmp_path, cache_dir, caller):
    """`run` inside ``torch.no_grad()`` or ``torch.inference_mode()`` (an evaluation function, an
    Optuna objective decorated with it), or after ``set_default_dtype(torch.float64)`` or
    ``set_default_device``, failed every model's training ("element 0 of tensors does not require
    grad", "mat1 and mat2 must have the same dtype", "Cannot copy out of meta tensor"), each
    recorded as the model's own bug, where `genbench run` trained them. The caller's settings are
    its own again after the call."""
    config = _vae_run(tmp_path, cache_dir, samples=20, steps=2)
    with CALLERS[caller]():
        before = _state()
        results = genbench.run(config)
        after = _state()
    assert [(r.status, r.error) for r in results] == [("ok", None)]
    # the settings a command starts with (a first call's library imports change others: the next test)
    kept = ("grad mode", "inference mode", "default dtype", "default device", "torch generator")
    assert [k for k in _changed(before, after) if k in kept] == []


def test_a_run_inside_the_callers_autocast_scores_as_the_command_does(tmp_path, cache_dir):
    """Inside the caller's ``torch.autocast`` (a mixed-precision training loop's, bfloat16 on the
    CPU) a model trained and sampled in bfloat16: a ring8 VAE's FID moved from 0.848 to 0.926,
    recorded "ok" as the float32 one."""
    config = _vae_run(tmp_path, cache_dir, samples=40, steps=3)
    alone = [r.metrics for r in genbench.run(config)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = [r.metrics for r in genbench.run(config)]
        assert torch.is_autocast_enabled("cpu")  # the caller's, back after the call
    assert inside == alone


def test_a_call_inside_the_callers_device_block_leaves_torchs_default_device_as_it_found_it(
    tmp_path, cache_dir
):
    """A call inside the caller's ``with torch.device(...)`` block ran under its device (a ring8
    evaluation's FID 0.218 recorded "ok" as 1.000 in a "meta" block), and set that device back as
    torch's global default on its way out (``set_default_device`` of what ``get_default_device``
    read, the block's): once the block was left, the caller's ``torch.set_default_device(None)`` put
    every later tensor on the block's device."""
    samples = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    config = RunConfig(dataset="ring8", metrics=["fid"], out=tmp_path, cache_dir=cache_dir, progress=False)
    alone = genbench.evaluate(samples, replace(config, out=tmp_path / "alone")).metrics
    with _cpu_after():
        with torch.device("meta"):
            result = genbench.evaluate(samples, config)
            assert torch.empty(1).device.type == "meta"  # the caller's block, as it was
        assert (result.status, result.metrics) == ("ok", alone)
        torch.set_default_device(None)
        assert torch.empty(1).device.type == "cpu"


class InterruptedFit(TinyTrained):
    """Changes torch's, numpy's and the process's settings in ``fit``, then is interrupted there
    (Ctrl-C in a notebook)."""

    folder = "."  # where fit moves to

    def fit(self, train, ctx):
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        np.random.seed(1)
        os.chdir(self.folder)
        raise KeyboardInterrupt


def test_calls_leave_the_callers_global_state_as_they_found_it_also_when_they_raise(
    tmp_path, cache_dir, register
):
    """Dozens of calls in one process: a call that returns, one refused and one interrupted in a
    model's ``fit`` each leave torch's settings and generators, numpy's and Python's generators, the
    warning filters, logging, the signal handlers, the environment, the working directory and
    matplotlib's backend and settings as they were; the call after the interrupted one works, and
    gives the numbers it gives alone."""
    register(registry.models, "test-interrupted-fit", InterruptedFit)
    InterruptedFit.folder = str(tmp_path)
    config = RunConfig(
        models=["copy", "vae"],
        dataset="ring8",
        seeds=[3],
        samples=20,
        metrics=["fid", "prdc"],
        overrides=["vae.steps=2"],
        out=tmp_path / "first",
        cache_dir=cache_dir,
        progress=False,
    )
    first = [r.metrics for r in genbench.run(config)]  # a process's first call imports libraries
    torch.manual_seed(5)
    np.random.seed(6)
    random.seed(7)
    before = _state()

    calls: dict[str, tuple[Callable[[], Any], type[BaseException] | None]] = {
        "run": (lambda: genbench.run(replace(config, seeds=[4], out=tmp_path / "second")), None),
        "evaluate": (
            lambda: genbench.evaluate(
                np.zeros((20, 2), np.float32), replace(config, models=[], samples=None, out=tmp_path / "eval")
            ),
            None,
        ),
        "refused": (lambda: genbench.run(replace(config, models=["no-such-model"])), GenbenchError),
        "interrupted": (
            lambda: genbench.run(
                replace(config, models=["test-interrupted-fit"], overrides=[], retrain=True)
            ),
            KeyboardInterrupt,
        ),
    }
    for name, (call, raises) in calls.items():
        with pytest.raises(raises) if raises else contextlib.nullcontext():
            call()
        assert (name, _changed(before, _state())) == (name, [])

    again = [r.metrics for r in genbench.run(replace(config, out=tmp_path / "again"))]
    assert again == first


def test_the_datasets_of_calls_that_count_modes_are_freed_after_them(tmp_path, cache_dir):
    """``Classifier.for_dataset`` kept each dataset's mode classifier in a WeakKeyDictionary whose
    value (the classifier) held its key (the dataset): no dataset whose modes were counted was ever
    freed, nor the splits it had loaded, and every `run` or `evaluate` of a sweep on an image dataset
    left one behind (half a MiB for digits, CIFAR-10's train split 154 MB)."""
    from genbench.data.base import Dataset

    made: list[weakref.ref[Dataset]] = []
    init = Dataset.__init__

    def tracked(self, *args, **kwargs):
        made.append(weakref.ref(self))
        init(self, *args, **kwargs)

    config = RunConfig(
        dataset="digits",
        metrics=["modes"],
        features="classifier",
        out=tmp_path,
        cache_dir=cache_dir,
        progress=False,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Dataset, "__init__", tracked)
        result = genbench.evaluate(np.zeros((20, 8, 8, 1), np.uint8), config)
    assert result.metrics["modes_covered"] == 1  # the classifier labelled the samples
    gc.collect()
    assert made and [r() for r in made] == [None] * len(made)


@pytest.mark.parametrize("caller", ["meta device", "meta device block", "no_grad"])
def test_a_default_device_the_block_leaves_set_is_not_the_callers_after_it(caller):
    """What the block leaves on torch's mode stack (a ``set_default_device`` that no plugin guard
    undid) is gone with it: the caller's device, or none, is back, not the block's."""
    from genbench.isolation import command_defaults

    with _cpu_after():
        with CALLERS[caller]():
            before = torch.empty(1).device.type
            with command_defaults():
                torch.set_default_device("meta")
                assert torch.empty(1).device.type == "meta"
            assert torch.empty(1).device.type == before
        assert torch.empty(1).device.type == "cpu"


class _PassingMode(torch.overrides.TorchFunctionMode):
    """A caller's own function mode (a profiler's, a tracer's): it changes nothing."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def test_the_callers_function_modes_are_back_in_their_order():
    """A call inside the caller's device block and a function mode entered within it: both are on
    torch's mode stack again after it, the device's below, so that each block ends as it began."""
    from genbench.isolation import command_defaults

    with _cpu_after():
        with torch.device("meta"):
            with _PassingMode():
                with command_defaults():
                    assert torch.empty(1).device.type == "cpu"
                assert torch.empty(1).device.type == "meta"
            assert torch.empty(1).device.type == "meta"
        assert torch.empty(1).device.type == "cpu"
