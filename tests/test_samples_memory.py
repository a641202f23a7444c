"""What a set of images costs in memory when it is scored: `genbench eval` keeps 8-bit images as
uint8 (1 byte per channel-pixel, a quarter of float32's) and converts them batch by batch, to the
same floats, so every number is what scoring them as float gives, to the bit."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from fresh_process import assert_no_user_warning  # tests/ is on the path
from PIL import Image
from plugin_helpers import _Metric

import genbench
import genbench.evaluation
from genbench.data.folder import as_samples, float_samples, load_image_folder
from genbench.features.base import FeatureExtractor, Features
from genbench.metrics.base import EvalContext
from genbench.saved_samples import samples_sha256
from genbench.scoring import _own_copies


def _folder(path: Path, images: np.ndarray) -> Path:
    path.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(path / f"{i:03d}.png")
    return path


def _images(seed: int, n: int, size: int, channels: int) -> np.ndarray:
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _as_float(images: np.ndarray) -> np.ndarray:
    """N x H x W (x C) uint8 as the float32 N x C x H x W samples that loading them gives."""
    x = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x).astype(np.float32) / 127.5 - 1.0


def test_every_uint8_value_converts_to_the_float_it_loads_as():
    """The conversion a batch gets is the one a whole set got: all 256 values, and a digest over
    several of the chunks it is hashed in equal to that of the float values."""
    values = np.arange(256, dtype=np.uint8)
    whole = values.astype(np.float32) / 127.5 - 1.0
    got = float_samples(torch.from_numpy(values)).numpy()
    assert got.dtype == np.float32 and got.view(np.int32).tolist() == whole.view(np.int32).tolist()
    images = _images(0, 600, 4, 3)  # past the rows hashed at once
    kept = as_samples(images, keep_uint8=True)
    assert kept.dtype == torch.uint8 and kept.shape == (600, 3, 4, 4)
    floats = _as_float(images)
    assert torch.equal(float_samples(kept), torch.from_numpy(floats))
    assert samples_sha256(kept) == hashlib.sha256(floats).hexdigest() == samples_sha256(as_samples(images))


@pytest.mark.parametrize("channels", [1, 3])
def test_loading_a_folder_as_float_holds_one_float_copy(tmp_path, channels):
    """The float32 images and the decoded 8-bit ones, no more: the stacked integers and the two
    float temporaries of converting them all at once held 2.5 times the result (39 GB of float32
    for 50000 256 x 256 images needed about 98 GB at its peak)."""
    images = _images(1, 64, 32, channels)
    folder = _folder(tmp_path / "real", images)
    load_image_folder(folder)  # PIL's plugins, imported on first use, are not counted
    tracemalloc.start()
    try:
        x = load_image_folder(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(_as_float(images)))
    assert peak < 1.5 * x.numpy().nbytes, peak / x.numpy().nbytes
    kept = load_image_folder(folder, keep_uint8=True)
    assert kept.dtype == torch.uint8 and torch.equal(float_samples(kept), x)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_folder_is_scored_from_uint8_to_the_same_numbers(tmp_path, cache_dir, monkeypatch, channels):
    """`genbench eval` of a folder of PNGs holds them as uint8, and scores them (every default metric,
    the samples figure, the recorded sha256) to the bit as the same images given as float32."""
    images = _images(2, 48, 16, channels)
    folder = _folder(tmp_path / "gen", images)
    np.savez(tmp_path / "gen.npz", samples=_as_float(images))
    real = _folder(tmp_path / "real", _images(3, 40, 16, channels))
    held = []
    evaluate_into = genbench.evaluation.evaluate_into

    def spy(*args, samples, **kwargs):
        held.append(samples.dtype)
        return evaluate_into(*args, samples=samples, **kwargs)

    monkeypatch.setattr(genbench.evaluation, "evaluate_into", spy)

    def scored(samples: Path) -> genbench.Result:
        config = genbench.RunConfig(
            dataset=real,
            features="raw",
            out=tmp_path / f"out{samples.suffix}",
            cache_dir=cache_dir,
            progress=False,
        )
        return genbench.evaluate(samples, config, name="gen")

    mine, theirs = scored(folder), scored(tmp_path / "gen.npz")
    assert held == [torch.uint8, torch.float32]
    assert mine.status == theirs.status == "ok" and {"fid", "kid"} <= set(mine.metrics)
    assert mine.metrics == theirs.metrics
    assert mine.protocol["samples"]["sha256"] == theirs.protocol["samples"]["sha256"]
    assert Path(mine.artifacts["samples"]).read_bytes() == Path(theirs.artifacts["samples"]).read_bytes()


def test_an_extractor_overriding_extract_itself_still_gets_float_samples(tmp_path):
    """A plugin's own ``extract(x)`` was handed `genbench eval`'s uint8 images once they were kept
    as uint8: it gets the float32 samples in [-1, 1] it always got; genbench's own ``extract``
    converts them batch by batch."""
    from genbench.features.base import extract_reporting
    from genbench.features.raw import Raw
    from genbench.registry import datasets

    seen = []

    class Own(Raw):
        def extract(self, x, progress=None):
            seen.append(x.dtype)
            return super().extract(x, progress)

    Own.__module__ = "my_plugin"  # a third party's class, as an entry point's would be
    images = as_samples(_images(2, 40, 8, 1), keep_uint8=True)
    digits = datasets.get("digits")(cache_dir=tmp_path)
    got = extract_reporting(Own(digits, cache_dir=tmp_path), images, None).features
    assert seen == [torch.float32]
    ours = extract_reporting(Raw(digits, cache_dir=tmp_path), images, None).features
    assert np.array_equal(got, ours)


def test_read_only_arrays_are_taken_without_torch_s_not_writable_warning():
    """Samples the caller cannot write (a JAX array through ``np.asarray``, ``np.load(mmap_mode="r")``)
    are only read: kept as uint8 they were handed to ``torch.from_numpy`` as they are, whose warning
    ("writing to this tensor will result in undefined behavior") `genbench.evaluate` printed as its
    own; float ones too. A fresh process, since torch warns once."""
    code = (
        "import numpy as np\n"
        "from genbench.data.folder import as_samples\n"
        "u = np.zeros((4, 8, 8), np.uint8); u.setflags(write=False)\n"
        "assert as_samples(u, keep_uint8=True).dtype.is_floating_point is False\n"
        "f = np.full((4, 1, 8, 8), -0.5, np.float32); f.setflags(write=False)\n"
        "assert as_samples(f).dtype.is_floating_point\n"
    )
    assert_no_user_warning(code)


class _Pooled(FeatureExtractor):
    """Each channel's mean: features a few numbers wide, so that the images are what memory holds."""

    def fingerprint(self) -> str:
        return "pooled"

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x.mean((2, 3)), None


def _metrics_view(tmp_path: Path, samples: torch.Tensor, **fields) -> EvalContext:
    """A metric's view of an evaluation of ``samples`` (what it is handed in `genbench eval`)."""
    from genbench.data.digits import Digits

    ctx = EvalContext(
        dataset=Digits(cache_dir=tmp_path),
        samples=samples,
        sample_features=Features(np.zeros((len(samples), 3))),
        reference_features=Features(np.zeros((2, 3))),
        extractor=None,
        seed=0,
        **fields,
    )
    return _own_copies(ctx, _Metric())


@pytest.mark.parametrize("in_a_run", [False, True])
def test_a_second_extraction_of_the_samples_holds_no_float_copy_of_them(tmp_path, in_a_run):
    """sfid extracts `genbench eval`'s samples a second time (``ctx.sample_features_in``): from their
    uint8 images a batch at a time, as the first extraction, to the same features. It extracted
    the metric's float32 copy of them all: 39 GB for 50000 ImageNet-256 samples held in 9.8."""
    from genbench.progress import Progress
    from genbench.split_features import sample_features_reader

    images = as_samples(_images(4, 96, 32, 3), keep_uint8=True)
    reader = sample_features_reader(Progress(enabled=False), "gen", "") if in_a_run else None
    view = _metrics_view(tmp_path, images, sample_features_reader=reader)
    extractor = _Pooled(view.dataset, cache_dir=tmp_path, batch_size=8)
    want = extractor.extract(float_samples(images)).features
    extractor.extract(images[:8])  # what is imported and cached on first use is not counted
    tracemalloc.start()
    try:
        got = view.sample_features_in(extractor).features
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(got, want)
    assert peak < images.numel() * 4 / 2, peak / (images.numel() * 4)


def test_the_nearest_neighbour_figure_converts_only_the_samples_it_shows(tmp_path):
    """Memorization in feature space reads no pixel of the samples, but its figure converted all of
    `genbench eval`'s uint8 samples to float32 for the 8 it shows (39 GB for 50000 ImageNet-256
    samples held in 9.8); it converts those rows alone, and draws them as before."""
    from genbench.data.image_folder import ImageFolder
    from genbench.metrics.memorization import Memorization

    real = ImageFolder(_folder(tmp_path / "real", _images(5, 20, 32, 3)), cache_dir=tmp_path)
    images = as_samples(_images(6, 1024, 32, 3), keep_uint8=True)
    rng = np.random.default_rng(0)
    fields = {
        "sample_features": Features(rng.normal(size=(len(images), 3))),
        "reference_features": Features(rng.normal(size=(20, 3))),
        "options": {"memorization": {"space": "features"}},
    }
    figures, peaks = [], []
    # the first drawn loads what matplotlib keeps; the second is measured against
    for name, samples in (("first", images), ("floats", float_samples(images)), ("uint8", images)):
        ctx = EvalContext(real, samples, extractor=None, seed=0, artifacts_dir=tmp_path / name, **fields)
        view = _own_copies(ctx, Memorization())
        tracemalloc.start()
        try:
            with pytest.warns(UserWarning, match="no test split"):
                Memorization().compute(view)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        figures.append(Path(view.artifacts["nearest_neighbours"]).read_bytes())
    assert figures[0] == figures[1] == figures[2]
    # beyond what drawing the figure of float samples holds (matplotlib's), less than half a float copy
    more = (peaks[2] - peaks[1]) / (images.numel() * 4)
    assert more < 0.5, more
