"""A run's own figures as drawn: the image grid's pixels (torchvision maps [-1, 1] onto 0..255, a
small image enlarged pixel for pixel) and the 2D scatter's points, read back from the PNG and from
the matplotlib objects, against values worked out here by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from genbench.figures import save_sample_grid


def test_the_image_grid_maps_minus_one_to_black_zero_to_mid_grey_and_one_to_white(tmp_path):
    """Three 8x8 grey images at -1, 0 and 1: each enlarged 4 times (32 pixels, pixel for pixel), in
    a row with torchvision's 2-pixel white padding; 0 is 0.5 of the range, 255 * 0.5 rounded up."""
    samples = torch.stack([torch.full((1, 8, 8), v) for v in (-1.0, 0.0, 1.0)])
    path = save_sample_grid(samples, SimpleNamespace(kind="image"), tmp_path / "grid.png")
    pixels = np.asarray(Image.open(path).convert("L"))
    assert pixels.shape == (2 + 32 + 2, 2 + 3 * (32 + 2))
    centres = [int(pixels[2 + 16, 2 + k * 34 + 16]) for k in range(3)]
    assert centres == [0, 128, 255]
    assert int(pixels[0, 0]) == 255  # the padding


def test_the_2d_scatter_draws_each_sample_at_its_coordinates_on_equal_axes(tmp_path, drawn):
    data = SimpleNamespace(kind="points", load=lambda split: (torch.tensor([[0.0, 0.0], [5.0, 5.0]]),))
    samples = torch.tensor([[1.0, 2.0], [3.0, -4.0]])
    save_sample_grid(samples, data, tmp_path / "scatter.png", label="gan", seed=0)
    ax = drawn[-1].axes[0]
    train, drawn_samples = ax.collections
    assert drawn_samples.get_offsets().tolist() == [[1.0, 2.0], [3.0, -4.0]]
    assert train.get_offsets().tolist() == [[0.0, 0.0], [5.0, 5.0]]
    assert ax.get_aspect() == 1.0
    assert "blue: all of them" in drawn[-1].texts[-1].get_text()
