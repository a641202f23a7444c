"""A resumable, seeded training loop shared by the trained baselines.

Each model supplies ``step(i) -> dict of scalars`` (one optimisation step, drawing its own batch
from a torch.Generator it owns) and ``state()`` / ``load(state)`` covering weights, optimizers and
generators. The loop checkpoints every ``ctx.checkpoint_every`` steps, resumes from the last
checkpoint, logs scalars, and raises :class:`Diverged` on a NaN/inf loss. Because every random draw
comes from generators saved in the checkpoint, a resumed run ends with the same weights as an
uninterrupted one on the CPU.

A step's loss is computed before its update, so the last update was never checked: weights blown up
but still finite (``lr=1e30``) were cached and every sample was NaN, blamed on the model as a bug.
``final_loss`` evaluates the loss once more after the last update, on the last step's batch and
noise (no random draw, no update), before the last resumable state is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from genbench.api import TrainContext
from genbench.errors import Diverged


def train_loop(
    ctx: TrainContext,
    *,
    steps: int,
    step: Callable[[int], dict[str, float]],
    state: Callable[[], dict[str, Any]],
    load: Callable[[dict[str, Any]], None],
    loss_keys: tuple[str, ...] = ("loss",),
    log_every: int = 10,
    final_loss: Callable[[], dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Run steps ``start+1 .. steps`` (``start`` from the last checkpoint, else 0).

    ``final_loss()`` returns the ``loss_keys`` for the trained weights without updating them or
    drawing from any generator (the last batch again), or ``{}`` when there is none; a NaN/inf one
    raises :class:`Diverged` at step ``steps``, before the final state is saved: a rerun resumes from
    the last periodic checkpoint and diverges again rather than caching the broken weights."""
    start = 0
    resumed = ctx.load_checkpoint()
    if resumed is not None:
        saved, start = resumed
        load(saved)
    for i in range(start + 1, steps + 1):
        values = step(i)
        for key in loss_keys:
            v = values.get(key)
            if v is not None and not math.isfinite(v):
                raise Diverged(i, v)
        if i % log_every == 0 or i == 1 or i == steps:
            ctx.log(i, **values)
        ctx.progress(i, steps, **{k: values[k] for k in loss_keys if k in values})
        if ctx.should_checkpoint(i) and i < steps:
            ctx.save_checkpoint(state(), i)
    if final_loss is not None and start < steps:
        with torch.no_grad():
            values = final_loss()
        for key in loss_keys:
            v = values.get(key)
            if v is not None and not math.isfinite(v):
                raise Diverged(steps, why=f"{key}={v} after the last update")
    ctx.save_checkpoint(state(), steps)
    return {"steps": steps, "resumed_from": start}


@contextmanager
def buffers_kept(*modules: nn.Module) -> Iterator[None]:
    """Restore the buffers of ``modules`` (BatchNorm's running statistics and counters) on exit: a
    check's forward pass in training mode must leave the trained state bit-identical."""
    saved = [(b, b.clone()) for m in modules for b in m.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, copy in saved:
                b.copy_(copy)
