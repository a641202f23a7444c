"""Which weights a result used: where they came from (``"shipped"`` with the model, the ``"cache"``'s
checkpoint, or ``"trained"`` in this run) and a digest of their content, recorded in its ``training``;
and the warning when the cache's checkpoint of a key holds other weights than the one that ships.

The cache's checkpoint of a key is loaded before the shipped one (:func:`genbench.training.train_or_load`),
so a cache holding weights trained on this machine (an earlier ``--retrain``, a training before the
weights shipped) made ``make leaderboards`` score them in place of the shipped ones: the digits board
came out other than the published one (gan-ns FID 50.13 -> 45.91), with only the "loaded" line to
tell why. The digest hashes the state's tensors, not the file, so a checkpoint that holds the same
weights (a copy of the shipped file, or a retraining that is bit for bit the same) says nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench.checkpoint import load_checkpoint
from genbench.errors import GenbenchError

#: hex characters of the sha256 that a result records: 64 bits, no two weights alike by chance
DIGEST_CHARS = 16


def weights_digest(state: Any) -> str:
    """A short sha256 of ``state`` (a model's ``state_dict()``, nested dicts and lists included): each
    tensor's dtype, shape and bytes, the keys sorted, so the same weights give the same digest
    whatever file holds them and whatever else the file records (training time, machine)."""
    h = hashlib.sha256()
    _feed(h, state)
    return h.hexdigest()[:DIGEST_CHARS]


def _feed(h: Any, value: Any) -> None:
    if torch.is_tensor(value) and value.layout != torch.strided:
        # a sparse tensor (a plugin's buffer): its nonzero entries, in one order whatever its layout
        # (contiguous() raised for it, and the model that loaded fine failed on its digest)
        t = value.detach().cpu().to_sparse_coo().coalesce()
        h.update(f"S{t.dtype}{tuple(t.shape)};".encode())
        _feed(h, t.indices())
        _feed(h, t.values())
    elif torch.is_tensor(value):
        t = value.detach().cpu().resolve_conj().resolve_neg().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)};".encode())
        try:
            h.update(t.reshape(-1).view(torch.uint8).numpy())  # the bytes, without a copy
        except (RuntimeError, TypeError):  # a quantized tensor: its values
            h.update(repr(t.tolist()).encode())
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        h.update(f"A{value.dtype.str}{value.shape};".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.ndarray):
        # strings, objects, dates: item by item (the array's repr elides all but its ends past 1000
        # items, so two arrays that differed in the middle had the same digest)
        h.update(f"O{value.dtype.str}{value.shape};".encode())
        _feed(h, value.tolist())
    elif isinstance(value, dict):
        h.update(f"D{len(value)};".encode())
        for key in sorted(value, key=repr):
            h.update(f"{key!r}=".encode())
            _feed(h, value[key])
    elif isinstance(value, list | tuple):
        h.update(f"L{len(value)};".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"V{type(value).__name__}:{value!r};".encode())


def recorded(info: dict[str, Any], source: str, state: Any) -> dict[str, Any]:
    """``info`` (a result's ``training``) with where its weights came from and their digest."""
    return {**info, "weights_source": source, "weights_digest": weights_digest(state)}


def shipped_digest(shipped: Path) -> str | None:
    """The digest of the weights in the shipped checkpoint ``shipped``; None when it cannot be read
    (the cache's checkpoint is used all the same)."""
    try:
        return weights_digest(load_checkpoint(shipped).get("state"))
    except GenbenchError:
        return None


def compare_with_shipped(
    info: dict[str, Any],
    shipped: Path,
    ckpt_dir: Path,
    who: str,
    compared: dict[Path, str | None],
    warn: Callable[[str], None],
) -> None:
    """Warn, once per checkpoint directory in a run (``compared``: the directories compared so far,
    with the shipped weights' digest), when the cache's checkpoint in ``ckpt_dir``, loaded into
    ``info`` (a result's ``training``), holds other weights than ``shipped``, the checkpoint of its key
    that ships with the model; ``info`` records the shipped digest beside its own (``shipped_digest``),
    so a result says after the fact that it did not score the shipped weights."""
    first = ckpt_dir not in compared
    if first:
        compared[ckpt_dir] = shipped_digest(shipped)
    digest = compared[ckpt_dir]
    if digest is None:
        return
    info["shipped_digest"] = digest
    if first and digest != info["weights_digest"]:
        machine = info.get("trained_on") or "a machine it does not record"
        warn(
            f"{who}: using the cache's checkpoint {info['checkpoint']} (trained on {machine}), not the "
            f"shipped one ({shipped}), which holds other weights and is what the published boards use; "
            f"delete {ckpt_dir} or point --cache-dir (GENBENCH_CACHE) at an empty folder to use the "
            "shipped one"
        )
