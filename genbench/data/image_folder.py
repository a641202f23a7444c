"""A folder of real images as the dataset: ``--dataset DIR`` (``RunConfig.dataset``), as clean-fid's
``compute_fid(dir1, dir2)`` and torch-fidelity's ``--input2 DIR`` score samples against a folder of
the user's own images, with no dataset plugin to write.

The images are read by :func:`genbench.data.folder.load_image_folder`, the reader of sample folders
(recursive, sorted, grey/RGB rules, 16-bit PNG), so real and generated images go through the same
pixel pipeline. Every image is the ``train`` split; a folder has no ``test`` split. No mode labels.
8-bit images are held as uint8, as `genbench eval` holds its samples: a quarter of float32's memory
(``load`` converts them to the same floats; reference features are extracted batch by batch).
The dataset's name is the folder's basename made a registry name; its fingerprint hashes every
pixel, so two folders of one basename never share a protocol. :func:`image_data_path` recognises
``--dataset DIR`` and ``--dataset FILE.npz`` alike; the file is an
:class:`genbench.data.image_archive.ImageArchive`, named, split and fingerprinted as a folder is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar

import torch

from genbench.data.base import Dataset, Split
from genbench.errors import GenbenchError
from genbench.workdir import absolute

#: the files ``--dataset`` reads as an image archive (:class:`genbench.data.image_archive.ImageArchive`)
ARCHIVE_SUFFIXES = (".npz", ".npy")
#: what a basename's characters outside a registry name (:data:`genbench.registration_checks.NAME_RE`) become
_OUTSIDE_NAME = re.compile(r"[^a-z0-9_\-]+")


def image_data_path(value: str | os.PathLike[str]) -> Path | None:
    """The folder of images, or the ``.npz``/``.npy`` image archive
    (:class:`genbench.data.image_archive.ImageArchive`), that ``--dataset value`` names; None when it
    names a registered dataset (a registered name always wins) or nothing at all. A value that looks
    like a path (a path separator, a leading ``.`` or ``~``, an ``.npz`` or ``.npy`` suffix, which no
    registered name has; any ``os.PathLike`` of the Python API) must be an existing folder or
    archive; a bare name is a path only when something exists there and no dataset has that name.
    Fails in one line naming the fix for a path that is neither."""
    from genbench import registry

    if isinstance(value, str):
        if value in registry.datasets:
            return None
        separators = [s for s in (os.sep, os.altsep, "/") if s]
        looks_like_path = (
            any(s in value for s in separators)
            or value.startswith((".", "~"))
            or value.lower().endswith(ARCHIVE_SUFFIXES)
        )
    else:
        looks_like_path = True
    path = Path(value).expanduser()
    if not looks_like_path and not path.exists():
        return None  # an unknown name: the registry's error, with its "did you mean"
    if not path.exists():
        what = "file" if path.suffix.lower() in ARCHIVE_SUFFIXES else "folder"
        raise GenbenchError(
            f"--dataset {value}: no such {what}; pass an existing folder of PNG/JPEG images or .npz/.npy "
            "image archive, or a dataset name (see `genbench list datasets`)"
        )
    if not path.is_dir() and path.suffix.lower() not in ARCHIVE_SUFFIXES:
        from genbench.data.dataset_files import dataset_files_fix

        # CIFAR-10's archive, MNIST's IDX files, a .zip of images: "the folder it is in" holds no images
        fix = dataset_files_fix(path) or (
            "pass the folder of PNG/JPEG images it is in, an .npz/.npy of the images, or a dataset name "
            "(see `genbench list datasets`)"
        )
        raise GenbenchError(
            f"--dataset {value} is a file, but neither a folder nor an .npz/.npy image archive; {fix}"
        )
    return absolute(path)


def as_name(text: str) -> str:
    """``text`` (a folder's basename, a file's stem) as a registry name: lowercase, other characters
    ``-``, starting with a letter or digit ("My Photos" -> "my-photos"); "images" when nothing of it
    is left."""
    return _OUTSIDE_NAME.sub("-", text.lower()).lstrip("-_") or "images"


def folder_name(path: Path) -> str:
    """The folder's basename as a registry name (:func:`as_name`)."""
    # normalised: the basename of "real/.." is the folder's, not ".."
    return as_name(Path(os.path.normpath(path)).name)


class ImageFolder(Dataset):
    """Every PNG/JPEG image under one folder, its ``train`` split; it has no ``test`` split."""

    kind = "image"
    default_features = "inception"  # as cifar10: grey images are made RGB by the extractor
    num_modes = None  # unknown: the mode metrics skip it, as any dataset without mode labels
    # its fingerprint hashes the train split alone; its test split is refused in test_split_refusal's words
    has_test_split = False
    description = "a folder of PNG/JPEG images (--dataset DIR)"

    def __init__(self, path: Path, data_dir: str | Path | None = None, cache_dir: str | Path | None = None):
        super().__init__(data_dir=data_dir, cache_dir=cache_dir)
        self.path = Path(path)

    @property
    def name(self) -> str:
        return folder_name(self.path)

    #: what the dataset is, as its errors say it
    what: ClassVar[str] = "an image folder"

    def test_split_refusal(self) -> str:
        """Its test split refused by the path the user gave, with the one split there is (no fix: a
        metric reading the test split of a run against the train split was told to pass
        --reference-split train, the run's own; build_dataset names it for --reference-split test)."""
        return (
            f"{self.path} is {self.what}, whose one split is train (every image in it): it has no test split"
        )

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self._images(), None  # the train split: the test split is refused before _load

    def _images(self) -> torch.Tensor:
        """Every image, N x C x H x W: uint8 where all are 8-bit, else (16-bit grey PNGs) float32 in
        [-1, 1]. As float32 the split held 4 bytes per value, 7.9 GB for 10000 256 x 256 RGB images."""
        from genbench.data.dataset_files import dataset_files_fix
        from genbench.data.folder import load_image_folder

        return load_image_folder(
            self.path,
            # clean-fid's folder FID takes mixed sizes (each image resized to 299 x 299 on its own, any
            # aspect ratio stretched); "as clean-fid requires" sent its users looking for a limit it has not
            resize_to=(
                f"one size in --dataset {self.path}, as torch-fidelity requires too (clean-fid resizes "
                "each image to 299 x 299 on its own, stretching other aspect ratios; genbench does not)"
            ),
            # cifar-10-batches-py/, torchvision's MNIST/raw/ or root: the dataset that reads them named
            empty_fix=dataset_files_fix(self.path) or "pass --dataset a folder of .png/.jpg files",
            keep_uint8=True,
        )
