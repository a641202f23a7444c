"""`genbench report`: aggregate results over seeds into markdown and CSV leaderboards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    out: Annotated[
        Path, typer.Option(help="Directory of result JSONs (what `genbench run --out` wrote).")
    ] = Path("runs"),
    leaderboards: Annotated[Path, typer.Option(help="Where to write <dataset>.md, .csv and figures.")] = Path(
        "leaderboards"
    ),
) -> None:
    """Write leaderboards/<dataset>.md and .csv and print the markdown."""
    from genbench.reporting import write_report

    pages = write_report(out, leaderboards)
    for dataset, md in pages.items():
        typer.echo(md)
        typer.echo(f"wrote {leaderboards / (dataset + '.md')} and .csv", err=True)
