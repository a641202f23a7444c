"""What ``memorization`` in pixel space will hold in memory, said before any work.

In pixel space (its default) the metric compares float64 copies of the samples and of the train
split, N x D and M x D with D the pixels times channels, and, where the dataset has a test split
(T x D), of the test split too, for the held-out rate and C_T, whose PCA centres a copy of the train
split: its peak is about ``8 D max(N + M, 2 M + T, 2 N)`` bytes (the last two only with a test
split: C_T projects the samples through the PCA too), plus the k-NN's working set, bounded
whatever the sizes (:data:`KNN_WORKSPACE`: a block of candidate rows, the rows they are compared with
and their difference, 256 MiB each). Measured (peak resident memory inside the metric, N = M = 5000
at 32 x 32 RGB, no test split): each float64 copy 117 MiB, 8 bytes a value, and the metric's peak
1.2 GiB above what the process held before it. At 64 x 64 RGB (D = 12288), 50000 samples against a
50000-image train split, the copies alone are 9.2 GiB, on top of the process's data and features;
a machine too small for them was found only by an OOM kill, once the features had been extracted and
the other metrics had run. :func:`warn_memorization_memory` says so in the plan, with the fixes,
when the estimate exceeds the machine's physical memory. A warning, not an error: swap may hold the
rest, slowly.
"""

from __future__ import annotations

import math
import os
from typing import Any

from genbench.data.base import Dataset
from genbench.errors import GenbenchError
from genbench.metrics._knn import BLOCK_ELEMENTS
from genbench.metrics.base import Metric
from genbench.progress import Progress

GIB = 2**30
#: the k-NN's exact-distance temporaries (:func:`genbench.metrics._knn.nearest`): three float64
#: arrays of about ``BLOCK_ELEMENTS`` values, whatever the sizes
KNN_WORKSPACE = 3 * 8 * BLOCK_ELEMENTS


def memorization_bytes(num_samples: int, num_train: int, num_test: int, dim: int) -> int:
    """Bytes ``memorization`` holds at once in pixel space: its float64 copies and the k-NN's working
    set (module docstring)."""
    rows = num_samples + num_train
    if num_test:
        rows = max(rows, 2 * num_train + num_test, 2 * num_samples)
    return 8 * dim * rows + KNN_WORKSPACE


def physical_memory() -> int | None:
    """The machine's physical memory in bytes, or None where ``os.sysconf`` cannot say (Windows)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return total if total > 0 else None


def warn_memorization_memory(
    metrics: list[Metric],
    options: dict[str, dict[str, Any]],
    num_samples: int,
    dataset: Dataset,
    console: Progress,
) -> None:
    """One ``warning:`` line when ``memorization`` runs in pixel space and its estimated float64
    copies (:func:`memorization_bytes`) exceed the machine's physical memory."""
    if not any(m.name == "memorization" for m in metrics):
        return
    if options.get("memorization", {}).get("space", "pixels") != "pixels":
        return
    memory = physical_memory()
    if memory is None:
        return
    spec = dataset.spec
    dim = math.prod(spec.shape)
    try:
        num_test = len(dataset.load_stored("test")[0])
    except GenbenchError:  # no test split: no held-out rate, no C_T
        num_test = 0
    need = memorization_bytes(num_samples, spec.num_train, num_test, dim)
    if need <= memory:
        return
    test = f" and {num_test} test" if num_test else ""
    console.warn(
        f"memorization in pixel space holds about {need / GIB:.1f} GiB: float64 copies of "
        f"{num_samples} samples, {spec.num_train} train{test} examples ({dim} values each) and its k-NN's "
        f"working set, more than this "
        f"machine's {memory / GIB:.1f} GiB of memory; pass --metric-option memorization.space=features, "
        f"fewer --samples, or leave memorization out of --metrics"
    )
