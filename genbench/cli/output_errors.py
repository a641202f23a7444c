"""The console's output that cannot be written: a reader that closed the pipe, a full disk.

``genbench list | head -1`` (``--help``, ``report``, any command): the reader is gone once it has
its line, and the next write raises BrokenPipeError (EPIPE; Python ignores SIGPIPE). The command
then stops quietly with status 141, 128 + SIGPIPE: what the shell reports for a Unix tool that
SIGPIPE killed (``set -o pipefail; seq 1000000 | head -1``), as genbench's Ctrl-C exits 130 and its
SIGTERM 143. Click, and rich on its own (``Console.on_broken_pipe``, which Typer's help prints
through too), stopped it with status 1, which a script cannot tell from a failure.

``genbench list > /dev/full`` (a full disk, a quota): the write raised OSError, a traceback; it
says one ``error:`` line and exits 1, as ``ls > /dev/full`` does.

``genbench list >&-`` (stdout closed before the command starts): Python leaves ``sys.stdout``
None, each print wrote nowhere and the command exited 0, as if it had printed what it was asked
for; it says one ``error:`` line and exits 1 before doing anything, as ``ls >&-`` fails.

In each case the output left in Python's buffers is thrown away: flushed at exit, it would say
``Exception ignored ... BrokenPipeError`` and exit 120 (Python's "Note on SIGPIPE").
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from genbench.termination import Terminated, unwinding

if TYPE_CHECKING:
    from rich.console import Console

#: the exit status of a command whose reader closed the pipe: 128 + SIGPIPE's number (13 on every
#: Unix; Windows has no SIGPIPE, and this status is the one a script there tests for all the same)
CLOSED_PIPE_EXIT = 141

#: a write to a full disk or a failing device: the output is lost, which the command says
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
#: of those, the ones that freeing space fixes (a failing device or a file over its size limit is not)
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_closed_pipe(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno == errno.EPIPE


def is_lost_output(e: BaseException) -> bool:
    """A write to stdout or stderr that failed for want of space (or on a failing device, a terminal
    gone): such an OSError names no file, where one writing a file through :mod:`genbench.io` is
    a GenbenchError naming it (:func:`genbench.io.disk_error`)."""
    return isinstance(e, OSError) and e.errno in _FULL and e.filename is None


def discard_output() -> None:
    """Point stdout and stderr at the null device, so that what their buffers hold is written
    nowhere when the process exits, rather than raising again in Python's last flush."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):  # no fd (a test's stream)
                os.dup2(null, stream.fileno())
    finally:
        os.close(null)


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be the full or closed one
        typer.echo(line, err=True)


@contextlib.contextmanager
def output_errors() -> Iterator[None]:
    """Within the block, a closed pipe exits 141 saying nothing, and output lost to a full disk
    exits 1 saying so on one line; any other OSError is raised as it is. Output lost while a stop
    unwinds (the terminal that SIGHUP says closed took stdout and stderr with it) exits as that
    stop does, 128 + its signal: it exited 1, which a job script reads as the run's failure."""
    try:
        yield
    except OSError as e:
        stop = unwinding(e)
        if isinstance(stop, Terminated) and (is_closed_pipe(e) or is_lost_output(e)):
            discard_output()
            raise typer.Exit(stop.exit_code) from None
        if is_closed_pipe(e):
            discard_output()
            raise typer.Exit(CLOSED_PIPE_EXIT) from None
        if is_lost_output(e):
            fix = "free some space or send it elsewhere" if e.errno in _NO_SPACE else "send it elsewhere"
            _say(f"error: the output could not be written ({e.strerror}): {fix}")
            discard_output()
            raise typer.Exit(1) from None
        raise


def refuse_closed_stdout() -> None:
    """Exit 1 with one ``error:`` line when the process started with its stdout closed (``>&-``):
    Python then has no ``sys.stdout``, and the command's output went nowhere, its status 0."""
    if sys.stdout is None:
        _say("error: the output cannot be written: stdout is closed (>&-); send it to a file or /dev/null")
        raise typer.Exit(1)


def _broken_pipe(self: Console) -> None:  # rich.Console.on_broken_pipe, a method
    raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


@contextlib.contextmanager
def rich_raises_broken_pipe() -> Iterator[None]:
    """Within the block, rich's consoles (genbench's, Typer's help) raise BrokenPipeError for
    :func:`output_errors`, rather than exiting 1 on their own."""
    from rich.console import Console

    own = Console.on_broken_pipe
    Console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    try:
        yield
    finally:
        Console.on_broken_pipe = own  # type: ignore[method-assign]


def flush_output() -> None:
    """Write what ``print`` left in stdout's buffer now, within :func:`output_errors`, rather than
    in Python's flush at exit, where its error is an ``Exception ignored`` and status 120."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
