"""Datasets: embedded sets (shapes, ranges, splits, determinism), the IDX and CIFAR parsers on files
written here, checksums, the offline message, and loading user samples (.npz and image folders).

No test touches the network: an autouse fixture makes every download attempt fail as offline.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genbench import registry
from genbench.api import DataSpec
from genbench.data import cifar10, download, mnist
from genbench.data.cifar10 import CIFAR10
from genbench.data.digits import Digits, _split_indices
from genbench.data.folder import as_samples, load_samples
from genbench.data.mnist import MNIST, FashionMNIST, read_idx
from genbench.data.stacked_digits import StackedDigits
from genbench.data.toy2d import Grid25, Ring8
from genbench.errors import DataError, GenbenchError

#: the real network call, before :func:`offline` replaces it
REAL_OPEN_URL = download._open_url


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Every download attempt behaves as on a machine without network."""

    def refuse(url):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(download, "_open_url", refuse)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# -- embedded datasets -------------------------------------------------------------------------
def test_registered_names_resolve_to_these_classes():
    expected = {
        "digits": Digits,
        "stacked-digits": StackedDigits,
        "ring8": Ring8,
        "grid25": Grid25,
        "mnist": MNIST,
        "fashion-mnist": FashionMNIST,
        "cifar10": CIFAR10,
    }
    for name, cls in expected.items():
        assert registry.datasets.get(name) is cls
        assert cls.registered_name == name


def test_digits_shapes_range_split(tmp_path):
    from sklearn.datasets import load_digits

    ds = Digits(data_dir=tmp_path, cache_dir=tmp_path)
    (x, y), (xt, yt) = ds.load("train"), ds.load("test")
    assert x.shape == (1437, 1, 8, 8) and xt.shape == (360, 1, 8, 8)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0  # 0 -> -1, 16 -> 1
    # the split partitions the 1797 images, stratified: every class keeps its 80/20 share
    idx = _split_indices()
    assert len(np.intersect1d(idx["train"], idx["test"])) == 0
    assert len(idx["train"]) + len(idx["test"]) == 1797
    ref = load_digits()
    np.testing.assert_array_equal(x[:, 0].numpy(), ref.images[idx["train"]] / 8 - 1)
    np.testing.assert_array_equal(yt.numpy(), ref.target[idx["test"]])
    for c in range(10):
        share = float((yt == c).sum()) / float((ref.target == c).sum())
        assert abs(share - 0.2) < 0.02
    spec = ds.spec
    assert spec.shape == (1, 8, 8) and spec.num_modes == 10 and spec.value_range == (-1.0, 1.0)
    assert ds.default_features == "classifier"
    # deterministic: a second instance gives identical data and fingerprint
    other = Digits(data_dir=tmp_path, cache_dir=tmp_path)
    assert torch.equal(other.load("train")[0], x) and other.fingerprint() == ds.fingerprint()


def test_the_fingerprint_results_record_covers_every_value_and_the_labels(tmp_path):
    """It hashed the first 256 rows of each split, so data that differed past them (or only in its
    labels, which the classifier and the mode counts use) shared a protocol."""
    from genbench.data.base import Dataset

    class Points(Dataset):
        kind, default_features = "points", "raw"
        name = "test-points"

        def __init__(self, change: str = "", **kwargs):
            super().__init__(**kwargs)
            self.change = change

        def _load(self, split):
            x = torch.from_numpy(np.random.default_rng(0).standard_normal((400, 2)).astype(np.float32))
            y = torch.arange(400) % 4
            if split == "test" and self.change == "row":
                x[399, 1] += 1e-3
            if split == "train" and self.change == "label":
                y[300] = (y[300] + 1) % 4
            return x, y

    prints = {c: Points(c, data_dir=tmp_path, cache_dir=tmp_path).fingerprint() for c in ("", "row", "label")}
    assert len(set(prints.values())) == 3, prints
    assert Points(data_dir=tmp_path, cache_dir=tmp_path).fingerprint() == prints[""]  # and stable


def test_stacked_digits_construction(tmp_path):
    ds = StackedDigits(data_dir=tmp_path, cache_dir=tmp_path)
    (x, y), (xt, yt) = ds.load("train"), ds.load("test")
    assert x.shape == (10_000, 3, 8, 8) and xt.shape == (2_000, 3, 8, 8)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert ds.num_modes == 1000 and 0 <= int(y.min()) and int(y.max()) < 1000
    assert len(torch.unique(y)) > 990  # 10 draws per mode on average: nearly every mode present
    # each channel is a digit of the same split, and the label is 100 a + 10 b + c
    for split, (xs, ys) in {"train": (x, y), "test": (xt, yt)}.items():
        dx, dy = Digits(cache_dir=tmp_path).load(split)
        lookup: dict[bytes, set[int]] = {}
        for img, lab in zip(dx[:, 0].numpy(), dy.numpy(), strict=True):
            lookup.setdefault(img.tobytes(), set()).add(int(lab))
        for i in range(0, len(xs), 97):
            labels = [lookup[xs[i, c].numpy().tobytes()] for c in range(3)]
            assert any(
                100 * a + 10 * b + c == int(ys[i]) for a in labels[0] for b in labels[1] for c in labels[2]
            )
    again = StackedDigits(data_dir=tmp_path, cache_dir=tmp_path)
    assert torch.equal(again.load("train")[0], x) and torch.equal(again.load("test")[1], yt)


@pytest.mark.parametrize("cls, k, std", [(Ring8, 8, 0.01), (Grid25, 25, 0.05)])
def test_toy2d(cls, k, std, tmp_path):
    ds = cls(data_dir=tmp_path, cache_dir=tmp_path)
    (x, y), (xt, yt) = ds.load("train"), ds.load("test")
    assert ds.kind == "points" and ds.default_features == "raw" and ds.num_modes == k
    assert x.shape == (10_000, 2) and xt.shape == (2_000, 2) and x.dtype == torch.float32
    assert ds.means.shape == (k, 2) and ds.std == std and ds.spec.shape == (2,)
    # every point lies near its own component's mean, with the declared spread
    resid = x.numpy() - ds.means[y.numpy()]
    assert abs(resid.std() / std - 1) < 0.05
    np.testing.assert_array_equal(ds.label_modes(x), y.numpy())
    np.testing.assert_array_equal(ds.label_modes(xt), yt.numpy())
    assert set(np.unique(y.numpy())) == set(range(k))
    assert not torch.equal(x[:2000], xt)  # different seeds per split
    assert torch.equal(cls(cache_dir=tmp_path).load("train")[0], x)


def test_toy2d_means():
    np.testing.assert_allclose(np.linalg.norm(Ring8.means, axis=1), 1.0)
    assert sorted({tuple(m) for m in Grid25.means.tolist()}) == sorted(
        (float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)
    )


def test_unknown_split(tmp_path):
    with pytest.raises(GenbenchError, match="unknown split"):
        Digits(cache_dir=tmp_path).load("validation")


# -- IDX (MNIST, Fashion-MNIST) -----------------------------------------------------------------
def write_idx(path: Path, arr: np.ndarray, code: int) -> None:
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(arr.dtype.newbyteorder(">")).tobytes())


def write_mnist(directory: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}-images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}-labels"] = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", arrays[f"{prefix}-images"], 0x08)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", arrays[f"{prefix}-labels"], 0x08)
    return arrays


@pytest.mark.parametrize("cls, source", [(MNIST, "mnist"), (FashionMNIST, "fashion-mnist")])
def test_idx_dataset_parses_files(cls, source, tmp_path, monkeypatch):
    arrays = write_mnist(tmp_path / source)
    monkeypatch.setitem(mnist.RESOURCES, source, {f.name: md5(f) for f in (tmp_path / source).iterdir()})
    ds = cls(data_dir=tmp_path, cache_dir=tmp_path)
    (x, y), (xt, yt) = ds.load("train"), ds.load("test")
    assert x.shape == (6, 1, 28, 28) and xt.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    np.testing.assert_allclose(x[:, 0].numpy(), arrays["train-images"] / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(yt.numpy(), arrays["t10k-labels"])
    assert y.dtype == torch.int64 and ds.spec.shape == (1, 28, 28)


@pytest.mark.parametrize("cls, source", [(MNIST, "mnist"), (FashionMNIST, "fashion-mnist")])
def test_idx_files_un_gzipped_are_read_in_place_of_the_gz(cls, source, tmp_path, monkeypatch):
    """The files un-gzipped (``gunzip``, a mirror's copy, torchvision's ``MNIST/raw/``) were not
    looked at: offline the error asked for the ``.gz``, which gzipped again has another md5 (gzip's
    header holds a date) and was refused as corrupt. Each is read, checked against its own md5, to
    the values and fingerprint of the ``.gz``. Fails on the old ``_load``, which asked only for ``.gz``."""
    packed = tmp_path / "packed" / source
    write_mnist(packed)
    monkeypatch.setitem(mnist.RESOURCES, source, {f.name: md5(f) for f in packed.iterdir()})
    unpacked = tmp_path / "unpacked" / source
    unpacked.mkdir(parents=True)
    for f in packed.iterdir():
        (unpacked / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    raw = {f.name: md5(f) for f in unpacked.iterdir()}
    # raising=False: on the old code (no such table) the test fails at the load, its behaviour
    monkeypatch.setattr(mnist, "RAW_MD5", {**getattr(mnist, "RAW_MD5", {}), source: raw}, raising=False)
    (unpacked / "t10k-labels-idx1-ubyte").unlink()  # one of them gzipped (the original): mixed is fine
    (unpacked / "t10k-labels-idx1-ubyte.gz").write_bytes((packed / "t10k-labels-idx1-ubyte.gz").read_bytes())
    ds, original = (
        cls(data_dir=tmp_path / "unpacked", cache_dir=tmp_path),
        cls(data_dir=tmp_path / "packed", cache_dir=tmp_path),
    )
    for split in ("train", "test"):
        (x, y), (xp, yp) = ds.load(split), original.load(split)
        assert torch.equal(x, xp) and torch.equal(y, yp)
    assert ds.fingerprint() == original.fingerprint()
    with open(unpacked / "train-labels-idx1-ubyte", "ab") as fh:  # changed since: refused, as a .gz is
        fh.write(b"\0")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is corrupt \(md5 .*\); delete it"):
        cls(data_dir=tmp_path / "unpacked", cache_dir=tmp_path).load("train")
    (unpacked / "train-labels-idx1-ubyte").unlink()  # deleted as told: offline, both names are given
    with pytest.raises(
        DataError, match=r"put train-labels-idx1-ubyte.gz \(or the same un-gzipped, without .gz\) into"
    ):
        cls(data_dir=tmp_path / "unpacked", cache_dir=tmp_path).load("train")


@pytest.mark.parametrize("cls, source", [(MNIST, "mnist"), (FashionMNIST, "fashion-mnist")])
def test_an_idx_file_un_gzipped_under_the_gz_name_is_told_to_be_renamed(cls, source, tmp_path, monkeypatch):
    """A browser that un-gzips a download keeps the ``.gz`` name: the file's md5 is the un-gzipped
    one, so it was "corrupt; delete it and retry to download it again", where renaming is the fix
    (mnist._IDXDataset._check_not_renamed)."""
    folder = tmp_path / source
    write_mnist(folder)
    monkeypatch.setitem(mnist.RESOURCES, source, {f.name: md5(f) for f in folder.iterdir()})
    gz = folder / "train-images-idx3-ubyte.gz"
    plain = gzip.decompress(gz.read_bytes())
    raw = {
        f.name.removesuffix(".gz"): hashlib.md5(gzip.decompress(f.read_bytes())).hexdigest()
        for f in folder.iterdir()
    }
    monkeypatch.setitem(mnist.RAW_MD5, source, raw)
    ds = cls(data_dir=tmp_path, cache_dir=tmp_path)
    expected = ds.load("train")
    gz.write_bytes(plain)
    with pytest.raises(
        DataError,
        match=rf"{gz} holds train-images-idx3-ubyte un-gzipped under the .gz name .*; rename it to "
        "train-images-idx3-ubyte$",
    ):
        cls(data_dir=tmp_path, cache_dir=tmp_path).load("train")
    gz.rename(folder / "train-images-idx3-ubyte")  # as told: read, to the same values
    (x, y), (xe, ye) = cls(data_dir=tmp_path, cache_dir=tmp_path).load("train"), expected
    assert torch.equal(x, xe) and torch.equal(y, ye)
    gz.write_bytes(plain + b"\0")  # no gzip, nor the file un-gzipped: corrupt, as before
    with pytest.raises(DataError, match="is corrupt .*delete it and retry"):
        cls(data_dir=tmp_path, cache_dir=tmp_path).load("train")


def _untouched(folder: Path, skip: str = "") -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (but ``skip/``) with its bytes and mtime: torchvision's folder
    must read the same after a load (genbench never writes it)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not (skip and p.relative_to(folder).parts[0] == skip)
    }


@pytest.mark.parametrize(
    "cls, source, theirs", [(MNIST, "mnist", "MNIST"), (FashionMNIST, "fashion-mnist", "FashionMNIST")]
)
def test_idx_files_are_read_in_place_from_torchvision_s_raw_folder(
    cls, source, theirs, tmp_path, monkeypatch
):
    """``torchvision.datasets.MNIST(root)`` keeps the files in ``root/MNIST/raw/``, gzipped and not:
    with ``--data-dir root`` they were downloaded again (offline: "put them into root/mnist").
    They are read there, each checked, to the values and fingerprint of genbench's own folder, and
    that folder is left as it was. Fails on the old ``_load``, which looked only in ``root/<name>/``."""
    packed = tmp_path / "packed" / source
    write_mnist(packed)
    monkeypatch.setitem(mnist.RESOURCES, source, {f.name: md5(f) for f in packed.iterdir()})
    raw = tmp_path / "tv" / theirs / "raw"
    raw.mkdir(parents=True)
    for f in packed.iterdir():  # as torchvision leaves it: each .gz and the file un-gzipped
        (raw / f.name).write_bytes(f.read_bytes())
        (raw / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    monkeypatch.setitem(mnist.RAW_MD5, source, {f.name: md5(f) for f in raw.iterdir() if f.suffix != ".gz"})
    (raw / "train-images-idx3-ubyte.gz").unlink()  # one un-gzipped only: read as in genbench's folder
    before = _untouched(tmp_path / "tv")
    ds = cls(data_dir=tmp_path / "tv", cache_dir=tmp_path)
    original = cls(data_dir=tmp_path / "packed", cache_dir=tmp_path)
    for split in ("train", "test"):
        (x, y), (xp, yp) = ds.load(split), original.load(split)
        assert torch.equal(x, xp) and torch.equal(y, yp)
    assert ds.fingerprint() == original.fingerprint()
    assert _untouched(tmp_path / "tv") == before and not (tmp_path / "tv" / source).exists()
    with open(raw / "train-labels-idx1-ubyte.gz", "ab") as fh:  # corrupt: named, with the fix
        fh.write(b"\0")
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    msg, mine = str(e.value), tmp_path / "tv" / source
    assert msg.startswith(f"{raw / 'train-labels-idx1-ubyte.gz'} is corrupt (md5 ") and "\n" not in msg
    assert (
        f"delete it and retry: {source} is then read from what is left there, or downloaded into {mine}"
        in msg
    )
    for f in list(raw.iterdir()):
        if f.name.startswith("train-labels"):
            f.unlink()  # deleted as told (and its un-gzipped twin): offline, both places are named
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    # the file raw/ lacks, gzipped or not (fails on the old _load, which said "or torchvision's {raw}
    # (from" to a user who had three of the four there)
    assert f"into {mine} or torchvision's {raw}, which lacks train-labels-idx1-ubyte[.gz] (from" in str(
        e.value
    )
    held = {f.name: f.read_bytes() for f in raw.iterdir()}
    for f in raw.iterdir():  # a raw/ that holds none of them: named as before, the error lists the files
        f.unlink()
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    assert f"into {mine} or torchvision's {raw} (from" in str(e.value)
    for name, data in held.items():
        (raw / name).write_bytes(data)
    mine.mkdir(exist_ok=True)  # genbench's folder begun: the rest goes there, not into raw/
    (mine / "t10k-labels-idx1-ubyte.gz").write_bytes((packed / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    assert f"into {mine} (from" in str(e.value) and str(raw) not in str(e.value)


def test_an_idx_file_rebuilt_from_its_values_is_the_file_byte_for_byte(tmp_path):
    """What the processed/ read's check rests on: an MNIST IDX file is its header (magic 0x00000803,
    N, 28, 28 for images; 0x00000801, N for labels) and the uint8 values, nothing else, so the file
    rebuilt from the values :func:`read_idx` gives (gzipped or not) has the raw file's md5. Fails on
    the old module, which had no ``idx_bytes``."""
    arrays = write_mnist(tmp_path / "m", n_train=5)
    images = gzip.decompress((tmp_path / "m" / "train-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((tmp_path / "m" / "train-labels-idx1-ubyte.gz").read_bytes())
    assert images[:16] == struct.pack(">4I", 0x803, 5, 28, 28) and len(images) == 16 + 5 * 784
    assert labels[:8] == struct.pack(">2I", 0x801, 5) and labels[8:] == arrays["train-labels"].tobytes()
    (tmp_path / "plain").write_bytes(images)
    for path, raw in ((tmp_path / "m" / "train-images-idx3-ubyte.gz", images), (tmp_path / "plain", images)):
        assert mnist.idx_bytes(read_idx(path)) == raw
    assert mnist.idx_bytes(read_idx(tmp_path / "m" / "train-labels-idx1-ubyte.gz")) == labels


class _Unpickled:
    """A pickled object whose unpickling is seen: the processed/ read must never unpickle one."""

    made: list[int] = []

    def __reduce__(self):
        return (_Unpickled.made.append, (1,))


@pytest.mark.parametrize(
    "cls, source, theirs", [(MNIST, "mnist", "MNIST"), (FashionMNIST, "fashion-mnist", "FashionMNIST")]
)
def test_torchvision_s_old_processed_files_are_read_checked_as_the_raw_files(
    cls, source, theirs, tmp_path, monkeypatch
):
    """torchvision < 0.9 kept ``root/MNIST/processed/training.pt`` and ``test.pt``
    (``torch.save((uint8 N x 28 x 28, int64 N))``, the zip format since torch 1.6, the legacy one
    before): they were not read (offline: "put them into root/mnist"). They are, where raw/ is not
    whole, loaded with weights_only and checked through the raw files they rebuild, to the values
    and fingerprint of those files, and left as they were. Fails on the old ``_load``, at the first
    load (the offline error)."""
    packed = tmp_path / "packed" / source
    arrays = write_mnist(packed)
    # sorted: the offline error lists what raw/ lacks in this order
    monkeypatch.setitem(mnist.RESOURCES, source, {f.name: md5(f) for f in sorted(packed.iterdir())})
    raw_md5 = {
        f.name[:-3]: hashlib.md5(gzip.decompress(f.read_bytes())).hexdigest() for f in packed.iterdir()
    }
    monkeypatch.setitem(mnist.RAW_MD5, source, raw_md5)
    processed = tmp_path / "tv" / theirs / "processed"
    processed.mkdir(parents=True)
    pt = {"train": processed / "training.pt", "test": processed / "test.pt"}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = torch.from_numpy(arrays[f"{prefix}-images"])
        labels = torch.from_numpy(arrays[f"{prefix}-labels"]).long()  # as torchvision saved them
        torch.save((images, labels), pt[split], _use_new_zipfile_serialization=split == "train")
    raw = tmp_path / "tv" / theirs / "raw"
    raw.mkdir()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(
        gzip.decompress((packed / "t10k-labels-idx1-ubyte.gz").read_bytes())
    )
    before = _untouched(tmp_path / "tv")
    ds, original = (
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path),
        cls(data_dir=tmp_path / "packed", cache_dir=tmp_path),
    )
    for split in ("train", "test"):
        (x, y), (xp, yp) = ds.load(split), original.load(split)
        assert torch.equal(x, xp) and torch.equal(y, yp)
    assert ds.fingerprint() == original.fingerprint()
    assert _untouched(tmp_path / "tv") == before and not (tmp_path / "tv" / source).exists()

    def refused(split: str, images, labels) -> str:
        torch.save((images, labels), pt[split])
        with pytest.raises(DataError) as e:
            cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load(split)
        assert str(e.value).startswith(f"{pt[split]} is corrupt (") and "\n" not in str(e.value)
        return str(e.value)

    images, labels = torch.from_numpy(arrays["train-images"]), torch.from_numpy(arrays["train-labels"]).long()
    changed = images.clone()
    changed[3, 14, 14] ^= 1  # one pixel's lowest bit: the rebuilt raw file's md5 says so
    msg = refused("train", changed, labels)
    rebuilt = hashlib.md5(struct.pack(">4I", 0x803, 6, 28, 28) + changed.numpy().tobytes()).hexdigest()
    expected = raw_md5["train-images-idx3-ubyte"]
    assert f"(its images as train-images-idx3-ubyte: md5 {rebuilt}, expected {expected}); delete it" in msg
    assert f"delete it and retry: {source} is then read from what is left there" in msg
    wrapped = labels.clone()
    wrapped[0] += 256  # cast to the raw file's uint8, it would be the label again, and its md5 match
    assert "expected labels 0-255" in refused("train", images, wrapped)
    assert "expected uint8 N x H x W" in refused("train", images.long(), labels)
    torch.save((_Unpickled(), labels), pt["test"])
    with pytest.raises(DataError, match="not a torch.save file of tensors alone: UnpicklingError"):
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("test")
    assert _Unpickled.made == []  # refused, never unpickled
    pt["test"].unlink()  # processed/ no longer whole: offline, genbench's folder is asked for, as before,
    # and what raw/ and processed/ each lack (fails on the old _load, which named neither)
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    assert (
        f"into {tmp_path / 'tv' / source} or torchvision's {raw}, which lacks t10k-images-idx3-ubyte[.gz], "
        "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], beside a processed/ that lacks "
        "test.pt (from"
    ) in str(e.value) and "\n" not in str(e.value)
    shutil.rmtree(raw)  # no raw/: processed/ named alone
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    assert f"or torchvision's {raw}, beside a processed/ that lacks test.pt (from" in str(e.value)
    pt["train"].unlink()  # an empty processed/: not named, as no folder at all
    with pytest.raises(DataError) as e:
        cls(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")
    assert f"or torchvision's {raw} (from" in str(e.value)


def test_the_un_gzipped_md5s_cover_every_idx_file():
    """Every ``.gz`` of the table has its un-gzipped file's md5 (an MNIST's raw file: 32 hex digits)."""
    for source, files in mnist.RESOURCES.items():
        raw = mnist.RAW_MD5[source]
        assert sorted(raw) == sorted(n.removesuffix(".gz") for n in files)
        assert all(len(v) == 32 and int(v, 16) >= 0 for v in raw.values())
        assert not set(raw.values()) & set(files.values())


def test_read_idx_big_endian_types(tmp_path):
    arr = np.array([[1, -2, 70000], [3, 4, -5]], dtype=np.int32)
    write_idx(tmp_path / "a.gz", arr, 0x0C)
    got = read_idx(tmp_path / "a.gz")
    np.testing.assert_array_equal(got, arr)
    f = np.array([0.5, -1.25], dtype=np.float64)
    write_idx(tmp_path / "f.gz", f, 0x0E)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.gz"), f)


def test_read_idx_corrupt(tmp_path):
    bad_magic = tmp_path / "magic.gz"
    with gzip.open(bad_magic, "wb") as fh:
        fh.write(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match="corrupt.*magic.*delete it"):
        read_idx(bad_magic)
    truncated = tmp_path / "trunc.gz"
    with gzip.open(truncated, "wb") as fh:
        fh.write(struct.pack(">BBBBI", 0, 0, 8, 1, 10) + b"\x00" * 3)
    with pytest.raises(DataError, match="corrupt"):
        read_idx(truncated)
    unknown_type = tmp_path / "type.gz"  # 0x07 is no IDX type code (0x08, 0x09, 0x0B-0x0E are)
    with gzip.open(unknown_type, "wb") as fh:
        fh.write(b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"\x00" * 2)
    with pytest.raises(DataError, match="corrupt.*magic"):
        read_idx(unknown_type)
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match="corrupt"):
        read_idx(not_gzip)


def test_mnist_checksum_mismatch(tmp_path):
    write_mnist(tmp_path / "mnist")  # our random files cannot match the official md5 sums
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz is corrupt \(md5 .*delete it and retry"):
        MNIST(data_dir=tmp_path, cache_dir=tmp_path).load("train")


def test_mnist_offline_message_names_files_dir_and_url(tmp_path):
    with pytest.raises(DataError) as e:
        MNIST(data_dir=tmp_path, cache_dir=tmp_path).load("train")
    msg = str(e.value)
    assert "\n" not in msg
    for name in mnist.RESOURCES["mnist"]:
        assert name in msg
    assert str(tmp_path / "mnist") in msg and "https://ossci-datasets.s3.amazonaws.com/mnist/" in msg
    assert "--data-dir" in msg
    assert not any((tmp_path / "mnist").glob("*"))  # nothing half-written left behind


def test_download_verifies_and_writes(tmp_path, monkeypatch):
    src = tmp_path / "src"
    arrays = write_mnist(src)
    served = {f"https://mirror/{f.name}": f.read_bytes() for f in src.iterdir()}
    monkeypatch.setattr(download, "_open_url", lambda url: io.BytesIO(served[url]))
    monkeypatch.setitem(mnist.RESOURCES, "mnist", {f.name: md5(f) for f in src.iterdir()})
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["https://mirror/"])
    x, _ = MNIST(data_dir=tmp_path / "data", cache_dir=tmp_path).load("test")
    np.testing.assert_allclose(x[:, 0].numpy(), arrays["t10k-images"] / 127.5 - 1, atol=1e-6)
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == sorted(mnist.RESOURCES["mnist"])


def test_download_over_http_names_itself(tmp_path, monkeypatch):
    """The real network path (urllib, not a monkeypatched fetch) against a local HTTP server that,
    as some CDNs do, refuses urllib's default user agent with 403: genbench sent that agent, so the
    download failed on every mirror."""
    import http.server
    import threading

    src = tmp_path / "src"
    arrays = write_mnist(src)
    agents = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(src), **k)

        def do_GET(self):
            agents.append(self.headers.get("User-Agent", ""))
            if agents[-1].startswith("Python-urllib"):
                self.send_error(403)
            else:
                super().do_GET()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(download, "_open_url", REAL_OPEN_URL)  # only to this local server
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # never through a proxy an environment names
    try:
        monkeypatch.setitem(mnist.RESOURCES, "mnist", {f.name: md5(f) for f in src.iterdir()})
        monkeypatch.setitem(mnist.MIRRORS, "mnist", [f"http://127.0.0.1:{server.server_address[1]}/"])
        x, _ = MNIST(data_dir=tmp_path / "data", cache_dir=tmp_path).load("test")
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_allclose(x[:, 0].numpy(), arrays["t10k-images"] / 127.5 - 1, atol=1e-6)
    assert agents and all(a == download.USER_AGENT for a in agents)


def test_an_unwritable_data_dir_names_data_dir_not_out(tmp_path, monkeypatch):
    """The download succeeded but its temp file could not be made: the advice named --out."""
    monkeypatch.setattr(download, "_open_url", lambda url: io.BytesIO(b"x"))

    def refuse(*a, **kw):
        raise PermissionError(13, "Permission denied")  # what a read-only dir gives (root writes anywhere)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(GenbenchError) as e:
        download.ensure_files("x", tmp_path, {"f.gz": None}, ["https://mirror/"])
    assert "--data-dir" in str(e.value) and "--out" not in str(e.value)


@pytest.mark.parametrize("file_at", ["mnist", "."], ids=["dataset-folder", "data-dir"])
def test_a_file_where_the_data_folder_goes_is_named(tmp_path, file_at):
    """``<data-dir>/mnist`` (or the data dir itself) being a file said "cannot create .../mnist (File
    exists)" or "(Not a directory)", and advised a writable --data-dir, the data dir being writable."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    blocker = (data_dir / file_at).resolve()
    if file_at == ".":
        data_dir.rmdir()
    blocker.write_text("not a folder")
    with pytest.raises(DataError) as e:
        MNIST(data_dir=data_dir, cache_dir=tmp_path).load("train")
    msg = str(e.value)
    assert f"{blocker} is a file, not a directory" in msg and "--data-dir" in msg and "\n" not in msg


def test_download_with_wrong_checksum_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_open_url", lambda url: io.BytesIO(b"garbage"))
    with pytest.raises(DataError, match="checksum mismatch"):
        download.ensure_files("x", tmp_path, {"f.gz": "0" * 32}, ["https://mirror/"])
    assert not (tmp_path / "f.gz").exists()


def test_a_download_is_verified_before_it_takes_its_name(tmp_path, monkeypatch):
    """The file was renamed to its final name, then hashed: a run stopped in between left an
    unverified file that looked downloaded. No file of that name exists until its md5 matched
    (the rename is now the ``.part`` file's, :meth:`Part.finish`, not atomic_write's)."""
    from genbench.data.resume import Part

    seen = []
    real = Part.finish

    def spy(part):
        seen.append((part.dest.name, part.dest.exists(), part.path.read_bytes()))
        real(part)

    monkeypatch.setattr(Part, "finish", spy)
    monkeypatch.setattr(download, "file_hexdigest", lambda *a: pytest.fail("hashed after the rename"))
    monkeypatch.setattr(download, "_open_url", lambda url: io.BytesIO(b"payload"))
    good = hashlib.md5(b"payload").hexdigest()
    download.ensure_files("x", tmp_path, {"f.gz": good}, ["https://mirror/"])
    with pytest.raises(DataError, match="checksum mismatch"):
        download.ensure_files("x", tmp_path, {"g.gz": "0" * 32}, ["https://mirror/"])
    assert seen == [("f.gz", False, b"payload")] and (tmp_path / "f.gz").read_bytes() == b"payload"


def test_a_download_cut_off_mid_way_is_a_failed_download(tmp_path, monkeypatch):
    """A chunked response that ends early raises IncompleteRead, not an OSError: it was a traceback."""
    import http.client

    class CutOff(io.BytesIO):
        def read(self, *a):
            raise http.client.IncompleteRead(b"part", 100)

    monkeypatch.setattr(download, "_open_url", lambda url: CutOff())
    with pytest.raises(DataError, match="cannot download x .*IncompleteRead.*put f.gz into"):
        download.ensure_files("x", tmp_path, {"f.gz": None}, ["https://mirror/"])
    assert not list(tmp_path.iterdir())


def test_a_data_file_that_cannot_be_read_is_one_line(tmp_path):
    """A directory in the archive's place (or an unreadable file) was an IsADirectoryError traceback."""
    (tmp_path / "f.gz").mkdir()
    with pytest.raises(
        DataError, match=r"cannot read .*f.gz \(Is a directory\); fix its permissions, or delete"
    ):
        download.ensure_files("x", tmp_path, {"f.gz": "0" * 32}, ["https://mirror/"])


def test_a_tilde_in_data_paths_is_the_home_directory(tmp_path, monkeypatch):
    """``--data-dir=~/x`` and ``GENBENCH_DATA='~/x'`` reach genbench unexpanded; they made ./~/x."""
    from genbench.data.base import default_cache_dir, default_data_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GENBENCH_DATA", "~/data")
    monkeypatch.setenv("GENBENCH_CACHE", "~/cache")
    assert default_data_dir() == tmp_path / "data" and default_cache_dir() == tmp_path / "cache"


@pytest.mark.parametrize(
    "labels, code",
    [
        (np.array([1.7, np.nan, 2.0, 3.0], np.float32), 0x0D),
        (np.array([1, 200, 2, 3], np.uint8), 0x08),
        (np.array([1, 10, 2, 3], np.uint8), 0x08),  # one past 0-9: as wrong as 200
    ],
    ids=["float-with-nan", "past-the-classes", "the-first-past-the-classes"],
)
def test_idx_labels_must_be_class_ids(tmp_path, monkeypatch, labels, code):
    """Float labels were cast to int64 (NaN became -2**63) and 200 passed for 10 classes."""
    arrays = write_mnist(tmp_path / "mnist", n_test=4)
    write_idx(tmp_path / "mnist/t10k-labels-idx1-ubyte.gz", labels, code)
    monkeypatch.setitem(mnist.RESOURCES, "mnist", {f.name: md5(f) for f in (tmp_path / "mnist").iterdir()})
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is corrupt .*class ids below 10"):
        MNIST(data_dir=tmp_path, cache_dir=tmp_path).load("test")
    assert arrays["t10k-images"].shape == (4, 28, 28)


def test_an_idx_header_whose_size_overflows_is_corrupt(tmp_path):
    """Dimensions 2**31 x 2**31 x 4 made np.prod wrap to 0 bytes: a ValueError traceback in reshape."""
    path = tmp_path / "big-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3I", 2**31, 2**31, 4))
    with pytest.raises(DataError, match="IDX header promises"):
        mnist.read_idx(path)


# -- CIFAR-10 -----------------------------------------------------------------------------------
def write_cifar(path: Path, per_batch: int = 2, skip: str | None = None, seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    batches = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
            if name == skip:
                continue
            if name == "batches.meta":
                obj = {b"label_names": [b"airplane"] * 10}
            else:
                obj = {
                    b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                    b"labels": rng.integers(0, 10, per_batch).tolist(),
                }
                batches[name] = obj
            blob = pickle.dumps(obj)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


def test_cifar10_parses_archive(tmp_path, monkeypatch):
    archive = tmp_path / "cifar10" / cifar10.ARCHIVE
    batches = write_cifar(archive)
    monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: md5(archive)})
    ds = CIFAR10(data_dir=tmp_path, cache_dir=tmp_path)
    (x, y), (xt, yt) = ds.load("train"), ds.load("test")
    assert x.shape == (10, 3, 32, 32) and xt.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    first = batches["data_batch_1"][b"data"][0]
    # rows are channel-major planes: the first 1024 values are the red channel
    np.testing.assert_allclose(x[0, 0].numpy(), first[:1024].reshape(32, 32) / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(x[0, 2].numpy(), first[2048:].reshape(32, 32) / 127.5 - 1, atol=1e-6)
    last = batches["data_batch_5"][b"labels"]
    assert y.tolist()[-2:] == last and y.dtype == torch.int64
    assert yt.tolist() == batches["test_batch"][b"labels"]
    assert ds.spec.shape == (3, 32, 32) and ds.default_features == "inception"


def test_cifar10_missing_batch_is_corrupt(tmp_path, monkeypatch):
    archive = tmp_path / "cifar10" / cifar10.ARCHIVE
    write_cifar(archive, skip="data_batch_3")
    monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: md5(archive)})
    with pytest.raises(DataError, match="corrupt.*data_batch_3"):
        CIFAR10(data_dir=tmp_path, cache_dir=tmp_path).load("train")


def test_cifar10_checksum_and_offline(tmp_path):
    with pytest.raises(DataError) as e:
        CIFAR10(data_dir=tmp_path, cache_dir=tmp_path).load("test")
    msg = str(e.value)
    assert "cifar-10-python.tar.gz" in msg and str(tmp_path / "cifar10") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg
    write_cifar(tmp_path / "cifar10" / cifar10.ARCHIVE)  # real md5 in the table: ours mismatches
    with pytest.raises(DataError, match="corrupt.*c58f30108f718f92721af3b95e74349a.*delete it"):
        CIFAR10(data_dir=tmp_path, cache_dir=tmp_path).load("test")


def test_cifar10_reads_the_archive_s_extracted_folder(tmp_path, monkeypatch):
    """The archive unpacked (``tar xzf``, torchvision's root) and deleted was downloaded again, and
    offline the folder could not be used at all: a re-packed archive has another md5, refused as
    corrupt. Its batch files are read, each checked, giving the archive's values."""
    archive = tmp_path / "packed" / "cifar10" / cifar10.ARCHIVE
    write_cifar(archive)
    monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: md5(archive)})
    packed = CIFAR10(data_dir=tmp_path / "packed", cache_dir=tmp_path)
    folder = tmp_path / "unpacked" / "cifar10" / cifar10.FOLDER
    folder.mkdir(parents=True)
    with tarfile.open(archive) as tar:  # tar xzf (extractall's filter= is not in every Python 3.11)
        for member in tar:
            (folder / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    monkeypatch.setattr(cifar10, "BATCH_MD5", {n: md5(folder / n) for n in cifar10.BATCH_MD5})
    unpacked = CIFAR10(data_dir=tmp_path / "unpacked", cache_dir=tmp_path)
    for split in ("train", "test"):
        (x, y), (xp, yp) = unpacked.load(split), packed.load(split)
        assert torch.equal(x, xp) and torch.equal(y, yp)
    assert unpacked.fingerprint() == packed.fingerprint()
    with open(folder / "data_batch_2", "ab") as fh:  # a batch changed since: refused, as the archive is
        fh.write(b"\0")
    with pytest.raises(DataError, match=r"data_batch_2 is corrupt \(md5 .*\); delete it and retry"):
        CIFAR10(data_dir=tmp_path / "unpacked", cache_dir=tmp_path).load("train")
    (folder / "data_batch_2").unlink()  # deleted as told: the archive is wanted, and the folder named
    with pytest.raises(
        DataError,
        match=r"put cifar-10-python.tar.gz \(or its extracted cifar-10-batches-py/, which lacks data_batch_2\)",
    ):
        CIFAR10(data_dir=tmp_path / "unpacked", cache_dir=tmp_path).load("train")


def test_cifar10_data_dir_given_as_the_extracted_folder_names_its_parent(tmp_path, monkeypatch):
    """``--data-dir root/cifar-10-batches-py``, the extracted folder rather than the folder holding
    it: the error said to put the archive into ``cifar-10-batches-py/cifar10`` (online it was
    downloaded there). Fails on the old ``_load``, which never looked at the folder's own files."""
    archive = tmp_path / "packed" / "cifar10" / cifar10.ARCHIVE
    write_cifar(archive)
    folder = tmp_path / "tv" / cifar10.FOLDER
    folder.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar:
            (folder / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    monkeypatch.setattr(cifar10, "BATCH_MD5", {n: md5(folder / n) for n in cifar10.BATCH_MD5})
    with pytest.raises(DataError) as e:
        CIFAR10(data_dir=folder, cache_dir=tmp_path).load("train")
    assert str(e.value) == (
        f"{folder} is CIFAR-10's extracted cifar-10-batches-py/ itself; point --data-dir / GENBENCH_DATA "
        f"at the folder that holds it ({tmp_path / 'tv'})"
    )
    assert not (folder / "cifar10").exists()  # nothing made inside it
    x, _ = CIFAR10(data_dir=tmp_path / "tv", cache_dir=tmp_path).load("train")  # as told: read
    assert x.shape == (10, 3, 32, 32)


def test_cifar10_reads_torchvision_s_root_in_place(tmp_path, monkeypatch):
    """``torchvision.datasets.CIFAR10(root)`` keeps the archive and its extracted folder in ``root``
    itself: with ``--data-dir root`` it was downloaded again into ``root/cifar10/`` (offline: "put
    it into root/cifar10"). Either is read there, checked, to the values and fingerprint of genbench's
    own folder, and left as it was. Fails on the old ``_load``, which looked only in ``root/cifar10/``."""
    archive = tmp_path / "packed" / "cifar10" / cifar10.ARCHIVE
    write_cifar(archive)
    monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: md5(archive)})
    packed = CIFAR10(data_dir=tmp_path / "packed", cache_dir=tmp_path)
    root = tmp_path / "tv"
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar:
            (folder / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    monkeypatch.setattr(cifar10, "BATCH_MD5", {n: md5(folder / n) for n in cifar10.BATCH_MD5})
    (root / cifar10.ARCHIVE).write_bytes(archive.read_bytes())  # torchvision keeps both
    (root / "cifar10").mkdir()
    left = _cut_off_download(root / "cifar10" / cifar10.ARCHIVE)  # genbench's own, never resumed now
    before = _untouched(root, skip="cifar10")
    for keep in ("archive", "folder"):
        ds = CIFAR10(data_dir=root, cache_dir=tmp_path)
        for split in ("train", "test"):
            (x, y), (xp, yp) = ds.load(split), packed.load(split)
            assert torch.equal(x, xp) and torch.equal(y, yp)
        assert ds.fingerprint() == packed.fingerprint()
        assert _untouched(root, skip="cifar10") == before and not any(p.exists() for p in left)
        if keep == "archive":  # the archive read: now the folder alone
            (root / cifar10.ARCHIVE).unlink()
            before = _untouched(root, skip="cifar10")
    with open(folder / "data_batch_2", "ab") as fh:  # corrupt: named, with the fix
        fh.write(b"\0")
    with pytest.raises(DataError) as e:
        CIFAR10(data_dir=root, cache_dir=tmp_path).load("train")
    assert str(e.value).startswith(f"{folder / 'data_batch_2'} is corrupt (md5 ")
    assert f"read from what is left there, or downloaded into {root / 'cifar10'}" in str(e.value)
    (root / "cifar10" / cifar10.ARCHIVE).write_bytes(archive.read_bytes())  # genbench's own comes first
    assert torch.equal(CIFAR10(data_dir=root, cache_dir=tmp_path).load("train")[0], packed.load("train")[0])
    (root / "cifar10" / cifar10.ARCHIVE).unlink()
    (folder / "data_batch_2").unlink()  # deleted as told: offline, both places are named, and what
    (folder / "test_batch").unlink()  # torchvision's folder lacks (on the old code, only its root)
    with pytest.raises(DataError) as e:
        CIFAR10(data_dir=root, cache_dir=tmp_path).load("train")
    there = f"torchvision's {root}, whose cifar-10-batches-py/ lacks data_batch_2, test_batch (from"
    assert f"batches-py/) into {root / 'cifar10'} or {there}" in str(e.value) and "\n" not in str(e.value)


def test_cifar_100_s_archive_under_cifar_10_s_name_is_told_to_be_renamed(tmp_path, monkeypatch):
    """CIFAR-100's archive (same server, same format) saved as ``cifar-10-python.tar.gz`` was
    "corrupt; delete it and retry to download it again", which fetched the same wrong file. Its
    first member (``cifar-100-python/``) says which it is, read after the md5 failed, with the
    archive hashed once; in torchvision's root too. Fails on the old ``_load``'s "is corrupt"."""
    rng = np.random.default_rng(0)
    hashed = []
    real = download.file_hexdigest
    monkeypatch.setattr(download, "file_hexdigest", lambda p, *a: hashed.append(p) or real(p, *a))
    for data_dir, where in ((tmp_path, tmp_path / "cifar10"), (tmp_path / "tv", tmp_path / "tv")):
        archive = where / cifar10.ARCHIVE
        where.mkdir()
        with tarfile.open(archive, "w:gz") as tar:  # as cifar-100-python.tar.gz lists its members
            info = tarfile.TarInfo("cifar-100-python")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
            for name in ("train", "test", "meta"):
                blob = pickle.dumps({b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)})
                info = tarfile.TarInfo(f"cifar-100-python/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        hashed.clear()
        with pytest.raises(DataError) as e:
            CIFAR10(data_dir=data_dir, cache_dir=tmp_path).load("test")
        assert str(e.value) == (
            f"{archive} is CIFAR-100's archive (it holds cifar-100-python/), not CIFAR-10's; rename it to "
            "cifar-100-python.tar.gz and retry to download CIFAR-10's (from "
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz)"
        )
        assert hashed == [archive]
        archive.rename(where / "cifar-100-python.tar.gz")  # as told: offline, CIFAR-10's is asked for
        with pytest.raises(DataError, match="cannot download cifar10 .*; put cifar-10-python.tar.gz"):
            CIFAR10(data_dir=data_dir, cache_dir=tmp_path).load("test")


def _cut_off_download(dest: Path) -> list[Path]:
    """What a download of ``dest`` cut off leaves beside it (:class:`genbench.data.resume.Part`'s files)."""
    part, sidecar = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")
    part.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    sidecar.write_text(json.dumps({"url": "https://mirror/" + dest.name, "validator": '"etag"'}))
    return [part, sidecar]


def test_what_a_dataset_reads_in_its_download_s_place_drops_the_cut_off_part(tmp_path, monkeypatch):
    """A download cut off before the user put the files in by hand, as CIFAR-10's extracted folder or
    MNIST's un-gzipped files (the error names both), left its part (170 MB for CIFAR-10) for good:
    read from those, the archive is never downloaded, so the part is never resumed. Fails on the old
    ``_load``s, which never looked at the part (the ``.gz``'s file itself already dropped its part)."""
    folder = tmp_path / "cifar10" / cifar10.FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for n in cifar10.BATCH_MD5:
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [1, 2]}
        (folder / n).write_bytes(pickle.dumps(batch))
    monkeypatch.setattr(cifar10, "BATCH_MD5", {n: md5(folder / n) for n in cifar10.BATCH_MD5})
    _cut_off_download(tmp_path / "cifar10" / cifar10.ARCHIVE)
    CIFAR10(data_dir=tmp_path, cache_dir=tmp_path).load("test")
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == [cifar10.FOLDER]
    packed, unpacked = tmp_path / "packed", tmp_path / "mnist"
    write_mnist(packed)
    monkeypatch.setitem(mnist.RESOURCES, "mnist", {f.name: md5(f) for f in packed.iterdir()})
    unpacked.mkdir()
    for f in packed.iterdir():
        (unpacked / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    monkeypatch.setitem(mnist.RAW_MD5, "mnist", {f.name: md5(f) for f in unpacked.iterdir()})
    left = _cut_off_download(unpacked / "train-images-idx3-ubyte.gz")
    MNIST(data_dir=tmp_path, cache_dir=tmp_path).load("test")
    assert not any(p.exists() for p in left) and len(list(unpacked.iterdir())) == 4


# -- user samples: .npz and image folders --------------------------------------------------------
def spec(shape, name="d") -> DataSpec:
    return DataSpec(name=name, kind="image", shape=shape, value_range=(-1.0, 1.0), num_train=10)


def test_npz_uint8_layouts(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", samples=rgb, other=np.zeros(3))
    x = load_samples(tmp_path / "rgb.npz", spec((3, 8, 8)))
    assert x.shape == (5, 3, 8, 8) and x.dtype == torch.float32
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), rgb / 127.5 - 1, atol=1e-6)
    grey = rng.integers(0, 256, (4, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "grey.npz", grey)  # a single array under any key
    assert load_samples(tmp_path / "grey.npz").shape == (4, 1, 8, 8)
    # a grey set evaluated against an RGB dataset becomes three equal channels
    g3 = load_samples(tmp_path / "grey.npz", spec((3, 8, 8)))
    assert g3.shape == (4, 3, 8, 8) and torch.equal(g3[:, 0], g3[:, 2])


def test_npz_float_and_points(tmp_path):
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    np.savez(tmp_path / "f.npz", samples=x.numpy())
    assert torch.equal(load_samples(tmp_path / "f.npz", spec((1, 8, 8))), x)
    pts = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32) * 5
    np.savez(tmp_path / "p.npz", samples=pts)
    np.testing.assert_array_equal(load_samples(tmp_path / "p.npz").numpy(), pts)


def test_an_npz_of_unnamed_images_and_labels_is_read_by_its_first_array(tmp_path):
    """guided-diffusion (ADM) saves class-conditional samples as ``np.savez(f, images, labels)``, which
    its evaluator reads as ``arr_0``: refused before, "holds arrays ['arr_0', 'arr_1'] but no 'samples'"."""
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "adm.npz", images, np.arange(4))
    got = load_samples(tmp_path / "adm.npz", spec((3, 8, 8)))
    assert torch.equal(got, load_samples_of(images, tmp_path))
    np.savez(tmp_path / "mixed.npz", images, labels=np.arange(4))  # a named array beside: which is which?
    with pytest.raises(GenbenchError, match=r"arrays .*'labels'.* but no 'samples'"):
        load_samples(tmp_path / "mixed.npz")


def test_statistics_beside_the_images_are_no_samples(tmp_path):
    """An ADM reference batch (``arr_0`` with ``mu``, ``sigma``, ``mu_s``, ``sigma_s``) is read by its
    images, as its evaluator reads it: refused before, "holds arrays [...] but no 'samples'". A file of
    statistics alone names the flag that reads it."""
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    stats = {"mu": np.zeros(3), "sigma": np.eye(3), "mu_s": np.zeros(2), "sigma_s": np.eye(2)}
    np.savez(tmp_path / "VIRTUAL.npz", images, **stats)
    assert torch.equal(
        load_samples(tmp_path / "VIRTUAL.npz", spec((3, 8, 8))), load_samples_of(images, tmp_path)
    )
    np.savez(tmp_path / "stats.npz", **stats)
    with pytest.raises(
        GenbenchError,
        match=r"holds reference statistics \(mu, sigma, mu_s, sigma_s\) and no samples; pass it as --reference-stats",
    ):
        load_samples(tmp_path / "stats.npz")


def load_samples_of(images: np.ndarray, tmp_path) -> torch.Tensor:
    np.savez(tmp_path / "named.npz", samples=images)
    return load_samples(tmp_path / "named.npz", spec((3, 8, 8)))


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 8, 8), np.uint8), b=np.zeros(2))
    with pytest.raises(GenbenchError, match=r"arrays \['a', 'b'\] but no 'samples'"):
        load_samples(tmp_path / "two.npz")
    np.savez(tmp_path / "range.npz", samples=np.full((2, 1, 8, 8), 200.0, np.float32))
    with pytest.raises(GenbenchError, match=r"must lie in \[-1, 1\].*\[0, 255\]"):
        load_samples(tmp_path / "range.npz")
    # torchvision's [0, 1] (ToTensor, save_image's input) was read as [-1, 1]: washed-out grey, FID 1489
    # for the digits train split itself
    unit = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    np.savez(tmp_path / "unit.npz", samples=unit)
    with pytest.raises(
        GenbenchError, match=r"none below 0, as images saved in \[0, 1\] do.*save x \* 2 - 1, or uint8 images"
    ):
        load_samples(tmp_path / "unit.npz")
    with pytest.raises(GenbenchError, match=r"the tensor: float images lie in \[0"):
        as_samples(torch.from_numpy(unit))
    np.savez(tmp_path / "nan.npz", samples=np.full((2, 1, 8, 8), np.nan, np.float32))
    with pytest.raises(GenbenchError, match="NaN"):
        load_samples(tmp_path / "nan.npz")
    np.savez(tmp_path / "empty.npz", samples=np.zeros((0, 8, 8), np.uint8))
    with pytest.raises(GenbenchError, match="no samples"):
        load_samples(tmp_path / "empty.npz")
    np.savez(tmp_path / "shape.npz", samples=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(
        GenbenchError, match=r"shape \(1, 28, 28\) per example but 'digits' expects \(1, 8, 8\)"
    ):
        load_samples(tmp_path / "shape.npz", spec((1, 8, 8), "digits"))
    np.savez(tmp_path / "scalar.npz", samples=np.float32(1))  # a 0-d array used to raise IndexError
    with pytest.raises(GenbenchError, match="holds a single float32 value, not samples"):
        load_samples(tmp_path / "scalar.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(GenbenchError, match="cannot read"):
        load_samples(tmp_path / "bad.npz")
    with pytest.raises(GenbenchError, match="not found"):
        load_samples(tmp_path / "missing.npz")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(GenbenchError, match="expected an .npz or .npy file or a folder"):
        load_samples(tmp_path / "x.txt")


def test_png_folder_roundtrip_matches_save_image(tmp_path):
    from torchvision.utils import save_image

    x = torch.rand(4, 3, 8, 8) * 2 - 1
    folder = tmp_path / "samples"
    folder.mkdir()
    for i in range(4):
        save_image((x[i] + 1) / 2, folder / f"{i:03d}.png")
    got = load_samples(folder, spec((3, 8, 8)))
    expected = torch.floor(127.5 * (x + 1) + 0.5).clamp(0, 255) / 127.5 - 1  # how save_image quantises
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_folder_grey_and_rgb(tmp_path):
    rng = np.random.default_rng(0)
    grey = tmp_path / "grey"
    (grey / "sub").mkdir(parents=True)
    arrs = [rng.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(3)]
    for i, a in enumerate(arrs):
        Image.fromarray(a, mode="L").save((grey / "sub" if i == 2 else grey) / f"{i}.png")
    x = load_samples(grey, spec((1, 8, 8)))
    assert x.shape == (3, 1, 8, 8)
    np.testing.assert_allclose(x[0, 0].numpy(), arrs[0] / 127.5 - 1, atol=1e-6)
    # grey images saved as RGB still load as a grey dataset
    as_rgb = tmp_path / "as_rgb"
    as_rgb.mkdir()
    for i, a in enumerate(arrs):
        Image.fromarray(np.stack([a] * 3, -1)).save(as_rgb / f"{i}.jpg", quality=100, subsampling=0)
    assert load_samples(as_rgb, spec((1, 8, 8))).shape == (3, 1, 8, 8)
    # real colour images cannot be evaluated against a grey dataset
    colour = tmp_path / "colour"
    colour.mkdir()
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(colour / "0.png")
    with pytest.raises(GenbenchError, match="colour images but 'd' is grey"):
        load_samples(colour, spec((1, 8, 8)))
    assert load_samples(colour).shape == (1, 3, 8, 8)


def test_folder_skips_hidden_files_and_folders(tmp_path):
    """A notebook's .ipynb_checkpoints/ copy (or macOS's ._x.png) was scored as one more sample."""
    rng = np.random.default_rng(0)
    root = tmp_path / ".cache-named-root" / "samples"  # a dot above the folder given is no reason to skip
    (root / ".ipynb_checkpoints").mkdir(parents=True)
    (root / "sub").mkdir()
    for where in ("0.png", "sub/1.png", ".ipynb_checkpoints/0-checkpoint.png", "._0.png"):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(root / where)
    assert load_samples(root, spec((1, 8, 8))).shape == (2, 1, 8, 8)


def test_folder_searches_symlinked_subfolders(tmp_path):
    """A subfolder that is a symlink (``ln -s /scratch/run1 samples/run1``) was skipped without a word
    (pathlib's rglob does not follow it; clean-fid's glob does): 3 of 7 samples were scored."""
    import glob

    rng = np.random.default_rng(0)
    root, elsewhere = tmp_path / "samples", tmp_path / "elsewhere"
    (root / "own").mkdir(parents=True)
    elsewhere.mkdir()
    for where in ("own/0.png", "own/1.png", "own/2.png"):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(root / where)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(elsewhere / f"{i}.png")
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "linked" / "loop").symlink_to(root, target_is_directory=True)  # a loop is searched once
    x = load_samples(root, spec((1, 8, 8)))
    assert x.shape == (7, 1, 8, 8)
    expected = sorted(glob.glob(str(root / "*" / "*.png")))  # the order: sorted paths, links included
    want = [np.asarray(Image.open(f)) / 127.5 - 1 for f in expected]
    np.testing.assert_allclose(x[:, 0].numpy(), np.stack(want), atol=1e-6)


def test_a_nested_folder_is_read_in_clean_fid_and_torch_fidelity_order(tmp_path):
    """docs/metrics.md says a folder is read in the order clean-fid and torch-fidelity read it (their sorted
    path strings), on which IS's parts depend; paths sorted folder by folder put run/ before run-2/,
    where a string sort ("-" before "/") puts run-2/ first."""
    import glob

    rng = np.random.default_rng(0)
    for where in ("run/0.png", "run/1.png", "run-2/0.png", "run.b/0.png", "run_c/0.png"):
        (tmp_path / where).parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(tmp_path / where)
    theirs = sorted(glob.glob(str(tmp_path / "**" / "*.png"), recursive=True))  # clean-fid's order
    assert [p.split("/")[-2] for p in theirs] == ["run-2", "run.b", "run", "run", "run_c"]
    want = np.stack([np.asarray(Image.open(f)) / 127.5 - 1 for f in theirs])
    np.testing.assert_allclose(load_samples(tmp_path, spec((1, 8, 8)))[:, 0].numpy(), want, atol=1e-6)


def test_a_samples_subfolder_that_cannot_be_listed_is_one_line(tmp_path, monkeypatch):
    """A subfolder without read permission was skipped without a word: fewer samples were scored."""
    import os

    (tmp_path / "locked").mkdir()
    for where in ("0.png", "locked/1.png"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / where)
    real = os.scandir

    def scandir(p="."):
        if Path(p).name == "locked":
            raise PermissionError(13, "Permission denied", str(p))  # what chmod 000 gives (root reads anyway)
        return real(p)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(
        GenbenchError, match=r"cannot read .*locked \(Permission denied\); fix its permissions"
    ):
        load_samples(tmp_path)


def test_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(GenbenchError, match="no PNG/JPEG images"):
        load_samples(empty)
    formats = tmp_path / "formats"  # 2 PNGs and 2 BMPs were scored as 2 samples, without a word
    formats.mkdir()
    for name in ("a.png", "b.png", "c.bmp", "d.BMP"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(formats / name)
    with pytest.raises(GenbenchError, match=r"holds 2 \.bmp images beside its 2 PNG/JPEG ones.*convert them"):
        load_samples(formats)
    arrays = tmp_path / "arrays"  # clean-fid's folder glob reads .npy images too
    arrays.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(arrays / "a.png")
    np.save(arrays / "b.npy", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(GenbenchError, match=r"holds 1 \.npy images beside its 1 PNG/JPEG ones"):
        load_samples(arrays)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mixed / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(mixed / "b.png")
    with pytest.raises(GenbenchError, match="mixed sizes: a.png is 8x8, b.png is 8x9"):
        load_samples(mixed)
    (mixed / "b.png").unlink()  # the same name in two subfolders: "a.png is 8x8, a.png is 8x9" said nothing
    (mixed / "sub").mkdir()
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(mixed / "sub" / "a.png")
    with pytest.raises(GenbenchError, match="mixed sizes: a.png is 8x8, sub/a.png is 8x9"):
        load_samples(mixed)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"not a png")
    with pytest.raises(GenbenchError, match="cannot read image"):
        load_samples(broken)
    ok = tmp_path / "ok"
    ok.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(ok / "a.png")
    with pytest.raises(GenbenchError, match=r"\(3, 8, 8\) per example but 'cifar10' expects \(3, 32, 32\)"):
        load_samples(ok, spec((3, 32, 32), "cifar10"))


def test_16_bit_png_keeps_its_scale(tmp_path):
    """PIL opens 16-bit grey PNGs as mode I;16, and convert("L") clipped every value above 255 to
    white: digits saved at 16 bits scored FID 217 instead of 77."""
    rng = np.random.default_rng(0)
    v8 = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    for name, a in {"8": v8, "16": v8.astype(np.uint16) * 257}.items():  # 257 maps 255 to 65535
        (tmp_path / name).mkdir()
        Image.fromarray(a).save(tmp_path / name / "0.png")
    assert (tmp_path / "16" / "0.png").read_bytes()[24] == 16  # IHDR bit depth: a real 16-bit PNG
    x16 = load_samples(tmp_path / "16", spec((1, 8, 8)))
    torch.testing.assert_close(x16, load_samples(tmp_path / "8", spec((1, 8, 8))), atol=1e-6, rtol=0)
    # values between the 8-bit levels keep their 16-bit precision
    fine = np.array([[0, 1000, 32768, 65535]], np.uint16)
    (tmp_path / "fine").mkdir()
    Image.fromarray(fine).save(tmp_path / "fine" / "0.png")
    got = load_samples(tmp_path / "fine")[0, 0, 0].numpy()
    np.testing.assert_allclose(got, fine[0] / 32767.5 - 1, atol=1e-6)
    # 8- and 16-bit images in one folder: each scaled by its own depth
    (tmp_path / "16" / "1.png").write_bytes((tmp_path / "8" / "0.png").read_bytes())
    both = load_samples(tmp_path / "16", spec((1, 8, 8)))
    torch.testing.assert_close(both[0], both[1], atol=1e-6, rtol=0)
    # a 16-bit grey image for an RGB dataset: three equal channels, as an 8-bit grey one
    assert load_samples(tmp_path / "16", spec((3, 8, 8))).shape == (2, 3, 8, 8)


def test_16_bit_pngs_of_8_bit_values_are_refused_not_scored_as_black(tmp_path):
    """8-bit pixels saved with a 16-bit dtype (Image.fromarray(x.astype(np.uint16))) were read at
    their 16 bits, all within 0.4% of black, and scored so without a word (digits: FID 1901 against
    203 for the same images at 8 bits); folder.load_image_folder's check on the 16-bit images' top."""
    v8 = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    v8[0, 0] = 255
    low = tmp_path / "low"
    low.mkdir()
    for i in range(2):
        Image.fromarray(v8.astype(np.uint16)).save(low / f"{i}.png")
    assert (low / "0.png").read_bytes()[24] == 16  # IHDR bit depth: a real 16-bit PNG
    with pytest.raises(GenbenchError) as e:
        load_samples(low, spec((1, 8, 8)))
    assert str(e.value) == (
        f"the 2 16-bit PNGs in {low} hold values up to 255 of 65535, all near black, as 8-bit images saved "
        "with a 16-bit dtype do; save them as 8-bit (x.astype(np.uint8)), or 16-bit ones scaled to 0-65535 (x * 257)"
    )
    # one value above 255 anywhere in the set: a true 16-bit set, however dark, read at its 16 bits
    Image.fromarray(np.full((8, 8), 256, np.uint16)).save(low / "2.png")
    assert load_samples(low, spec((1, 8, 8))).shape == (3, 1, 8, 8)
    # all black reads the same at 8 or 16 bits: nothing to refuse
    black = tmp_path / "black"
    black.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint16)).save(black / "0.png")
    assert load_samples(black, spec((1, 8, 8))).eq(-1).all()


def test_float_images_out_of_range_are_told_what_they_look_like():
    """Images normalized with ImageNet's mean and std (about [-2.1, 2.6]) were told they "look like
    [0, 255]" and to save uint8, which no negative value does; folder._from_array's hints."""
    u = torch.linspace(0, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    with pytest.raises(GenbenchError) as e:
        as_samples((u - mean[:, None, None]) / std[:, None, None])
    assert str(e.value) == (
        "the tensor: float images must lie in [-1, 1], got [-2.12, 2.64] (looks normalized by a mean and "
        "std, as torchvision's Normalize does: undo it (x * std + mean, in [0, 1]) and save x * 2 - 1)"
    )
    with pytest.raises(GenbenchError, match=r"got \[0, 255\] \(looks like \[0, 255\]: save uint8"):
        as_samples(u * 255)


def test_float_images_a_rounding_past_the_range_are_clamped_into_it():
    """Values within the 0.001 tolerated past [-1, 1] (a sampler's float rounding) are read as -1 and
    1 exactly, as the data range says: the raw features saw 1.0005, and no image holds it."""
    x = torch.tensor([-1.0005, -0.5, 0.25, 1.0005]).reshape(1, 1, 2, 2)
    assert as_samples(x).flatten().tolist() == [-1.0, -0.5, 0.25, 1.0]
    assert as_samples(x.numpy()).flatten().tolist() == [-1.0, -0.5, 0.25, 1.0]


def test_arrays_and_tensors_load_as_files_do(tmp_path):
    """genbench.evaluate takes what `genbench eval` reads: numpy arrays in the .npz layout (N x H x W
    x C), torch tensors in torch's (N x C x H x W), through the same checks."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", samples=rgb)
    from_file = load_samples(tmp_path / "rgb.npz", spec((3, 8, 8)))
    assert torch.equal(as_samples(tmp_path / "rgb.npz", spec((3, 8, 8))), from_file)
    assert torch.equal(as_samples(str(tmp_path / "rgb.npz"), spec((3, 8, 8))), from_file)
    assert torch.equal(as_samples(rgb, spec((3, 8, 8))), from_file)
    assert torch.equal(as_samples(torch.from_numpy(rgb).permute(0, 3, 1, 2), spec((3, 8, 8))), from_file)
    assert torch.equal(as_samples(from_file.half().float(), spec((3, 8, 8))), from_file.half().float())
    grey = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    assert torch.equal(as_samples(grey, spec((1, 8, 8))), as_samples(torch.from_numpy(grey), spec((1, 8, 8))))
    with pytest.raises(GenbenchError, match=r"the tensor: uint8 samples must be N x C x H x W"):
        as_samples(torch.from_numpy(rgb))  # numpy's layout given as a tensor
    with pytest.raises(GenbenchError, match=r"samples in the array are colour images but 'd' is grey"):
        as_samples(rgb, spec((1, 8, 8)))
    with pytest.raises(GenbenchError, match=r"the tensor: float images must lie in \[-1, 1\]"):
        as_samples(torch.full((2, 1, 8, 8), 3.0))
    with pytest.raises(GenbenchError, match="the tensor has dtype torch.int64"):
        as_samples(torch.zeros(2, 1, 8, 8, dtype=torch.long))
    with pytest.raises(GenbenchError, match="cannot evaluate a list; pass the path"):
        as_samples([1, 2])
    with pytest.raises(GenbenchError, match=r"layout torch.sparse_coo; pass a dense one \(x.to_dense\(\)\)"):
        as_samples(torch.zeros(2, 1, 8, 8).to_sparse())
    with pytest.raises(GenbenchError, match="a meta tensor, which holds no values"):
        as_samples(torch.zeros(2, 1, 8, 8, device="meta"))


@pytest.mark.parametrize("labels", [["a", "b"], [1.7, 2.2], [3, 10], [-1, 2]])
def test_cifar_labels_must_be_class_ids(tmp_path, labels):
    """String labels were a ValueError traceback; float labels were truncated to ints."""
    archive = tmp_path / "c.tar.gz"
    blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": labels})
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(f"{cifar10.FOLDER}/data_batch_1")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(DataError, match="data_batch_1 has labels other than class ids 0-9"):
        cifar10.read_batches(archive, ["data_batch_1"])


def test_samples_in_the_other_layout_are_told_the_transpose(tmp_path):
    """Float images saved channels-last (numpy's, JAX's and TensorFlow's layout) were told to "save
    samples at the dataset's shape", which they were, transposed; uint8 ones in torch's layout were
    told the layout alone. Each names the one call that fixes it."""
    rng = np.random.default_rng(0)
    nhwc = rng.random((2, 32, 32, 3), dtype=np.float32) * 2 - 1
    np.savez(tmp_path / "f.npz", samples=nhwc)
    with pytest.raises(GenbenchError, match=r"look N x H x W x C: use x.transpose\(0, 3, 1, 2\)") as e:
        load_samples(tmp_path / "f.npz", spec((3, 32, 32), "cifar10"))
    assert "\n" not in str(e.value)
    np.savez(tmp_path / "f.npz", samples=nhwc.transpose(0, 3, 1, 2))  # as told: then it loads
    assert load_samples(tmp_path / "f.npz", spec((3, 32, 32), "cifar10")).shape == (2, 3, 32, 32)
    with pytest.raises(GenbenchError, match=r"look N x H x W x C: use x.transpose"):
        as_samples(nhwc[..., :1], spec((1, 32, 32), "mnist"))  # grey, channel last
    nchw = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    with pytest.raises(GenbenchError, match=r"look N x C x H x W: use x.transpose\(0, 2, 3, 1\)"):
        as_samples(nchw, spec((3, 32, 32), "cifar10"))
    assert as_samples(nchw.transpose(0, 2, 3, 1), spec((3, 32, 32), "cifar10")).shape == (2, 3, 32, 32)
    with pytest.raises(GenbenchError, match=r"look N x H x W x C: use x.permute\(0, 3, 1, 2\)"):
        as_samples(torch.from_numpy(nchw.transpose(0, 2, 3, 1)), spec((3, 32, 32), "cifar10"))
    with pytest.raises(GenbenchError, match=r"expects \(3, 32, 32\); save samples at the dataset's shape"):
        as_samples(nhwc[:, :16], spec((3, 32, 32), "cifar10"))  # no layout of the dataset's: no transpose


def test_npy_samples_load_as_the_npz_of_the_same_array(tmp_path):
    """``numpy.save``'s .npy, the commonest dump of samples, was refused ("expected an .npz file")."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "s.npy", rgb)
    np.savez(tmp_path / "s.npz", samples=rgb)
    want = load_samples(tmp_path / "s.npz", spec((3, 8, 8)))
    assert torch.equal(load_samples(tmp_path / "s.npy", spec((3, 8, 8))), want)
    assert torch.equal(as_samples(str(tmp_path / "s.npy"), spec((3, 8, 8))), want)
    np.save(tmp_path / "objects.npy", np.array([rgb, None], dtype=object))  # a pickle inside: never read
    with pytest.raises(
        GenbenchError, match=r"objects.npy holds an array of Python objects.*numpy.save\(f, samples\)"
    ):
        load_samples(tmp_path / "objects.npy")
    (tmp_path / "text.npy").write_text("not an array")  # numpy reads it as a pickle: refused first
    with pytest.raises(GenbenchError, match=r"text.npy: not an .npy file; save the samples with numpy.save"):
        load_samples(tmp_path / "text.npy")
    np.save(tmp_path / "cut.npy", rgb)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:200])  # a killed np.save
    with pytest.raises(GenbenchError, match=r"cannot read .*cut.npy as .npy"):
        load_samples(tmp_path / "cut.npy")


def test_checking_a_split_holds_no_copy_of_it():
    """A dataset's split is checked for NaN and inf without a temporary of its size: over the whole
    split, isfinite's temporaries held 1.65 times it, the peak of reading a reference folder. Measured
    in a process of its own, whose peak resident memory no other test has raised."""
    code = """
import resource, torch
from genbench.data.base import Dataset

class Big(Dataset):
    def _load(self, split):
        return torch.zeros(1024, 3, 128, 128).uniform_(-1, 1), None  # 192 MiB

ds = Big()
x = ds._load_or_name_the_plugin("train")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ds._checked("train", x)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert float(done.stdout) < 96, done.stdout  # MiB, half the 192 MiB split (it held 340)


@pytest.mark.parametrize(
    "cls, given, above",
    [
        (MNIST, "tv/MNIST/raw", "tv"),  # torchvision's raw/ itself
        (MNIST, "tv/MNIST", "tv"),  # torchvision's class folder
        (MNIST, "data/mnist", "data"),  # genbench's own folder
        (FashionMNIST, "tv/FashionMNIST/raw", "tv"),
    ],
)
def test_mnist_data_dir_given_as_a_folder_of_its_files_names_the_folder_above(
    cls, given, above, tmp_path, monkeypatch
):
    """``--data-dir root/MNIST/raw`` (or ``root/MNIST``, or ``root/mnist``), the files' folder rather
    than the one that holds it: the error said to put the files into ``root/MNIST/raw/mnist/`` (online,
    downloaded them there). Fails on the old ``_load``, which never looked at the folder's own files."""
    packed = tmp_path / "packed" / cls.source
    write_mnist(packed)
    monkeypatch.setitem(mnist.RESOURCES, cls.source, {f.name: md5(f) for f in packed.iterdir()})
    files = tmp_path / (given if given.endswith(("raw", cls.source)) else f"{given}/raw")
    files.mkdir(parents=True)
    for f in packed.iterdir():
        (files / f.name).write_bytes(f.read_bytes())
    folder = tmp_path / given
    before = sorted(folder.rglob("*"))
    with pytest.raises(DataError) as e:
        cls(data_dir=folder, cache_dir=tmp_path).load("train")
    assert str(e.value).startswith(f"{folder} is ") and str(e.value).endswith(
        f" itself; point --data-dir / GENBENCH_DATA at the folder that holds it ({tmp_path / above})"
    )
    assert sorted(folder.rglob("*")) == before  # nothing made inside it
    x, _ = cls(data_dir=tmp_path / above, cache_dir=tmp_path).load("train")  # as told: read
    assert x.shape == (6, 1, 28, 28)


def test_mnist_files_in_a_folder_of_another_name_are_told_where_they_go(tmp_path, monkeypatch):
    """Files named as MNIST's right inside ``--data-dir``: told the folder they are read from, where
    the error had said to download them into it, as if none were there."""
    folder = tmp_path / "downloads"
    write_mnist(folder)
    monkeypatch.setitem(mnist.RESOURCES, "mnist", {f.name: md5(f) for f in folder.iterdir()})
    with pytest.raises(DataError) as e:
        MNIST(data_dir=folder, cache_dir=tmp_path).load("train")
    assert str(e.value) == (
        f"{folder} holds mnist's files itself; they are read from the folder mnist/ (or torchvision's "
        f"MNIST/raw/) inside --data-dir / GENBENCH_DATA: move them into {folder / 'mnist'}"
    )
