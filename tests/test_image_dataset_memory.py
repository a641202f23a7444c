"""``--dataset DIR`` and ``--dataset FILE.npz`` hold their 8-bit images as uint8, a quarter of
float32's memory (ADM's 10000 ImageNet-256 reference images: 2 GB, not 7.9), while ``load`` gives
the very float32 values it gave, and the digest that keys the feature cache and the fingerprint
of every result are the ones a float32 split had, to the bit."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from cli_helpers import png_folder
from PIL import Image

import genbench.data.folder
from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.data.base import Dataset, Split
from genbench.resolve import build_dataset
from genbench.runner import run


def _images(channels: int, n: int = 30, size: int = 8) -> np.ndarray:
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    return np.random.default_rng(channels).integers(0, 256, shape, dtype=np.uint8)


def _as_float(images: np.ndarray) -> torch.Tensor:
    """uint8 N x H x W (x C) as the float32 N x C x H x W split that loading them gave."""
    x = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x).astype(np.float32) / 127.5 - 1.0)


def _dataset(path: Path) -> Dataset:
    return build_dataset(path, RunConfig(dataset=path))


def _saved(tmp_path: Path, kind: str, images: np.ndarray) -> Path:
    """``images`` as a folder of PNGs or as an ADM reference batch (images, labels, statistics)."""
    if kind == "folder":
        return png_folder(tmp_path / "real", images)
    path = tmp_path / "VIRTUAL_tiny.npz"
    np.savez(path, images, np.arange(len(images)), mu=np.zeros(3), sigma=np.eye(3))
    return path


class FloatArrays(Dataset):
    """A dataset plugin holding the float32 split an image folder held before."""

    x: torch.Tensor

    def _load(self, split: Split) -> tuple[torch.Tensor, None]:
        return self.x.clone(), None


@pytest.mark.parametrize(("kind", "channels"), [("folder", 1), ("folder", 3), ("archive", 3)])
def test_8bit_images_are_held_as_uint8_and_load_as_the_same_floats(tmp_path, monkeypatch, kind, channels):
    images = _images(channels)
    floats = _as_float(images)
    dataset = _dataset(_saved(tmp_path, kind, images))
    stored = dataset.load_stored("train")[0]
    assert stored.dtype == torch.uint8 and stored.shape == floats.shape
    x = dataset.load("train")[0]
    assert x.dtype == torch.float32 and torch.equal(x, floats)
    x.add_(5)  # a fresh conversion on every call, not a float copy kept beside the uint8 one
    assert torch.equal(dataset.load("train")[0], floats)
    assert torch.equal(dataset.load_examples("train", [3, 1]), floats[[3, 1]])
    assert dataset.spec.num_train == len(images) and dataset.spec.shape == tuple(floats.shape[1:])
    # hashed in several chunks of converted rows: the digest of the float32 split in one piece
    monkeypatch.setattr(genbench.data.folder, "_CHUNK_VALUES", 7 * floats[0].numel())
    by_hand = hashlib.blake2b(str(tuple(floats.shape)).encode(), digest_size=10)
    by_hand.update(floats.numpy())
    as_float = FloatArrays()
    as_float.x = floats
    assert dataset.content_digest("train") == by_hand.hexdigest() == as_float.content_digest("train")
    fingerprint = hashlib.sha256(dataset.name.encode())
    fingerprint.update(by_hand.hexdigest().encode())
    assert dataset.fingerprint() == fingerprint.hexdigest()[:16]


def test_16bit_grey_pngs_and_float_archives_stay_float32(tmp_path):
    wide = np.random.default_rng(0).integers(0, 65536, (5, 8, 8), dtype=np.uint16)
    (tmp_path / "deep").mkdir()
    for i, img in enumerate(wide):
        Image.fromarray(img).save(tmp_path / "deep" / f"{i}.png")
    floats = _as_float(_images(3))
    np.save(tmp_path / "floats.npy", floats.numpy())
    for path, want in ((tmp_path / "deep", None), (tmp_path / "floats.npy", floats)):
        dataset = _dataset(path)
        stored, x = dataset.load_stored("train")[0], dataset.load("train")[0]
        assert stored.dtype == x.dtype == torch.float32 and torch.equal(stored, x)
        if want is not None:
            assert torch.equal(x, want)
    assert float(_dataset(tmp_path / "deep").load("train")[0].max()) > 0.99  # 16 bits, not clipped to 8


@pytest.mark.parametrize("kind", ["folder", "archive"])
def test_the_digest_and_shape_hold_no_float_copy_of_the_split(tmp_path, monkeypatch, kind):
    """Reading the split for its fingerprint and shape (what an evaluation against it needs before
    its features) holds less than one float32 copy of it: as float32 it held 1.25 copies."""
    images = _images(3, n=64, size=32)
    path = _saved(tmp_path, kind, images)
    # a few rows hashed at a time, as a split larger than the rows hashed at once is
    monkeypatch.setattr(genbench.data.folder, "_CHUNK_VALUES", 4 * images[0].size)
    _dataset(path).fingerprint()  # PIL's and numpy's modules, imported on first use, are not counted
    dataset = _dataset(path)
    tracemalloc.start()
    try:
        dataset.fingerprint()
        dataset.spec  # noqa: B018 (read for its cost)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < images.size * 4, peak / (images.size * 4)


def test_a_dataset_plugin_may_hold_its_images_as_uint8(tmp_path):
    """The contract the image folder keeps is any image dataset's: ``_load`` may return uint8
    N x C x H x W, which ``load`` gives as the floats ``v / 127.5 - 1``; uint8 points are refused."""
    from genbench.errors import PluginOutputError

    images = _as_float(_images(3)).add(1).mul(127.5).round().to(torch.uint8)

    class Uint8Images(Dataset):
        def _load(self, split: Split) -> tuple[torch.Tensor, None]:
            return images.clone(), None

    as_float = FloatArrays()
    as_float.x = images.float() / 127.5 - 1.0
    dataset = Uint8Images()
    assert torch.equal(dataset.load("train")[0], as_float.x)
    assert dataset.content_digest("train") == as_float.content_digest("train")
    points = type("Uint8Points", (Uint8Images,), {"kind": "points"})()
    with pytest.raises(PluginOutputError, match="x of dtype torch.uint8"):
        points.load("train")


class _KeepsNothing(GenerativeModel):
    """A trainable model whose fit records the data it was handed and writes into it."""

    trainable = True
    handed: ClassVar[list[torch.Tensor]] = []

    def fit(self, train, ctx):
        type(self).handed.append(train.clone())
        train.add_(5)  # its own copy: the dataset's split and the next fit are unchanged
        return {}

    def sample(self, n, *, generator):
        return torch.rand(n, *self.spec.shape, generator=generator) * 2 - 1

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_a_loaded_checkpoint_converts_no_train_split_and_a_fit_gets_a_float_copy(
    tmp_path, monkeypatch, register, cache_dir
):
    """Training read the whole train split as float32 before asking whether a checkpoint was cached:
    for an image folder's uint8 split, a conversion of every image (7.9 GB for ADM's 10000 ImageNet-256
    images) for a model that was then loaded, not trained."""
    images = _images(3)
    folder = png_folder(tmp_path / "real", images)
    register(registry.models, "test-keeps-nothing", _KeepsNothing)
    _KeepsNothing.handed.clear()
    calls: list[str] = []
    load = Dataset.load

    def counted(self, split):
        calls.append(split)
        return load(self, split)

    monkeypatch.setattr(Dataset, "load", counted)
    config = RunConfig(
        models=["test-keeps-nothing"], dataset=folder, seeds=[0, 1], samples=10, metrics=["fid"],
        features="raw", out=tmp_path / "runs", cache_dir=cache_dir, device="cpu", figures=False,
        progress=False,
    )  # fmt: skip
    assert [r.status for r in run(config)] == ["ok", "ok"]
    assert calls.count("train") == 2  # one float copy per fit
    assert len(_KeepsNothing.handed) == 2
    for handed in _KeepsNothing.handed:  # the second fit's data is not the first's, written into
        assert handed.dtype == torch.float32 and torch.equal(handed, _as_float(images))
    calls.clear()
    assert [r.status for r in run(config)] == ["ok", "ok"]  # both loaded from the cache
    assert len(_KeepsNothing.handed) == 2 and calls.count("train") == 0
