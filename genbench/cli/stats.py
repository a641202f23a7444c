"""`genbench stats`: write the FID reference statistics of a dataset split to an .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genbench.cli.options import (
    CacheDir,
    ClipWeights,
    DataDir,
    Device,
    Dinov2Weights,
    Features,
    InceptionWeights,
    Include,
    path_option,
)
from genbench.config import RunConfig
from genbench.flag_values import parse_split


def stats(
    out: Annotated[
        Path,
        path_option(
            "The .npz to write (keys mu and sigma, as clean-fid's; mu_s and sigma_s too, see --spatial)."
        ),
    ],
    dataset: Annotated[
        str,
        typer.Option(
            help="Dataset name (see `genbench list datasets`), a folder of PNG/JPEG images, or an .npz/.npy of images."
        ),
    ],
    reference_split: Annotated[str, typer.Option(help="Split to describe: train or test.")] = "train",
    features: Features = None,
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(help="Feature batch size.")] = 500,
    inception_weights: InceptionWeights = None,
    dinov2_weights: Dinov2Weights = None,
    clip_weights: ClipWeights = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
    include: Include = None,
    spatial: Annotated[
        bool | None,
        typer.Option(
            "--spatial/--no-spatial",
            help="Also write mu_s and sigma_s, sfid's spatial statistics (ADM's keys), from the same "
            "Inception pass; the default under --features inception.",
        ),
    ] = None,
) -> None:
    """Write mu and sigma of a dataset split's features (and mu_s, sigma_s for sfid under Inception),
    for `--reference-stats` where the data is not."""
    from genbench import stats as stats_api

    config = RunConfig(
        models=[],
        dataset=dataset,
        features=features,
        reference_split=parse_split(reference_split),
        data_dir=data_dir,
        cache_dir=cache_dir,
        device=device,
        batch_size=batch_size,
        inception_weights=inception_weights,
        dinov2_weights=dinov2_weights,
        clip_weights=clip_weights,
        progress=progress,
        include=list(include or []),
    )
    made = stats_api(out, config, spatial=spatial)
    features_made = made["features"]
    written = "mu, sigma, mu_s and sigma_s" if "spatial_features" in made else "mu and sigma"
    typer.echo(  # on stderr, as `report`'s "wrote": stdout carries only what a command is asked for
        f"wrote {out}: {written} of {made['num_examples']} {made['dataset']} {made['split']} examples "
        f"in {features_made['name']} features ({features_made['fingerprint']})",
        err=True,
    )
