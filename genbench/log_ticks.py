"""Tick labels of a narrow log axis, which matplotlib labels badly: the board's FID against
samples/s (:mod:`genbench.board_figures`) and the GAN dynamics' gradient norm
(:mod:`genbench.metrics.gan_dynamics`)."""

from __future__ import annotations

from typing import Any

#: the widest span (its top over its bottom) of a log axis labelled with round values: within it
#: matplotlib labels each minor tick (log10(2.5) = 0.4 decade is its ``minor_thresholds``' "all");
#: wider, it labels a decade and a few of its multiples (0.1, 0.2, 0.3, 0.4, 0.6), which read well
NARROW = 10**0.4


def round_ticks_when_narrow(axis: Any) -> None:
    """A log ``axis`` that spans less than :data:`NARROW` has no major tick inside, so matplotlib
    labels every minor one: speeds of 1.58e6 to 1.72e6 samples/s read as overlapping "1.6x10^6"
    labels, FIDs of 5 to 7 as "5x10^0" to "7x10^0", gradient norms of 1 to 2 as "10^0" and
    "2x10^0" alone. There, four or so round values are labelled instead (the axis is still log).
    Decided on the axis' span, not its values': a single point (one row, or rows of one speed)
    spans a decade each side, where the values' "10" was labelled by "40, 80, 120" alone, none of
    them near it. Nothing is changed on a linear axis, nor on a wider log one: from 2.5 times up to a
    decade, round values (0.15, 0.30, 0.45 of 0.09 to 0.6) left its low end unlabelled."""
    from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

    if axis.get_scale() != "log":
        return
    low, high = sorted(axis.get_view_interval())
    if not 0 < low or high >= NARROW * low:
        return
    axis.set_major_locator(MaxNLocator(nbins=4))
    axis.set_major_formatter(ScalarFormatter(useMathText=True))
    axis.set_minor_formatter(NullFormatter())
