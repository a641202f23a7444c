"""`genbench list`: every registered model, dataset, metric and feature extractor, and its source
(a table over :func:`genbench.listing.registered`, which the Python API returns as data); `genbench
list models NAME`: the model's config fields, which ``--set NAME.FIELD=`` takes
(:func:`genbench.model_fields.model_options`); `genbench list metrics NAME`, `genbench list
datasets NAME` and `genbench list features NAME`: what the metric, dataset or feature extractor
declares (:mod:`genbench.metric_declarations`, :mod:`genbench.dataset_declarations`,
:mod:`genbench.feature_declarations`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genbench.cli.options import CacheDir, DataDir, Include
from genbench.errors import GenbenchError
from genbench.text import and_list, printable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console
    from rich.table import Table

    from genbench.dataset_declarations import DatasetInfo
    from genbench.feature_declarations import FeatureInfo
    from genbench.metric_declarations import MetricInfo


def list_entries(
    kind: Annotated[
        str | None,
        typer.Argument(
            help=r"models, datasets, metrics or features \[default: all]; cache: what the cache holds."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Argument(
            help="A model's name: its config fields (what --set NAME.FIELD= takes) instead; a metric's, "
            "a dataset's or a feature extractor's: what it declares."
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help=r"With a model's NAME: the dataset whose per-dataset defaults it shows; with a feature "
            r"extractor's: the dataset its widths are for \[default: digits].",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    include: Include = None,
) -> None:
    """Show registered names, where each comes from, and plugins that fail to import; with `models
    NAME`, that model's config fields; with `metrics NAME`, `datasets NAME` or `features NAME`,
    what it declares; `cache`: each entry of the cache and the data dir, its size, when last used
    and what deleting it costs."""
    if kind == "cache":
        if name is not None or dataset is not None or include:
            raise GenbenchError(
                "genbench list cache takes no name, --dataset nor --include; "
                "only --cache-dir and --data-dir (where the cache and the datasets are)"
            )
        from genbench.cli.cache_table import cache_table

        return cache_table(cache_dir, data_dir)
    if cache_dir is not None:
        raise GenbenchError(f"--cache-dir goes with cache: genbench list cache --cache-dir {cache_dir}")
    if dataset is not None and (kind not in ("models", "features") or name is None):
        raise GenbenchError(
            f"--dataset goes with a model's or a feature extractor's name: genbench list models NAME "
            f"--dataset {dataset}"
        )
    if dataset is not None and not dataset.strip():  # listed digits' values, as if not given
        raise GenbenchError(
            "--dataset is empty (an unset shell variable?); pass a dataset name, e.g. --dataset cifar10 "
            "(see `genbench list datasets`), or leave it out for digits"
        )
    if data_dir is not None and (kind != "datasets" or name is None):
        raise GenbenchError(
            f"--data-dir goes with a dataset's name: genbench list datasets NAME --data-dir {data_dir} "
            f"(or with cache: genbench list cache --data-dir {data_dir})"
        )
    if name is not None:
        if kind == "models":
            return _model_options(name, dataset, include)
        if kind == "metrics":
            return _metric_info(name, include)
        if kind == "datasets":
            return _dataset_info(name, data_dir, include)
        if kind == "features":
            return _feature_info(name, dataset, include)
        raise GenbenchError(
            f"genbench list {kind} takes no name; a name goes with models, metrics, datasets or "
            "features: genbench list models ddpm lists that model's config fields, genbench list "
            "metrics kid that metric's options"
        )
    from genbench.listing import check_kind

    if kind is not None:  # registered's words, with cache among the kinds (listed above)
        check_kind(kind, also=("cache",))
    from rich.table import Table

    from genbench import registered
    from genbench.progress import make_console

    console = make_console()  # with NO_COLOR, no bold header nor red
    # the Python API's, --include's files imported first: `genbench list models --include f.py` lists its models
    for k, entries in registered(kind, include=list(include or [])).items():
        table = Table(title=k, title_justify="left")
        table.add_column("name", no_wrap=True)
        table.add_column("source", no_wrap=True)
        if k == "metrics":  # whether a feature extractor is built for it (--features, its weights)
            table.add_column("features", no_wrap=True)
        table.add_column("description", overflow="fold")
        for e in entries:
            # plugin text is shown as written: "[0, 1]" in a docstring is not rich markup
            if e.error is not None:
                desc = f"[red]failed to load:[/red] {_shown(e.error)}"
            else:
                desc = _shown(f"alias of {e.alias_of}" if e.alias_of else e.description)
                if e.opt_in:  # derived from the class, so a plugin's says it as the built-ins' do
                    under = " or ".join(e.default_under)
                    when = f" or under --features {under}" if under else ""
                    desc = _shown(f"opt-in (only with --metrics {e.name}{when})") + (
                        f": {desc}" if desc else ""
                    )
            reads = [_shown(_reads_cell(e.reads_features, e.reads_features_by))] if k == "metrics" else []
            table.add_row(_shown(e.name), _shown(e.source), *reads, desc)
        console.print(table)
        if k == "metrics" and entries:
            decided = [f"--metric-option {e.name}.{o}" for e in entries for o in e.reads_features_by]
            console.print(
                "features: whether it reads features with no --metric-option given; where no metric of "
                "a command reads any, no feature extractor is built (--features and its weights go unused)"
                + (f"; *: {' and '.join(decided)} decides it" if decided else ""),
                markup=False,
                highlight=False,
            )


def _shown(text: object) -> str:
    """Plugin text (a docstring, a config comment, an error) as a table cell: each character a
    terminal acts on written as its escape (:func:`genbench.text.printable`; ``\\x1b[2J`` cleared
    the terminal, a line break forged a line), then rich's markup escaped ("[0, 1]" is no markup)."""
    from rich.markup import escape

    return escape(printable(text))


def _model_options(name: str, dataset: str | None, include: list[Path] | None) -> None:
    """The table of a model's config fields on ``dataset``, in `genbench list`'s style."""
    from genbench import model_options
    from genbench.config import DEFAULT_DATASET
    from genbench.progress import make_console

    console = make_console()
    options = model_options(name, dataset or DEFAULT_DATASET, include=list(include or []))
    title = f"{options.model} on {options.dataset}"
    rows = [
        (f.name, f.type, f.value, options.dataset if f.source == "dataset" else "default", f.affects or "?")
        for f in options.fields
    ]
    comments = [f.comment for f in options.fields]
    if _fits(console, _fields_table(title, rows)):
        console.print(_fields_table(title, rows, comments))
    else:  # each field "lr = 0.002", and indented below it its type, from, changes and comment
        from rich.padding import Padding
        from rich.text import Text

        console.print(printable(title), markup=False, highlight=False)
        for (field, kind, value, source, changes), comment in zip(rows, comments, strict=True):
            console.print(printable(f"{field} = {value}"), markup=False, highlight=False)
            for text in [f"{kind}; from: {source}; changes: {changes}", comment]:
                if text:  # wrapped within the indent: a field's lines are told from the next field's
                    console.print(Padding(Text(printable(text)), (0, 0, 0, 4), expand=False))
    if not options.fields:
        console.print(printable(f"{options.model} has no config fields"), markup=False)
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
        console.print(printable(options.note), markup=False)


def _fields_table(title: str, rows: Sequence[tuple[str, ...]], comments: list[str] | None = None) -> Table:
    """The table of a model's fields: ``rows`` of (field, type, value, from, changes), and each
    one's comment where ``comments`` are given (plugin text as written)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("field", no_wrap=True)  # whole: what --set NAME.FIELD= takes
    # at most 16 and 12 wide: at 80 columns the others took all but 7 characters, a word of the comment a line
    table.add_column("type", overflow="fold", max_width=16)
    table.add_column("value", overflow="fold", max_width=12)
    table.add_column("from", no_wrap=True)
    table.add_column("changes", no_wrap=True)
    if comments is not None:
        table.add_column("comment", overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(*map(_shown, row), *([_shown(comments[i])] if comments is not None else []))
    return table


#: the fewest characters of the comment column beside the others whole, in a table of a model's fields
COMMENT_MIN = 8


def _fits(console: Console, table: Table) -> bool:
    """Whether the table of a model's fields (``table``, without its comments) fits ``console`` with
    each name, type and value whole (a word of each at least, as its column folds them) and
    :data:`COMMENT_MIN` characters of comment: narrower, rich squeezed the type and value columns
    (ddpm's timesteps read "100" over "0" at 60 columns) and from 50 hid them, so each field is
    listed on a line of its own instead."""
    from rich.measure import Measurement

    least = Measurement.get(console, console.options.update_width(10_000), table).minimum
    return least + COMMENT_MIN + 3 <= console.width  # the comment column's padding and border


def _facts(title: str, rows: list[tuple[str, str]]) -> Table:
    """A two-column table, what and its value, in `genbench list`'s style (plugin text as written)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value", overflow="fold")
    for what, value in rows:
        table.add_row(_shown(what), _shown(value))
    return table


#: what a metric compares the samples with, by its ``reference``
_REFERENCE = {
    "features": "the reference split's features (the dataset is read)",
    "stats": "the reference split's feature mean and covariance, or --reference-stats",
    "none": "nothing: the samples alone",
}


def _metric_info(name: str, include: list[Path] | None) -> None:
    """What a metric declares: a table of it, and one of its options."""
    from rich.table import Table

    from genbench import metric_info
    from genbench.progress import make_console

    console = make_console()
    info = metric_info(name, include=list(include or []))
    values = ", ".join(
        f"{v.name} ({v.better} is better)" if v.better != "none" else f"{v.name} (no better direction)"
        for v in info.values
    )
    under = " or ".join(info.runs_by_default_under)
    runs = (
        "by default (when --metrics names none)"
        if info.runs_by_default
        else f"opt-in: only with --metrics {info.name}"
        + (f", or by default under --features {under}" if under else "")
    )
    rows = [
        ("description", info.description),
        ("source", info.source),
        ("values", values or "none declared"),
        ("runs", runs),
        ("compares with", _compares_text(info)),
        ("applies to", ", ".join(info.supported_kinds) + " data"),
        ("version", str(info.version)),
    ]
    rows.append(("reads features", _reads_text(info)))
    if info.needs_logits:
        rows.append(
            ("logits", "reads the samples' logits: not under --features that give none (raw, dinov2)")
        )
    console.print(_facts(f"metric {info.name}", rows))
    if not info.options:
        console.print(printable(f"{info.name} has no options"), markup=False)
        return
    table = Table(title=f"options: --metric-option {info.name}.NAME=VALUE", title_justify="left")
    table.add_column("option", no_wrap=True)
    table.add_column("default", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("also takes", overflow="fold")
    for o in info.options:
        default = o.default if o.default is not None else "from the inputs"
        table.add_row(_shown(o.name), _shown(default), _shown(o.type), _shown(", ".join(o.words)))
    console.print(table)
    if info.source == "genbench":  # a plugin's options are in its own documentation
        console.print("what each option means: docs/metrics.md, Metric options", markup=False)


def _reads_cell(reads: bool | None, by: tuple[str, ...]) -> str:
    """A metric's cell in `genbench list metrics`' features column: yes, no or ? (not known), with a
    * where an option decides it (memorization's space), which the line below the table names."""
    return {True: "yes", False: "no", None: "?"}[reads] + ("*" if by and reads is not None else "")


def _compares_text(info: MetricInfo) -> str:
    """What a metric compares the samples with, as `genbench list metrics NAME` says it: a metric that
    reads no features (modes) compares with the reference split's examples, where its ``reference``
    alone said their features; one that declares another split (``compares_with``: memorization's
    train split) with that split's whatever the reference split, as the run's protocol line says
    (:func:`genbench.metric_splits.split_protocol`), and with those its ``compares_also`` names."""
    examples = info.reads_features is False
    declared = info.compares_with != "reference" or info.compares_also
    if info.reference != "features" or not (examples or declared):
        said = _REFERENCE.get(info.reference, info.reference)
        if info.compares_also:  # a "stats" metric's other split (mifid's distance: the train split)
            said += "".join(
                f", and the {split} split's features for {and_list(list(values))} whatever "
                "--reference-split is"
                for split, values in info.compares_also
            )
            said += " (the dataset is read)"
        return said
    said = f"the {info.compares_with} split's {'examples themselves' if examples else 'features'}"
    if info.compares_with != "reference":
        said += " whatever --reference-split is"
    for split, values in info.compares_also:
        said += f", and the {split} split's for {and_list(list(values))}"
    said += " (the dataset is read)"
    if examples and info.reads_features_by:
        flags = " or ".join(f"--metric-option {info.name}.{k}" for k in info.reads_features_by)
        said += f"; their features where {flags} asks for them"
    return said


def _reads_text(info: MetricInfo) -> str:
    """Whether a metric reads features, as `genbench list metrics NAME` says it, and what decides it."""
    if info.reads_features is None:
        return "not known: asking it (its reads_features) raised; a run names the error"
    does = (
        "yes: the samples' and the data's features (--features' extractor is built)"
        if info.reads_features
        else "no: the samples and data themselves (no feature extractor is built for it)"
    )
    if not info.reads_features_by:
        return does
    defaults = {o.name: o.default for o in info.options}
    at = ", ".join(f"{k}={defaults.get(k)}" for k in info.reads_features_by)
    flags = " and ".join(f"--metric-option {info.name}.{k}" for k in info.reads_features_by)
    return f"{does}, at its default {at}; {flags} decides it"


def _dataset_info(name: str, data_dir: Path | None, include: list[Path] | None) -> None:
    """What a dataset declares, as a table; nothing of its data is read."""
    from genbench import dataset_info
    from genbench.progress import make_console

    unknown = "not known until loaded"
    info = dataset_info(name, data_dir, include=list(include or []))
    shape = str(info.example_shape) if info.example_shape is not None else unknown  # as declared: (2,)
    modes = str(info.num_modes) if info.num_modes is not None else "unknown"
    if info.num_modes is not None and info.classifier_labels_modes:
        modes += f" (a sample's is the class a classifier trained on {info.name} predicts)"
    rows = [
        ("description", info.description),
        ("source", info.source),
        ("kind", f"{info.kind} ({'N x C x H x W' if info.kind == 'image' else 'N x D'})"),
        ("example shape", shape),
        ("values", "in [-1, 1]" if info.value_range is not None else "not bounded (points)"),
        ("train split", f"{info.train_size} examples" if info.train_size is not None else unknown),
        ("test split", _test_split(info, unknown)),
        ("modes", modes),
        ("default features", info.default_features),
        ("files", _files(info)),
    ]
    make_console().print(_facts(f"dataset {info.name}", rows))


def _test_split(info: DatasetInfo, unknown: str) -> str:
    """The test split's size; "none" where the dataset has none (it read "not known until loaded")."""
    if not info.has_test_split:
        return "none (has_test_split = False: every example is the train split)"
    return f"{info.test_size} examples" if info.test_size is not None else unknown


def _files(info: DatasetInfo) -> str:
    """Whether the dataset's files are downloaded, and where they are looked for."""
    folders = [str(f) for f in info.data_folders or ()]
    if info.data_folders is None:
        return f"not declared (--data-dir: {info.data_dir})"
    if not folders:
        return "none: made in code or shipped in a package" + (
            "" if info.downloads is False else " (downloads not declared)"
        )
    looked = f"looked for in {folders[0]}" + "".join(f", then {f}" for f in folders[1:])
    if info.downloads:
        return f"{looked}; downloaded into {folders[0]} on first use where none holds them"
    return looked + (" (never downloaded)" if info.downloads is False else " (downloads not declared)")


def _feature_info(name: str, dataset: str | None, include: list[Path] | None) -> None:
    """What a feature extractor declares, as a table; no weights are loaded, nothing is extracted."""
    from genbench import feature_info
    from genbench.config import DEFAULT_DATASET, flag_of
    from genbench.feature_declarations import needing_logits
    from genbench.progress import make_console

    info = feature_info(name, dataset or DEFAULT_DATASET, include=list(include or []))
    needy = " and ".join(needing_logits()) or "none"  # is, is_inf
    logits = {
        True: f"yes: {needy} (the metrics of logits) run under it",
        False: f"none (no classifier head): {needy} do not run under it",
        None: f"not declared: known once it extracts ({needy} find out then)",
    }[info.gives_logits]
    if info.takes_weights:
        assert info.weights_option is not None
        given = f"{flag_of(info.weights_option)} PATH" + (
            f" or ${info.weights_env}" if info.weights_env else ""
        )
    else:
        given = "none given: it takes no weights file (a weights flag is named unused)"
    if info.fingerprint_covers_weights:
        fingerprint = "names its weights file by content (features of two files never mix)"
    elif info.takes_weights:
        fingerprint = "its fingerprint(), with the sha256 of the weights file given appended"
    else:
        fingerprint = "its fingerprint() (no weights file)"
    rows = [
        ("description", info.description),
        ("source", info.source),
        ("takes", ", ".join(info.supported_kinds) + " data"),
        ("logits", logits),
        (f"feature width on {info.dataset}", _width(info, info.feature_dim, info.declares_feature_dim)),
        (f"logits width on {info.dataset}", _logits_width(info)),
        ("weights given by", given),
        ("weights file", _weights(info)),
        ("fingerprint", fingerprint),
        (
            "metrics by default",
            (", ".join(info.default_metrics) + " (each where it applies to the data)")
            if info.default_metrics
            else "none",
        ),
    ]
    make_console().print(_facts(f"features {info.name}", rows))


def _width(info: FeatureInfo, width: int | None, declared: bool) -> str:
    """A width as `genbench list features NAME` says it, or why it is not known."""
    if width is not None:
        return str(width)
    if not declared:
        return "not declared: known once it extracts"
    if info.source != "genbench":
        return "declared per dataset: known once built (its constructor may load its network)"
    if not info.built:
        return f"not known: it does not take {info.dataset}'s data"
    return f"not known until {info.dataset} is loaded"


def _logits_width(info: FeatureInfo) -> str:
    if info.gives_logits is False:
        return "none"
    return _width(info, info.logits_dim, info.declares_logits_dim)


def _weights(info: FeatureInfo) -> str:
    """Where the weights file is looked for, and what is downloaded and checked, as declared."""
    if info.weights_folders == () and info.weights_url is None:
        return "none: no network weights"
    parts = []
    if info.weights_folders is None:
        parts.append("folders not declared")
    else:
        folders = [str(f) for f in info.weights_folders]
        parts.append(f"looked for in {folders[0]}" + "".join(f", then {f}" for f in folders[1:]))
    if info.weights_url is not None:
        check = (
            f"checked against {info.weights_digest}"
            if info.weights_digest
            else "no digest published: checked whole and by loading"
        )
        parts.append(f"else downloaded from {info.weights_url} ({check})")
    elif info.source != "genbench":
        parts.append("download not declared")
    return "; ".join(parts)
