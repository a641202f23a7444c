"""`genbench list`: every registered model, dataset, metric and feature extractor, and its source."""

from __future__ import annotations

from typing import Annotated

import typer

from genbench.errors import GenbenchError

KINDS = ("models", "datasets", "metrics", "features")


def list_entries(
    kind: Annotated[
        str | None, typer.Argument(help=r"models, datasets, metrics or features \[default: all].")
    ] = None,
) -> None:
    """Show registered names, where each comes from, and plugins that fail to import."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from genbench import registry

    if kind is not None and kind not in KINDS:
        import difflib

        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise GenbenchError(f"unknown kind {kind!r}{hint} (use one of {', '.join(KINDS)})")
    regs = {
        "models": registry.models,
        "datasets": registry.datasets,
        "metrics": registry.metrics,
        "features": registry.features,
    }
    console = Console()
    for k in [kind] if kind else KINDS:
        reg = regs[k]
        errors = reg.load_all()
        table = Table(title=k, title_justify="left")
        table.add_column("name", no_wrap=True)
        table.add_column("source", no_wrap=True)
        table.add_column("description", overflow="fold")
        for entry in reg.entries():
            # plugin text is shown as written: "[0, 1]" in a docstring is not rich markup
            if entry.name in errors:
                desc = f"[red]failed to load:[/red] {escape(errors[entry.name])}"
            elif entry.alias_of:
                desc = escape(f"alias of {entry.alias_of}")
            else:
                desc = escape(_describe(entry.obj))
            table.add_row(escape(entry.name), escape(entry.source), desc)
        console.print(table)


def _describe(obj: object) -> str:
    text = getattr(obj, "description", "") or (obj.__doc__ or "").strip().split("\n")[0]
    return str(text).replace("``", "`")  # reST literals read as markdown ones
