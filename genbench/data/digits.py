"""scikit-learn's handwritten digits (the UCI "Optical Recognition of Handwritten Digits" test set).

1797 grey 8 x 8 images with values 0..16, ten classes. Shipped with scikit-learn, so it needs no
download: the embedded dataset every test and CPU benchmark uses. The train/test split is a fixed
stratified 80/20 split (seed 0): 1437 train and 360 test images.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from genbench.data.base import Dataset, Split
from genbench.registry import register_dataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


@lru_cache(maxsize=1)
def _split_indices() -> dict[str, np.ndarray]:
    from sklearn.model_selection import train_test_split

    _, y = _raw()
    train, test = train_test_split(
        np.arange(len(y)), test_size=TEST_FRACTION, stratify=y, random_state=SPLIT_SEED
    )
    return {"train": np.sort(train), "test": np.sort(test)}


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def digits_split(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 8 x 8 float32 in [-1, 1]) and labels (N,) of one split (shared with stacked-digits)."""
    images, labels = _raw()
    idx = _split_indices()[split]
    return images[idx] / 8.0 - 1.0, labels[idx]


@register_dataset("digits")
class Digits(Dataset):
    """scikit-learn's 8 x 8 digits, values 0..16 mapped to [-1, 1] by v / 8 - 1, shape (1, 8, 8)."""

    kind = "image"
    default_features = "classifier"
    num_modes = 10
    example_shape = (1, 8, 8)
    classifier_labels_modes = True
    split_sizes = {"train": 1437, "test": 360}  # train_test_split's: 360 = ceil(0.2 x 1797)
    downloads = False
    description = "scikit-learn 8x8 handwritten digits (1797), embedded, 1437/360 split"

    @classmethod
    def data_folders(cls, data_dir: Path) -> tuple[Path, ...]:
        return ()  # shipped in scikit-learn

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = digits_split(split)
        return torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.copy())
