"""Options that more than one command takes, declared once so that their help reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def parse_path(value: str | Path) -> Path:
    """A path option's value. An empty one (``--out "$OUT"`` with ``OUT`` unset) is refused: Path("")
    is the current directory, so results, checkpoints or leaderboards went there without a word."""
    if isinstance(value, str) and not value.strip():
        raise typer.BadParameter("the path is empty (an unset shell variable?); pass a path, '.' for here")
    return Path(value)


#: the type column's text for a repeatable text option, in place of Typer's ``<list[str]>``: at 80
#: columns Rich shrinks the help column to the option names' width and then both together, and
#: with ``<list[str]>`` the 4 more characters cut `run`'s ``--checkpoint-minutes`` to
#: ``--checkpoint-minut…``; the help says "(repeatable)"
REPEATABLE = "<str>"


#: the epilog of the commands that take --inception-weights, where the whole width is the help's
ENVIRONMENT = (
    "Environment: $GENBENCH_INCEPTION_WEIGHTS is the inception features' weights file where "
    "--inception-weights is not given; $GENBENCH_CLEAN_INCEPTION_WEIGHTS is clean-inception's, and wins "
    "over --inception-weights; $GENBENCH_DINOV2_WEIGHTS is the dinov2 features' checkpoint where "
    "--dinov2-weights is not given; $GENBENCH_CLIP_WEIGHTS is the clip features' checkpoint where "
    "--clip-weights is not given."
)


def path_option(help: str, **kwargs: Any) -> Any:
    """``typer.Option`` for a path, parsed by :func:`parse_path` and shown as ``<path>``, as Typer shows
    a Path option of its own."""
    return typer.Option(help=help, parser=parse_path, metavar="<path>", **kwargs)


DataDir = Annotated[
    Path | None,
    # no word longer than the help column at 80 columns (21 characters in `run`), which Rich cuts with "…"
    path_option(r"Downloaded datasets \[default: $GENBENCH_DATA or data/ in ~/.cache/genbench]."),
]
CacheDir = Annotated[
    Path | None,
    path_option(r"Checkpoints, classifiers, statistics \[default: $GENBENCH_CACHE or ~/.cache/genbench]."),
]
Features = Annotated[str | None, typer.Option(help=r"Feature extractor \[default: the dataset's].")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
InceptionWeights = Annotated[
    Path | None,
    # the variables are named in ENVIRONMENT, beneath the options: each is longer than the help
    # column at 80 columns, where Rich cut them to "$GENBENCH_INCEPTION_…", "$GENBENCH_CLEAN_INCE…"
    path_option(
        r"Local Inception weights file \[default: an extractor's own variable, see Environment below]."
    ),
]
Dinov2Weights = Annotated[
    Path | None,
    path_option(r"Local DINOv2 ViT-L/14 checkpoint for --features dinov2 \[default: see Environment below]."),
]
ClipWeights = Annotated[
    Path | None,
    path_option(
        r"Local CLIP ViT-L/14@336px checkpoint for --features clip \[default: see Environment below]."
    ),
]
Metrics = Annotated[
    str | None,
    typer.Option(
        # every opt-in metric by name (`runs_by_default = False`; tests/test_cli_help.py checks the list)
        help=r"Comma-separated metrics \[default: all that apply but the opt-in cmmd, fid_inf, is_inf, mifid, "
        r"sfid, vendi; cmmd runs by default under --features clip; intra_fid, class_accuracy and cas apply to "
        r"class-conditional models alone]."
    ),
]
MetricOption = Annotated[
    list[str] | None,
    typer.Option(
        help="METRIC.KEY=VALUE metric option, e.g. fid.backend=clean-fid (repeatable).", metavar=REPEATABLE
    ),
]
Include = Annotated[
    list[Path] | None,
    path_option(
        # no word longer than `run`'s help column at 80 columns (21 characters): no decorator's full name
        "A .py file, or a folder of them, whose @genbench.register_* classes (models, datasets, "
        "metrics, features) to use, unpackaged (repeatable).",
    ),
]
