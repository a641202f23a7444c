"""`genbench list`: every registered model, dataset, metric and feature extractor, and its source
(a table over :func:`genbench.listing.registered`, which the Python API returns as data)."""

from __future__ import annotations

from typing import Annotated

import typer

from genbench.cli.options import Include


def list_entries(
    kind: Annotated[
        str | None, typer.Argument(help=r"models, datasets, metrics or features \[default: all].")
    ] = None,
    include: Include = None,
) -> None:
    """Show registered names, where each comes from, and plugins that fail to import."""
    from rich.markup import escape
    from rich.table import Table

    from genbench import registered
    from genbench.progress import make_console

    console = make_console()  # with NO_COLOR, no bold header nor red
    # the Python API's, --include's files imported first: `genbench list models --include f.py` lists its models
    for k, entries in registered(kind, include=list(include or [])).items():
        table = Table(title=k, title_justify="left")
        table.add_column("name", no_wrap=True)
        table.add_column("source", no_wrap=True)
        table.add_column("description", overflow="fold")
        for e in entries:
            # plugin text is shown as written: "[0, 1]" in a docstring is not rich markup
            if e.error is not None:
                desc = f"[red]failed to load:[/red] {escape(e.error)}"
            else:
                desc = escape(f"alias of {e.alias_of}" if e.alias_of else e.description)
                if e.opt_in:  # derived from the class, so a plugin's says it as the built-ins' do
                    under = " or ".join(e.default_under)
                    when = f" or under --features {under}" if under else ""
                    desc = escape(f"opt-in (only with --metrics {e.name}{when})") + (
                        f": {desc}" if desc else ""
                    )
            table.add_row(escape(e.name), escape(e.source), desc)
        console.print(table)
