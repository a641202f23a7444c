"""Samples generated elsewhere, for `genbench eval`: an ``.npz`` file or a folder of images.

Accepted inputs (converted to float32 in [-1, 1], N x C x H x W):

- ``.npz`` with key ``samples`` (or a single array): uint8 N x H x W x C or N x H x W (as saved
  images are), or float N x C x H x W already in [-1, 1]; float N x D point sets pass unchanged.
- a folder of PNG/JPEG files (searched recursively, read in sorted order); grey images give one
  channel, everything else RGB.

uint8 values map to [-1, 1] by ``v / 127.5 - 1``, the inverse of how samples are saved as images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genbench.api import DataSpec
from genbench.errors import GenbenchError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
#: PIL modes that hold one grey channel
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def load_samples(path: Path, spec: DataSpec | None = None) -> torch.Tensor:
    """Load samples from an ``.npz`` or an image folder; check them against ``spec`` when given."""
    path = Path(path)
    if not path.exists():
        raise GenbenchError(f"samples {path} not found; pass an .npz file or a folder of PNG/JPEG images")
    if path.is_dir():
        x = _load_folder(path)
    elif path.suffix.lower() == ".npz":
        x = _load_npz(path)
    else:
        raise GenbenchError(
            f"cannot read samples from {path}: expected an .npz file or a folder of PNG/JPEG images"
        )
    if spec is not None:
        x = _match_spec(x, spec, path)
    return x


def _load_npz(path: Path) -> torch.Tensor:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            if "samples" in keys:
                arr = npz["samples"]
            elif len(keys) == 1:
                arr = npz[keys[0]]
            else:
                raise GenbenchError(
                    f"{path} holds arrays {keys} but no 'samples'; save the samples under the key 'samples'"
                )
    except GenbenchError:
        raise
    except Exception as e:
        raise GenbenchError(
            f"cannot read {path} as .npz ({type(e).__name__}: {e}); save it with numpy.savez"
        ) from None
    if arr.size == 0 or arr.shape[0] == 0:
        raise GenbenchError(f"{path} holds no samples (shape {arr.shape})")
    if arr.dtype == np.uint8:
        if arr.ndim == 3:  # N x H x W grey
            arr = arr[:, None]
        elif arr.ndim == 4 and arr.shape[-1] in (1, 3):  # N x H x W x C
            arr = arr.transpose(0, 3, 1, 2)
        else:
            raise GenbenchError(
                f"{path}: uint8 samples must be N x H x W x C (C = 1 or 3) or N x H x W, got {arr.shape}"
            )
        return _from_uint8(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.ndim not in (2, 4):
            raise GenbenchError(
                f"{path}: float samples must be N x C x H x W images in [-1, 1] or N x D points, got {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise GenbenchError(f"{path} holds NaN or inf values; fix the sampler that wrote it")
        x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        if arr.ndim == 4:
            lo, hi = float(x.min()), float(x.max())
            if lo < -1.001 or hi > 1.001:
                hint = " (looks like [0, 255]: save uint8 N x H x W x C instead)" if hi > 2 else ""
                raise GenbenchError(
                    f"{path}: float images must lie in [-1, 1], got [{lo:.3g}, {hi:.3g}]{hint}"
                )
            x = x.clamp(-1, 1)
        return x
    raise GenbenchError(f"{path}: samples have dtype {arr.dtype}; save uint8 images or float32 in [-1, 1]")


def _load_folder(path: Path) -> torch.Tensor:
    from PIL import Image

    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GenbenchError(f"no PNG/JPEG images in {path}; pass a folder of .png/.jpg files or an .npz")
    arrays: list[np.ndarray] = []
    first_size = None
    for f in files:
        try:
            with Image.open(f) as im:
                size = im.size
                grey = im.mode in _GREY_MODES
                a = np.asarray(im.convert("L" if grey else "RGB"))
        except Exception as e:
            raise GenbenchError(f"cannot read image {f} ({type(e).__name__}); delete or fix it") from None
        if first_size is None:
            first_size = size
        elif size != first_size:
            raise GenbenchError(
                f"images have mixed sizes: {files[0].name} is {first_size[0]}x{first_size[1]}, "
                f"{f.name} is {size[0]}x{size[1]}; resize them all to the dataset's resolution"
            )
        arrays.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    if any(a.shape[0] == 3 for a in arrays):  # some colour: grey ones become RGB, as PIL converts them
        arrays = [np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a for a in arrays]
    return _from_uint8(np.stack(arrays))


def _from_uint8(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32) / 127.5 - 1.0)


def _match_spec(x: torch.Tensor, spec: DataSpec, path: Path) -> torch.Tensor:
    """Reconcile grey and RGB with the dataset's channels; fail naming expected vs got shapes."""
    want = tuple(spec.shape)
    got = tuple(x.shape[1:])
    if spec.kind == "image" and len(got) == 3 and len(want) == 3 and got[1:] == want[1:]:
        if want[0] == 3 and got[0] == 1:
            x = x.repeat(1, 3, 1, 1)  # a grey image is an RGB image with equal channels
        elif want[0] == 1 and got[0] == 3:
            if not (torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])):
                raise GenbenchError(
                    f"samples in {path} are colour images but {spec.name!r} is grey (shape {want}); "
                    f"save grey images or evaluate against a colour dataset"
                )
            x = x[:, :1]
        got = tuple(x.shape[1:])
    if got != want:
        raise GenbenchError(
            f"samples in {path} have shape {got} per example but {spec.name!r} expects {want}; "
            f"save samples at the dataset's shape"
        )
    return x
