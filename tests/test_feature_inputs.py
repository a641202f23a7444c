"""What the Inception extractor hands its network: the PNG pixels of the images, uint8, in RGB order
(torch-fidelity's ``FeatureExtractorInceptionV3`` takes N x 3 x H x W uint8 RGB and resizes them
itself). The tests that compare with torch-fidelity run it on grey digits, whose three equal
channels read the same in any order: a network handed BGR passed them. The expected pixels are the
uint8 values the images were made from, ``x = u / 127.5 - 1``, which a PNG saves back as ``u``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genbench.features.inception import Inception


class _Seen(torch.nn.Module):
    """A stand-in network that keeps what it was given; features and logits of zeros."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.seen.append(x)
        return torch.zeros(len(x), 2048), torch.zeros(len(x), 1008)


@pytest.mark.parametrize("channels", [3, 1])
def test_inception_gets_the_png_pixels_in_rgb_order(tmp_path, channels):
    u = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, channels, 5, 6), dtype=np.uint8))
    ext = Inception(None, cache_dir=tmp_path, weights=tmp_path / "unused.pth", batch_size=2)
    ext._model = _Seen()
    ext._extract_batch(u.float() / 127.5 - 1)
    (seen,) = ext._model.seen
    assert seen.dtype == torch.uint8 and torch.equal(seen, u.expand(-1, 3, -1, -1))
