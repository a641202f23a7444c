"""The working directory, or one line naming the fix when it no longer exists."""

from __future__ import annotations

from pathlib import Path

from genbench.errors import GenbenchError


def working_directory() -> Path:
    """The working directory; a directory deleted (or moved away) under the shell is one line
    naming the fix. ``Path.absolute`` raised FileNotFoundError from deep inside, and a command that
    imports torch first died in MKL's loader ("Cannot load libtorch_cpu.so"), which names neither."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise GenbenchError(
            "the working directory no longer exists (deleted or moved); cd to an existing directory and rerun"
        ) from None


def absolute(path: Path) -> Path:
    """``path`` made absolute against the working directory, as ``Path.absolute`` does."""
    return path if path.is_absolute() else working_directory() / path
