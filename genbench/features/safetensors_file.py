"""A reader of the safetensors format (Hugging Face's ``model.safetensors``), for feature networks'
weights published in it.

The format (huggingface/safetensors' README): an 8-byte little-endian unsigned header length N, N
bytes of a JSON object mapping each tensor's name to its ``dtype``, ``shape`` and ``data_offsets``
(begin and end, in bytes, from the end of the header), an optional ``__metadata__`` entry of
strings, then the raw little-endian buffers. Read here by memory map and :func:`torch.frombuffer`
rather than through the ``safetensors`` package, which genbench would otherwise depend on for this
one file (the tests check this reader against that package's writer). Like ``torch.load(...,
weights_only=True)``, nothing in the file is executed.
"""

from __future__ import annotations

import json
import math
import mmap
from pathlib import Path

import torch

#: safetensors' dtype names
DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
#: the header's first byte: the JSON object's brace (what tells a safetensors file from a pickle)
MAGIC_BYTE = b"{"


class NotSafetensors(ValueError):
    """The file is not a readable safetensors file; the message says what is wrong."""


def is_safetensors(path: Path) -> bool:
    """Whether ``path`` starts as a safetensors file does (a header length, then ``{``); a zip-based
    torch.save file starts ``PK``, a legacy pickle ``\\x80``."""
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == MAGIC_BYTE


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the safetensors file ``path``, by name, on the CPU (each its own memory: the
    file is closed on return). :class:`NotSafetensors` for a file that breaks the format."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as mapped:
        size = len(mapped)
        if size < 8:
            raise NotSafetensors(f"{size} bytes, fewer than the 8 of a header length")
        n = int.from_bytes(mapped[:8], "little")
        if n > size - 8:
            raise NotSafetensors(f"a header of {n} bytes in a file of {size}")
        try:
            header = json.loads(bytes(mapped[8 : 8 + n]))
        except ValueError as e:  # UnicodeDecodeError too
            raise NotSafetensors(f"its header is not JSON ({e})") from None
        if not isinstance(header, dict):
            raise NotSafetensors(f"its header is a JSON {type(header).__name__}, not an object")
        header.pop("__metadata__", None)
        start, length = 8 + n, size - 8 - n
        out = {}
        for name, entry in header.items():
            tensor = _tensor(mapped, start, length, name, entry)
            out[name] = tensor.clone()  # its own memory: the map closes here
        return out


def _tensor(mapped: mmap.mmap, start: int, length: int, name: str, entry: object) -> torch.Tensor:
    """The tensor ``entry`` describes, viewing the buffer ``mapped[start : start + length]``."""
    if not isinstance(entry, dict) or entry.get("dtype") not in DTYPES:
        raise NotSafetensors(f"tensor {name!r} has no known dtype ({entry!r:.100})")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise NotSafetensors(f"tensor {name!r} has shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise NotSafetensors(f"tensor {name!r} has data_offsets {offsets!r}")
    dtype = DTYPES[entry["dtype"]]
    begin, end = offsets
    count = math.prod(shape)
    if not 0 <= begin <= end <= length or end - begin != count * dtype.itemsize:
        raise NotSafetensors(
            f"tensor {name!r} ({entry['dtype']} {tuple(shape)}) at bytes {begin}..{end} of a {length}-byte "
            "buffer: a cut-off download?"
        )
    if count == 0:
        return torch.zeros(shape, dtype=dtype)
    # the format is little-endian, as every machine torch runs on
    return torch.frombuffer(mapped, dtype=dtype, count=count, offset=start + begin).reshape(shape)
