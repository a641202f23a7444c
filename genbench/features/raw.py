"""Raw features: the data itself, flattened.

The natural space for 2D point sets (PacGAN's ring and grid experiments measure everything on the
coordinates). For images it gives pixel-space metrics, which are mainly useful as a sanity check.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genbench.features.base import FeatureExtractor
from genbench.registry import register_features


@register_features("raw")
class Raw(FeatureExtractor):
    """Features = the flattened input; no logits."""

    description = "the data itself (2D coordinates; flattened pixels for images)"
    supported_kinds = ("points", "image")
    takes_weights = False
    gives_logits = False
    VERSION = 1

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...]:
        return ()  # no network, no weights

    def fingerprint(self) -> str:
        return f"raw-v{self.VERSION}"

    def feature_dim(self) -> int:
        return math.prod(self.dataset.shape_spec().shape)  # one example, flattened

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x.reshape(len(x), -1), None
