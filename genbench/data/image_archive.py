"""An ``.npz`` or ``.npy`` of real images as the dataset: ``--dataset FILE`` (``RunConfig.dataset``),
as guided-diffusion's evaluator (ADM's: ``evaluator.py VIRTUAL_imagenet256_labeled.npz samples.npz``)
compares samples with the images of a reference batch, with no dataset plugin to write.

The images are read by :func:`genbench.data.folder.load_image_archive`, by the rules that read a
samples file (``samples``, the one array, or ``arr_0`` of arrays saved unnamed; uint8 N x H x W x C
or float in [-1, 1]), so real and generated images go through the same pixel pipeline. Arrays of
statistics beside them (a reference batch's ``mu``, ``sigma``, ``mu_s``, ``sigma_s``) are no part of
the split: FID compares with them only when the file is also passed as ``--reference-stats``, and
a command that could is told so (:func:`archive_statistics`). As an image folder: every image is
the ``train`` split, no ``test`` split, no mode labels, uint8 images held as uint8; named after the
file's stem, fingerprinted by every pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genbench.data.folder import STATS_KEYS
from genbench.data.image_folder import ImageFolder, as_name


class ImageArchive(ImageFolder):
    """Every image of one ``.npz`` or ``.npy``, its ``train`` split; it has no ``test`` split. An
    image folder in all but how its images are read."""

    description = "an .npz or .npy of images (--dataset FILE)"
    what = "an image archive"

    @property
    def name(self) -> str:
        return as_name(self.path.stem)  # VIRTUAL_imagenet256_labeled.npz -> virtual_imagenet256_labeled

    def _images(self) -> torch.Tensor:
        """uint8 N x C x H x W for a uint8 archive (ADM's reference batches), float32 for a float one."""
        from genbench.data.folder import load_image_archive

        return load_image_archive(self.path, keep_uint8=True)


def archive_statistics(path: Path) -> list[str]:
    """The keys of reference statistics (:data:`genbench.data.folder.STATS_KEYS`, the ``mu`` and
    ``sigma`` of ADM's reference batches) that the ``.npz`` at ``path`` holds, read from its index
    alone (no array is loaded); none for an ``.npy``, a file of statistics alone, or one that cannot
    be read (reading its images says why)."""
    if path.suffix.lower() != ".npz":
        return []
    try:
        with np.load(path, allow_pickle=False) as npz:
            held = [k for k in npz.files if k in STATS_KEYS]
            # statistics alone are no archive of images (reading it says so), nothing beside them
            return held if len(held) < len(npz.files) else []
    except Exception:  # unreadable, or no zip: reading its images says why, in one line
        return []
