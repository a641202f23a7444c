"""MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao et al. 2017), from their official IDX files.

The four ``*-idx?-ubyte.gz`` files are downloaded on first use into ``data_dir / <name>`` and
checked against the md5 sums torchvision uses. Where a ``.gz`` is absent but the file is there
un-gzipped (``train-images-idx3-ubyte``, as ``gunzip``, some mirrors and torchvision's
``MNIST/raw/`` hold it), that is read instead, checked against the md5 of its un-gzipped bytes:
the same values either way. Where ``data_dir / <name>`` lacks any, they are read in place from
``data_dir / "MNIST" / "raw"`` (``"FashionMNIST"``), where ``torchvision.datasets.MNIST(data_dir)``
keeps them (checked the same way, never written: a download still goes into ``data_dir / <name>``),
or where that lacks any, from the ``processed/training.pt`` and ``test.pt`` torchvision < 0.9 kept
beside it: loaded with ``weights_only``, their tensors give back the raw files byte for byte, which
are checked against the same md5s and parsed as the raw files are.
The IDX parser is written here (it is twenty lines) so that we depend on neither torchvision's
dataset classes nor their on-disk cache layout (read where it is there, never needed). The images
are held as read, uint8 N x 1 x 28 x 28 (:class:`genbench.data.base.Dataset`'s stored form); ``load``
gives them as float32 in [-1, 1].
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
import warnings
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from genbench.data import digest
from genbench.data.base import Dataset, Split
from genbench.data.download import (
    check_digest,
    corrupt,
    drop_part_of,
    ensure_files,
    file_hexdigest,
    torchvision_fix,
)
from genbench.errors import DataError
from genbench.registry import register_dataset

#: {dataset: {filename: md5}}; the reference is torchvision.datasets.mnist (tests monkeypatch it)
RESOURCES: dict[str, dict[str, str | None]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

#: {dataset: {filename: md5}} of the same files un-gzipped (gunzip's output; torchvision lists only
#: the .gz files' md5s, and public scripts list these, MNIST's beside the files' sizes,
#: 47040016 bytes for the train images; not computed here, where nothing downloads, so a mismatch
#: says "corrupt" as a bad ``.gz`` does), read where the ``.gz`` is absent: gzipped again, a
#: file has another md5 (gzip's header holds a date and a name), so a user who had only these could
#: not make the file the offline error asked for (tests monkeypatch it)
RAW_MD5: dict[str, dict[str, str | None]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

MIRRORS: dict[str, list[str]] = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); data is big-endian
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Parse a (gzipped) IDX file: magic 0x0000 <type> <ndim>, ndim big-endian uint32 sizes, data."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError, zlib.error) as e:
        raise corrupt(path, f"not a readable gzip file: {e}") from None
    return parse_idx(data, path)


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """:func:`read_idx` of the file's bytes (un-gzipped); ``path`` names it in errors."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise corrupt(path, "bad IDX magic number")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise corrupt(path, "truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: np.prod wrapped 2**31 x 2**31 x 4 to 0
    if len(data) - header != expected:
        raise corrupt(path, f"IDX header promises {shape} but holds {len(data) - header} bytes of data")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


#: {split: file} of torchvision < 0.9's ``MNIST(root)``, which kept ``torch.save((images, labels))``
#: (uint8 N x 28 x 28, int64 N) in ``root/MNIST/processed/``, beside or without the raw files
PROCESSED = {"train": "training.pt", "test": "test.pt"}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX file of a uint8 ``array``: magic 0x0000 0x08 <ndim>, big-endian uint32 sizes, the bytes.
    MNIST's raw files are these byte for byte (train images: 16 + 60000 * 784 = 47040016 bytes)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def read_processed(
    path: Path, names: tuple[str, str], expected: dict[str, str | None], fix: str
) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of torchvision < 0.9's ``processed/training.pt`` (``test.pt``), as the raw
    files ``names`` (images, labels) hold them, and verified as strictly: the file is loaded with
    ``weights_only`` (tensors and tuples: nothing else is unpickled), the two IDX files are rebuilt
    from its tensors (:func:`idx_bytes`) and checked against ``expected`` ({raw name: md5}), so a
    value changed anywhere is refused as in a raw file, and parsed by :func:`parse_idx` as they are."""
    try:
        with warnings.catch_warnings():  # its "pickle protocol 4" warning on a pickle not torch's
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as e:
        # weights_only's refusal is a page of advice on unpickling it anyway: never taken here
        raise corrupt(path, f"not a torch.save file of tensors alone: {type(e).__name__}") from None
    if not (
        isinstance(obj, tuple | list) and len(obj) == 2 and all(isinstance(t, torch.Tensor) for t in obj)
    ):
        raise corrupt(path, "expected torch.save((images, labels)), two tensors")
    images, labels = obj
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise corrupt(path, f"expected uint8 N x H x W images, got {images.dtype} {tuple(images.shape)}")
    lab = labels.contiguous().numpy()
    # checked before the cast to the raw file's uint8: a label 259 would wrap to 3 and match its md5
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise corrupt(path, f"expected integer labels, got {labels.dtype}")
    if lab.ndim != 1 or (len(lab) and (lab.min() < 0 or lab.max() > 255)):
        raise corrupt(path, f"expected labels 0-255, one per image, got {labels.dtype} {lab.shape}")
    rebuilt = {
        names[0]: idx_bytes(images.contiguous().numpy()),
        names[1]: idx_bytes(lab.astype(np.uint8)),
    }
    for (name, data), what in zip(rebuilt.items(), ("images", "labels"), strict=True):
        want = expected[name]
        if want is None:
            continue
        h = digest.new(want)
        h.update(data)
        if not digest.matches(want, h.hexdigest()):
            algorithm, value = digest.split(want)
            raise DataError(
                f"{path} is corrupt (its {what} as {name}: {algorithm} {h.hexdigest()}, expected {value}); {fix}"
            )
    return parse_idx(rebuilt[names[0]], path), parse_idx(rebuilt[names[1]], path)


class _IDXDataset(Dataset):
    """28 x 28 grey images with 10 classes in the IDX format (MNIST and Fashion-MNIST)."""

    kind = "image"
    default_features = "classifier"
    num_modes = 10
    classifier_labels_modes = True
    example_shape = (1, 28, 28)
    split_sizes = {"train": 60000, "test": 10000}  # the md5-checked files'
    downloads = True
    source: ClassVar[str] = ""  # key of RESOURCES / MIRRORS
    torchvision: ClassVar[str] = ""  # torchvision's class name, its folder under its root

    @classmethod
    def data_folders(cls, data_dir: Path) -> tuple[Path, ...]:
        # as _load reads them: genbench's own folder, where a download goes, then torchvision's
        # raw/, then the processed/ of torchvision < 0.9
        theirs = data_dir / cls.torchvision
        return (data_dir / cls.source, theirs / "raw", theirs / "processed")

    def _files(self, directory: Path) -> dict[str, str | None]:
        """{name: md5} of the files to read from ``directory``: each ``.gz``, or where it is absent
        and the file is there un-gzipped (as torchvision's ``MNIST/raw/`` holds it), that."""
        files: dict[str, str | None] = {}
        for gz, md5 in RESOURCES[self.source].items():
            raw = gz.removesuffix(".gz")
            if not (directory / gz).exists() and (directory / raw).is_file():
                files[raw] = RAW_MD5[self.source][raw]
            else:
                files[gz] = md5
        return files

    def _lacks(self, raw: Path, processed: Path) -> str:
        """What torchvision's ``raw/`` and the ``processed/`` beside it lack, for the offline error
        (``ensure_files``' ``elsewhere_lacks``), where either holds part of its files: each is read
        only whole, and "or torchvision's root/MNIST/raw" was said to a user who had them there.
        A folder holding none of its files, or none at all, is not named (the error lists the files)."""
        # each file gzipped or not, as _load reads it: named once, "train-images-idx3-ubyte[.gz]"
        raw_lacks = [n.removesuffix(".gz") + "[.gz]" for n in self._files(raw) if not (raw / n).is_file()]
        pt_lacks = [n for n in PROCESSED.values() if not (processed / n).is_file()]
        said = (
            f", which lacks {', '.join(raw_lacks)}"
            if 0 < len(raw_lacks) < len(RESOURCES[self.source])
            else ""
        )
        if 0 < len(pt_lacks) < len(PROCESSED):  # one of two: with both it is read, with none not named
            said += f", beside a processed/ that lacks {', '.join(pt_lacks)}"
        return said

    def _refuse_a_files_folder(self) -> None:
        """``--data-dir`` given as a folder of the files themselves (torchvision's ``MNIST/raw/``, its
        ``MNIST/``, genbench's own ``mnist/``) rather than the folder that holds it: the files were
        not looked for there, and the error said to put them (online, downloaded them) into a
        folder inside it. Called only where none of the folders read holds them whole."""
        d = self.data_dir
        holds = any(
            (d / gz).is_file() or (d / gz.removesuffix(".gz")).is_file() for gz in RESOURCES[self.source]
        )
        if d.name == self.torchvision and ((d / "raw").is_dir() or (d / "processed").is_dir()):
            what, above = f"torchvision's {self.torchvision}/", d.parent
        elif holds and d.name == "raw" and d.parent.name == self.torchvision:
            what, above = f"torchvision's {self.torchvision}/raw/", d.parent.parent
        elif holds and d.name == self.source:
            what, above = f"genbench's {self.source}/", d.parent
        elif holds:  # files named as this dataset's, in a folder of another name
            raise DataError(
                f"{d} holds {self.name}'s files itself; they are read from the folder {self.source}/ "
                f"(or torchvision's {self.torchvision}/raw/) inside --data-dir / GENBENCH_DATA: move "
                f"them into {d / self.source}"
            )
        else:
            return
        raise DataError(
            f"{d} is {what} itself; point --data-dir / GENBENCH_DATA at the folder that holds it ({above})"
        )

    def _check_not_renamed(self, directory: Path) -> None:
        """Refuse a ``.gz`` in ``directory`` that holds the file un-gzipped (a browser that un-gzips
        downloads keeps the name): its md5 is not the ``.gz``'s, so it was said to be corrupt, to
        delete and download again, where renaming it is the fix. Only a file that is no gzip at all
        (its first two bytes) is hashed here."""
        for gz in RESOURCES[self.source]:
            path, raw = directory / gz, gz.removesuffix(".gz")
            if not path.is_file():
                continue
            with open(path, "rb") as fh:
                if fh.read(2) == b"\x1f\x8b":
                    continue
            if file_hexdigest(path) == RAW_MD5[self.source][raw]:
                raise DataError(
                    f"{path} holds {raw} un-gzipped under the .gz name (as a browser that un-gzips a "
                    f"download saves it); rename it to {raw}"
                )

    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        # data_folders, which `genbench list datasets` shows: genbench's own, torchvision's raw/ and
        # the processed/ of torchvision < 0.9
        directory, theirs, processed = self.data_folders(self.data_dir)
        self._check_not_renamed(directory)
        # torchvision.datasets.MNIST(root) keeps the files in root/MNIST/raw/, both gzipped and not
        # (clean-fid's and torch-fidelity's users hold them there): where genbench's folder lacks
        # any, they are read in place, checked as ours are, and never written (that folder is its)
        files, their_files = self._files(directory), self._files(theirs)
        ours_whole = all((directory / n).is_file() for n in files)
        # torchvision < 0.9 kept them converted too, in root/MNIST/processed/{training,test}.pt (and
        # deleted the .gz): read where neither folder is whole, verified as the raw files they rebuild
        paths: dict[str, Path] = {}
        if not ours_whole and all((theirs / n).is_file() for n in their_files):
            paths = {name: theirs / name for name in their_files}
            for name, md5 in their_files.items():
                check_digest(paths[name], md5, torchvision_fix(self.source, directory))
        elif ours_whole or not all((processed / n).is_file() for n in PROCESSED.values()):
            if not ours_whole:
                self._refuse_a_files_folder()
            paths = ensure_files(
                self.source,
                directory,
                files,
                MIRRORS[self.source],
                instead="the same un-gzipped, without .gz",
                elsewhere=theirs,
                elsewhere_lacks=self._lacks(theirs, processed),
            )
        for gz in RESOURCES[self.source]:
            # read un-gzipped or from torchvision's folder: a cut-off download of the .gz is never resumed now
            if paths.get(gz) != directory / gz:
                drop_part_of(directory / gz)
        prefix = "train" if split == "train" else "t10k"
        names = (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz")
        if paths:
            img_path, lab_path = (paths.get(name) or paths[name.removesuffix(".gz")] for name in names)
            images, labels = read_idx(img_path), read_idx(lab_path)
        else:  # torchvision's processed/ (the raw files' checks and parser, on the bytes it rebuilds)
            img_path = lab_path = processed / PROCESSED[split]
            raw = (names[0].removesuffix(".gz"), names[1].removesuffix(".gz"))
            fix = torchvision_fix(self.source, directory)
            images, labels = read_processed(img_path, raw, RAW_MD5[self.source], fix)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise corrupt(img_path, f"expected uint8 N x H x W images, got {images.dtype} {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise corrupt(lab_path, f"expected {len(images)} labels, got shape {labels.shape}")
        if labels.dtype != np.uint8 or (len(labels) and labels.max() >= self.num_modes):
            # float labels became int64 garbage (NaN: -2**63), and 200 passed for 10 classes
            raise corrupt(lab_path, f"expected uint8 class ids below {self.num_modes}, got {labels.dtype}")
        # held as uint8, a quarter of float32's memory: load converts it to the floats `v / 127.5 - 1`
        return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


@register_dataset("mnist")
class MNIST(_IDXDataset):
    """MNIST handwritten digits (LeCun et al. 1998): 60000 train / 10000 test, 28 x 28 grey."""

    description = "MNIST digits, 28x28 grey, 60k/10k, downloaded (IDX format)"
    source = "mnist"
    torchvision = "MNIST"


@register_dataset("fashion-mnist")
class FashionMNIST(_IDXDataset):
    """Fashion-MNIST (Xiao et al. 2017): 60000 train / 10000 test, 28 x 28 grey, 10 clothing classes."""

    description = "Fashion-MNIST, 28x28 grey, 60k/10k, downloaded (IDX format)"
    source = "fashion-mnist"
    torchvision = "FashionMNIST"
