"""The `genbench` command: a thin Typer shell over the Python API (genbench.run, ...)."""

from __future__ import annotations

import codecs
import contextlib
import functools
import inspect
import io
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar, cast

import typer
from typer.core import TyperGroup

from genbench.cli.output_errors import (
    flush_output,
    output_errors,
    refuse_closed_stdout,
    rich_raises_broken_pipe,
)
from genbench.errors import GenbenchError
from genbench.termination import Terminated, sigterm_stops
from genbench.text import printable
from genbench.workdir import working_directory

# Click's usage error (an unknown option or command, a value of the wrong type, a missing one),
# the base of the BadParameter that Typer exports. Typer exports no name for it: it vendors Click
# privately since 0.26 and re-exported Click's before, and this reaches it the same way in both.
# (BadParameter alone, should a Typer ever lack it: a bad value is still one line, the rest boxed)
_UsageError: Any = next(
    (c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"), typer.BadParameter
)


@contextlib.contextmanager
def _one_line_usage_errors(group: Any = None) -> Iterator[None]:
    """``group``: the group's context, for an error that names none (``run --models`` with no value)."""
    try:
        yield
    except _UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare `genbench run`: the help, as asked for
            raise
        ctx = e.ctx or group
        command = ctx.command_path if ctx is not None else "genbench"
        if ctx is group and ctx is not None and ctx.invoked_subcommand:
            command += f" {ctx.invoked_subcommand}"
        typer.echo(printable(f"error: {e.format_message()} (see {command} --help)"), err=True)
        raise typer.Exit(2) from None


class _Commands(TyperGroup):
    """Typer's group, with its usage errors (``--modles``, ``--samples abc``) printed as one
    ``error:`` line naming the fix, like every other input error, instead of a boxed usage panel."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:  # --help and --version print in here
        with output_errors(), _said_interrupted(), _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:  # a command's own options are parsed in here
        with output_errors(), _said_interrupted(), _one_line_usage_errors(ctx):
            return super().invoke(ctx)


@contextlib.contextmanager
def _said_interrupted() -> Iterator[None]:
    """Ctrl-C before a command's own code runs (while its options are parsed, the first few tenths
    of a second): Typer exited 130 without a word, where the command says ``interrupted``."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


app = typer.Typer(
    name="genbench",
    cls=_Commands,
    help="Benchmark image generative models honestly: train or load, sample, measure, rank.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def version_text() -> str:
    """What ``genbench --version`` prints: the version, and what results record to tell builds
    apart (the digest of the sources; the commit of a clone)."""
    from genbench import __version__
    from genbench.environment import git_commit, source_digest

    commit = git_commit()
    source = source_digest() or "unread"
    return f"genbench {__version__} (source {source}" + (f", commit {commit})" if commit else ")")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


@contextlib.contextmanager
def _warning_lines() -> Iterator[None]:
    """Python's own warnings (a reference features' cache that cannot be written or locked, a
    library's) and a library's logged warnings as one ``warning:`` line each (its logged errors an
    ``error:`` line), as genbench's console says its own: Python's format printed
    ``/usr/lib/python3.11/contextlib.py:137: UserWarning: ...`` and the source line below it. The
    warning filters still decide what is shown (``-W ignore``, ``PYTHONWARNINGS``)."""
    shown, last_resort = warnings.showwarning, logging.lastResort

    def show(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        typer.echo(f"warning: {printable(' '.join(str(message).split()))}", err=True)

    class LogLines(logging.Handler):
        """A library's log record where no logging is configured (logging's last resort), as one
        ``warning:`` line: matplotlib's "Matplotlib created a temporary cache directory ... set the
        MPLCONFIGDIR environment variable" under a read-only home came out as raw lines of its own.
        An ERROR (or CRITICAL) record is an ``error:`` line, and a record with an exception
        (``logger.exception``) names it at the line's end, its traceback left out: a user reads one
        line; a developer who wants the traceback configures logging (``logging.basicConfig()``
        before calling :func:`main`) or calls the Python API, where this handler is not installed
        and logging's own last resort prints the record whole."""

        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            error = record.exc_info[1] if record.exc_info else None
            if error is not None:  # its text once: logger.exception("...: %s", e) has it already
                said = str(error)
                text += (
                    f" ({type(error).__name__}: {said})"
                    if said and said not in text
                    else f" ({type(error).__name__})"
                )
            kind = "error" if record.levelno >= logging.ERROR else "warning"
            typer.echo(f"{kind}: {printable(' '.join(text.split()))}", err=True)

    warnings.showwarning = show
    logging.lastResort = LogLines(logging.WARNING)
    try:
        yield
    finally:
        warnings.showwarning, logging.lastResort = shown, last_resort


def user_errors(fn: F, interrupted: str | Callable[[KeyboardInterrupt], str] = "interrupted") -> F:
    """Print a GenbenchError as one line on stderr and exit 2, with no traceback; Ctrl-C prints
    ``interrupted`` (what was kept; a function of the interruption: what it stopped) and exits 130.
    SIGTERM or SIGUSR1 (a cluster's time limit or preemption) and SIGHUP (the terminal closed) stop
    the command as Ctrl-C does, say so in place of "interrupted" and exit 128 + the signal's number
    (143 for SIGTERM, 129 for SIGHUP)."""

    def said(e: KeyboardInterrupt) -> str:
        return interrupted(e) if callable(interrupted) else interrupted

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            # before the command imports torch, whose MKL loader aborts the process in a deleted
            # working directory with "Cannot load libtorch_cpu.so", which names neither
            working_directory()
            with sigterm_stops(), _warning_lines():
                return fn(*args, **kwargs)
        except GenbenchError as e:
            typer.echo(f"error: {printable(e)}", err=True)  # a recorded name, a plugin's text: one line
            raise typer.Exit(e.exit_code) from None
        except Terminated as e:
            typer.echo(f"terminated ({e.signal_name}){said(e).removeprefix('interrupted')}", err=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt as e:
            typer.echo(said(e), err=True)
            raise typer.Exit(130) from None

    return cast(F, wrapper)  # fn's own signature (functools.wraps), which typer reads


def _register_commands() -> None:
    from genbench.cli import eval as eval_cmd
    from genbench.cli import list as list_cmd
    from genbench.cli import report as report_cmd
    from genbench.cli import run as run_cmd
    from genbench.cli import stats as stats_cmd
    from genbench.cli.options import ENVIRONMENT

    commands: list[tuple[str, Callable[..., Any], str | Callable[[KeyboardInterrupt], str], str | None]] = [
        ("run", run_cmd.run, run_cmd.interrupted, ENVIRONMENT),
        ("eval", eval_cmd.eval_samples, "interrupted: no result was written", ENVIRONMENT),
        ("report", report_cmd.report, "interrupted: the leaderboards written so far are complete", None),
        ("stats", stats_cmd.stats, "interrupted: no statistics were written", ENVIRONMENT),
        ("list", list_cmd.list_entries, "interrupted", None),
    ]
    for name, fn, interrupted, epilog in commands:
        app.command(name, epilog=epilog, short_help=_summary(fn))(user_errors(fn, interrupted))


def _summary(fn: Callable[..., Any]) -> str:
    """A command's line in `genbench --help`'s list: its docstring's first paragraph as one line.
    Typer kept the docstring's line breaks there (its own ``--help`` joins them), which broke
    `stats`'s and `list`'s summaries mid-sentence."""
    return " ".join((inspect.getdoc(fn) or "").split("\n\n")[0].split())


_register_commands()


def _replacing_unencodable() -> None:
    """A character the terminal's encoding lacks (``↓`` in a board's header, ``é`` in a listed
    description under ``LC_ALL=C PYTHONUTF8=0`` or ``PYTHONIOENCODING=latin-1``) is printed as ``?``:
    it raised UnicodeEncodeError, a traceback in place of the output. A UTF-8 stream is left as it is."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(errors="replace")


def main() -> None:
    _replacing_unencodable()
    try:
        with output_errors(), rich_raises_broken_pipe():
            refuse_closed_stdout()
            try:
                sys.exit(app())
            finally:
                flush_output()  # what is left in the buffers: its error said here, not at exit
    except typer.Exit as e:  # output_errors' own, outside Typer's handling
        sys.exit(e.exit_code)
    except KeyboardInterrupt:  # while Typer builds the command, before it parses anything
        typer.echo("interrupted", err=True)
        sys.exit(130)
