"""A sample-count-biased metric extrapolated to infinitely many samples (Chong & Forsyth 2020,
"Effectively Unbiased FID and Inception Score and where to find them"), shared by ``fid_inf`` and
``is_inf``.

FID and IS computed on N samples are biased by a term that is, to first order, linear in 1/N with a
slope that depends on the generator: ``M_N = M_inf + b / N``. So the metric is computed on random
subsets of the samples at ``points`` sizes evenly spaced from ``min_size`` to N (the paper's
``np.linspace(5000, 50000, 15)``), fitted by least squares against 1/size, and the fit's intercept,
its value at 1/N = 0, is reported. The intercept is an extrapolation: it is noisier than the metric
at N, and an FID_inf of a model close to the reference may fall slightly below 0.

Each size draws a subset of its own (the reference code's ``np.random.shuffle`` per size), seeded
with the run's seed, so the same inputs give the same number. Not nested prefixes of one shuffle:
least squares assumes independent residuals, and nested subsets share their rows, so one unlucky
small subset would push every larger one the same way and tilt the fitted line. Every subset is a
uniform draw of its size either way, so each point's expectation is the same; the largest subset
is all N samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from genbench.errors import MetricInputError
from genbench.metrics._inputs import MORE_SAMPLES, check_int, int_option
from genbench.metrics.unset_options import MIN_FRACTION

#: subset sizes fitted, as the paper's 15
POINTS = 15


def check_options(metric: str, options: dict[str, Any]) -> None:
    """``points`` (2 at least: a line needs two) and ``min_size`` (2 at least) given to ``metric``."""
    if "points" in options:
        check_int(options["points"], metric, "points", 2)
    if options.get("min_size") is not None:
        check_int(options["min_size"], metric, "min_size", 2)


def check_min_size(metric: str, given: Any, n: int | None, floor: int | None, floor_why: str = "") -> int:
    """``metric``'s ``min_size`` option ``given``, as an int, when it works for ``n`` samples: at least
    ``floor`` (``floor_why`` says why) and below ``n``. Either may be None, unknown (before any
    training, the feature dimension that sets ``floor`` may be): what is known is checked, with the
    messages that computing the metric gives."""
    min_size = check_int(given, metric, "min_size", 2)
    if floor is not None and n is not None and floor >= n:
        # no min_size works: each bound's own fix ("set 2049 or more", then "below 16") sent the
        # user from one to the other
        raise MetricInputError(too_few_for_any(metric, n, floor, floor_why))
    if floor is not None and min_size < floor:
        raise MetricInputError(
            f"{metric}: min_size {min_size} is too small ({floor_why}); "
            f"set --metric-option {metric}.min_size={floor} or more"
        )
    if n is not None and min_size >= n:
        raise MetricInputError(
            f"{metric}: min_size {min_size} leaves no range of subset sizes in {n} samples; "
            f"set --metric-option {metric}.min_size below {n}, or {MORE_SAMPLES}"
        )
    return min_size


def too_few_for_any(metric: str, n: int, floor: int, floor_why: str) -> str:
    """The error for ``n`` samples, too few for any ``min_size`` of ``metric`` (at least ``floor``,
    ``floor_why`` says why, and below ``n``): more samples are the one fix."""
    return (
        f"{metric}: {n} samples are too few for any min_size ({floor_why}, and a subset is at most the "
        f"{n} samples); {MORE_SAMPLES} (more than {floor})"
    )


def subset_sizes(ctx: Any, metric: str, n: int, floor: int, floor_why: str, default_floor: int) -> np.ndarray:
    """The subset sizes of ``metric`` for ``n`` samples: ``points`` sizes from ``min_size`` to ``n``.

    ``min_size`` given must be at least ``floor`` (``floor_why`` says why) and below ``n``. Left
    unset it is ``max(n // 10, default_floor)``, where ``default_floor`` keeps the smallest subset in
    the range where the 1/N law holds, and the sizes must span a factor of 2 at least (``n`` twice
    the smallest); otherwise an error names how many samples it needs."""
    points = int_option(ctx, metric, "points", POINTS, minimum=2)
    given = (ctx.options.get(metric) or {}).get("min_size")
    if given is not None:
        min_size = check_min_size(metric, given, n, floor, floor_why)
    else:
        min_size = default_min_size(metric, n, floor, default_floor)
    return np.linspace(min_size, n, points).astype(np.int64)


def default_min_size(metric: str, n: int, floor: int, default_floor: int) -> int:
    """``metric``'s ``min_size`` left unset, for ``n`` samples: ``max(n // 10, default_floor)``, when
    the sizes from it to ``n`` span a factor of 2; otherwise the error naming how many samples it
    needs, or a ``min_size`` of its own (at least ``floor``) where one can work."""
    min_size = max(n // MIN_FRACTION, default_floor)
    if 2 * min_size > n:
        # a min_size of its own only where one can work ("between 2049 and 15" could not)
        instead = (
            f", or set --metric-option {metric}.min_size between {floor} and {n - 1}" if floor < n else ""
        )
        raise MetricInputError(
            f"{metric}: {n} samples are too few: its smallest subset is {min_size} and the sizes must "
            f"span a factor of 2; {MORE_SAMPLES} (at least {2 * min_size}){instead}"
        )
    return min_size


def check_samples(
    metric: str, given: Any, n: int, floor: int | None, floor_why: str, default_floor: int | None
) -> None:
    """Before any training, what computing ``metric`` on ``n`` samples would refuse of its
    ``min_size``: ``given`` (None: unset) as :func:`check_min_size` checks it, or the default, where
    ``default_floor`` is known (the features' or logits' width that the extractor declares), as
    :func:`default_min_size` computes it; the same line either way. Unknown bounds (None) are left
    to the metric's own computation."""
    if given is not None:
        check_min_size(metric, given, n, floor, floor_why)
    elif floor is not None and default_floor is not None:
        default_min_size(metric, n, floor, default_floor)


def subset_values(
    n: int, sizes: np.ndarray, seed: int, value: Callable[[np.ndarray | slice], float]
) -> np.ndarray:
    """``value(rows)`` of a random subset of ``n`` rows of each size, drawn with ``seed``: sorted row
    indices (read in order; the metrics do not depend on it), or ``slice(None)`` for all ``n``, a
    view where indices would copy all 50000 x 2048 Inception features once more."""
    rng = np.random.default_rng(seed)
    out = []
    for size in sizes:
        rows: np.ndarray | slice = slice(None) if size >= n else np.sort(rng.permutation(n)[:size])
        out.append(value(rows))
    return np.asarray(out, dtype=np.float64)


def intercept(sizes: np.ndarray, values: np.ndarray) -> float:
    """The least-squares line of ``values`` against ``1 / sizes`` at ``1 / size = 0``."""
    _, at_zero = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), values, 1)
    return float(at_zero)
