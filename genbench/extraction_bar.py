"""Feature extraction as the run shows it: the rows done, their rate and the time left, and a forecast
when that is long.

Inception-v3 features of CIFAR-10's 50000 train images (the reference) take about 70 minutes on a
2-core CPU, and the samples' as long again; the run showed a spinner (in a log file, a line after
10 s), with no count, no rate, no time left. :meth:`genbench.features.base.FeatureExtractor.extract`
now tells a callback of each batch (``(done, total)``), and this bar shows it
(:meth:`genbench.progress.Progress.extracting`): a bar on a terminal, a line at each tenth in a log
file. An extraction that its first 10 s project to take an hour or more says so once
(:class:`genbench.training_forecast.Forecast`), with what makes it shorter, where anything does.

The bar's own time is counted (:attr:`ExtractionBar.spent`), so that a caller timing the extraction
(a result's ``features_s``) leaves it out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from genbench.training_forecast import Forecast, duration

#: ``show(done, total)``: a rich task's update, or a log file's lines
Shown = Callable[[int, int], None]


class ExtractionBar:
    """Receives ``(done, total)`` rows from ``extract`` after each batch: shows them, and tells the
    forecast, which ``say``s once when the rest will take an hour or more."""

    def __init__(
        self,
        show: Shown,
        clock: Callable[[], float],
        say: Callable[[str], None],
        noun: str = "examples",
        hint: str = "",
    ):
        self._show, self.noun, self.hint = show, noun, hint
        self._forecast = Forecast(clock, say, self._line)
        #: seconds spent in this bar's calls, which a timed extraction leaves out of its time
        self.spent = 0.0

    def __call__(self, done: int, total: int) -> None:
        start = time.perf_counter()
        self._show(done, total)
        self._forecast.update(done, total)
        self.spent += time.perf_counter() - start

    def _line(self, per_row: float, left: float, total: float) -> str:
        rate = 1.0 / per_row if per_row > 0 else math.inf  # a clock that did not move (a test's)
        shown = f"{rate:.0f}" if rate >= 10 else f"{rate:.2g}"
        line = f"about {shown} {self.noun}/s here, so its {int(total)} {self.noun} take {duration(left)} more"
        return line + (f"; {self.hint}" if self.hint else "")


#: what ends the forecast of a split's (reference) features: they are extracted once
CACHED = "they are cached, once per feature extractor and split, for every later run"
#: ... and in `genbench run` and `eval`, what needs none at all
REFERENCE_HINT = f"{CACHED}; --reference-stats FILE (from genbench stats) with --metrics fid,is needs none"
#: what ends the forecast of a run's samples' features
SAMPLES_HINT = "for fewer, pass --samples N"


def noun(kind: str) -> str:
    """What a dataset of ``kind`` holds, counted: ``images``, else ``examples`` (2D points)."""
    return "images" if kind == "image" else "examples"
