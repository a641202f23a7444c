"""What one plugin cannot change for the next: torch's global state, and the data it is handed.

A model or metric plugin runs in the harness's process, so a ``torch.set_grad_enabled(False)``
left behind failed the next model's training (blamed on that model), and a ``train.mul_(10)``
in ``fit`` moved every later model's FID while all were recorded "ok". The data reaches plugins as
copies (``training.train_or_load``, ``EvalContext.train_data``, ``scoring.evaluate_into``), and
torch's global settings are restored after a model's training, after its sampling and after each
metric, with a warning naming the plugin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch


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
    return {
        "grad mode": torch.is_grad_enabled(),
        "default dtype": torch.get_default_dtype(),
        "threads": torch.get_num_threads(),
        "deterministic algorithms": deterministic_mode(),
    }


_RESTORE: dict[str, Callable[[Any], None]] = {
    "grad mode": torch.set_grad_enabled,
    "default dtype": torch.set_default_dtype,
    "threads": torch.set_num_threads,
    "deterministic algorithms": set_deterministic_mode,
}


@contextlib.contextmanager
def torch_state_kept(who: str, warn: Callable[[str], None]) -> Iterator[None]:
    """Restore torch's grad mode, default dtype, thread count and deterministic-algorithms flag when
    the block (``who``'s code: "model 'x'") leaves them changed, and ``warn`` of what was restored."""
    before = _settings()
    try:
        yield
    finally:
        after = _settings()
        changed = [k for k in before if after[k] != before[k]]
        for k in changed:
            _RESTORE[k](before[k])
        if changed:
            what = ", ".join(f"{k} {after[k]} (restored to {before[k]})" for k in changed)
            warn(f"{who} changed torch's global settings: {what}")


@contextlib.contextmanager
def global_rng_kept() -> Iterator[None]:
    """Restore torch's global random generators after the block: a run seeds them for each model
    (``training.train_or_load``, for plugins that draw from them), and the Python API's caller found
    its own generator reseeded, its later draws depending on which models and seeds genbench ran.

    The CPU's generator, and each CUDA device's that was in use before the block, get their states
    back; CUDA generators first used inside it are seeded as the caller's CPU generator was (what
    torch's lazy seeding gives them on first use after ``torch.manual_seed``)."""
    cuda_before = torch.cuda.is_initialized()
    devices = list(range(torch.cuda.device_count())) if cuda_before else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        if not cuda_before and torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(torch.initial_seed())
