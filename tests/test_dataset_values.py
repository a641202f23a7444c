"""The built-in datasets' values against what their sources define, written out by hand: PacGAN's
2D mixtures (Lin et al. 2018, Section 5.1) and the Stacked-MNIST construction. The tests in
test_data.py check shapes, ranges and the labels' agreement with the data; these check the values a
metric reads where a wrong one kept every shape and range (a mean at another angle, one noise draw
for both coordinates, a test split drawn from the train split's stream).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from genbench.data.toy2d import Grid25, Ring8


def test_ring8_means_are_the_eight_points_45_degrees_apart_on_the_unit_circle():
    r = math.sqrt(0.5)
    expected = [(1, 0), (r, r), (0, 1), (-r, r), (-1, 0), (-r, -r), (0, -1), (r, -r)]
    np.testing.assert_allclose(Ring8.means, np.array(expected, dtype=float), atol=1e-12)


@pytest.mark.parametrize("cls", [Ring8, Grid25])
def test_each_coordinate_has_its_own_noise(cls, tmp_path):
    """Isotropic Gaussians: the two coordinates' offsets from the mean are independent, each of the
    declared std (one draw used for both put every point on the mean's diagonal)."""
    x, y = cls(data_dir=tmp_path, cache_dir=tmp_path).load("train")
    resid = x.double().numpy() - cls.means[y.numpy()]
    for d in range(2):
        assert abs(resid[:, d].std() / cls.std - 1) < 0.05
    assert abs(np.corrcoef(resid[:, 0], resid[:, 1])[0, 1]) < 0.05  # 10000 draws: about 0.01


@pytest.mark.parametrize("cls", [Ring8, Grid25])
def test_the_test_split_is_drawn_apart_from_the_train_split(cls, tmp_path):
    """Another seed for each split: with one seed the test split's components were the train
    split's first 2000, point for point (only the noise after them differed)."""
    ds = cls(data_dir=tmp_path, cache_dir=tmp_path)
    (_, y), (_, yt) = ds.load("train"), ds.load("test")
    same = float((y[: len(yt)] == yt).double().mean())
    assert same < 2 / cls.num_modes  # independent draws agree on 1 / K of them
