"""Checkpoint files: atomic torch.save, and a clear error for corrupt or foreign files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from genbench.errors import CheckpointError
from genbench.io import FIX_CACHE, atomic_write

FORMAT = "genbench-checkpoint-v1"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buf)
    atomic_write(Path(path), lambda fh: fh.write(buf.getvalue()), fix=FIX_CACHE)


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(
            f"checkpoint {path} is corrupt ({type(e).__name__}); delete it or rerun with --retrain"
        ) from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genbench checkpoint; delete it or rerun with --retrain")
    return payload
