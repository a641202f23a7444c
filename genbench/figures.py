"""Per-run figures: a grid of samples (images) or a scatter over the data (2D points)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from genbench.io import save_png

if TYPE_CHECKING:
    from genbench.data.base import Dataset


#: the most samples the scatter of 2D data draws
SCATTER_SAMPLES = 2000

#: how much larger the 2D scatters' legends draw their points than the scatter (``s=2``, which a
#: legend drew as a dot of about a pixel: the light grey "data" swatch could not be seen)
LEGEND_MARKERSCALE = 3


def samples_note(
    label: str, seed: int, num_samples: int, drawn: int, num_train: int, width: int = 100
) -> str:
    """What the scatter of one run's 2D samples says beneath it
    (:func:`~genbench.figure_notes.run_protocol`): which run and seed, how many of its samples are
    drawn, and that the grey points are the whole train split. The PNG named neither the run nor its
    seed, nor that it drew the first 2000 samples of 10000 over the train split."""
    from genbench.figure_notes import run_protocol

    shown = f"blue: the first {drawn}" if drawn < num_samples else "blue: all of them"
    return run_protocol(
        label, seed, num_samples, [shown, f"grey: the train split's {num_train} examples"], width
    )


def save_sample_grid(
    samples: torch.Tensor, dataset: Dataset, path: Path, n: int = 64, *, label: str = "samples", seed: int = 0
) -> Path:
    """Save the first ``n`` samples as a PNG grid (torchvision), or a scatter over the train data
    with :func:`samples_note` beneath (of the run ``label`` and ``seed``). The grid of images has no
    words: torchvision writes it pixel for pixel, and its link on the board names the run and seed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dataset.kind == "image":
        from torchvision.utils import save_image

        from genbench.data.folder import float_samples

        x = float_samples(samples[:n]).float()  # `genbench eval`'s uint8 images as [-1, 1]
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

    from genbench.figure_notes import note_width, with_protocol

    train = dataset.load("train")[0]
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    ax.scatter(train[:, 0], train[:, 1], s=2, c="lightgray", label="data")
    ax.scatter(samples[:SCATTER_SAMPLES, 0], samples[:SCATTER_SAMPLES, 1], s=2, c="tab:blue", label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=LEGEND_MARKERSCALE)
    drawn = min(len(samples), SCATTER_SAMPLES)
    with_protocol(fig, samples_note(label, seed, len(samples), drawn, len(train), note_width(fig)))
    return save_png(path, lambda fh: fig.savefig(fh, format="png", dpi=100))
