"""genbench's readers against the reference libraries' on files in the real formats: CIFAR-10's
batches pickled as the official ones are (Python 2 ``str`` keys, which torchvision reads with
``encoding="latin1"`` and genbench with ``encoding="bytes"``) and read by
``torchvision.datasets.CIFAR10``; MNIST's and Fashion-MNIST's IDX files in torchvision's
``MNIST/raw/`` read by ``torchvision.datasets.MNIST``; a folder of PNG/JPEG files in every PIL mode
read by torch-fidelity's and clean-fid's own folder readers (PIL's ``convert("RGB")``). The other
tests write the files with genbench's own writers and compare genbench with itself."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from genbench.data import cifar10, mnist
from genbench.data.folder import load_image_folder
from genbench.features.clean_inception import clean_resize
from genbench.features.inception import to_uint8


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class _Py2Str(str):
    """A Python 2 ``str``, pickled as the official CIFAR-10 batches hold their keys (SHORT_BINSTRING)."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table takes a new type
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj: _Py2Str) -> None:
        data = obj.encode("latin1")
        assert len(data) < 256
        self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        self.memoize(obj)

    dispatch[_Py2Str] = _save_py2_str


def _py2_pickle(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _cifar_root(root: Path, n: int = 6) -> None:
    """``root/cifar-10-batches-py/`` and ``root/cifar-10-python.tar.gz`` as the official archive holds
    them: each batch a dict of ``data`` (n x 3072 uint8), ``labels`` (a list), ``batch_label`` and
    ``filenames``, keyed by Python 2 strings; ``batches.meta`` beside them."""
    rng = np.random.default_rng(0)
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True)
    for name in cifar10.BATCH_MD5:
        batch = {
            _Py2Str("batch_label"): _Py2Str(name),
            _Py2Str("labels"): [int(v) for v in rng.integers(0, 10, n)],
            _Py2Str("data"): rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            _Py2Str("filenames"): [_Py2Str(f"{name}_{i}.png") for i in range(n)],
        }
        (folder / name).write_bytes(_py2_pickle(batch))
    names = [_Py2Str(c) for c in "airplane automobile bird cat deer dog frog horse ship truck".split()]
    meta = {_Py2Str("num_cases_per_batch"): n, _Py2Str("label_names"): names, _Py2Str("num_vis"): 3072}
    (folder / "batches.meta").write_bytes(_py2_pickle(meta))
    with tarfile.open(root / cifar10.ARCHIVE, "w:gz") as tar:
        tar.add(folder, arcname=cifar10.FOLDER)


@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_cifar10_is_torchvision_s_pixel_for_pixel(tmp_path, monkeypatch, layout):
    """A torchvision root holding the archive alone, or its extracted folder alone: the same images
    (N x 3 x 32 x 32 uint8, torchvision's N x 32 x 32 x 3 transposed), labels and order, split by split."""
    tv_root = tmp_path / "tv"
    _cifar_root(tv_root)
    folder = tv_root / cifar10.FOLDER
    md5s = {n: _md5(folder / n) for n in cifar10.BATCH_MD5}
    monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: _md5(tv_root / cifar10.ARCHIVE)})
    monkeypatch.setattr(cifar10, "BATCH_MD5", md5s)
    tv = torchvision.datasets.CIFAR10
    monkeypatch.setattr(tv, "train_list", [[n, md5s[n]] for n in cifar10.BATCHES["train"]])
    monkeypatch.setattr(tv, "test_list", [["test_batch", md5s["test_batch"]]])
    monkeypatch.setattr(tv, "meta", {**tv.meta, "md5": _md5(folder / "batches.meta")})
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if layout == "archive":
        shutil.copy(tv_root / cifar10.ARCHIVE, data_dir)
    else:
        shutil.copytree(folder, data_dir / cifar10.FOLDER)
    ours = cifar10.CIFAR10(data_dir=data_dir, cache_dir=tmp_path / "cache")
    for split in ("train", "test"):
        theirs = tv(str(tv_root), train=split == "train")
        x, y = ours.load_stored(split)
        assert x.dtype == torch.uint8 and y.dtype == torch.int64
        assert torch.equal(x, torch.from_numpy(theirs.data).permute(0, 3, 1, 2))
        assert y.tolist() == theirs.targets and len(x) == (30 if split == "train" else 6)
        assert torch.equal(ours.load(split)[0], x.float() / 127.5 - 1)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(mnist.MNIST, torchvision.datasets.MNIST), (mnist.FashionMNIST, torchvision.datasets.FashionMNIST)],
)
@pytest.mark.parametrize("gzipped", [True, False])
def test_idx_datasets_are_torchvision_s_pixel_for_pixel(tmp_path, monkeypatch, ours, theirs, gzipped):
    """torchvision's ``MNIST/raw/`` (each file gzipped and not, as its download leaves it, or
    un-gzipped alone) read in place: torchvision's uint8 images, int64 labels and order."""
    raw = tmp_path / theirs.__name__ / "raw"
    _idx_raw(raw, plain=True, gz=gzipped)
    source = ours.source
    gz = {n: _md5(raw / n) if gzipped else None for n in mnist.RESOURCES[source]}
    monkeypatch.setitem(mnist.RESOURCES, source, gz)
    monkeypatch.setitem(mnist.RAW_MD5, source, {n: _md5(raw / n) for n in mnist.RAW_MD5[source]})
    dataset = ours(data_dir=tmp_path, cache_dir=tmp_path / "cache")
    for split in ("train", "test"):
        reference = theirs(str(tmp_path), train=split == "train")
        x, y = dataset.load_stored(split)
        assert x.dtype == torch.uint8 and x.shape == (len(reference), 1, 28, 28)
        assert torch.equal(x[:, 0], reference.data) and torch.equal(y, reference.targets)
        assert not (tmp_path / source).exists()  # read in place, nothing written


def _every_mode(folder: Path) -> None:
    """One 12 x 10 image of each PIL mode a PNG/JPEG folder holds, in class folders whose string
    order is not their names' order (``a-b/`` before ``a/``)."""
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (5, 12, 10, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    for sub in ("a", "a-b", "B"):
        (folder / sub).mkdir(parents=True)
    Image.fromarray(rgb[0]).save(folder / "a" / "rgb.png")
    Image.fromarray(rgb[1]).save(folder / "a" / "upper.PNG")
    Image.fromarray(np.dstack([rgb[2], grey]), "RGBA").save(folder / "a-b" / "rgba.png")
    Image.fromarray(rgb[3]).quantize(16).save(folder / "a-b" / "palette.png", transparency=2)
    Image.fromarray(grey, "L").save(folder / "B" / "grey.png")
    Image.fromarray(np.dstack([grey, 255 - grey]), "LA").save(folder / "B" / "grey-alpha.png")
    Image.fromarray(grey > 127).save(folder / "B" / "bits.png")
    Image.fromarray(rgb[4]).convert("CMYK").save(folder / "B" / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees to display": none of the readers applies it
    Image.fromarray(rgb[0]).save(folder / "B" / "exif.jpeg", exif=exif)


def test_an_image_folder_reads_every_mode_as_torch_fidelity_and_clean_fid_do(tmp_path):
    """Each image as PIL's ``convert("RGB")`` gives it (grey ones kept one channel, which the
    Inceptions repeat to three: the same values), in torch-fidelity's order, and through
    ``clean-inception``'s resize the very floats clean-fid's folder reader gives."""
    from cleanfid.utils import ResizeDataset
    from torch_fidelity.datasets import ImagesPathDataset
    from torch_fidelity.utils import glob_samples_paths

    folder = tmp_path / "real"
    _every_mode(folder)
    files = glob_samples_paths(str(folder), True, "png,jpg,jpeg", verbose=False)
    assert [Path(f).parent.name for f in files] == ["B"] * 5 + ["a-b"] * 2 + ["a"] * 2
    ours = load_image_folder(folder, keep_uint8=True)
    assert ours.dtype == torch.uint8 and ours.shape == (9, 3, 12, 10)  # some colour: all three channels
    theirs = torch.stack([ImagesPathDataset(files)[i] for i in range(len(files))])
    assert torch.equal(to_uint8(ours.float() / 127.5 - 1), theirs)
    assert torch.equal(ours, theirs)
    clean = ResizeDataset(files, mode="clean")
    assert torch.equal(clean_resize(ours.float() / 127.5 - 1), torch.stack([clean[i] for i in range(9)]))
    grey = load_image_folder(folder / "B", keep_uint8=True)  # grey alone: one channel, repeated later
    assert grey.shape[1] == 3  # cmyk.jpg and exif.jpeg are colour
    only_grey = tmp_path / "grey"
    only_grey.mkdir()
    for name in ("grey.png", "grey-alpha.png", "bits.png"):
        shutil.copy(folder / "B" / name, only_grey / name)
    g = load_image_folder(only_grey, keep_uint8=True)
    tf = torch.stack([ImagesPathDataset(sorted(str(p) for p in only_grey.iterdir()))[i] for i in range(3)])
    assert g.shape == (3, 1, 12, 10) and torch.equal(to_uint8(g.float() / 127.5 - 1), tf)


def test_16_bit_grey_pngs_keep_their_bits_where_the_references_clip_them(tmp_path):
    """A known difference, documented: genbench reads a 16-bit grey PNG at its 16 bits (quantised
    for Inception to round(v / 257)); torch-fidelity's and clean-fid's ``convert("RGB")`` clip every
    value above 255 to white, so their FIDs of such a folder are not genbench's."""
    from torch_fidelity.datasets import ImagesPathDataset

    values = np.random.default_rng(3).integers(0, 65536, (12, 10), dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    x = load_image_folder(tmp_path, keep_uint8=True)
    assert x.dtype == torch.float32
    assert np.array_equal(to_uint8(x)[0, 0].numpy(), np.round(values / 257).astype(np.uint8))
    theirs = ImagesPathDataset([str(tmp_path / "deep.png")])[0]
    assert np.array_equal(theirs[0].numpy(), np.minimum(values, 255).astype(np.uint8))


def test_the_documented_export_for_clean_fid_gives_the_pixels_genbench_scores():
    """docs/metrics.md's one-line export of float samples to the uint8 PNGs that clean-fid and
    torch-fidelity read, run as written, gives the pixels the Inceptions quantise to, on the float32
    values that fall on a half (the doc's ``np.round`` rounded them to even: 64 where genbench, as
    torchvision's ``save_image``, scores 65)."""
    import re

    doc = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()
    recipe = re.search(r"`(u8 = np\.[^`]*)`", doc.replace("\n", " "))
    assert recipe is not None
    levels = np.arange(255, dtype=np.float64) + 0.5
    ties = (levels / 127.5 - 1).astype(np.float32)  # the float32 samples nearest each half level
    near = ties[:, None] + np.arange(-8, 9, dtype=np.float32) * np.spacing(ties)[:, None]
    x = np.concatenate([near.ravel(), np.float32([-1, 1])]).astype(np.float32).reshape(-1, 1, 1, 1)
    scope = {"np": np, "x": x}
    exec(recipe.group(1), scope)
    assert np.array_equal(scope["u8"][:, 0, 0, 0], to_uint8(torch.from_numpy(x))[:, 0, 0, 0].numpy())


def _idx_raw(raw: Path, *, plain: bool = False, gz: bool = True) -> None:
    """MNIST's four IDX files (12 train and 5 test images) in ``raw``: gzipped where ``gz``, un-gzipped
    where ``plain`` (torchvision's download leaves both)."""
    rng = np.random.default_rng(4)
    raw.mkdir(parents=True)
    for prefix, n in (("train", 12), ("t10k", 5)):
        for name, array in (
            (f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            (f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8)),
        ):
            data = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            data += array.tobytes()
            if plain:
                (raw / name).write_bytes(data)
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))


@pytest.mark.parametrize(
    ("given", "fix"),
    [
        (
            "tv/cifar-10-batches-py",
            "CIFAR-10's extracted cifar-10-batches-py/: pass --dataset cifar10 --data-dir {tv}",
        ),
        ("tv/cifar-10-python.tar.gz", "CIFAR-10's archive: pass --dataset cifar10 --data-dir {tv}"),
        ("tv", "a folder of CIFAR-10's files: pass --dataset cifar10 --data-dir {tv}"),
        ("gb/cifar10", "a folder of CIFAR-10's files: pass --dataset cifar10 --data-dir {gb}"),
        ("tv/MNIST/raw", "torchvision's MNIST/raw/ of mnist: pass --dataset mnist --data-dir {tv}"),
        ("tv/MNIST", "torchvision's MNIST/ of mnist: pass --dataset mnist --data-dir {tv}"),
        ("tv/MNIST/raw/t10k-labels-idx1-ubyte.gz", "torchvision's MNIST/raw/ of mnist: pass --dataset mnist"),
        (
            "gb/fashion-mnist",
            "genbench's fashion-mnist/ folder: pass --dataset fashion-mnist --data-dir {gb}",
        ),
        ("loose", "MNIST-format IDX files: put them into DIR/mnist/ (or DIR/fashion-mnist/) and pass"),
        (
            "images.zip",
            "an archive of files, which genbench does not read: unzip it (unzip images.zip -d DIR)",
        ),
    ],
)
def test_a_dataset_path_to_a_built_in_dataset_s_files_names_the_dataset(
    cli, tmp_path, cache_dir, monkeypatch, given, fix
):
    """``--dataset`` given CIFAR-10's or MNIST's own files (or the torchvision root holding them),
    as a user with the real files does first, was read as a folder of images: "no PNG/JPEG images
    in ...; pass --dataset a folder of .png/.jpg files", or for the archive "pass the folder of
    PNG/JPEG images it is in", which holds none. It names the dataset and the --data-dir that reads
    them in place; a .zip (clean-fid reads one as a folder) is told to be unzipped. Fails on the old
    code's errors."""
    from cli_helpers import png_folder, raw_eval_args, single_line_error

    tv, gb = tmp_path / "tv", tmp_path / "gb"
    _cifar_root(tv)
    (gb / "cifar10").mkdir(parents=True)
    shutil.copy(tv / cifar10.ARCHIVE, gb / "cifar10")
    _idx_raw(tv / "MNIST" / "raw")
    shutil.copytree(tv / "MNIST" / "raw", gb / "fashion-mnist")
    shutil.copytree(tv / "MNIST" / "raw", tmp_path / "loose")
    samples = png_folder(tmp_path / "samples", np.zeros((4, 32, 32, 3), np.uint8))
    shutil.make_archive(str(tmp_path / "images"), "zip", samples)
    error = single_line_error(cli(*raw_eval_args(samples, tmp_path / given, tmp_path / "runs", cache_dir)))
    assert fix.format(tv=tv, gb=gb) in error
    if given.startswith("tv/cifar"):  # as told: read in place, scored
        monkeypatch.setattr(cifar10, "RESOURCES", {cifar10.ARCHIVE: _md5(tv / cifar10.ARCHIVE)})
        folder = tv / cifar10.FOLDER
        monkeypatch.setattr(cifar10, "BATCH_MD5", {n: _md5(folder / n) for n in cifar10.BATCH_MD5})
        args = raw_eval_args(
            samples, "cifar10", tmp_path / "runs", cache_dir, "--data-dir", tv, "--metrics", "fid"
        )
        assert cli(*args).exit_code == 0


def test_samples_given_as_a_zip_are_told_to_be_unzipped(cli, tmp_path, cache_dir):
    from cli_helpers import png_folder, raw_eval_args, single_line_error

    real = png_folder(tmp_path / "real", np.zeros((4, 8, 8), np.uint8))
    shutil.make_archive(str(tmp_path / "gen"), "zip", real)
    error = single_line_error(cli(*raw_eval_args(tmp_path / "gen.zip", real, tmp_path / "runs", cache_dir)))
    assert error.endswith(
        "; it is an archive of files, which genbench does not read: unzip it (unzip gen.zip -d DIR) and pass the folder"
    )
