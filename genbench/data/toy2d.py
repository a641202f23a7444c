"""2D Gaussian mixtures used to measure mode collapse (PacGAN, Lin et al. 2018, Section 5.1).

``ring8``: 8 Gaussians with means on the unit circle, std 0.01. ``grid25``: 25 Gaussians with means
{-4, -2, 0, 2, 4}^2, std 0.05. Components are equally likely. A sample's mode is its nearest mean;
PacGAN counts a sample as high quality when it lies within three standard deviations of it (the
``modes`` metric reads ``means`` and ``std`` from here).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from genbench.data.base import Dataset, Split
from genbench.registry import register_dataset

SIZES: dict[Split, int] = {"train": 10_000, "test": 2_000}
SEEDS = {"train": 0, "test": 1}


class GaussianMixture2D(Dataset):
    """Equal-weight isotropic 2D Gaussian mixture; points are N x 2 float32, labels the component."""

    kind = "points"
    default_features = "raw"
    example_shape = (2,)
    split_sizes = SIZES
    downloads = False
    means: ClassVar[np.ndarray]  # K x 2
    std: ClassVar[float]

    @classmethod
    def data_folders(cls, data_dir: Path) -> tuple[Path, ...]:
        return ()  # drawn in code

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(SEEDS[split])
        n, k = SIZES[split], len(self.means)
        comp = rng.integers(0, k, size=n)
        x = self.means[comp] + self.std * rng.standard_normal((n, 2))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(comp.astype(np.int64))

    def label_modes(self, x: torch.Tensor) -> np.ndarray:
        """Index of the nearest mean of each point."""
        pts = torch.as_tensor(x).detach().cpu().double().reshape(len(x), -1).numpy()
        d2 = ((pts[:, None, :] - self.means[None, :, :]) ** 2).sum(-1)
        return d2.argmin(1).astype(np.int64)


def _ring(k: int, radius: float) -> np.ndarray:
    angles = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


@register_dataset("ring8")
class Ring8(GaussianMixture2D):
    """8 Gaussians on the unit circle, std 0.01 (PacGAN's 2D-ring)."""

    description = "2D mixture of 8 Gaussians on the unit circle, std 0.01 (PacGAN)"
    num_modes = 8
    means = _ring(8, 1.0)
    std = 0.01


@register_dataset("grid25")
class Grid25(GaussianMixture2D):
    """25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN's 2D-grid)."""

    description = "2D mixture of 25 Gaussians on a 5x5 grid, std 0.05 (PacGAN)"
    num_modes = 25
    means = np.array([(a, b) for a in (-4.0, -2.0, 0.0, 2.0, 4.0) for b in (-4.0, -2.0, 0.0, 2.0, 4.0)])
    std = 0.05
