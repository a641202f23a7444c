"""Say early, once, how long a training (or a sampling) will take when that is long.

``genbench run --dataset cifar10`` trains the paper-sized configs (the DDPM's 800k steps of a
35.7M-parameter U-Net): about 40 s a step on a 2-core CPU, a year in all. The run said nothing of
it: the bar showed ``1/800000`` and no time remaining, and a log file showed nothing until a tenth
of the steps were done. Once the first steps have been timed, a training that will still take
:data:`LONG_TRAINING_S` or more says how long, and how to shorten it, on the terminal and in a log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: a training (or a sampling) whose first steps project this long or longer still to go says so
LONG_TRAINING_S = 3600.0
#: the steps are timed over at least this long before the projection: a fast training's first
#: step (allocations, the first batch) would otherwise stand for all of them
MEASURE_S = 10.0


class Forecast:
    """Times a task's progress from its first update and, once :data:`MEASURE_S` have passed and a
    later update has come, calls ``say(line(per_unit_s, left_s, total))`` when the time left is at
    least :data:`LONG_TRAINING_S`. It projects once. A training counts steps
    (:class:`TrainingForecast`); a sampling counts samples, a part of a batch where the model
    reports its steps (:class:`genbench.sampling_bar.SamplingBar`)."""

    def __init__(
        self,
        clock: Callable[[], float],
        say: Callable[[str], None],
        line: Callable[[float, float, float], str],
    ):
        self.clock, self.say, self.line = clock, say, line
        self._first: tuple[float, float] | None = None
        self._done = False

    def update(self, done: float, total: float) -> None:
        if self._done or not total:
            return
        now = self.clock()
        if self._first is None:  # the first step's end (or a resumed one's): timing starts here
            self._first = (now, done)
            return
        t0, d0 = self._first
        if done <= d0 or now - t0 < MEASURE_S:
            return
        self._done = True
        per_unit = (now - t0) / (done - d0)
        left = per_unit * (total - done)
        if left >= LONG_TRAINING_S:
            self.say(self.line(per_unit, left, total))


class TrainingForecast(Forecast):
    """A training's :class:`Forecast`, in steps; ``hint(total)`` ends its line (how to shorten it)."""

    def __init__(
        self,
        clock: Callable[[], float],
        say: Callable[[str], None],
        hint: Callable[[int], str] | None = None,
    ):
        super().__init__(clock, say, self._line)
        self.hint = hint

    def _line(self, per_step: float, left: float, total: float) -> str:
        steps = int(total)
        line = f"{each(per_step)} a step here, so its {steps} steps take {duration(left)} more"
        return line + (f"; {self.hint(steps)}" if self.hint is not None else "")


def each(seconds: float) -> str:
    """The time one step (or one batch) takes, in words: ``about 40 s``, ``about 0.35 s``, and from
    two minutes on as :func:`duration` says it (``about 3 hours``: a CIFAR-10 DDPM batch on a CPU)."""
    if seconds >= 120:
        return duration(seconds)
    return f"about {seconds:.0f} s" if seconds >= 10 else f"about {seconds:.2g} s"


def duration(seconds: float) -> str:
    """``seconds`` in words, rounded to what matters at that size: ``about 370 days``."""
    if seconds >= 2 * 86400:
        return f"about {seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"about {seconds / 3600:.0f} hours"
    return f"about {seconds / 60:.0f} minutes"


def shorten_hint(model: str, train_config: dict[str, Any], total: int) -> str:
    """How to train ``model`` for fewer steps: the ``--set`` of its config's field that holds the
    step count ``total`` (``ddpm.train_steps``, the GANs' ``steps``), where exactly one does."""
    fields = [
        k for k, v in train_config.items() if isinstance(v, int) and not isinstance(v, bool) and v == total
    ]
    if len(fields) > 1:  # ddpm.train_steps=1000 equals its timesteps: the one named as a step count
        fields = [k for k in fields if k == "steps" or k.endswith("_steps")] or fields
    where = f"{model}.{fields[0]}" if len(fields) == 1 else f"{model}.FIELD (its step count)"
    return f"for a shorter training pass --set {where}=N"
