"""Checkpoint files: atomic torch.save, and a clear error for corrupt or foreign files.

A checkpoint is loaded with ``weights_only=True``: torch's restricted unpickler builds tensors,
numbers, strings, lists, tuples, dicts (and numpy's arrays and scalars, :func:`_numpy_globals`),
never an arbitrary object, so a file in a shared cache or one someone sent cannot run code when it
is loaded. What is saved is checked against the same loader before it is written
(:class:`~genbench.errors.StateContentError`): a state it would refuse fails at its save, with the
fix, not on the next run, when the training behind it could no longer be loaded.
"""

from __future__ import annotations

import contextlib
import functools
import io
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from genbench.errors import CheckpointError, StateContentError
from genbench.io import FIX_CACHE, atomic_write

FORMAT = "genbench-checkpoint-v1"

#: the resumable training state written every --checkpoint-every steps, removed once model.pt exists
PARTIAL = "train.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``{"format": FORMAT, **payload}`` atomically; :class:`StateContentError` (nothing
    written) when it holds an object that :func:`load_checkpoint` would refuse."""
    data = serialized({"format": FORMAT, **payload})
    atomic_write(Path(path), lambda fh: fh.write(data), fix=FIX_CACHE)


def serialized(payload: Any) -> bytes:
    """``torch.save``'s bytes of ``payload``, once the loader is known to take them back:
    :class:`StateContentError`, naming what it refuses, when it would not."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    try:  # on the meta device: the unpickler runs in full, no tensor's data is read or copied
        _load(io.BytesIO(data), "meta")
    except Exception as e:
        if not (isinstance(e, pickle.UnpicklingError) and _WEIGHTS_ONLY in str(e)):
            _load(io.BytesIO(data), "cpu")  # a tensor meta cannot hold: the load itself decides
            return data
        raise StateContentError(_refused(e, data, _nested_classes(payload)) or "an object") from e
    return data


def _nested_classes(payload: Any) -> dict[str, str]:
    """For each class nested in another (``mod.Model.Config``) of which ``payload`` holds an object:
    the outer class's name -> its own. torch pickles such a class as ``builtins.getattr(mod.Model,
    "Config")``, so the unpickler names ``builtins.getattr`` and ``mod.Model``: a state holding the
    model's own ``self.config`` (a nested ``Config``, as the plugin contract has it) read as if it held
    the model. Only names, read after the loader refused the state; the loader decides."""
    nested: dict[str, str] = {}
    seen: set[int] = set()
    stack = [payload]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, torch.Tensor | str | bytes | int | float | type):
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
        else:
            kind = type(obj)
            outer, dot, _ = kind.__qualname__.partition(".")
            if dot and "<locals>" not in kind.__qualname__:
                nested.setdefault(f"{kind.__module__}.{outer}", f"{kind.__module__}.{kind.__qualname__}")
            stack += list(getattr(obj, "__dict__", {}).values())
    return nested


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        payload = _load(path, "cpu")
    except Exception as e:
        refused = _refused(e, path) if isinstance(e, pickle.UnpicklingError) else None
        if refused is not None:
            # not unpickled: a file genbench never wrote (crafted to run code), or one an older
            # genbench wrote from a plugin's state that held some other object
            raise CheckpointError(
                f"checkpoint {path} holds {refused}, which genbench does not load "
                "(unpickling it could run code); delete it or rerun with --retrain"
            ) from e
        # a pickle op the loader does not know (a text file, a Git LFS pointer) is damage too
        raise CheckpointError(
            f"checkpoint {path} is corrupt ({type(e).__name__}); delete it or rerun with --retrain"
        ) from e
    damaged = failed_crc(path)
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path} is corrupt ({damaged}); delete it or rerun with --retrain")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genbench checkpoint; delete it or rerun with --retrain")
    return payload


def failed_crc(path: Path) -> str | None:
    """What of the zip archive ``path`` (torch.save's format) fails its CRC-32 check, in words; None
    when every member passes, or when ``path`` is no zip (torch's legacy format: its load decides).
    torch.load never checks them: a byte flipped on disk in a tensor's data (a bad sector, a copy
    between file systems cut short and resumed) loaded other weights without a word, and the run
    scored them as the trained model's."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every member, as the load just did
    except zipfile.BadZipFile as e:  # a damaged directory, which torch's reader went past
        return f"BadZipFile: {e}"
    except OSError:  # unreadable now: the load just read it, so nothing to add
        return None
    return None if bad is None else f"{bad} fails its CRC-32 check"


def _load(source: Path | io.BytesIO, map_location: str) -> Any:
    with numpy_allowed():
        return torch.load(source, map_location=map_location, weights_only=True)


def numpy_allowed() -> contextlib.AbstractContextManager[Any]:
    """torch's ``safe_globals`` of :func:`_numpy_globals` (torch >= 2.5, the declared floor): what a
    checkpoint's weights_only load allows besides tensors (also `genbench list cache`'s reading of one)."""
    return torch.serialization.safe_globals(_numpy_globals())


#: what torch's error says when its weights_only unpickler refused a file
_WEIGHTS_ONLY = "Weights only load failed"
#: how torch's error names what it refused: a global, or the class of an object to build
_NAMED = tuple(
    re.compile(words)
    for words in (
        r"GLOBAL (\S+) was not an allowed",
        r"GLOBAL (\S+) whose module",
        r"but got <class '([^']+)'>",
    )
)


def _refused(error: Exception, source: Path | bytes, nested: dict[str, str] | None = None) -> str | None:
    """What the weights_only unpickler refused in ``source``, in words (``a mod.Config object``):
    every global it does not take, else the one torch's ``error`` names; None when it names none.
    ``nested`` (:func:`_nested_classes` of what was saved) names a nested class in place of the
    ``builtins.getattr`` and outer class its pickle is made of."""
    if _WEIGHTS_ONLY not in str(error):
        return None
    try:
        file: io.BytesIO | Path = io.BytesIO(source) if isinstance(source, bytes) else source
        with numpy_allowed():
            names = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(file))
    except Exception:  # not torch's zip format (a bare pickle): torch's error names one
        names = []
    if not names:
        names = [m.group(1) for words in _NAMED if (m := words.search(str(error)))][:1]
    if not names:
        return None
    if nested and "builtins.getattr" in names:
        # torch 2.5's message names builtins.getattr alone, later ones the outer class beside it:
        # either way the nested classes the state holds are what it refused
        names = sorted(
            {n for n in names if n != "builtins.getattr" and n not in nested} | set(nested.values())
        )
    return f"a {names[0]} object" if len(names) == 1 else f"{', '.join(names)} objects"


@functools.cache
def _numpy_globals() -> list[Any]:
    """The numpy globals a checkpoint may hold: arrays and scalars of booleans and numbers (a
    plugin's ``np.random.get_state()``, a ``np.float64`` loss), torch's documented allowlist for them
    (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar`` and the dtypes' classes).

    Allowed because they are data, as tensors are, and a plugin's state legitimately holds them
    (numpy's global generator is seeded for plugins, so saving its state is how one resumes
    exactly): refusing them would fail such a plugin's training at its first save. Each of these
    only builds an array or scalar from bytes, and the dtypes are the fixed-size numeric ones only:
    object arrays (whose items are arbitrary objects) and structured or string ones are refused.
    ``_reconstruct`` and ``scalar`` are named as numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``)
    pickle them, so a state saved under either loads under the other."""
    import numpy as np

    try:
        from numpy._core import multiarray  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core import multiarray  # type: ignore[no-redef]  # the same module, under numpy 1's name
    numeric: list[type] = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32]
    numeric += [np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]
    names = [f"{package}.multiarray" for package in ("numpy.core", "numpy._core")]
    if torch.__version__ < "2.6":  # no (global, name) pairs yet: each under the name it has here
        builders: list[Any] = [multiarray._reconstruct, multiarray.scalar]
    else:
        builders = [
            (f, f"{m}.{f.__name__}") for f in (multiarray._reconstruct, multiarray.scalar) for m in names
        ]
    return [
        *builders,
        np.ndarray,
        np.dtype,
        *dict.fromkeys(type(np.dtype(t)) for t in numeric),
    ]
