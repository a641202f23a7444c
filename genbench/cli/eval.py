"""`genbench eval`: evaluate samples from anywhere (an .npz, an .npy or a folder of images)."""

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
    MetricOption,
    Metrics,
    path_option,
)
from genbench.config import RunConfig
from genbench.flag_values import parse_list, parse_seeds, parse_split


def eval_samples(
    samples: Annotated[
        Path,
        path_option(
            "An .npz (key 'samples', or its only array, or ADM's arr_0), an .npy or a folder of PNG/JPEG "
            "images. Class labels in the .npz ('labels', or ADM's arr_1) feed intra_fid, class_accuracy and "
            "cas."
        ),
    ],
    dataset: Annotated[
        str,
        typer.Option(
            help="Dataset name (see `genbench list datasets`), a folder of PNG/JPEG images, or an .npz/.npy of images."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            help=r"Name for the leaderboard row \[default: the file name without .npz or .npy, or the folder name; "
            "for a run's saved samples (--save-samples), the run's row with -eval, e.g. vae-eval]."
        ),
    ] = None,
    metrics: Metrics = None,
    features: Features = None,
    reference_split: Annotated[str, typer.Option(help="train or test.")] = "train",
    reference_stats: Annotated[
        Path | None,
        path_option(
            ".npz with mu and sigma, or EDM2's .pkl (its entry of --features), as FID reference; with only metrics it serves (--metrics fid,is) the dataset is not read."
        ),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option(
            help=r"One seed, for the metrics' own randomness (KID subsets, IS splits) \[default: for a run's "
            "saved samples (--save-samples), the run's seed, which scores them to its numbers; else 0]."
        ),
    ] = None,
    metric_option: MetricOption = None,
    out: Annotated[Path, path_option("Directory for the result JSON.")] = Path("runs"),
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(help="Feature batch size.")] = 500,
    inception_weights: InceptionWeights = None,
    dinov2_weights: Dinov2Weights = None,
    clip_weights: ClipWeights = None,
    figures: Annotated[bool, typer.Option(help="Save figures.")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
    include: Include = None,
) -> None:
    """Compute every metric for samples generated elsewhere."""
    from genbench import evaluate
    from genbench.cli.run import exit_code, report_hint

    config = RunConfig(
        models=[],
        dataset=dataset,
        seeds=parse_seeds(seed, one=True) if seed is not None else None,
        metrics=parse_list(metrics, "metric") if metrics is not None else None,
        metric_options=list(metric_option or []),
        features=features,
        reference_split=parse_split(reference_split),
        reference_stats=reference_stats,
        out=out,
        data_dir=data_dir,
        cache_dir=cache_dir,
        device=device,
        batch_size=batch_size,
        inception_weights=inception_weights,
        dinov2_weights=dinov2_weights,
        clip_weights=clip_weights,
        figures=figures,
        progress=progress,
        include=list(include or []),
    )
    result = evaluate(samples, config, name=name)
    typer.echo(report_hint(out, [result]), err=True)
    raise typer.Exit(exit_code([result]))
