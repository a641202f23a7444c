"""`genbench run`: train or load models, sample, compute every metric, write result JSONs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genbench.cli.options import (
    REPEATABLE,
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
from genbench.config import DEFAULT_CHECKPOINT_MINUTES, DEFAULT_DATASET, DEFAULT_MODELS, RunConfig
from genbench.flag_values import parse_list, parse_seeds, parse_split

if TYPE_CHECKING:
    from genbench.results import Result


def run(
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated model names (see `genbench list models`).",
            # shown with spaces so that a narrow terminal's help wraps the list instead of cutting it
            show_default=", ".join(DEFAULT_MODELS),
        ),
    ] = ",".join(DEFAULT_MODELS),
    dataset: Annotated[
        str,
        typer.Option(
            help="Dataset name (see `genbench list datasets`), a folder of PNG/JPEG images, or an .npz/.npy of images."
        ),
    ] = DEFAULT_DATASET,
    seeds: Annotated[
        str | None, typer.Option(help=r"Comma-separated seeds; each trains and samples anew \[default: 0].")
    ] = None,
    samples: Annotated[
        int | None, typer.Option(help=r"Samples per model and seed \[default: size of the train split].")
    ] = None,
    metrics: Metrics = None,
    features: Features = None,
    reference_split: Annotated[
        str, typer.Option(help="Split the samples are compared to: train or test.")
    ] = "train",
    reference_stats: Annotated[
        Path | None,
        path_option(
            ".npz with mu and sigma, or EDM2's .pkl (its entry of --features), to use as FID reference."
        ),
    ] = None,
    out: Annotated[Path, path_option("Directory for result JSONs and figures.")] = Path("runs"),
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(help="Sampling and feature batch size.")] = 500,
    retrain: Annotated[
        bool, typer.Option(help="Train anew even when a checkpoint for this config exists.")
    ] = False,
    skip_done: Annotated[
        bool,
        typer.Option(
            "--skip-done",
            help="Read back, not run again, each model and seed whose ok or diverged result on disk "
            "measured exactly what this run would (a killed run's rerun).",
        ),
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option(help="Training steps between resumable checkpoints; 0 saves none.")
    ] = 500,
    checkpoint_minutes: Annotated[
        float | None,
        # None, not 30: a 30 given beside --checkpoint-every 0 is refused as any other minutes are
        typer.Option(
            help="Also save a resumable checkpoint once this many minutes have passed since the last; "
            rf"0: on steps only \[default: {DEFAULT_CHECKPOINT_MINUTES:g}]."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="MODEL.FIELD=VALUE config override; VALUE=a,b,c sweeps; a tuple's items are a:b (repeatable).",
            metavar=REPEATABLE,
        ),
    ] = None,
    metric_option: MetricOption = None,
    inception_weights: InceptionWeights = None,
    dinov2_weights: Dinov2Weights = None,
    clip_weights: ClipWeights = None,
    amp: Annotated[bool, typer.Option(help="Mixed-precision training on CUDA.")] = False,
    deterministic: Annotated[
        bool,
        typer.Option(
            help="Train on CUDA with torch's deterministic algorithms: the same command, the same weights."
        ),
    ] = True,
    figures: Annotated[bool, typer.Option(help="Save sample and nearest-neighbour figures.")] = True,
    save_samples: Annotated[
        bool,
        typer.Option(
            "--save-samples",
            help="Keep each run's samples beside its result, as seed<N>.samples.npz for genbench eval.",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    include: Include = None,
) -> None:
    """Train (or load) each model, sample, and write one result JSON per model and seed."""
    from genbench import run as run_api

    config = RunConfig(
        models=parse_list(models, "model"),
        dataset=dataset,
        seeds=parse_seeds(seeds) if seeds is not None else None,
        samples=samples,
        metrics=parse_list(metrics, "metric") if metrics is not None else None,
        features=features,
        reference_split=parse_split(reference_split),
        reference_stats=reference_stats,
        out=out,
        data_dir=data_dir,
        cache_dir=cache_dir,
        device=device,
        batch_size=batch_size,
        retrain=retrain,
        skip_done=skip_done,
        checkpoint_every=checkpoint_every,
        checkpoint_minutes=checkpoint_minutes,
        overrides=list(set_ or []),
        metric_options=list(metric_option or []),
        inception_weights=inception_weights,
        dinov2_weights=dinov2_weights,
        clip_weights=clip_weights,
        amp=amp,
        deterministic=deterministic,
        figures=figures,
        save_samples=save_samples,
        progress=progress,
        include=list(include or []),
    )
    results = run_api(config)
    bad = [r for r in results if r.status != "ok"]
    typer.echo(f"{len(results) - len(bad)} of {len(results)} runs ok; {report_hint(out, results)}", err=True)
    raise typer.Exit(exit_code(results))


#: what a rerun does after an interruption that stopped no training (sampling, a metric, a write)
RERUN = "rerun to go on (trained models load from their checkpoints)"


def interrupted(e: KeyboardInterrupt) -> str:
    """Ctrl-C's last line: what was kept, and what a rerun does with the training it stopped, if any
    (stopped while sampling or scoring, it said "rerun to resume training" of no training)."""
    from genbench.termination import rerun_said

    return f"interrupted: finished results are saved; {rerun_said(e) or RERUN}"


def report_hint(out: Path, results: list[Result]) -> str:
    """Where a command's results are and the command that makes their board: `run` and `eval` both
    end with it (eval's results are as much the board's). A result written aside (another process
    wrote its file while it was made) is named with its fix instead, as its warning gave it: the
    report does not read it, and `next: genbench report` sent the user to a board without it."""
    report = f"results in {out}; next: genbench report --out {shlex.quote(str(out))}"
    # with ~ expanded, as the results were written (genbench.config.absolute_paths): `--out=~/runs`
    # reaches the command as typed, and ~/runs/... named no file, so the report was named instead
    written = Path(out).expanduser()
    aside = [(r, path) for r in results if (path := r.written_aside(written)) is not None]
    if not aside:
        return report
    said = "; ".join(
        f"{path} is written aside, which the report does not read: to report it, move it to "
        f"{r.path(Path()).as_posix()} in an --out of its own"
        + (f", with {path.with_name(name)}" if (name := r.samples_file.get("name")) else "")
        for r, path in aside
    )
    return said if len(aside) == len(results) else f"{said}; the other {report}"


def exit_code(results: list) -> int:
    """Print each failure the user can fix on one ``error:`` line and return the exit code: 2 when
    there is one, 1 when a model failed on its own (diverged, a plugin's bug), else 0."""
    from genbench.metric_calls import metric_message
    from genbench.text import and_list

    user = [(r, r.error) for r in results if r.status != "ok" and r.error_kind == "user"]
    user += [
        (r, metric_message(m, msg))
        for r in results
        for m, msg in r.metric_errors.items()
        if r.metric_error_kinds.get(m, "user") == "user"
    ]
    # one line per error: an unusable --reference-stats file failed FID of every model and seed alike
    runs: dict[str, list[str]] = {}
    for r, msg in user:
        runs.setdefault(str(msg), []).append(f"{r.label} seed {r.seed}")
    for msg, where in runs.items():
        typer.echo(f"error: {and_list(where)}: {msg}", err=True)
    if user:
        return 2
    plugin_metric = any(k == "plugin" for r in results for k in r.metric_error_kinds.values())
    return 1 if plugin_metric or any(r.status != "ok" for r in results) else 0
