"""Say early, once, how long a training will take when that is long.

``genbench run --dataset cifar10`` trains the paper-sized configs (the DDPM's 800k steps of a
35.7M-parameter U-Net): about 40 s a step on a 2-core CPU, a year in all. The run said nothing of
it: the bar showed ``1/800000`` and no time remaining, and a log file showed nothing until a tenth
of the steps were done. Once the first steps have been timed, a training that will still take
:data:`LONG_TRAINING_S` or more says how long, and how to shorten it, on the terminal and in a log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: a training whose first steps project this long or longer still to go says so
LONG_TRAINING_S = 3600.0
#: the steps are timed over at least this long before the projection: a fast training's first
#: step (allocations, the first batch) would otherwise stand for all of them
MEASURE_S = 10.0


class TrainingForecast:
    """Times a training's steps from its first progress update and, once :data:`MEASURE_S` have
    passed and a later step has ended, calls ``say`` with the projected time when it is at least
    :data:`LONG_TRAINING_S`; ``hint(total)`` ends that line (how to shorten it). It projects once."""

    def __init__(
        self,
        clock: Callable[[], float],
        say: Callable[[str], None],
        hint: Callable[[int], str] | None = None,
    ):
        self.clock, self.say, self.hint = clock, say, hint
        self._first: tuple[float, int] | None = None
        self._done = False

    def update(self, step: int, total: int) -> None:
        if self._done or not total:
            return
        now = self.clock()
        if self._first is None:  # the first step's end (or a resumed one's): timing starts here
            self._first = (now, step)
            return
        t0, s0 = self._first
        if step <= s0 or now - t0 < MEASURE_S:
            return
        self._done = True
        per_step = (now - t0) / (step - s0)
        left = per_step * (total - step)
        if left >= LONG_TRAINING_S:
            each = f"{per_step:.0f}" if per_step >= 10 else f"{per_step:.2g}"
            line = f"about {each} s a step here, so its {total} steps take {duration(left)} more"
            self.say(line + (f"; {self.hint(total)}" if self.hint is not None else ""))


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
