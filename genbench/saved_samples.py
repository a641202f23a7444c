"""A run's samples kept beside its result (``--save-samples``), for `genbench eval`, clean-fid,
torch-fidelity or a look.

``seed<N>.json`` gets ``seed<N>.samples.npz`` (a result written elsewhere keeps its stem:
``seed<N>.aside-<hash>.samples.npz``), holding under ``samples`` exactly the values the run scored:
float32, N x C x H x W in [-1, 1] for images, N x D for points, which `genbench eval --samples`
reads back unchanged, so it gives the same numbers to the bit. A class-conditional model's file holds
the class each sample was drawn for under ``labels`` (int64), which `genbench eval` hands the metrics
as the run did (``EvalContext.sample_labels``). The result records the file's name
and the sha256 of those values (``samples_file``), computed as `genbench eval` computes the one it
records in ``protocol.samples``, so an evaluation of the file can be matched to the run.

A samples file never sits beside a result that did not score it. Writing one replaces the old file
only after the result that names it is written (both atomically, the old file removed first): an
interruption in between leaves a result whose file is missing, never one beside other samples. A
result written without ``--save-samples`` keeps the file beside it only when it holds the samples
this result scored (a rerun from the same checkpoint and seed samples the same values), recording
it; any other is removed, with a warning: it belonged to the result just replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from genbench.errors import GenbenchError
from genbench.io import atomic_write, atomic_write_text, json_text
from genbench.results import Result, load_result

#: what a result file's name becomes for its samples: seed0.json -> seed0.samples.npz
SUFFIX = ".samples.npz"


def samples_path(result_path: Path) -> Path:
    """The samples file of the result file ``result_path``."""
    return result_path.with_name(result_path.stem + SUFFIX)


def samples_sha256(samples: torch.Tensor) -> str:
    """The sha256 of ``samples``' float32 values in C order: what `genbench eval` records of the
    samples it scores, and a run of the samples it keeps. uint8 images (`genbench eval` keeps 8-bit
    images so) are hashed as the float32 values they are read as, a few rows at a time: the digest of
    the same images loaded as float, without a float32 copy of them all."""
    from genbench.data.folder import float_chunks

    h = hashlib.sha256()
    for part in float_chunks(samples):
        h.update(_values(part).data)
    return h.hexdigest()


def _values(samples: torch.Tensor) -> np.ndarray:
    """``samples`` as the file holds them: float32 in C order, on the CPU (one copy from a GPU)."""
    return samples.detach().cpu().float().contiguous().numpy()


def write_with_samples(
    result: Result,
    path: Path,
    samples: torch.Tensor | None,
    save: bool,
    warn: Callable[[str], None],
    *,
    flag: str | None = "--save-samples",
    labels: torch.Tensor | None = None,
) -> Path:
    """Write ``result`` to ``path`` and, when ``save`` and it has ``samples``, those beside it
    (:func:`samples_path`), with ``labels`` (the classes a conditional model drew them for) under
    ``labels``; any other samples file there is kept only if it holds ``samples``.
    A samples file that cannot be written (a full disk) loses no metric: the result is written
    without it, with a warning. ``flag``: what keeps samples, named when one is removed (None for
    `genbench eval`, which keeps none)."""
    beside = samples_path(path)
    where = f"{result.label} seed {result.seed}"
    if save and samples is not None:
        values = _values(samples)
        result.samples_file = {"name": beside.name, "sha256": hashlib.sha256(values.data).hexdigest()}
        text = json_text(asdict(result))  # a value json cannot write fails here, before any file changes

        def publish() -> None:  # the old samples go first: never beside the new result
            beside.unlink(missing_ok=True)
            atomic_write_text(path, text)

        try:
            arrays: dict[str, Any] = {
                "samples": values
            }  # Any: numpy types savez's **kwds as its allow_pickle
            if labels is not None:  # int64, one per sample: what `genbench eval` hands the metrics again
                arrays["labels"] = labels.detach().cpu().to(torch.int64).numpy()
            atomic_write(beside, lambda fh: np.savez(fh, **arrays), before_replace=publish)
            return path
        except (GenbenchError, OSError) as e:
            warn(f"{where}: its samples were not saved: {e}")
    result.samples_file = {}
    if beside.exists():
        sha = samples_sha256(samples) if samples is not None else None
        if sha is not None and _holds(beside, sha):
            result.samples_file = {"name": beside.name, "sha256": sha}
        else:
            try:
                beside.unlink()
                hint = f" (pass {flag} to keep each run's)" if flag and not save else ""
                warn(f"{where}: removed {beside}, the samples of the result this one replaces{hint}")
            except OSError as e:
                warn(
                    f"{where}: cannot remove {beside} ({e.strerror}), which holds other samples than {path}'s"
                )
    return result.write(path.parent, to=path)


def kept_by(path: Path, sha: str) -> Result | None:
    """The run result that keeps the samples file ``path`` (``seed<N>.json`` beside its
    ``seed<N>.samples.npz``) and records these values (of sha256 ``sha``); None for any other file."""
    if not path.name.endswith(SUFFIX):
        return None
    try:
        result = load_result(path.with_name(path.name[: -len(SUFFIX)] + ".json"))
    except Exception:  # no result beside it, or none genbench can read: no run to match
        return None
    return result if result.samples_file.get("sha256") == sha else None


def remove_samples_of(path: Path) -> None:
    """Remove the samples file of the result file ``path`` that was just removed: never read, and
    a rerun's result of that name must not find it."""
    with contextlib.suppress(OSError):
        samples_path(path).unlink(missing_ok=True)


def _holds(path: Path, sha: str) -> bool:
    """Whether the samples file ``path`` holds the samples of sha256 ``sha``: its float32 values
    hashed as they stream out of the file, never loaded whole (614 MB at CIFAR-10 scale, beside
    the rerun's own samples). The values' digest, not the file's: a file of the same values written
    otherwise (compressed, another .npy header version) holds the same samples, and the result
    records no digest of the file's bytes."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("samples.npy") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                _, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                _, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
            else:  # a header format read only by np.load: rare enough to be loaded
                return _loaded_holds(path, sha)
            if dtype != np.float32:  # float32 in this machine's byte order, as samples_sha256 hashes
                return False
            if fortran_order:  # its bytes are not the C-order values hashed: loaded, and hashed in C order
                return _loaded_holds(path, sha)
            # ZipFile.open's file is a BufferedIOBase (typeshed says IO[bytes], without its readinto)
            values = cast(io.BufferedIOBase, fh)
            return hashlib.file_digest(values, "sha256").hexdigest() == sha  # the rest is the values
    except Exception:  # unreadable or not ours: it holds no samples of this result
        return False


def _loaded_holds(path: Path, sha: str) -> bool:
    """:func:`_holds` by loading the file whole (an array stored in Fortran order, a rare header)."""
    with np.load(path, allow_pickle=False) as npz:
        values = npz["samples"]
    return values.dtype == np.float32 and samples_sha256(torch.from_numpy(values)) == sha
