"""Stacked digits: the Stacked-MNIST construction on scikit-learn's 8 x 8 digits.

As in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018), each example stacks three
digit images drawn independently at random as its R, G and B channels, which gives
10 x 10 x 10 = 1000 modes labelled ``100 a + 10 b + c``. The digits come from the same split of
``digits`` (train examples from its train split, test examples from its test split), so the two
splits share no digit image. The draw is seeded, so the dataset is identical on every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genbench.data.base import Dataset, Split
from genbench.data.digits import Digits, digits_split
from genbench.registry import register_dataset

SIZES: dict[Split, int] = {"train": 10_000, "test": 2_000}
SEEDS = {"train": 0, "test": 1}


@register_dataset("stacked-digits")
class StackedDigits(Dataset):
    """Three digits as RGB channels, shape (3, 8, 8); 1000 modes; 10000 train / 2000 test."""

    kind = "image"
    default_features = "classifier"
    num_modes = 1000
    example_shape = (3, 8, 8)
    classifier_labels_modes = True
    split_sizes = SIZES
    downloads = False
    description = "three 8x8 digits stacked as RGB (Stacked-MNIST construction), 1000 modes, embedded"

    @classmethod
    def data_folders(cls, data_dir: Path) -> tuple[Path, ...]:
        return ()  # drawn from digits, shipped in scikit-learn

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = digits_split(split)
        rng = np.random.default_rng(SEEDS[split])
        idx = rng.integers(0, len(images), size=(SIZES[split], 3))
        x = np.stack([images[idx[:, c]] for c in range(3)], axis=1)  # N x 3 x 8 x 8
        y = 100 * labels[idx[:, 0]] + 10 * labels[idx[:, 1]] + labels[idx[:, 2]]
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y)

    def channel_dataset(self) -> Digits:
        """The dataset each channel is an example of; its classifier labels every channel."""
        return Digits(data_dir=self.data_dir, cache_dir=self.cache_dir)
