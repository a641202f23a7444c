"""What one plugin cannot change for the next: torch's global state, the working directory and
the data it is handed.

A model or metric plugin runs in the harness's process, so a ``torch.set_grad_enabled(False)``
left behind failed the next model's training (blamed on that model), and a ``train.mul_(10)``
in ``fit`` moved every later model's FID while all were recorded "ok". The data reaches plugins as
copies (``training.train_or_load``, ``EvalContext.train_data``, ``scoring.evaluate_into``), and
torch's global settings are restored after a model's training, after its sampling and after each
metric, with a warning naming the plugin; so they are after each call into a dataset or feature
extractor plugin (:func:`plugin_state_kept`, through :func:`genbench.resolve.call_plugin`), and after
each plugin module's import (:meth:`genbench.registry.Registry.get`). Ctrl-C
during a model's ``fit`` or ``sample``, a metric's ``compute`` or a feature extractor's batch stops
the run even when the plugin caught it (:func:`ctrl_c_kept`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import numpy as np
import torch

from genbench.termination import STOP_SIGNALS


def deterministic_mode() -> str:
    """torch's deterministic-algorithms setting: "off", "on" or "warn only"."""
    if not torch.are_deterministic_algorithms_enabled():
        return "off"
    return "warn only" if torch.is_deterministic_algorithms_warn_only_enabled() else "on"


def set_deterministic_mode(mode: str) -> None:
    """Set what :func:`deterministic_mode` read."""
    # with its warn_only: restoring the flag alone made a caller's warn-only mode strict
    torch.use_deterministic_algorithms(mode != "off", warn_only=mode == "warn only")


def _settings() -> dict[str, Any]:
    from genbench.features.reference import tf32_allowed

    conv, matmul = tf32_allowed()
    return {
        "grad mode": torch.is_grad_enabled(),
        "default dtype": torch.get_default_dtype(),
        # torch.set_default_device("cuda") (common in research code) made every later model's
        # tensors land there, its CPU generators then refused: each later model failed as its own bug
        "default device": default_device(),
        "threads": torch.get_num_threads(),
        "deterministic algorithms": deterministic_mode(),
        # CUDA's: a plugin's autotuning or TF32 ran every later model's sampling and features in it,
        # while the reference features (extracted first) were not
        "cuDNN autotuning": torch.backends.cudnn.benchmark,
        "TF32 convolutions": conv,
        "TF32 matmuls": matmul,
    }


def _set_cudnn_benchmark(on: bool) -> None:
    torch.backends.cudnn.benchmark = on


def default_device() -> torch.device:
    """``torch.get_default_device()``, which on torch 2.5 (the oldest genbench supports) and the
    releases after it raised AttributeError once ``set_default_device(None)`` had cleared the default
    (it read ``.device`` of the None left in its place): after a plugin's ``"cuda"`` was restored
    here, or a plugin cleared it itself, every later model and metric failed on it."""
    try:
        return torch.get_default_device()
    except AttributeError:  # the default cleared: tensors go to the CPU
        return torch.device("cpu")


def _set_default_device(device: torch.device) -> None:
    # the CPU as no default at all: set_default_device("cpu") would route every later torch call
    # through a device mode, though tensors go to the CPU by default anyway
    torch.set_default_device(None if device == torch.device("cpu") else device)


_RESTORE: dict[str, Callable[[Any], object]] = {  # set_grad_enabled is a class: called, it sets
    "grad mode": torch.set_grad_enabled,
    "default dtype": torch.set_default_dtype,
    "default device": _set_default_device,
    "threads": torch.set_num_threads,
    "deterministic algorithms": set_deterministic_mode,
    "cuDNN autotuning": _set_cudnn_benchmark,
}
#: said but not restored: torch keeps TF32 under two APIs (``allow_tf32`` and ``fp32_precision``),
#: and setting one back after a plugin used the other leaves a mixed state in which torch's own
#: readers raise ("you have used mix of the legacy and new APIs")
_SAID_ONLY = ("TF32 convolutions", "TF32 matmuls")


@contextlib.contextmanager
def torch_state_kept(who: str, warn: Callable[[str], None]) -> Iterator[None]:
    """Restore torch's grad mode, default dtype and device, thread count, deterministic-algorithms flag and
    cuDNN autotuning when the block (``who``'s code: "model 'x'") leaves them changed, and ``warn`` of
    what was restored; a TF32 setting changed is warned of only (:data:`_SAID_ONLY`). The process's
    working directory is restored too (:func:`_cwd_kept`)."""
    before = _settings()
    try:
        with _cwd_kept(who, warn):
            yield
    finally:
        after = _settings()
        changed = [k for k in before if after[k] != before[k]]
        for k in changed:
            if k not in _SAID_ONLY:
                _RESTORE[k](before[k])
        restored = [f"{k} {after[k]} (restored to {before[k]})" for k in changed if k not in _SAID_ONLY]
        if restored:
            warn(f"{who} changed torch's global settings: {', '.join(restored)}")
        kept = [f"{k} {after[k]} (was {before[k]})" for k in changed if k in _SAID_ONLY]
        if kept:
            warn(
                f"{who} changed {', '.join(kept)}: later models' sampling and features on CUDA run with "
                "it, unlike the reference features; set it back in the plugin"
            )


def _python_warning(text: str) -> None:
    warnings.warn(text, RuntimeWarning, stacklevel=2)


def plugin_state_kept(who: str) -> contextlib.AbstractContextManager[None]:
    """:func:`torch_state_kept` around one call into a dataset, feature extractor or metric plugin
    (``who``: "dataset 'x'"), warning on the running command's console (:func:`genbench.progress.command_console`), else
    with a Python warning.

    A dataset's ``_load`` or an extractor's batch that left ``torch.set_default_dtype(torch.float64)``,
    ``set_default_device``, ``os.chdir`` or a thread count behind ran every later model under it:
    each model's own guard took the changed state for the caller's and kept it, a ``"meta"`` default
    failed every model as its own bug ("check the model"), and the Python API's caller, or
    `genbench stats` writing a relative path, found itself in the plugin's directory."""
    # imported here: rich's progress module draws from Python's generator when first imported, and
    # the API imports this module before its global_rng_kept() starts
    from genbench.progress import current_console

    console = current_console()
    return torch_state_kept(who, console.warn if console is not None else _python_warning)


@contextlib.contextmanager
def _cwd_kept(who: str, warn: Callable[[str], None]) -> Iterator[None]:
    """Restore the working directory that the block (a plugin's code: research code that does
    ``os.chdir`` to read its files) leaves changed, and ``warn`` of it: the relative paths of the run
    (``--out`` is ``runs`` by default, ``--cache-dir``, ``--data-dir``) then named other folders, and
    every later result, checkpoint and figure went there, with the run's summary pointing at the
    folder it asked for."""
    try:
        before: str | None = os.getcwd()
    except OSError:  # the caller's own directory was removed: relative paths name nothing anyway
        before = None
    try:
        yield
    finally:
        try:
            after: str | None = os.getcwd()
        except OSError:  # the plugin removed the directory it moved to
            after = None
        if before is not None and after != before:
            try:
                os.chdir(before)
            except OSError:  # removed meanwhile: nothing to go back to
                pass
            else:
                warn(
                    f"{who} changed the working directory to {after or '(a removed directory)'} "
                    f"(restored to {before}); change it back in the plugin"
                )


@contextlib.contextmanager
def command_defaults() -> Iterator[None]:
    """Run the block (a Python API call: :func:`genbench.run`, ``evaluate``, ``stats``) under the
    torch settings a ``genbench`` command starts with, whatever the caller's code left set: grad mode
    on and inference mode off, no autocast, float32 as the default dtype and no default device (the
    CPU); the caller's are back after it, also when it raises.

    A researcher's evaluation code calls ``run`` inside ``torch.no_grad()`` or
    ``torch.inference_mode()`` (an Optuna objective decorated with it), or after
    ``torch.set_default_dtype(torch.float64)`` or ``set_default_device`` (or in a ``with
    torch.device(...)`` block, :func:`_no_default_device`): every model's training
    then failed ("element 0 of tensors does not require grad", "mat1 and mat2 must have the same
    dtype", "Cannot copy out of meta tensor"), each recorded as the model's own bug, where the same
    command on the command line trained them. Inside the caller's ``torch.autocast`` (bfloat16 on
    the CPU) every network ran in bfloat16: a ring8 VAE's FID moved from 0.848 to 0.926 and digits'
    features' from 1213.7 to 1212.0, recorded "ok" as float32's (``--amp`` autocasts a training on
    CUDA within this). The thread count and the deterministic-algorithms flag stay the caller's:
    they choose how, not whether, it computes (and are recorded)."""
    dtype = torch.get_default_dtype()
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        for kind in ("cpu", "cuda"):
            if torch.is_autocast_enabled(kind):  # entered only where on: CUDA's warns without a GPU
                stack.enter_context(torch.autocast(kind, enabled=False))
        torch.set_default_dtype(torch.float32)
        stack.enter_context(_no_default_device())
        try:
            yield
        finally:
            torch.set_default_dtype(dtype)


@contextlib.contextmanager
def _no_default_device() -> Iterator[None]:
    """No default device in the block (tensors go to the CPU), and the caller's back after it as it
    was: the one ``set_default_device`` set, and those of the caller's ``with torch.device(...)``
    blocks. Each is a ``DeviceContext`` mode on torch's function-mode stack, and
    ``set_default_device(None)`` ends the first alone: a call inside such a block trained every
    model on its device ("Cannot copy out of meta tensor"), and set it, as ``get_default_device``
    read it, as the global default on its way out (once the block was left, the caller's
    ``set_default_device(None)`` put every tensor there). The device modes are taken off the stack
    for the block, and the stack and torch's record of the global one put back after it as they
    were, with none of torch's own enter and exit, which assume one device mode at a time."""
    # Any: torch's private mode stack and globals (what torch.utils._device itself reads and
    # writes), untyped in its stubs
    overrides: Any = torch.overrides
    stack_size: Callable[[], int] = torch._C._len_torch_function_stack
    import torch.utils._device as device_modes

    held: Any = torch._GLOBAL_DEVICE_CONTEXT  # a threading.local: its device_context, if any
    had, given = hasattr(held, "device_context"), getattr(held, "device_context", None)
    current = device_modes.CURRENT_DEVICE
    modes = [overrides._pop_mode() for _ in range(stack_size())]  # the top first
    for mode in reversed(modes):
        if not isinstance(mode, device_modes.DeviceContext):  # a device's: set aside
            overrides._push_mode(mode)
    if had:  # none rather than None: torch 2.5's get_default_device read None's .device
        del held.device_context
    device_modes.CURRENT_DEVICE = None
    try:
        yield
    finally:
        while stack_size():  # what the block left on it: the caller's instead
            overrides._pop_mode()
        for mode in reversed(modes):
            overrides._push_mode(mode)
        if had:
            held.device_context = given
        elif hasattr(held, "device_context"):
            del held.device_context
        device_modes.CURRENT_DEVICE = current


def seed_globals(seed: int) -> None:
    """Seed torch's, numpy's and Python's global generators with ``seed``, for plugins that draw from
    them (``torch.randn`` without a generator, ``np.random.normal``, ``random.random``): a plugin's
    numbers then depend on its seed alone, not on which models ran before it in the process, as the
    baselines' do (they draw from generators of their own)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # numpy's legacy seed is a uint32; a negative --seeds value is one too
    random.seed(seed)


@contextlib.contextmanager
def global_rng_kept() -> Iterator[None]:
    """Restore torch's, numpy's and Python's global random generators after the block: a run seeds
    them for each model (:func:`seed_globals`, for plugins that draw from them), and the Python API's
    caller found its own generators reseeded, its later draws depending on which models and seeds
    genbench ran.

    The CPU's generator, and each CUDA device's that was in use before the block, get their states
    back; CUDA generators first used inside it are seeded as the caller's CPU generator was (what
    torch's lazy seeding gives them on first use after ``torch.manual_seed``)."""
    cuda_before = torch.cuda.is_initialized()
    devices = list(range(torch.cuda.device_count())) if cuda_before else []
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
        if not cuda_before and torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(torch.initial_seed())


@contextlib.contextmanager
def ctrl_c_kept() -> Iterator[None]:
    """Re-raise the interruption that Ctrl-C raised in the block (a model's ``fit``) when the block
    caught it: a plugin's bare ``except:``, or a training loop that stops early on Ctrl-C, returned
    normally, and its half-trained weights were cached as the trained model (every later run loaded
    them, with nothing saying so) or scored as fitted while the run went on. A block that raised
    something else after catching it (``sys.exit``, its own error) is interrupted too: the user
    pressed Ctrl-C, and the run went on to the next model. SIGTERM is kept the same way where the
    CLI raises on it (:func:`genbench.termination.sigterm_stops`): a preempted cluster job.

    Each signal's handler is chained, not replaced, and restored after the block: Python's default
    SIGINT one still raises KeyboardInterrupt inside it, so a plugin that lets it through stops
    exactly as before; a caller's own handler that raises nothing is not overruled. Outside the
    main thread (where no handler can be installed), and for a signal that is ignored or not
    handled by Python (SIGTERM's default kills the process), the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    previous: dict[int, Callable[[int, FrameType | None], Any]] = {
        s: h for s, h in handlers.items() if callable(h)
    }
    raised: list[BaseException] = []  # what a previous handler raised, the first signal's

    def chained(signum: int, frame: FrameType | None) -> None:
        try:
            previous[signum](signum, frame)
        except BaseException as e:
            if not raised:
                raised.append(e)
            raise

    for s in previous:
        signal.signal(s, chained)
    try:
        yield
    except BaseException as e:
        if not raised or e is raised[0]:
            raise
        raise raised[0] from e  # e: what the block raised after catching the interruption
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if raised:
        raise raised[0]
