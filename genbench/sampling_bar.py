"""A model's sampling as the run shows it: the samples drawn, moving within a batch where the model
reports its steps (:meth:`genbench.api.GenerativeModel.sampling_progress`).

The bar moved once a batch, and a batch of the paper-sized CIFAR-10 DDPM (1000 denoising steps)
takes hours on a CPU: ``0/50000`` and no time remaining for hours. Now a batch ``k`` of ``K`` steps
through counts as ``k / K`` of its samples drawn, so the time remaining shows during the first batch;
the values column says which step (``step 12/1000``). The harness's untimed warm-up batch, as long as
any other, is shown as a phase of its own (``sample ddpm seed 0, untimed warm-up``) before the
timed samples' bar.

A sampling that its first 10 s project to take an hour or more says so once, as a training does
(:class:`genbench.training_forecast.Forecast`): ``sample ddpm seed 0: about 3 hours a batch here,
so this untimed warm-up batch and then its 50000 samples take about 13 days more; for fewer, pass
--samples N`` (the warm-up named where the line comes during it, as its time is counted).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from genbench.training_forecast import Forecast, duration, each


def reported(done: Any, total: Any) -> tuple[float, float] | None:
    """A plugin's report of ``done`` of ``total`` (a model's sampling steps, a metric's blocks) as
    numbers, or None where it is no finite number or ``total`` is not positive: such a report moves
    nothing, and never fails what reported it."""
    try:
        d, t = float(done), float(total)
    except Exception:  # noqa: BLE001 - a plugin's report that is no number: no move, no failure
        return None
    return (d, t) if math.isfinite(d) and math.isfinite(t) and t > 0 else None


#: a model's step reports move the bar at most this often (seconds): rich redraws ten times a
#: second, and a report costs about 0.1 us instead of the 2 us of an update inside the timed region
#: (a 1000-step sampler of 2D points evaluates its network in tens of microseconds)
STEP_UPDATE_S = 0.1

#: ``show(completed, values)``: one phase's display, a rich task or a log file's lines
Show = Callable[[float, str], None]
#: ``phase(description, total)`` starts a phase (ending the one before) and returns its display
Phase = Callable[[str, int], Show]


class SamplingBar:
    """The progress of drawing ``total`` samples. The harness calls :meth:`batch_started` before each
    batch (``timed=False`` for the warm-up), :meth:`step` as the model reports its steps, and the
    bar itself with each kept batch's size (``on_batch``)."""

    def __init__(
        self,
        description: str,
        total: int,
        phase: Phase,
        clock: Callable[[], float],
        say: Callable[[str], None] | None = None,
    ):
        self.description, self.total = description, total
        self._phase, self._clock = phase, clock
        self._show: Show | None = None
        self._warm_up = False
        self._warm_up_size = 0  # the warm-up batch's samples, drawn before the timed ones
        self._kept = 0  # samples kept so far
        self._batch = 0  # the running batch's size
        self._batch_size = 0  # the largest batch: what "a batch" takes, in the forecast
        self._within = 0.0  # how far through the running batch, 0 to 1
        self._last = -math.inf  # when a step last moved the bar
        #: the samples to draw, the warm-up's too, timed from the first progress: ``say`` is told once
        #: when the rest will take an hour or more
        self._forecast = Forecast(clock, say, self._forecast_line) if say is not None else None

    def batch_started(self, size: int, timed: bool) -> None:
        if not timed:
            self._show, self._warm_up = self._phase(f"{self.description}, untimed warm-up", size), True
            self._warm_up_size = size
        elif self._show is None or self._warm_up:
            self._main()
            self._predict(0.0)  # the warm-up's end: a model that reports no steps is timed from here
        self._batch, self._within = size, 0.0
        self._batch_size = max(self._batch_size, size)

    def step(self, step: int, steps: int) -> None:
        """The running batch has done ``step`` of its ``steps`` (a model's report, not checked by
        the model: what is no number, or out of range, moves nothing or is clamped)."""
        if self._show is None or not self._batch:
            return
        now = self._clock()
        if now - self._last < STEP_UPDATE_S:
            return
        if (numbers := reported(step, steps)) is None:
            return
        done, of = numbers
        self._last = now
        self._within = max(self._within, min(1.0, max(0.0, done / of)))  # a bar never goes back
        base = 0 if self._warm_up else self._kept
        self._show(base + self._batch * self._within, f"step {_number(done)}/{_number(of)}")
        self._predict(self._batch * self._within)

    def __call__(self, size: int) -> None:
        """A batch of ``size`` samples was kept."""
        if self._show is None or self._warm_up:
            self._main()
        assert self._show is not None
        self._kept += size
        self._batch, self._within = 0, 0.0
        self._show(self._kept, "")
        self._predict(0.0)

    def _main(self) -> None:
        self._show, self._warm_up = self._phase(self.description, self.total), False

    def _predict(self, within: float) -> None:
        """Tell the forecast where sampling is, ``within`` samples into the running batch."""
        if self._forecast is None:
            return
        drawn = within if self._warm_up else self._warm_up_size + self._kept + within
        self._forecast.update(drawn, self._warm_up_size + self.total)

    def _forecast_line(self, per_sample: float, left: float, total: float) -> str:
        batch = each(per_sample * self._batch_size)
        # said during the warm-up, the time left counts that batch too: "its 500 samples take about
        # 6 hours more" beside "about 3 hours a batch" read as a wrong sum where they are one batch
        what = (
            f"this untimed warm-up batch and then its {self.total} samples"
            if self._warm_up
            else f"its {self.total} samples"
        )
        return f"{batch} a batch here, so {what} take {duration(left)} more; for fewer, pass --samples N"


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() else f"{x:.3g}"
