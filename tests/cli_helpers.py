"""What the CLI tests share: their argument lists, the check of a one-line user error, the digits
test split as a user saves it, and the faults they inject (Ctrl-C in training, a full disk, a
crafted checkpoint, a flipped bit). Imported by name: tests/ is on the path.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch


def run_args(out: Path, cache_dir: Path, *extra: str) -> list[str]:
    return ["run", "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress", *extra]


def eval_args(samples: Path, out: Path, cache_dir: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "--samples",
        str(samples),
        "--dataset",
        "digits",
        "--out",
        str(out),
        "--cache-dir",
        str(cache_dir),
        "--no-progress",
        *extra,
    ]


def listed(kind: str) -> dict[str, str]:
    """`genbench list KIND` as name -> its row, each row on one line (1000 columns): at the runner's
    80, a description wraps where the widest name puts it, and a longer name added to the table
    (class_accuracy) split "Bai et al. 2021" over two rows of mifid's."""
    from typer.testing import CliRunner

    from genbench.cli.main import app

    r = CliRunner().invoke(app, ["list", kind], env={"COLUMNS": "1000"})
    assert r.exit_code == 0, r.output
    return {ln.split("│")[1].strip(): ln for ln in r.stdout.splitlines() if ln.startswith("│")}


def single_line_error(result) -> str:
    """The CLI's message for a user error: exit 2, one line, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def interrupt_training_at(monkeypatch: pytest.MonkeyPatch, at: int):
    """Make training raise KeyboardInterrupt (Ctrl-C) when it reports step ``at``; returns the real
    ``TrainContext.progress`` so that the test can undo it."""
    from genbench.api import TrainContext

    real = TrainContext.progress

    def interrupt(self, step, total, **values):
        if step == at:
            raise KeyboardInterrupt
        real(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", interrupt)
    return real


def digits_test_u8(cache_dir: Path) -> np.ndarray:
    """The digits test split as the uint8 N x H x W images a user would save."""
    from genbench.data.digits import Digits

    x = Digits(cache_dir=cache_dir).load("test")[0]
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[:, 0].numpy()


def fill_disk_writing(monkeypatch, hits) -> None:
    """The disk fills up part way through every write of a file whose path ``hits(path)``, whether it
    is written in place (``open``) or through :func:`genbench.io.atomic_write`'s temp file."""
    import builtins
    import errno

    import genbench.io

    def full(fh):
        fh.write(b"\x89PNG")  # part of it went out before the disk filled up
        fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    real_open, real_write = builtins.open, genbench.io.atomic_write

    def open_full(file, mode="r", *args, **kwargs):  # written in place
        fh = real_open(file, mode, *args, **kwargs)
        if "w" in mode and isinstance(file, str | os.PathLike) and hits(Path(file)):
            with fh:
                full(fh)
        return fh

    def write_full(path, write, *, fix=genbench.io.FIX_OUT):  # or through a temp file
        return real_write(path, full if hits(Path(path)) else write, fix=fix)

    monkeypatch.setattr(builtins, "open", open_full)
    monkeypatch.setattr(genbench.io, "atomic_write", write_full)


class Mkdir:
    """Unpickled, it makes a directory: the side effect of a crafted checkpoint's ``__reduce__``."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def png_folder(path: Path, images: np.ndarray) -> Path:
    """``images`` (uint8 N x H x W or N x H x W x 3) saved as PNGs in the new folder ``path``."""
    from PIL import Image

    path.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(path / f"{i:03d}.png")
    return path


def folder_and_samples(root: Path, n: int, size: int, seed: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """(folder of ``n`` random ``size`` x ``size`` RGB PNGs, samples .npz unlike them: brighter and
    smoother, the reference images, the samples), under ``root``."""
    ref = np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    samples = np.clip(ref.astype(int) // 2 + 100, 0, 255).astype(np.uint8)
    np.savez(root / "samples.npz", samples=samples)
    return png_folder(root / "ref", ref), root / "samples.npz", ref, samples


def raw_eval_args(
    samples: Path, dataset: str | Path, out: Path, cache_dir: Path, *extra: object
) -> list[str]:
    """`genbench eval` of ``samples`` against ``dataset`` (a name, a folder, an archive) in raw pixels."""
    return [
        "eval", "--samples", str(samples), "--dataset", str(dataset), "--out", str(out),
        "--cache-dir", str(cache_dir), "--no-progress", "--features", "raw", *map(str, extra),
    ]  # fmt: skip


def flip_a_tensor_byte(path: Path) -> None:
    """Flip one bit in the middle of the largest tensor's bytes in the torch.save archive ``path``,
    as a bad sector does: the archive's directory and every other byte stay as they were."""
    with zipfile.ZipFile(path) as archive:
        data = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[data.header_offset + 26 : data.header_offset + 30])
    raw[data.header_offset + 30 + name_len + extra_len + data.file_size // 2] ^= 0x40
    path.write_bytes(bytes(raw))
