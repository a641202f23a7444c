"""Options that more than one command takes, declared once so that their help reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option(help=r"Downloaded datasets \[default: $GENBENCH_DATA or ~/.cache/genbench/data]."),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help=r"Checkpoints, classifiers, statistics \[default: $GENBENCH_CACHE or ~/.cache/genbench]."
    ),
]
