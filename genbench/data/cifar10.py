"""CIFAR-10 (Krizhevsky 2009), from the official python version ``cifar-10-python.tar.gz``.

The archive is downloaded on first use into ``data_dir / "cifar10"``, checked against its md5, and
read in place (the pickled batches are streamed out of the tar; nothing is extracted to disk).
Each batch is a pickled dict with ``b"data"`` (N x 3072 uint8, channel-major 32 x 32 planes) and
``b"labels"``; ``data_batch_1..5`` form the 50000-image train split, ``test_batch`` the test split.
"""

from __future__ import annotations

import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from genbench.data.base import Dataset, Split
from genbench.data.download import corrupt, ensure_files
from genbench.registry import register_dataset

ARCHIVE = "cifar-10-python.tar.gz"
#: {filename: md5} (tests monkeypatch it for archives they write themselves)
RESOURCES: dict[str, str | None] = {ARCHIVE: "c58f30108f718f92721af3b95e74349a"}
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


NUM_CLASSES = 10  # the official labels are 0-9 (batches.meta's label_names)


def read_batches(archive: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 3 x 32 x 32 uint8) and labels (N,) of the named batches, in the given order."""
    found: dict[str, dict] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in names and member.name == f"{FOLDER}/{base}":
                    fh = tar.extractfile(member)
                    assert fh is not None
                    # the official format is a pickle; the archive's md5 was verified before this
                    found[base] = pickle.load(fh, encoding="bytes")
    except (tarfile.TarError, OSError, EOFError, zlib.error, pickle.UnpicklingError) as e:
        raise corrupt(archive, f"{type(e).__name__}: {e}") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise corrupt(archive, f"no {', '.join(f'{FOLDER}/{n}' for n in missing)} in the archive")
    images, labels = [], []
    for n in names:
        batch = found[n]
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise corrupt(archive, f"{n} has no data/labels")
        data = np.asarray(batch[b"data"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise corrupt(archive, f"{n} holds {data.dtype} {data.shape}, expected uint8 N x 3072")
        lab = np.asarray(batch[b"labels"])  # not cast yet: strings raised, floats were truncated
        if lab.shape != (len(data),):
            raise corrupt(archive, f"{n} has {lab.shape} labels for {len(data)} images")
        if lab.dtype.kind not in "iu" or (len(lab) and (lab.min() < 0 or lab.max() >= NUM_CLASSES)):
            raise corrupt(archive, f"{n} has labels other than class ids 0-{NUM_CLASSES - 1}")
        lab = lab.astype(np.int64)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


@register_dataset("cifar10")
class CIFAR10(Dataset):
    """CIFAR-10: 50000 train / 10000 test colour images, 32 x 32, 10 classes.

    Mode labels of *samples* are not available (no in-tree CIFAR classifier is accurate enough to
    count modes), so ``label_modes`` returns None and the mode diagnostics skip CIFAR-10.
    """

    kind = "image"
    default_features = "inception"
    num_modes = NUM_CLASSES
    downloads = True
    example_shape = (3, 32, 32)
    description = "CIFAR-10, 32x32 colour, 50k/10k, downloaded (python format)"

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        paths = ensure_files("cifar10", self.data_dir / "cifar10", RESOURCES, MIRRORS)
        images, labels = read_batches(paths[ARCHIVE], BATCHES[split])
        x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
        return x, torch.from_numpy(labels)
