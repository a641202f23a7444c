"""Per-run figures: a grid of samples (images) or a scatter over the data (2D points)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from genbench.io import save_png

if TYPE_CHECKING:
    from genbench.data.base import Dataset


def save_sample_grid(samples: torch.Tensor, dataset: Dataset, path: Path, n: int = 64) -> Path:
    """Save the first ``n`` samples as a PNG grid (torchvision) or a scatter over the train data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dataset.kind == "image":
        from torchvision.utils import save_image

        x = samples[:n].float()
        if x.shape[-1] < 32:  # small images (8x8 digits): enlarge, pixel for pixel, to be seen
            x = torch.nn.functional.interpolate(x, scale_factor=-(-32 // x.shape[-1]), mode="nearest")
        return save_png(
            path,
            lambda fh: save_image(
                x, fh, format="png", nrow=8, normalize=True, value_range=(-1, 1), pad_value=1.0
            ),
        )
    # a figure of its own, outside pyplot: matplotlib.use("Agg") switched the Python API caller's backend
    from matplotlib.figure import Figure

    train = dataset.load("train")[0]
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.scatter(train[:, 0], train[:, 1], s=2, c="lightgray", label="data")
    ax.scatter(samples[:2000, 0], samples[:2000, 1], s=2, c="tab:blue", label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return save_png(path, lambda fh: fig.savefig(fh, format="png", dpi=100))
