"""How far a metric's ``compute`` has got: the blocks a slow metric reports as it goes.

prdc takes about 45 minutes at 50000 samples on a CPU, memorization and mifid hours, in blocked
k-nearest-neighbour loops, and the run showed a spinner ("computing prdc") with no idea of how far
it was. A metric reports its progress with :meth:`genbench.metrics.base.Metric.compute_progress`
(the built-in k-NN metrics through :class:`genbench.metrics._blocks_done.BlocksDone`); the harness
binds what receives it with :func:`reporting_progress` while the metric computes, and shows a bar
(:meth:`genbench.progress.Progress.computing`). Unbound (a metric computed in a notebook, or to say
why it does not apply), a report does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

#: ``receiver(done, total, noun)``: how far the running ``compute`` is, ``noun`` what it counts
Receiver = Callable[[float, float, str], None]

_RECEIVER: ContextVar[Receiver | None] = ContextVar("genbench_metric_steps", default=None)


@contextlib.contextmanager
def reporting_progress(receiver: Receiver | None) -> Iterator[None]:
    """Hand the progress that a metric's ``compute`` reports in the block to ``receiver`` (None:
    nobody listens, as with progress off)."""
    token = _RECEIVER.set(receiver)
    try:
        yield
    finally:
        _RECEIVER.reset(token)


def report_progress(done: float, total: float, noun: str = "") -> None:
    """Pass ``done`` of ``total`` to the bound receiver, if any (a context variable read)."""
    receiver = _RECEIVER.get()
    if receiver is not None:
        receiver(done, total, noun)
