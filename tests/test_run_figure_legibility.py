"""A run's 2D scatters (its samples over the data, its nearest neighbours) as a paper prints them:
their legends' swatches can be seen."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure
from test_run_figure_notes import context

from genbench.data.toy2d import Ring8


@pytest.fixture(scope="module")
def ring8(cache_dir: Path) -> Ring8:
    return Ring8(cache_dir=cache_dir)


def swatches(fig: Figure) -> dict[str, float]:
    """Each legend entry's marker area (points squared), by its text."""
    legend = fig.axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    return {t: float(h.get_sizes()[0]) for t, h in zip(texts, legend.legend_handles, strict=True)}


#: the least marker area (points squared) of a legend's swatch: a 2-point-squared dot is about a
#: pixel at the figures' 100 to 120 dpi, and the light grey "data" one could not be seen
SEEN = 10.0


def test_the_2d_samples_legend_draws_its_swatches_large_enough_to_see(ring8, tmp_path, drawn):
    from genbench.figures import save_sample_grid

    save_sample_grid(torch.randn(500, 2), ring8, tmp_path / "samples.png", label="gan-ns", seed=1)
    sizes = swatches(drawn[-1])
    assert set(sizes) == {"data", "samples"}
    assert min(sizes.values()) >= SEEN, sizes


def test_the_2d_nearest_neighbour_legend_draws_its_swatches_large_enough_to_see(ring8, tmp_path, drawn):
    from genbench.metrics.memorization import Memorization

    points = ring8.load("train")[0][:400] + 0.01
    ctx = context(ring8, points, tmp_path, model_name="gan-ns")
    Memorization().compute(ctx)
    sizes = swatches(drawn[-1])
    assert set(sizes) == {"train", "samples", "most likely copies"}
    assert min(sizes.values()) >= SEEN, sizes
