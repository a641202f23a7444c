"""Samples generated elsewhere, for `genbench eval` and :func:`genbench.evaluate`: an ``.npz`` or
``.npy`` file, a folder of images, a numpy array or a torch tensor.

Accepted inputs (converted to float32 in [-1, 1], N x C x H x W):

- ``.npz`` with key ``samples`` (or a single array, or ``arr_0`` of arrays saved unnamed, as
  guided-diffusion saves images and labels; reference statistics beside them, ``mu``, ``sigma``,
  ``mu_s``, ``sigma_s`` as in ADM's reference batches, are no images and are passed over), an
  ``.npy`` (``numpy.save``'s file), or a
  numpy array: uint8 N x H x W x C or N x H x W (as saved images are), or float N x C x H x W
  already in [-1, 1] (float images with no value below 0 are refused: they were saved in [0, 1]);
  float N x D point sets pass unchanged.
- a torch tensor: uint8 N x C x H x W or N x H x W (torchvision's layout), or float as above.
- a folder of PNG/JPEG files (searched recursively, through symlinked folders too, hidden files and
  folders skipped, read in sorted order); grey images give one
  channel, everything else RGB. 16-bit grey PNGs keep their 16 bits (a set of them whose values
  are all 255 or less, 8-bit pixels saved with a 16-bit dtype, is refused: read so they are near black).

Integer values map to [-1, 1] by ``v / (max / 2) - 1`` (``v / 127.5 - 1`` for uint8), the inverse
of how samples are saved as images. With ``keep_uint8`` (what `genbench eval` and
:func:`genbench.evaluate` ask for), 8-bit images stay uint8, a quarter of float32's memory (1 byte
per channel-pixel: 50000 256 x 256 RGB images are 9.8 GB, not 39 GB), and :func:`float_samples`
converts each batch as it is used: the same floats, value for value, as converting them all at once.

Given the dataset's :class:`DataSpec`, grey and RGB are reconciled without changing any value:
grey samples become three equal channels, and RGB samples whose three channels are equal (grey
saved as RGB, RGBA or palette PNGs) become one. Colour samples for a grey dataset are refused:
a luma conversion would score images the generator did not make.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench.api import DataSpec
from genbench.errors import GenbenchError
from genbench.metrics._inputs import shared_tensor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
#: the keys numpy.savez gives arrays passed without a name
_POSITIONAL = re.compile(r"arr_\d+")
#: arrays of reference statistics, not images, that an .npz of images may hold beside them: ADM's
#: reference batches (``VIRTUAL_imagenet256_labeled.npz``: ``arr_0`` and the dataset's ``mu``,
#: ``sigma``, ``mu_s``, ``sigma_s``) and the record of how `genbench stats` made a file (``genbench``)
STATS_KEYS = frozenset({"mu", "sigma", "mu_s", "sigma_s", "genbench"})
#: other image files, which genbench does not read: refused, not skipped (clean-fid's folder glob, its
#: ``EXTENSIONS``, reads all of them but GIF, .npy arrays included)
OTHER_IMAGE_SUFFIXES = {".bmp", ".gif", ".npy", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}
#: PIL modes that hold one 8-bit (or 1-bit) grey channel
_GREY_MODES = {"1", "L", "LA"}
#: PIL modes of 16-bit grey PNGs: converting them to "L" clips every value above 255 to white
_GREY16_MODES = {"I", "I;16", "I;16B", "I;16L"}


def as_samples(samples: Any, spec: DataSpec | None = None, *, keep_uint8: bool = False) -> torch.Tensor:
    """Samples from a path (``.npz`` or image folder), a numpy array or a torch tensor, checked
    against ``spec`` when given: what `genbench eval` and :func:`genbench.evaluate` accept. With
    ``keep_uint8``, 8-bit images stay uint8 N x C x H x W (:func:`float_samples` converts them)."""
    if isinstance(samples, str | os.PathLike):
        return load_samples(Path(samples), spec, keep_uint8=keep_uint8)
    if isinstance(samples, np.ndarray):
        x = _from_array(samples, "the array", channels_last=True, keep_uint8=keep_uint8)
        where = "the array"
    elif isinstance(samples, torch.Tensor):
        x = _from_tensor(samples, keep_uint8=keep_uint8)
        where = "the tensor"
    else:
        raise GenbenchError(
            f"cannot evaluate a {type(samples).__name__}; pass the path of an .npz or .npy file or an image "
            f"folder, a torch.Tensor or a numpy array"
        )
    return _match_spec(x, spec, where) if spec is not None else x


def float_samples(x: torch.Tensor) -> torch.Tensor:
    """Samples as float: uint8 images (``keep_uint8``'s) as float32 in [-1, 1], a new tensor holding
    the floats that loading them as float gives (``v / 127.5 - 1``); float samples unchanged."""
    if x.dtype != torch.uint8:
        return x
    return torch.from_numpy(_to_unit_range(x.detach().cpu().numpy()))


#: values a chunk of :func:`float_chunks` converts at once: 16 MB of float32
_CHUNK_VALUES = 1 << 22


def float_chunks(x: torch.Tensor) -> Iterator[torch.Tensor]:
    """``float_samples(x)`` a few rows at a time (about 16 MB of float32 each), or float ``x`` whole:
    what hashes uint8 images as the float32 values they are read as (a run's samples, a folder's
    split) without a float32 copy of them all. Hashing consecutive chunks is hashing their
    concatenation, bit for bit."""
    if x.dtype != torch.uint8 or not len(x):
        yield float_samples(x)
        return
    for part in x.split(max(1, _CHUNK_VALUES // max(1, x[0].numel()))):
        yield float_samples(part.contiguous())


def load_samples(path: Path, spec: DataSpec | None = None, *, keep_uint8: bool = False) -> torch.Tensor:
    """Load samples from an ``.npz``, an ``.npy`` or an image folder; check them against ``spec`` when
    given. With ``keep_uint8``, 8-bit images stay uint8 N x C x H x W (:func:`float_samples`)."""
    path = Path(path)
    if not path.exists():
        raise GenbenchError(
            f"samples {path} not found; pass an .npz or .npy file or a folder of PNG/JPEG images"
        )
    if path.is_dir():
        x = load_image_folder(path, keep_uint8=keep_uint8)
    elif path.suffix.lower() == ".npz":
        x = _load_npz(path, keep_uint8)
    elif path.suffix.lower() == ".npy":
        x = _load_npy(path, keep_uint8)
    else:
        from genbench.data.dataset_files import unpack_fix

        unpack = unpack_fix(path)  # a .zip of PNGs, which clean-fid reads as a folder
        raise GenbenchError(
            f"cannot read samples from {path}: expected an .npz or .npy file or a folder of PNG/JPEG images"
            + (f"; {unpack}" if unpack else "")
        )
    if spec is not None:
        x = _match_spec(x, spec, str(path))
    return x


def _load_npz(path: Path, keep_uint8: bool = False, what: str = "samples") -> torch.Tensor:
    """The images (or points) of an ``.npz``: ``samples``, else its one array, else ``arr_0`` of arrays
    saved unnamed; arrays of :data:`STATS_KEYS` are passed over. ``what``: what errors call them."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            # statistics beside the images are no candidates: ADM's reference batch (arr_0, mu, sigma,
            # mu_s, sigma_s) was "holds arrays [...] but no 'samples'"
            images = [k for k in keys if k not in STATS_KEYS]
            if "samples" in images:
                arr = npz["samples"]
            elif len(images) == 1:
                arr = npz[images[0]]
            elif "arr_0" in images and all(_POSITIONAL.fullmatch(k) for k in images):
                # numpy.savez(f, images, labels), as guided-diffusion's (ADM's) sampling scripts save
                # class-conditional samples and its evaluator reads them: the images are the first
                arr = npz["arr_0"]
            elif not images and keys:  # `genbench stats`'s or clean-fid's file, given for images
                raise GenbenchError(
                    f"{path} holds reference statistics ({', '.join(keys)}) and no {what}; pass it as "
                    f"--reference-stats, and the {what} in a file of their own"
                )
            else:
                raise GenbenchError(
                    f"{path} holds arrays {keys} but no 'samples'; save the {what} under the key 'samples'"
                )
    except GenbenchError:
        raise
    except Exception as e:
        # numpy reads a file that is no zip (a text file) as a pickle, and its error advises allow_pickle:
        # wrong and unsafe. An unreadable file or a truncated zip keeps its own reason below.
        if not isinstance(e, OSError | zipfile.BadZipFile) and not zipfile.is_zipfile(path):
            raise GenbenchError(
                f"cannot read {path}: not an .npz (zip) file; save the {what} with numpy.savez"
            ) from None
        if _pickled(e):
            raise GenbenchError(_pickled_fix(path, what, "numpy.savez(f, samples=...)")) from None
        raise GenbenchError(
            f"cannot read {path} as .npz ({type(e).__name__}: {e}); save it with numpy.savez"
        ) from None
    return _from_array(arr, str(path), channels_last=True, keep_uint8=keep_uint8)


def _pickled(e: Exception) -> bool:
    """Whether ``e`` is numpy refusing an object array (Python objects, e.g. a list of images of
    different sizes), which is read only by unpickling it."""
    return isinstance(e, ValueError) and "allow_pickle=False" in str(e)


def _pickled_fix(path: Path, what: str, call: str) -> str:
    # numpy's own words ("ValueError: Object arrays cannot be loaded when allow_pickle=False"),
    # with "save it with numpy.savez", sent the user to allow_pickle, which runs the file's code
    return (
        f"{path} holds an array of Python objects (a list of arrays of different shapes?), which "
        f"genbench does not unpickle; save the {what} as one uint8 or float32 array: {call}"
    )


def _load_npy(path: Path, keep_uint8: bool = False, what: str = "samples") -> torch.Tensor:
    """An array that ``numpy.save`` wrote: the commonest dump of samples, which was refused as no .npz."""
    try:
        with open(path, "rb") as fh:
            is_npy = fh.read(6) == b"\x93NUMPY"  # numpy reads any other file as a pickle
        if is_npy:
            arr = np.load(path, allow_pickle=False)
    except Exception as e:  # unreadable, truncated, or an object array (a pickle inside)
        if _pickled(e):
            raise GenbenchError(_pickled_fix(path, what, "numpy.save(f, samples)")) from None
        raise GenbenchError(
            f"cannot read {path} as .npy ({type(e).__name__}: {e}); save a uint8 or float array with numpy.save"
        ) from None
    if not is_npy:
        raise GenbenchError(f"cannot read {path}: not an .npy file; save the {what} with numpy.save")
    return _from_array(arr, str(path), channels_last=True, keep_uint8=keep_uint8)


def _from_tensor(t: torch.Tensor, keep_uint8: bool = False) -> torch.Tensor:
    # read as numpy below: a sparse tensor raised torch's TypeError and a meta one NotImplementedError
    if t.is_meta:
        raise GenbenchError(
            "the tensor is a meta tensor, which holds no values; pass one on the CPU or a GPU"
        )
    if t.layout != torch.strided:
        raise GenbenchError(f"the tensor has layout {t.layout}; pass a dense one (x.to_dense())")
    t = t.detach().cpu()
    if t.dtype == torch.uint8:
        return _from_array(t.numpy(), "the tensor", channels_last=False, keep_uint8=keep_uint8)
    if t.is_floating_point():  # float16 and bfloat16 have no exact numpy twin: widen first
        # float64 as is: .float() would turn values beyond float32's range into inf before they are checked
        arr = t.numpy() if t.dtype == torch.float64 else t.float().numpy()
        return _from_array(arr, "the tensor", channels_last=False)
    raise GenbenchError(f"the tensor has dtype {t.dtype}; pass uint8 images or float in [-1, 1]")


def _from_array(
    arr: np.ndarray, where: str, *, channels_last: bool, keep_uint8: bool = False
) -> torch.Tensor:
    """``arr`` as float32 samples (uint8 N x C x H x W images when ``keep_uint8``); uint8 images are
    N x H x W x C when ``channels_last`` (as numpy and PIL lay out images), else N x C x H x W (as
    torch does)."""
    if arr.ndim == 0:
        raise GenbenchError(
            f"{where} holds a single {arr.dtype} value, not samples; save an array with one row per sample"
        )
    if arr.size == 0 or arr.shape[0] == 0:
        raise GenbenchError(f"{where} holds no samples (shape {arr.shape})")
    if arr.dtype == np.uint8:
        layout = "N x H x W x C" if channels_last else "N x C x H x W"
        if arr.ndim == 3:  # N x H x W grey
            arr = arr[:, None]
        elif arr.ndim == 4 and channels_last and arr.shape[-1] in (1, 3):
            arr = arr.transpose(0, 3, 1, 2)
        elif not (arr.ndim == 4 and not channels_last and arr.shape[1] in (1, 3)):
            # the other layout named with its one-call fix: "must be N x H x W x C" left the way there open
            if arr.ndim == 4 and channels_last and arr.shape[1] in (1, 3):
                fix = "; these look N x C x H x W: use x.transpose(0, 2, 3, 1)"
            elif arr.ndim == 4 and not channels_last and arr.shape[-1] in (1, 3):
                fix = "; these look N x H x W x C: use x.permute(0, 3, 1, 2)"
            else:
                fix = ""
            raise GenbenchError(
                f"{where}: uint8 samples must be {layout} (C = 1 or 3) or N x H x W, got {arr.shape}{fix}"
            )
        if keep_uint8:  # C order, as the float conversion gives: torch's N x C x H x W
            return shared_tensor(np.ascontiguousarray(arr))
        return torch.from_numpy(_to_unit_range(arr))
    if np.issubdtype(arr.dtype, np.floating):
        if arr.ndim not in (2, 4):
            raise GenbenchError(
                f"{where}: float samples must be N x C x H x W images in [-1, 1] or N x D points, got {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise GenbenchError(f"{where} holds NaN or inf values; fix the sampler that wrote it")
        # float64 values beyond float32's range (1e300) are finite but cast to inf, with numpy's raw warning
        if arr.dtype.itemsize > 4 and np.abs(arr).max() > np.finfo(np.float32).max:
            raise GenbenchError(
                f"{where} holds values beyond float32's range (up to {np.abs(arr).max():.3g}); "
                f"fix the sampler that wrote it"
            )
        x = shared_tensor(np.ascontiguousarray(arr, dtype=np.float32))
        if arr.ndim == 4:
            lo, hi = float(x.min()), float(x.max())
            if lo < -1.001 or hi > 1.001:
                if hi > 2 and lo >= -0.001:
                    hint = " (looks like [0, 255]: save uint8 N x H x W x C instead)"
                elif lo < -1.001 and hi < 10:
                    # torchvision's Normalize with ImageNet's mean and std gives about [-2.1, 2.6]: it was
                    # told "looks like [0, 255]", which no negative value does
                    hint = (
                        " (looks normalized by a mean and std, as torchvision's Normalize does: undo it "
                        "(x * std + mean, in [0, 1]) and save x * 2 - 1)"
                    )
                else:
                    hint = ""
                raise GenbenchError(
                    f"{where}: float images must lie in [-1, 1], got [{lo:.3g}, {hi:.3g}]{hint}"
                )
            if lo >= 0:  # not a pixel below mid-grey: saved in [0, 1], as torchvision's ToTensor gives
                raise GenbenchError(
                    f"{where}: float images lie in [{lo:.3g}, {hi:.3g}], none below 0, as images saved in [0, 1] "
                    f"do; float images are read as [-1, 1], where these would score as washed-out grey: save "
                    f"x * 2 - 1, or uint8 images (also for samples in [-1, 1] that truly have no value below 0)"
                )
            # a clamped copy only where a value is outside [-1, 1]: else a second copy, of the same values
            if lo < -1 or hi > 1:
                x = x.clamp(-1, 1)
        return x
    raise GenbenchError(f"{where}: samples have dtype {arr.dtype}; save uint8 images or float32 in [-1, 1]")


def _visible_files(path: Path) -> list[Path]:
    """Every file under ``path``, searched recursively through symlinked folders too (as clean-fid's
    glob does: rglob skipped them, and a folder of ``ln -s`` runs was scored on its own files alone),
    each folder of a symlink loop once. Hidden files and folders are skipped, as clean-fid's glob
    does: a .ipynb_checkpoints/ copy or macOS's ._x.png was scored as one more sample."""

    def unreadable(e: OSError) -> None:  # os.walk skipped a folder it could not list, silently
        raise GenbenchError(
            f"cannot read {e.filename} ({e.strerror or e}); fix its permissions or move it out"
        )

    files: list[Path] = []
    above: dict[str, frozenset[str]] = {}  # each folder's real path and those of the folders above it
    for folder, dirs, names in os.walk(path, onerror=unreadable, followlinks=True):
        chain = above.pop(folder, frozenset()) | {os.path.realpath(folder)}
        kept = []
        for d in dirs:
            if d.startswith(".") or os.path.realpath(os.path.join(folder, d)) in chain:
                continue
            above[os.path.join(folder, d)] = chain
            kept.append(d)
        dirs[:] = kept
        files += [
            Path(folder, n)
            for n in names
            if not n.startswith(".") and os.path.isfile(os.path.join(folder, n))
        ]
    return files


def load_image_folder(
    path: Path,
    *,
    resize_to: str = "the dataset's resolution",
    empty_fix: str = "pass a folder of .png/.jpg files or an .npz",
    keep_uint8: bool = False,
) -> torch.Tensor:
    """Every PNG/JPEG image under ``path`` as float32 in [-1, 1], N x C x H x W: a samples folder, and
    the reference folder of ``--dataset DIR`` (so real and generated images go through one pixel
    pipeline); ``resize_to`` and ``empty_fix`` complete the errors for mixed sizes and for a folder
    without images. With ``keep_uint8``, a folder of 8-bit images is uint8 N x C x H x W."""
    visible = _visible_files(path)
    # sorted as path strings, as clean-fid and torch-fidelity sort theirs (IS's parts depend on the order):
    # paths sorted folder by folder put run/ before run-2/, where their string sort puts run-2/ first
    files = sorted((p for p in visible if p.suffix.lower() in IMAGE_SUFFIXES), key=str)
    others = [p for p in visible if p.suffix.lower() in OTHER_IMAGE_SUFFIXES]
    if files and others:  # a folder of 150 .png and 150 .bmp samples was scored as 150, without a word
        kinds = "/".join(sorted({p.suffix.lower() for p in others}))
        raise GenbenchError(
            f"{path} holds {len(others)} {kinds} images beside its {len(files)} PNG/JPEG ones, and genbench "
            "reads PNG/JPEG only; convert them to PNG or move them out"
        )
    if not files:
        raise GenbenchError(f"no PNG/JPEG images in {path}; {empty_fix}")
    arrays: list[np.ndarray] = []
    first_size = None
    for f in files:
        size, a = _read_image(f)
        if first_size is None:
            first_size = size
        elif size != first_size:
            raise GenbenchError(
                # paths within the folder: two subfolders' 0.png were "0.png is 8x8, 0.png is 8x9"
                f"images have mixed sizes: {files[0].relative_to(path).as_posix()} is {first_size[0]}x"
                f"{first_size[1]}, {f.relative_to(path).as_posix()} is {size[0]}x{size[1]}; resize them all to "
                f"{resize_to}"
            )
        arrays.append(a)
    deep = [a for a in arrays if a.dtype == np.uint16]
    if deep and 0 < (top := max(int(a.max()) for a in deep)) <= 255:
        # 8-bit pixels saved with a 16-bit dtype (Image.fromarray(x.astype(np.uint16)), cv2.imwrite):
        # read at their 16 bits they are all within 0.4% of black, and were scored so, silently (FID
        # 1901 against 203 for the same images as 8-bit PNGs; clean-fid clips them to 8 bits instead)
        raise GenbenchError(
            f"the {len(deep)} 16-bit PNGs in {path} hold values up to {top} of 65535, all near black, as 8-bit "
            f"images saved with a 16-bit dtype do; save them as 8-bit (x.astype(np.uint8)), or 16-bit ones "
            f"scaled to 0-65535 (x * 257)"
        )
    # some colour: grey ones become RGB (three equal channels), as PIL converts them
    channels = 3 if any(a.shape[0] == 3 for a in arrays) else 1
    eight_bit = all(a.dtype == np.uint8 for a in arrays)
    # each image written into the one array returned, converted on its own (8- and 16-bit each at its
    # scale): the same values as converting them all at once, where the stacked integers and two float
    # temporaries of that conversion were held beside the read images, 2.5 times the float32 result
    out = np.empty(
        (len(arrays), channels, *arrays[0].shape[1:]),
        dtype=np.uint8 if keep_uint8 and eight_bit else np.float32,
    )
    for i, a in enumerate(arrays):
        out[i] = a if out.dtype == a.dtype else _to_unit_range(a)  # broadcast: grey into all channels
    return torch.from_numpy(out)


def load_image_archive(path: Path, *, keep_uint8: bool = False) -> torch.Tensor:
    """The images of an ``.npz`` or ``.npy`` as float32 in [-1, 1], N x C x H x W: the reference
    images of ``--dataset FILE``, read by the rules (keys, layouts, value ranges) that read samples
    files, so real and generated images go through one pixel pipeline. Statistics beside the images
    (:data:`STATS_KEYS`) are passed over; an array of points is refused. With ``keep_uint8``, uint8
    images stay uint8 N x C x H x W (:func:`float_samples`)."""
    if path.suffix.lower() == ".npz":
        x = _load_npz(path, keep_uint8, what="images")
    else:
        x = _load_npy(path, keep_uint8, what="images")
    if x.dim() != 4:  # N x D floats pass as points for samples; a dataset archive is images
        raise GenbenchError(
            f"{path} holds an array of shape {tuple(x.shape)}, not images; save uint8 images N x H x W x C "
            "(or N x H x W), or float N x C x H x W in [-1, 1]"
        )
    return x


def _read_image(f: Path) -> tuple[tuple[int, int], np.ndarray]:
    """The image's (width, height) and its pixels as C x H x W uint8, or uint16 for 16-bit grey."""
    from PIL import Image

    try:
        with Image.open(f) as im:
            if im.mode in _GREY16_MODES:
                a = np.asarray(im)
                if a.min() < 0 or a.max() > 65535:
                    raise GenbenchError(
                        f"image {f} holds values outside 16 bits; save 8- or 16-bit PNG/JPEG images"
                    )
                a = a.astype(np.uint16)
            else:  # palette, RGBA, CMYK, ...: PIL's own conversion; 16-bit RGB loads as 8-bit RGB
                a = np.asarray(im.convert("L" if im.mode in _GREY_MODES else "RGB"))
            size = im.size
    except GenbenchError:
        raise
    except Exception as e:
        raise GenbenchError(f"cannot read image {f} ({type(e).__name__}); delete or fix it") from None
    return size, a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _to_unit_range(arr: np.ndarray) -> np.ndarray:
    """Unsigned integer pixels to float32 in [-1, 1]: ``v / 127.5 - 1`` for uint8, ``v / 32767.5 - 1``
    for uint16 (so 16-bit white is 1, as 8-bit white is)."""
    # in place: ``x / k - 1.0`` held two float32 copies at once; a float32 array and a Python float
    # compute in float32 either way, to the same values
    x = arr.astype(np.float32, order="C")
    x /= np.iinfo(arr.dtype).max / 2
    x -= 1.0
    return x


def _match_spec(x: torch.Tensor, spec: DataSpec, where: str) -> torch.Tensor:
    """Reconcile grey and RGB with the dataset's channels; fail naming expected vs got shapes."""
    want = tuple(spec.shape)
    got = tuple(x.shape[1:])
    if spec.kind == "image" and len(got) == 3 and len(want) == 3 and got[1:] == want[1:]:
        if want[0] == 3 and got[0] == 1:
            x = x.repeat(1, 3, 1, 1)  # a grey image is an RGB image with equal channels
        elif want[0] == 1 and got[0] == 3:
            if not (torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])):
                raise GenbenchError(
                    f"samples in {where} are colour images but {spec.name!r} is grey (shape {want}); "
                    f"save grey images or evaluate against a colour dataset"
                )
            x = x[:, :1].contiguous()  # not a view: the other two channels' memory is freed
        got = tuple(x.shape[1:])
    if got != want:
        fix = "save samples at the dataset's shape"
        if spec.kind == "image" and len(got) == len(want) == 3 and got[:2] == want[1:] and got[2] in (1, 3):
            # float images saved channels-last (as numpy, JAX and TensorFlow lay them out) were told
            # to be saved "at the dataset's shape", which they are, transposed
            fix = (
                "float samples are N x C x H x W and these look N x H x W x C: use x.transpose(0, 3, 1, 2) "
                "(a torch tensor: x.permute(0, 3, 1, 2))"
            )
        raise GenbenchError(
            f"samples in {where} have shape {got} per example but {spec.name!r} expects {want}; {fix}"
        )
    return x
