"""The `genbench` command: a thin Typer shell over the Python API (genbench.run, ...)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from genbench.errors import GenbenchError

app = typer.Typer(
    name="genbench",
    help="Benchmark image generative models honestly: train or load, sample, measure, rank.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F, interrupted: str = "interrupted") -> F:
    """Print a GenbenchError as one line on stderr and exit 2, with no traceback; Ctrl-C prints
    ``interrupted`` (what was kept) and exits 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GenbenchError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            typer.echo(interrupted, err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _register_commands() -> None:
    from genbench.cli import eval as eval_cmd
    from genbench.cli import list as list_cmd
    from genbench.cli import report as report_cmd
    from genbench.cli import run as run_cmd

    app.command("run")(
        user_errors(run_cmd.run, "interrupted: finished results are saved; rerun to resume training")
    )
    app.command("eval")(user_errors(eval_cmd.eval_samples, "interrupted: no result was written"))
    app.command("report")(
        user_errors(report_cmd.report, "interrupted: the leaderboards written so far are complete")
    )
    app.command("list")(user_errors(list_cmd.list_entries))


_register_commands()


def main() -> None:
    sys.exit(app())
