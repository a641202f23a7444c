"""`genbench list`: every registered model, dataset, metric and feature extractor, and its source
(a table over :func:`genbench.listing.registered`, which the Python API returns as data); `genbench
list models NAME`: the model's config fields, which ``--set NAME.FIELD=`` takes
(:func:`genbench.model_fields.model_options`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genbench.cli.options import Include
from genbench.errors import GenbenchError


def list_entries(
    kind: Annotated[
        str | None, typer.Argument(help=r"models, datasets, metrics or features \[default: all].")
    ] = None,
    name: Annotated[
        str | None,
        typer.Argument(help="A model's name: its config fields (what --set NAME.FIELD= takes) instead."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help=r"With a model's NAME: the dataset whose per-dataset defaults it shows \[default: digits].",
            show_default=False,
        ),
    ] = None,
    include: Include = None,
) -> None:
    """Show registered names, where each comes from, and plugins that fail to import; with `models
    NAME`, that model's config fields."""
    if name is not None:
        if kind != "models":
            raise GenbenchError(
                f"genbench list {kind} takes no name; a name goes with models: genbench list models ddpm "
                "lists that model's config fields"
            )
        return _model_options(name, dataset, include)
    if dataset is not None:
        raise GenbenchError(
            f"--dataset goes with a model's name: genbench list models NAME --dataset {dataset}"
        )
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


def _model_options(name: str, dataset: str | None, include: list[Path] | None) -> None:
    """The table of a model's config fields on ``dataset``, in `genbench list`'s style."""
    from rich.markup import escape
    from rich.table import Table

    from genbench import model_options
    from genbench.config import DEFAULT_DATASET
    from genbench.progress import make_console

    console = make_console()
    options = model_options(name, dataset or DEFAULT_DATASET, include=list(include or []))
    table = Table(title=f"{options.model} on {options.dataset}", title_justify="left")
    table.add_column("field", no_wrap=True)  # whole: what --set NAME.FIELD= takes
    # at most 16 and 12 wide: at 80 columns the others took all but 7 characters, a word of the comment a line
    table.add_column("type", overflow="fold", max_width=16)
    table.add_column("value", overflow="fold", max_width=12)
    table.add_column("from", no_wrap=True)
    table.add_column("changes", no_wrap=True)
    table.add_column("comment", overflow="fold")
    for f in options.fields:
        table.add_row(
            escape(f.name),
            escape(f.type),
            escape(f.value),
            options.dataset if f.source == "dataset" else "default",
            f.affects or "?",
            escape(f.comment),
        )
    console.print(table)
    if not options.fields:
        console.print(f"{options.model} has no config fields", markup=False)
        return
    meaning = {
        "training": "training = a new value retrains",
        "sampling": "sampling = the trained weights are reused",
        "unused": "unused = nothing on this data (--set refuses it)",
    }
    shown = [meaning[a] for a in meaning if any(f.affects == a for f in options.fields)]
    console.print(
        f"from: {options.dataset} = set by the model's defaults for {options.dataset} (a baseline's "
        f"baselines/configs/{options.dataset}/*.toml), default = its Config class's"
        + (f"; changes: {', '.join(shown)}" if shown else ""),
        markup=False,
    )
    if options.weights_from:
        reach = ", ".join(options.owner_fields) or "none"
        console.print(
            f"{options.model} samples {options.weights_from}'s trained weights (weights_from): "
            f"{options.weights_from}'s training fields reach it (--set {options.weights_from}.FIELD=: "
            f"{reach}); its other fields are {options.weights_from}'s own",
            markup=False,
        )
    if options.note:
        console.print(options.note, markup=False)
