"""The memorization metric's figure: a run's most likely copies beside their nearest training
examples (images), or joined to them on a scatter (2D points), with what the figure shows beneath
(:func:`nearest_note`). Drawn by :class:`genbench.metrics.memorization.Memorization` when a run
saves figures."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from genbench.figures import LEGEND_MARKERSCALE, SCATTER_SAMPLES
from genbench.metrics.base import EvalContext
from genbench.metrics.memorization import RATIO

#: the most training points the scatter of 2D data draws (the copies are drawn all; the samples as
#: many as the samples scatter draws, :data:`genbench.figures.SCATTER_SAMPLES`)
SCATTER_TRAIN = 5000


def space_name(ctx: EvalContext, space: str) -> str:
    """Where the distances were measured, in words: ``space`` (:data:`~genbench.metrics.memorization.SPACES`) of ``ctx``'s data."""
    if space == "features":
        name = getattr(ctx.extractor, "name", "")
        return f"{name} feature space" if name else "feature space"
    return "pixel space" if ctx.dataset.kind == "image" else "the points' coordinates"


def nearest_note(
    label: str,
    seed: int,
    num_samples: int,
    *,
    shown: int,
    neighbours: int,
    space: str,
    num_train: int,
    distinct: int,
    drawn: tuple[int, int] | None = None,
    width: int = 100,
) -> str:
    """What the nearest-neighbour figure of one run says beneath it
    (:func:`~genbench.figure_notes.run_protocol`): which ``shown`` of its ``num_samples`` samples it
    shows, in which ``space`` (:func:`space_name`) their distances to how many training examples were
    measured, and what d1/d2 is. ``drawn``: the samples and training points a scatter draws (None:
    a grid of images, each sample beside its ``neighbours`` nearest). The PNG showed "d1/d2=0.55"
    and "train #963" with none of these: pixels or features, against which split, and whether 0.55
    is near a copy (below 1/3) were on no figure."""
    from genbench.figure_notes import run_protocol

    which = f"the {shown} samples with the smallest d1/d2"
    if drawn is None:
        clauses = [
            f"{which}, each beside its {neighbours} nearest training examples (train #i: the train split's i-th)"
        ]
    else:
        clauses = [f"red: {which}, each joined to its nearest training example"]
        if drawn[0] < num_samples or drawn[1] < num_train:
            clauses.append(f"drawn: {drawn[0]} of the samples, {drawn[1]} of the training examples")
    repeats = f" ({num_train} with their repeats)" if distinct < num_train else ""
    clauses += [
        f"d1, d2: Euclidean distances in {space} to a sample's nearest and second-nearest of the train "
        f"split's {distinct} distinct examples{repeats}",
        f"d1/d2 < 1/{1 / RATIO:g} counts as memorized",
    ]
    return run_protocol(label, seed, num_samples, clauses, width)


def save_nearest_figure(
    ctx: EvalContext,
    rows: np.ndarray,
    idx: np.ndarray,
    ratio: np.ndarray,
    path: Path,
    space: str,
    counts: tuple[int, int],
) -> Path:
    """Samples ``rows`` beside their nearest training examples ``idx[rows]`` (images), or a scatter,
    with :func:`nearest_note` beneath: distances in ``space`` (:data:`~genbench.metrics.memorization.SPACES`) to a train split of
    ``counts`` examples (all, distinct)."""
    from matplotlib.figure import Figure

    from genbench.figure_notes import note_width, with_protocol

    path.parent.mkdir(parents=True, exist_ok=True)
    label = ctx.label or ctx.model_name or "samples"
    note = functools.partial(
        nearest_note,
        label,
        ctx.seed,
        ctx.num_samples,
        shown=len(rows),
        neighbours=idx.shape[1],
        space=space_name(ctx, space),
        num_train=counts[0],
        distinct=counts[1],
    )
    # the rows shown alone, as floats: `genbench eval`'s uint8 samples converted whole were 39 GB for
    # 50000 ImageNet-256 images, where memorization in feature space reads none of their pixels
    picked = ctx.sample_rows(rows) if ctx.dataset.kind == "image" else None
    if picked is not None and picked.dim() == 4:
        # the training examples shown, alone: a copy of the whole train split here (614 MB for CIFAR-10)
        # came on top of the memorization's float64 copies
        shown = np.unique(idx[rows])
        shown_train = dict(
            zip(shown.tolist(), ctx.dataset.load_examples("train", shown).detach().cpu().float(), strict=True)
        )
        k = idx.shape[1]
        fig = Figure(figsize=(1.3 * (k + 1), 1.4 * len(rows)))
        axes = fig.subplots(len(rows), k + 1, squeeze=False)
        for r, s in enumerate(rows):
            panels = [picked[r]] + [shown_train[j] for j in idx[s]]
            titles = [f"sample, d1/d2={ratio[s]:.2f}"] + [f"train #{j}" for j in idx[s]]
            for c, (img, title) in enumerate(zip(panels, titles, strict=True)):
                ax = axes[r, c]
                ax.imshow(_to_image(img), cmap="gray" if img.shape[0] != 3 else None, vmin=0, vmax=1)
                ax.set_title(title, fontsize=6)
                ax.set_axis_off()
        fig.suptitle(f"{label}: most likely copies and their nearest training examples", fontsize=8)
        text = note(width=note_width(fig))
    else:
        samples = ctx.samples.detach().cpu().float()
        train = ctx.train_data().detach().cpu().float()
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        s2, t2 = samples.reshape(len(samples), -1)[:, :2], train.reshape(len(train), -1)[:, :2]
        ax.scatter(t2[:SCATTER_TRAIN, 0], t2[:SCATTER_TRAIN, 1], s=2, c="lightgray", label="train")
        ax.scatter(s2[:SCATTER_SAMPLES, 0], s2[:SCATTER_SAMPLES, 1], s=2, c="tab:blue", label="samples")
        for s in rows:
            j = idx[s, 0]
            ax.plot([s2[s, 0], t2[j, 0]], [s2[s, 1], t2[j, 1]], c="tab:red", lw=1)
        ax.scatter(s2[rows, 0], s2[rows, 1], s=12, c="tab:red", label="most likely copies")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=7, markerscale=LEGEND_MARKERSCALE)
        ax.set_title(f"{label}: samples nearest the training set", fontsize=8)
        drawn = (min(len(s2), SCATTER_SAMPLES), min(len(t2), SCATTER_TRAIN))
        text = note(drawn=drawn, width=note_width(fig))
    with_protocol(fig, text)
    from genbench.io import save_png

    return save_png(path, lambda fh: fig.savefig(fh, format="png", dpi=120))


def _to_image(x: torch.Tensor) -> np.ndarray:
    """C x H x W in [-1, 1] -> H x W x 3 (RGB) or H x W (else, first channel) in [0, 1]."""
    img = ((x.clamp(-1, 1) + 1) / 2).numpy()
    return img.transpose(1, 2, 0) if img.shape[0] == 3 else img[0]
