"""cifar10, mnist and fashion-mnist hold their 8-bit images as uint8, as an image folder does (a
quarter of float32's memory: CIFAR-10's train split is 154 MB, not 614), while ``load`` gives the
very float32 values that their ``_load`` gave (``images.astype(np.float32) / 127.5 - 1.0``), and
the digest, fingerprint and feature-cache keys, and so every number of a run, are unchanged."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_args
from test_data import md5, write_cifar, write_mnist  # tests/ is on the path: imported by name

import genbench.data.folder
from genbench.data import cifar10, mnist
from genbench.data.base import Dataset, Split
from genbench.data.cifar10 import CIFAR10
from genbench.data.mnist import MNIST, FashionMNIST

DATASETS = {"cifar10": CIFAR10, "mnist": MNIST, "fashion-mnist": FashionMNIST}


def _written(name: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, n: int) -> dict[str, np.ndarray]:
    """Tiny files of dataset ``name`` in its official format under ``data_dir``, their md5s in the
    table it checks; the uint8 N x C x H x W images of each split as written."""
    if name == "cifar10":
        archive = data_dir / "cifar10" / cifar10.ARCHIVE
        batches = write_cifar(archive, per_batch=n)
        monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: md5(archive)})
        train = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
        return {
            "train": train.reshape(-1, 3, 32, 32),
            "test": batches["test_batch"][b"data"].reshape(-1, 3, 32, 32),
        }
    arrays = write_mnist(data_dir / name, n_train=5 * n, n_test=n)
    monkeypatch.setitem(mnist.RESOURCES, name, {f.name: md5(f) for f in (data_dir / name).iterdir()})
    return {"train": arrays["train-images"][:, None], "test": arrays["t10k-images"][:, None]}


def _float_load(cls: type[Dataset]) -> type[Dataset]:
    """``cls`` with the ``_load`` it had before: its images converted to float32 as it converted them."""
    load = cls._load  # taken now: the test then sets cls._load to this class's

    class FloatLoad(cls):  # type: ignore[valid-type, misc]
        def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
            x, labels = load(self, split)
            return torch.from_numpy(x.numpy().astype(np.float32) / 127.5 - 1.0), labels

    return FloatLoad


@pytest.mark.parametrize("name", DATASETS)
def test_held_as_uint8_loading_the_floats_and_digests_they_had(tmp_path, monkeypatch, name):
    written = _written(name, tmp_path, monkeypatch, n=8)
    assert np.unique(written["train"]).size == 256  # every 8-bit value is converted here
    dataset, as_float = DATASETS[name](tmp_path, tmp_path), _float_load(DATASETS[name])(tmp_path, tmp_path)
    assert as_float.name == dataset.name  # so their fingerprints compare
    for split in ("train", "test"):
        stored, labels = dataset.load_stored(split)
        assert stored.dtype == torch.uint8 and np.array_equal(stored.numpy(), written[split])
        before = written[split].astype(np.float32) / 127.5 - 1.0  # the old _load's arithmetic
        x, y = dataset.load(split)
        assert x.dtype == torch.float32 and np.array_equal(x.numpy(), before)  # bit for bit
        assert torch.equal(x, as_float.load(split)[0]) and torch.equal(y, labels)
        assert torch.equal(dataset.load_examples(split, [3, 0]), torch.from_numpy(before[[3, 0]]))
        assert dataset.content_digest(split) == as_float.content_digest(split)
    assert dataset.fingerprint() == as_float.fingerprint()  # the classifier's and results' key
    assert dataset.spec == as_float.spec


@pytest.mark.parametrize("name", DATASETS)
def test_reading_the_split_for_its_digest_and_shape_holds_no_float_copy(tmp_path, monkeypatch, name):
    """What an evaluation reads before the features (fingerprint, shape, count) held a float32
    copy of the split, 4 bytes per channel-pixel, for as long as the dataset lived."""
    written = _written(name, tmp_path, monkeypatch, n=100 if name == "cifar10" else 400)
    float_bytes = written["train"].size * 4
    # a few rows hashed at a time, as a split larger than the rows hashed at once is
    monkeypatch.setattr(genbench.data.folder, "_CHUNK_VALUES", 4 * written["train"][0].size)
    DATASETS[name](tmp_path, tmp_path).fingerprint()  # modules imported on first use are not counted
    dataset = DATASETS[name](tmp_path, tmp_path)
    tracemalloc.start()
    try:
        dataset.fingerprint()
        dataset.spec  # noqa: B018 (read for its cost)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < float_bytes, peak / float_bytes
    assert held < float_bytes / 2, held / float_bytes  # both splits, as uint8: a quarter


@pytest.mark.parametrize(
    ("name", "metrics"), [("cifar10", "kid,prdc,memorization"), ("mnist", "fid,kid,prdc,memorization")]
)
def test_a_run_gives_the_numbers_and_cache_keys_of_the_float_split(tmp_path, monkeypatch, cli, name, metrics):
    """`genbench run --models copy,gaussian` on the uint8 split: every metric the value, and every
    cached reference feature the file, that the float32 split gave (an old cache still hits)."""
    _written(name, tmp_path / "data", monkeypatch, n=20)
    cls = DATASETS[name]
    stored: list[torch.dtype] = []
    checked = Dataset._checked

    def recorded(self, split, loaded):
        stored.append(loaded[0].dtype)
        return checked(self, split, loaded)

    monkeypatch.setattr(Dataset, "_checked", recorded)
    args = ("--models", "copy,gaussian", "--dataset", name, "--data-dir", tmp_path / "data")
    args += ("--features", "raw", "--metrics", metrics, "--samples", "40", "--no-figures")
    cache = tmp_path / "cache"
    results = {}
    for how in ("float", "uint8"):
        with monkeypatch.context() as m:
            if how == "float":  # the old _load, same name: the same fingerprint and cache keys
                m.setattr(cls, "_load", _float_load(cls)._load)
            result = cli(*run_args(tmp_path / how, cache, *args))
        assert result.exit_code == 0, result.output
        results[how] = {
            model: json.loads((tmp_path / how / name / model / "seed0.json").read_text())
            for model in ("copy", "gaussian")
        }
        if how == "float":
            cached = sorted(p.name for p in (cache / "features").iterdir())
            stored.clear()
    assert stored and set(stored) == {torch.uint8}
    assert sorted(p.name for p in (cache / "features").iterdir()) == cached  # read, not extracted anew
    for model in ("copy", "gaussian"):
        old, new = results["float"][model], results["uint8"][model]
        timed = set(old["timings"])  # measured times, which differ between any two runs
        assert {k: v for k, v in new["metrics"].items() if k not in timed} == {
            k: v for k, v in old["metrics"].items() if k not in timed
        }
        assert new["protocol"] == old["protocol"] and new["status"] == old["status"] == "ok"
    assert results["uint8"]["copy"]["metrics"]["memorization_rate"] == 1.0  # the copies are found
