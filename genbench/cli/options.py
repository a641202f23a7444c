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
Features = Annotated[str | None, typer.Option(help=r"Feature extractor \[default: the dataset's].")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
InceptionWeights = Annotated[
    Path | None,
    typer.Option(
        help=r"Local Inception weights file \[default: $GENBENCH_INCEPTION_WEIGHTS for inception]; for clean-inception, $GENBENCH_CLEAN_INCEPTION_WEIGHTS wins over it."
    ),
]
