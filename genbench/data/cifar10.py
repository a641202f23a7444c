"""CIFAR-10 (Krizhevsky 2009), from the official python version ``cifar-10-python.tar.gz``.

The archive is downloaded on first use into ``data_dir / "cifar10"``, checked against its md5, and
read in place (the pickled batches are streamed out of the tar; nothing is extracted to disk).
Where the archive is absent but its extracted ``cifar-10-batches-py/`` folder is there (as ``tar
xzf`` or torchvision leave it), the batch files are read from it instead, each checked against its
md5 (torchvision's): the same values either way. Where ``data_dir / "cifar10"`` holds neither, they
are read in place from ``data_dir`` itself, where ``torchvision.datasets.CIFAR10(data_dir)`` keeps
them (checked the same way, never written: a download still goes into ``data_dir / "cifar10"``).
Each batch is a pickled dict with ``b"data"`` (N x 3072 uint8, channel-major 32 x 32 planes) and
``b"labels"``; ``data_batch_1..5`` form the 50000-image train split, ``test_batch`` the test split.
The images are held as read, uint8 N x 3 x 32 x 32 (:class:`genbench.data.base.Dataset`'s stored
form); ``load`` gives them as float32 in [-1, 1].
"""

from __future__ import annotations

import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from genbench.data.base import Dataset, Split
from genbench.data.download import (
    FIX_CORRUPT,
    check_digest,
    corrupt,
    drop_part_of,
    ensure_files,
    torchvision_fix,
)
from genbench.errors import DataError
from genbench.registry import register_dataset

ARCHIVE = "cifar-10-python.tar.gz"
#: {filename: md5} (tests monkeypatch it for archives they write themselves)
RESOURCES: dict[str, str | None] = {ARCHIVE: "c58f30108f718f92721af3b95e74349a"}
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
#: {batch: md5} of the files the archive holds, for its extracted folder (torchvision.datasets.CIFAR10's
#: train_list and test_list; tests monkeypatch it for batches they write themselves)
BATCH_MD5: dict[str, str | None] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}


NUM_CLASSES = 10  # the official labels are 0-9 (batches.meta's label_names)
#: the folder CIFAR-100's archive (``cifar-100-python.tar.gz``, same server) holds in CIFAR-10's place
CIFAR100_FOLDER = "cifar-100-python"


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
    return _stacked([(archive, n, found[n]) for n in names])


def read_batch_files(folder: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_batches` of the archive's extracted ``folder`` (``cifar-10-batches-py``)."""
    batches = []
    for n in names:
        path = folder / n
        try:
            with open(path, "rb") as fh:
                # the official format is a pickle; the file's md5 was verified before this
                batches.append((path, n, pickle.load(fh, encoding="bytes")))
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            raise corrupt(path, f"{type(e).__name__}: {e}") from None
    return _stacked(batches)


def _stacked(batches: list[tuple[Path, str, object]]) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of the unpickled ``(file, name, batch)`` triples, checked, in their
    order; a batch that breaks the format names its file (the archive, or the extracted batch)."""
    images, labels = [], []
    for where, n, batch in batches:
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise corrupt(where, f"{n} has no data/labels")
        data = np.asarray(batch[b"data"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise corrupt(where, f"{n} holds {data.dtype} {data.shape}, expected uint8 N x 3072")
        lab = np.asarray(batch[b"labels"])  # not cast yet: strings raised, floats were truncated
        if lab.shape != (len(data),):
            raise corrupt(where, f"{n} has {lab.shape} labels for {len(data)} images")
        if lab.dtype.kind not in "iu" or (len(lab) and (lab.min() < 0 or lab.max() >= NUM_CLASSES)):
            raise corrupt(where, f"{n} has labels other than class ids 0-{NUM_CLASSES - 1}")
        lab = lab.astype(np.int64)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def _holds(directory: Path) -> bool:
    """Whether ``directory`` holds the archive or its whole extracted folder."""
    return (directory / ARCHIVE).exists() or all((directory / FOLDER / n).is_file() for n in BATCH_MD5)


def _refuse_cifar100(archive: Path) -> None:
    """Said where the archive's md5 check failed: CIFAR-100's archive under CIFAR-10's name, whose
    "corrupt; delete it and download it again" sent the user back to the same wrong file. Told by
    the archive's first member alone (one gzip block): the archive is not hashed twice."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            first = tar.next()
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        return  # absent, or no tar at all: the md5's error stands
    if first is not None and first.name.split("/")[0] == CIFAR100_FOLDER:
        raise DataError(
            f"{archive} is CIFAR-100's archive (it holds {CIFAR100_FOLDER}/), not CIFAR-10's; rename it to "
            f"{CIFAR100_FOLDER}.tar.gz and retry to download CIFAR-10's (from {MIRRORS[0]}{ARCHIVE})"
        ) from None


def _lacks(folder: Path) -> str:
    """The batch files an extracted ``folder`` that is there lacks, comma-separated ("" if none)."""
    return ", ".join(n for n in BATCH_MD5 if not (folder / n).is_file()) if folder.is_dir() else ""


def _refuse_the_batches_folder(data_dir: Path) -> None:
    """``--data-dir .../cifar-10-batches-py``, the extracted folder itself rather than the folder that
    holds it: its batches were not looked for there, and the error said to download the archive (or
    online, downloaded it) into ``cifar-10-batches-py/cifar10/``."""
    if any((data_dir / n).is_file() for n in BATCH_MD5):
        raise DataError(
            f"{data_dir} is CIFAR-10's extracted {FOLDER}/ itself; point --data-dir / GENBENCH_DATA at "
            f"the folder that holds it ({data_dir.parent})"
        )


@register_dataset("cifar10")
class CIFAR10(Dataset):
    """CIFAR-10: 50000 train / 10000 test colour images, 32 x 32, 10 classes.

    Mode labels of *samples* are not available (no in-tree CIFAR classifier is accurate enough to
    count modes), so ``label_modes`` returns None and the mode diagnostics skip CIFAR-10.
    """

    kind = "image"
    default_features = "inception"
    num_modes = NUM_CLASSES
    example_shape = (3, 32, 32)
    split_sizes = {"train": 50000, "test": 10000}  # five batches of 10000, and one (md5-checked)
    downloads = True
    description = "CIFAR-10, 32x32 colour, 50k/10k, downloaded (python format)"

    @classmethod
    def data_folders(cls, data_dir: Path) -> tuple[Path, ...]:
        # as _load reads them: genbench's own folder, where a download goes, then torchvision's root
        return (data_dir / "cifar10", data_dir)

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        # data_folders, which `genbench list datasets cifar10` shows: genbench's own, then torchvision's
        directory, root = self.data_folders(self.data_dir)
        # torchvision.datasets.CIFAR10(root) keeps the archive and its extracted folder in root itself
        # (clean-fid's and torch-fidelity's users hold them there): where genbench's folder has
        # neither, they are read in place, checked as ours are, and never written (that folder is its)
        where = root if not _holds(directory) and _holds(root) else directory
        fix = torchvision_fix("cifar10", directory) if where != directory else FIX_CORRUPT
        extracted = where / FOLDER
        if not (where / ARCHIVE).exists() and all((extracted / n).is_file() for n in BATCH_MD5):
            # the archive unpacked and gone (torchvision's root, `tar xzf`): it was downloaded again,
            # and offline a re-packed archive was refused as corrupt (another md5), so not usable at all
            for n in BATCHES[split]:
                check_digest(extracted / n, BATCH_MD5[n], fix)
            images, labels = read_batch_files(extracted, BATCHES[split])
            # a download of the archive cut off before the folder was put in: never resumed now
            drop_part_of(directory / ARCHIVE)
        elif where != directory:  # torchvision's archive, read in place (not handed to ensure_files)
            try:
                check_digest(where / ARCHIVE, RESOURCES[ARCHIVE], fix)
            except DataError:
                _refuse_cifar100(where / ARCHIVE)
                raise
            images, labels = read_batches(where / ARCHIVE, BATCHES[split])
            drop_part_of(directory / ARCHIVE)
        else:
            # a folder that is there but incomplete (a batch deleted as its md5 error said) is named
            # with what it lacks, genbench's and torchvision's alike: "put ... or its extracted
            # folder" was said to a user who had one, or "torchvision's root" to one who had it there
            _refuse_the_batches_folder(self.data_dir)
            lacks, their_lacks = _lacks(extracted), _lacks(root / FOLDER)
            instead = f"its extracted {FOLDER}/" + (f", which lacks {lacks}" if lacks else "")
            try:
                paths = ensure_files(
                    "cifar10",
                    directory,
                    RESOURCES,
                    MIRRORS,
                    instead=instead,
                    elsewhere=root,
                    elsewhere_lacks=f", whose {FOLDER}/ lacks {their_lacks}" if their_lacks else "",
                )
            except DataError:
                _refuse_cifar100(directory / ARCHIVE)
                raise
            images, labels = read_batches(paths[ARCHIVE], BATCHES[split])
        # held as uint8, a quarter of float32's memory (154 MB for the train split, not 614): load
        # converts it to the very floats `v / 127.5 - 1` gave, and the digest is the float split's
        return torch.from_numpy(images), torch.from_numpy(labels)
