"""A metric's compute as the run shows it: the blocks done, the time elapsed and the time left.

prdc takes about 45 minutes at 50000 samples on a CPU, memorization and mifid hours, and the run
showed a spinner ("ddpm seed 0: computing prdc"; in a log file a line after 10 s and one when done)
with no idea of how far it was. A metric now reports its progress as it goes
(:meth:`genbench.metrics.base.Metric.compute_progress`; the k-NN metrics count their blocks of
distances, :mod:`genbench.metrics._blocks_done`), and :meth:`genbench.progress.Progress.computing`
shows it: on a terminal a bar in place of the spinner, in a log file a line at each tenth
(``ddpm seed 0: computing prdc: 30/74 blocks, about 0:18:20 left (0:12:05)``) beside the spinner's
lines. A metric that reports nothing, or only one block, shows the spinner alone, as before.
"""

from __future__ import annotations

import datetime
import math
import threading
from collections.abc import Callable

from genbench.sampling_bar import reported

#: a metric's reports move a terminal's bar at most this often (seconds): a plugin may report from a
#: tight loop, and rich redraws ten times a second
UPDATE_S = 0.1

#: ``show(done, total, noun)``: a rich task's update, or a log file's lines
Show = Callable[[float, float, str], None]


class MetricBar:
    """Receives ``(done, total, noun)`` from a metric's compute (:mod:`genbench.metric_steps`) and
    shows it, at most once every ``every`` seconds by ``clock`` (the last step always). A report
    that is no number, or out of range, moves nothing or is clamped: a plugin's report never fails
    its metric. Reports from several threads (a plugin's workers run in a copy of its context) are
    shown one at a time: two first reports at once drew two bars, one of them never stopped."""

    def __init__(self, show: Show, clock: Callable[[], float], every: float = 0.0):
        self._show, self._clock, self._every = show, clock, every
        self._last = -math.inf
        self._lock = threading.Lock()

    def __call__(self, done: float, total: float, noun: str = "") -> None:
        if (numbers := reported(done, total)) is None:
            return
        d, t = numbers
        d = min(t, max(0.0, d))
        with self._lock:
            now = self._clock()
            if d < t and now - self._last < self._every:
                return
            self._last = now
            self._show(d, t, noun if isinstance(noun, str) else "")


def counted(done: float, total: float, noun: str, elapsed: float) -> str:
    """A log file's count: ``30/74 blocks, about 0:18:20 left``, the time left at the pace so far
    (none once done)."""
    text = f"{int(done)}/{int(total)}" + (f" {noun}" if noun else "")
    if 0 < done < total:
        left = datetime.timedelta(seconds=int(elapsed * (total - done) / done))
        text += f", about {left} left"
    return text
