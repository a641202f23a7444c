"""The k-NN results of a reference set, kept for the process by the values of its rows.

prdc's k-NN radii of the reference features and memorization's nearest neighbours of the train
split within itself depend on those rows alone, and a run computes them once for every model it
scores (the reference features' cache). A second command in the same process (the Python API in a
notebook, `genbench eval` after `genbench run`, a test session of hundreds of commands) computed
them again: a self-join of the whole set, 10000 x 10000 distances for ring8's train split, every
time, and most of a short command's time. They are now kept by a digest of the rows' values
(SHA-256 of their bytes, with their shape, dtype and device) and everything else the result
depends on (the k asked for, torch's thread count), so a set with one value changed is another
entry: the results are those a fresh computation gives, to the bit, whatever ran before.

Only the last :data:`ENTRIES` results are kept, each a few vectors of one value per row (no copy of
the rows themselves), and every caller gets its own copy, so nothing a command does to what it was
handed reaches the next one.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import torch

#: the most results kept (a run's reference and train split, in a space or two, and a few others)
ENTRIES = 8
#: the bytes of rows hashed at once
CHUNK_BYTES = 2**25

_kept: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()

T = TypeVar("T")


def rows_digest(x: torch.Tensor) -> tuple[Hashable, ...]:
    """What identifies the rows ``x`` by value: SHA-256 of their bytes, their shape, dtype and device.
    Read :data:`CHUNK_BYTES` at a time: a set on a GPU is never copied to the host whole (1.2 GB for
    CIFAR-10's train split as float64 pixels); on the CPU the rows are read in place."""
    h = hashlib.sha256()
    flat = x.detach().flatten(1) if x.dim() > 1 else x.detach().reshape(len(x), 1)
    step = max(1, CHUNK_BYTES // max(flat.shape[1] * flat.element_size(), 1))
    for start in range(0, len(flat), step):
        h.update(np.ascontiguousarray(flat[start : start + step].cpu().numpy()).data)
    return h.hexdigest(), tuple(x.shape), str(x.dtype), str(x.device)


def kept(what: str, x: torch.Tensor, params: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, the ``what`` of rows ``x`` with ``params``, computed once per process for the
    same values of ``x`` (:func:`rows_digest`), ``params`` and thread count; a copy each call."""
    key = (what, params, torch.get_num_threads(), *rows_digest(x))
    if key in _kept:
        _kept.move_to_end(key)
        return _copy(_kept[key])
    value = compute()
    _kept[key] = _copy(value)
    while len(_kept) > ENTRIES:
        _kept.popitem(last=False)
    return value


def forget() -> None:
    """Drop every kept result."""
    _kept.clear()


def _copy(value: Any) -> Any:
    """``value`` (tensors in dicts and tuples, numbers, None) with every tensor copied."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value
