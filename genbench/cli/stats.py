"""`genbench stats`: write the FID reference statistics of a dataset split to an .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genbench.cli.options import CacheDir, DataDir
from genbench.config import RunConfig


def stats(
    out: Annotated[Path, typer.Option(help="The .npz to write (keys mu and sigma, as clean-fid's).")],
    dataset: Annotated[str, typer.Option(help="Dataset name (see `genbench list datasets`).")],
    reference_split: Annotated[str, typer.Option(help="Split to describe: train or test.")] = "train",
    features: Annotated[
        str | None, typer.Option(help=r"Feature extractor \[default: the dataset's].")
    ] = None,
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Feature batch size.")] = 500,
    inception_weights: Annotated[
        Path | None,
        typer.Option(
            help=r"Local Inception weights file \[default: $GENBENCH_INCEPTION_WEIGHTS for inception, $GENBENCH_CLEAN_INCEPTION_WEIGHTS for clean-inception]."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Write mu and sigma of a dataset split's features, for `--reference-stats` where the data is not."""
    from genbench.statistics import stats as stats_api

    config = RunConfig(
        models=[],
        dataset=dataset,
        features=features,
        reference_split=reference_split,
        data_dir=data_dir,
        cache_dir=cache_dir,
        device=device,
        batch_size=batch_size,
        inception_weights=inception_weights,
        progress=progress,
    )
    made = stats_api(out, config)
    features_made = made["features"]
    typer.echo(
        f"wrote {out}: mu and sigma of {made['num_examples']} {made['dataset']} {made['split']} examples "
        f"in {features_made['name']} features ({features_made['fingerprint']})"
    )
