"""The progress of a k-NN metric, counted in blocks of distances.

prdc, memorization and mifid spend their time in blocks of a distance matrix (:mod:`._knn`), one
block of query rows against every reference row at a time: prdc's three passes at 50000 samples
take about 45 minutes on a CPU. :class:`BlocksDone` adds up the distances each block computed,
against the distances the metric declared it will compute, and reports them as blocks of
:data:`~genbench.metrics._knn.BLOCK_ELEMENTS` distances (:func:`genbench.metric_steps.report_progress`):
the time of a block is about that of its distances, whatever the pass, and at 50000 rows one block
of the loops is one block of the count. A metric of one block or less reports nothing (the digits
board's 1797 samples): its spinner says all there is to say.
"""

from __future__ import annotations

import math

from genbench.metric_steps import report_progress
from genbench.metrics._knn import BLOCK_ELEMENTS


class BlocksDone:
    """Distances computed of those its passes declare (``BlocksDone(radii=n * n, samples=m * m)``);
    called with each block's distances (the ``on_block`` of :func:`~genbench.metrics._knn.blocks`,
    :func:`~genbench.metrics._knn.nearest` and :func:`~genbench.metrics._knn.kth_neighbour_distances`)."""

    def __init__(self, **passes: int):
        self.passes, self.done = dict(passes), 0

    def resize(self, name: str, distances: int) -> None:
        """Pass ``name`` computes ``distances`` after all: 0 where its result was kept from an
        earlier command, the test split's rows once it is read."""
        self.passes[name] = distances
        self._report()

    def __call__(self, distances: int) -> None:
        self.done += distances
        self._report()

    def _report(self) -> None:
        total = sum(self.passes.values())
        blocks = math.ceil(total / BLOCK_ELEMENTS)
        if blocks >= 2:
            report_progress(min(self.done, total) * blocks / total, blocks, "blocks")
