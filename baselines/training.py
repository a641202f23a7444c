"""A resumable, seeded training loop shared by the trained baselines.

Each model supplies ``step(i) -> dict of scalars`` (one optimisation step, drawing its own batch
from a torch.Generator it owns) and ``state()`` / ``load(state)`` covering weights, optimizers and
generators. The loop checkpoints every ``ctx.checkpoint_every`` steps, resumes from the last
checkpoint, logs scalars, and raises :class:`Diverged` on a NaN/inf loss. Because every random draw
comes from generators saved in the checkpoint, a resumed run ends with the same weights as an
uninterrupted one on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

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
) -> dict[str, Any]:
    """Run steps ``start+1 .. steps`` (``start`` from the last checkpoint, else 0)."""
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
    ctx.save_checkpoint(state(), steps)
    return {"steps": steps, "resumed_from": start}
