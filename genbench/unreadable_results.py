"""The result files under ``--out`` that a report cannot read, each left out and said on one line.

A truncated JSON, a file of another format, a result written by a newer genbench, one in another
seed's file: `genbench report` stopped at the first such file, so one broken piece took every
other result's board down with it. Each is now left out with a line naming the file, why it cannot
be read and what to do, and the board is made of the rest (nothing already computed is lost). The
CLI prints those lines as ``error:`` lines after the board and exits 2, as `run` does for an input
to fix (:func:`collecting`); the Python API and the frames say each as a ``warning:`` line and
return the rest. Where no result can be read at all there is no board: :func:`none_readable`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.results import Result, load_result

#: the lines of the command collecting them (:func:`collecting`), else None: each is warned of
_collected: ContextVar[list[str] | None] = ContextVar("unreadable_results", default=None)


class UnreadableResult(GenbenchError):
    """A result file the report leaves out; the message names it, why, and what to do."""


def read_result_file(path: Path, out: Path) -> Result:
    """The result at ``path`` under the results folder ``out``; raises :class:`UnreadableResult`
    naming the file, why it cannot be read and the fix."""
    try:
        result = load_result(path)
    except UnreadableResult:
        raise
    except GenbenchError as e:  # a newer genbench's: the message names the file and the fix
        raise UnreadableResult(str(e)) from e
    except (ValueError, TypeError, KeyError) as e:  # its contents (JSON's errors are ValueErrors)
        raise UnreadableResult(
            f"result file {path} is unreadable ({e}); delete it and rerun that model"
        ) from e
    except OSError as e:  # the file itself, not its contents: a result it holds is kept, not deleted
        move = f"move it out of {out}"
        if isinstance(e, PermissionError):
            fix = f"make it readable (chmod u+r) or {move}"
        elif path.is_dir():
            fix = f"rename it or {move}"
        else:
            fix = move
        raise UnreadableResult(f"result file {path} cannot be read ({e.strerror or e}); {fix}") from e
    home = result.path(out)
    if home != path:  # seed 0's result copied to seed2.json: read, it would drop or double a seed
        raise UnreadableResult(
            f"{path} holds the result that belongs in {home}; move it there, or delete it if it is a copy"
        )
    return result


def left_out(error: UnreadableResult) -> None:
    """Say that a result file is left out: to the command collecting the lines, else as a warning."""
    lines = _collected.get()
    if lines is not None:
        lines.append(str(error))
        return
    from genbench.progress import warn_each  # rich: only when there is a word to say

    warn_each([str(error)])


def none_readable(where: str, files: int) -> GenbenchError:
    """The error where ``files`` result files were found under ``where`` and none could be read."""
    each = "it is named" if files == 1 else f"each of the {files} is named"
    return GenbenchError(
        f"no result under {where} can be read ({each} above, with its fix); fix them, or rerun their models"
    )


@contextlib.contextmanager
def collecting() -> Iterator[list[str]]:
    """The lines of the result files left out while it is open, in the order read, said nowhere
    else: the CLI prints them once the board is written (`genbench report`'s ``error:`` lines)."""
    lines: list[str] = []
    token = _collected.set(lines)
    try:
        yield lines
    finally:
        _collected.reset(token)


__all__ = ["UnreadableResult", "collecting", "left_out", "none_readable", "read_result_file"]
