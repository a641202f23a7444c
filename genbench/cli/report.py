"""`genbench report`: aggregate results over seeds into markdown, CSV and LaTeX leaderboards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genbench.cli.options import Include, path_option
from genbench.errors import GenbenchError
from genbench.text import printable


def report(
    out: Annotated[
        list[Path],
        path_option(
            "Directory of result JSONs (what `genbench run --out` wrote); several make one board, "
            "e.g. of two machines' runs (repeatable)."
        ),
    ] = [Path("runs")],  # noqa: B006 (Typer's default for a repeatable option; never mutated)
    leaderboards: Annotated[
        Path | None,
        path_option(
            "Where to write <dataset>.md, .csv, .tex (and .fid_gaps.csv with an FID gaps table) and "
            "figures; default: leaderboards/ under --out, needed with several --out (a clone's own "
            "leaderboards/ holds the published boards, rewritten only when named)."
        ),
    ] = None,
    include: Include = None,
) -> None:
    """Write <dataset>.md, .csv and .tex (in leaderboards/ under --out, by default) and print the markdown."""
    from genbench import report as report_api
    from genbench.reporting import default_leaderboards, written_files
    from genbench.unreadable_results import collecting

    # each result file that cannot be read is left out of the board, and said last, as an input to
    # fix (exit 2): one such file stopped the report, and every other result's board with it
    with collecting() as unreadable:
        try:
            # a plugin metric's arrows (which way is better) come from its class, which results do
            # not record
            pages = report_api(out, leaderboards, include=list(include or []))  # a list of one is that folder
        except GenbenchError:  # none readable: each file's line, then the error's (the caller's)
            _say(unreadable)
            raise
    leaderboards = leaderboards if leaderboards is not None else default_leaderboards(out[0])
    for dataset, md in pages.items():
        typer.echo(md)
        board, *others = written_files(leaderboards, dataset)  # <stem>.md first: `_con.md` for `con`
        rest = [p.name.removeprefix(board.stem) for p in others]
        wrote = f"wrote {board}, {', '.join(rest[:-1])} and {rest[-1]}"
        typer.echo(printable(wrote), err=True)  # the dataset's name, as the results record it
    if unreadable:  # after the board, where they are read last: its rows lack those seeds
        _say(unreadable)
        raise typer.Exit(2)


def _say(lines: list[str]) -> None:
    for line in lines:  # a path in the folder, what a file holds: what a terminal acts on escaped
        typer.echo(f"error: {printable(line)}", err=True)
