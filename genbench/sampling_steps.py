"""How far one ``sample()`` call has got: the steps a slow sampler reports as it goes.

A 1000-step DDPM draws one CIFAR-10-sized batch in hours on a CPU, and the sampling bar moved once
a batch: ``0/50000`` and no time remaining for hours. A model reports its steps with
:meth:`genbench.api.GenerativeModel.sampling_progress` (diffusers' pipelines show such a per-step
bar); the harness binds what receives them with :func:`reporting_steps` while it samples. Unbound
(a model sampled in a notebook, or in ``fit``), a report does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

#: receives ``(step, steps)`` from the running ``sample()`` call; None: nobody listens
_RECEIVER: ContextVar[Callable[[int, int], None] | None] = ContextVar("genbench_sampling_steps", default=None)


@contextlib.contextmanager
def reporting_steps(receiver: Callable[[int, int], None]) -> Iterator[None]:
    """Hand the steps that a model's ``sample()`` reports in the block to ``receiver(step, steps)``."""
    token = _RECEIVER.set(receiver)
    try:
        yield
    finally:
        _RECEIVER.reset(token)


def report_step(step: int, steps: int) -> None:
    """Pass ``step`` of ``steps`` to the bound receiver, if any (a context variable read: about
    50 ns, nothing beside a network evaluation)."""
    receiver = _RECEIVER.get()
    if receiver is not None:
        receiver(step, steps)
