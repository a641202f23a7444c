"""genbench: a benchmark and evaluation harness for image generative models.

The Python API does everything the CLI does::

    from genbench import RunConfig, run, evaluate
    results = run(RunConfig(models=["ddpm", "gan"], dataset="digits", seeds=[0, 1, 2]))

and reads what it wrote back as pandas DataFrames, writing nothing::

    from genbench import fid_gaps_frame, leaderboard_frame, results_frame, training_log_frame
    board = leaderboard_frame("runs")["digits"]  # runs/leaderboards/digits.csv, as report writes it
    seeds = results_frame("runs")  # one row per result (per seed), joined to board on row_label
    curves = training_log_frame("runs")  # one row per logged training step of each result
    gaps = fid_gaps_frame("runs")["digits"]  # runs/leaderboards/digits.fid_gaps.csv, as written

``report("runs")`` writes the boards (markdown, CSV, LaTeX, figures) and returns the markdown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench.config import DEFAULT_DATASET as _DEFAULT_DATASET
from genbench.config import PATH_FIELDS as _PATH_FIELDS
from genbench.config import DatasetDefault as _DatasetDefault
from genbench.config import RunConfig, absolute_paths
from genbench.determinism import fix_cublas_workspace
from genbench.errors import GenbenchError, GenbenchWarning

# what run, evaluate and registered return: imported here (they need no torch), so that their type
# hints resolve
from genbench.listing import ListedEntry
from genbench.registry import register_dataset, register_features, register_metric, register_model
from genbench.results import Result

__version__ = "0.1.0"

fix_cublas_workspace()  # before any CUDA work: deterministic training on CUDA needs it (determinism.py)

# for type checkers, which see the lazy names through these imports; at runtime the hints naming them
# (and pandas, which `import genbench` would take 0.35 s more for, doubling `genbench --help`) resolve
# with the names given: typing.get_type_hints(genbench.results_frame, localns={"pd": pandas})
if TYPE_CHECKING:
    import pandas as pd

    from genbench.api import DataSpec, GenerativeModel, TrainContext
    from genbench.cache_listing import CacheEntry, CacheListing
    from genbench.dataset_declarations import DatasetInfo
    from genbench.feature_declarations import FeatureInfo
    from genbench.metric_declarations import MetricInfo, MetricOption, MetricValue
    from genbench.model_fields import ModelOption, ModelOptions

#: imported on first use (PEP 562): they need torch, whose import takes seconds, so that `genbench
#: --help` and `genbench list` start at once and a Ctrl-C while torch loads is the CLI's to handle
_LAZY = {
    "DataSpec": "genbench.api",
    "GenerativeModel": "genbench.api",
    "TrainContext": "genbench.api",
    # not torch's cost, but `genbench list` without a name reads no source (ast, tokenize)
    "ModelOption": "genbench.model_fields",
    "ModelOptions": "genbench.model_fields",
    "MetricInfo": "genbench.metric_declarations",
    "MetricOption": "genbench.metric_declarations",
    "MetricValue": "genbench.metric_declarations",
    "DatasetInfo": "genbench.dataset_declarations",
    "FeatureInfo": "genbench.feature_declarations",
    "CacheEntry": "genbench.cache_listing",
    "CacheListing": "genbench.cache_listing",
}


if not TYPE_CHECKING:  # type checkers read the imports above: a module __getattr__ returning Any
    # made them take any name, a typo too (`from genbench import GenerativeModle`), as one of genbench's

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            import importlib

            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'genbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names and the lazy ones: ``help(genbench)`` left out the plugin API's classes."""
    return sorted({*globals(), *_LAZY})


#: the commands that refuse RunConfig's default dataset, with what they do with the one given
_NEEDS_DATASET = {"evaluate": "compares the samples with", "stats": "computes the statistics of"}


def _checked(config: Any, command: str) -> RunConfig:
    """``config`` with its paths absolute and ``~`` expanded (:func:`genbench.config.absolute_paths`),
    for the CLI too, which calls these functions; a RunConfig, or one line naming the fix (a dict or
    None raised AttributeError from deep inside)."""
    if not isinstance(config, RunConfig):
        raise GenbenchError(
            f"{command} takes a genbench.RunConfig, got {type(config).__name__}; "
            f"build one, e.g. RunConfig(models=['gaussian'], dataset='ring8')"
        )
    if command in _NEEDS_DATASET and isinstance(config.dataset, _DatasetDefault):
        # RunConfig's default is run's: `genbench eval` and `genbench stats` require --dataset
        raise GenbenchError(
            f"{command} {_NEEDS_DATASET[command]} RunConfig.dataset, which was not given (its default, "
            f"{_DEFAULT_DATASET!r}, is run's); pass RunConfig(dataset=...), e.g. dataset='cifar10', "
            f"as `genbench {command.replace('evaluate', 'eval')}` requires --dataset"
        )
    for f in _PATH_FIELDS:
        _not_empty(getattr(config, f), f)
    # first: the names every later check resolves may be the files' (`--models my-model`)
    _include(config.include)
    return absolute_paths(config)


def _include(paths: Any, what: str = "RunConfig.include") -> bool:
    """Import the files of ``--include`` (:mod:`genbench.includes`), once per process and content;
    whether it named any. ``what``: ``paths`` in messages (``include``, a function's argument)."""
    from genbench.includes import include

    return bool(include(paths, what))


def _include_argument(include: Any) -> bool:
    """:func:`_include` of a function's ``include=`` argument (None: no file), named as it."""
    return _include([] if include is None else include, "include")


def _not_empty(value: Any, what: str) -> None:
    """An empty path is refused, as the CLI refuses ``--out ""``: Path("") is the current directory,
    where results, checkpoints or leaderboards went without a word."""
    if isinstance(value, str) and not value.strip():
        raise GenbenchError(f"{what} is an empty path; pass a path ('.' for the current directory)")


def _path(value: Any, what: str) -> Path:
    """``value`` as a Path with ``~`` expanded; one line naming the argument when it is no path."""
    if not isinstance(value, str | os.PathLike):
        raise GenbenchError(f"{what} must be a str or a Path, got {type(value).__name__}")
    _not_empty(value, what)
    return Path(value).expanduser()


@contextlib.contextmanager
def _callers_generators_kept() -> Iterator[None]:
    """The caller's torch, numpy and Python random generators as they were after the block
    (:func:`genbench.isolation.global_rng_kept`), around the imports too: a first call's imports draw
    from Python's generator (rich's progress module), and the first feature extraction draws
    torch's as it builds its network, so a script's draws after its first `evaluate` differed from
    those after a later one."""
    from genbench.isolation import global_rng_kept

    with global_rng_kept():
        yield


@contextlib.contextmanager
def _command_state() -> Iterator[None]:
    """:func:`_callers_generators_kept`, with torch's grad mode, inference mode, default dtype and
    device as a command starts with them (:func:`genbench.isolation.command_defaults`), for the
    calls that train, sample or extract: a caller's ``torch.no_grad()`` failed every model's
    training as the model's own bug."""
    with _callers_generators_kept():
        from genbench.isolation import command_defaults

        with command_defaults():
            yield


def run(config: RunConfig) -> list[Result]:
    """Train or load, sample, and evaluate every model of ``config``; writes and returns results.

    A result's ``status`` is "ok", "failed" or "diverged"; a metric that could not be computed is
    named in its ``metric_errors``, and ``metric_error_kinds`` says whose fault it was ("user": an
    input to fix, as the CLI's exit status 2; "plugin": the metric's own bug, exit 1).
    """
    with _command_state():
        from genbench.runner import run as _run

        return _run(_checked(config, "run"))


def evaluate(samples: Any, config: RunConfig, *, name: str | None = None, labels: Any = None) -> Result:
    """Evaluate samples against ``config.dataset``, as `genbench eval` does; writes and returns the result.

    ``samples``: the path of an ``.npz`` (key ``samples``, or its only array), an ``.npy`` or an image folder, a numpy array (uint8
    N x H x W x C, or float N x C x H x W in [-1, 1], or N x D points) or a torch tensor (uint8
    N x C x H x W, or float as the array).
    ``name``: the leaderboard row [default: the file's name without .npz or .npy, or the folder's; "samples"
    for an array].
    ``labels``: the class each sample was drawn for (an integer array or tensor, one per sample), for
    ``intra_fid`` and ``class_accuracy`` [default: an ``.npz``'s own ``labels``, or ADM's ``arr_1``
    beside ``arr_0``; else none, as for unconditional samples].
    """
    if name is not None and not isinstance(name, str):
        raise GenbenchError(f"name must be a str (the leaderboard row), got {type(name).__name__}")
    if isinstance(samples, str | os.PathLike):  # "~/s.npz" was "not found"
        samples = _path(samples, "samples")
    with _command_state():
        from genbench.evaluation import evaluate as _evaluate

        return _evaluate(samples, _checked(config, "evaluate"), name=name, labels=labels)


def stats(path: str | os.PathLike[str], config: RunConfig, *, spatial: bool | None = None) -> dict[str, Any]:
    """Write the FID reference statistics (mu, sigma) of ``config.dataset``'s
    ``config.reference_split`` in ``config.features`` to the ``.npz`` at ``path``, as `genbench
    stats` does, and under ``inception`` features sfid's (mu_s, sigma_s) too unless ``spatial`` is
    False; returns what the file records about how they were made."""
    if spatial is not None and not isinstance(spatial, bool):  # "no" and 0 were taken as a wish
        raise GenbenchError(
            f"spatial must be True, False or None (by default: under inception features), got {spatial!r}"
        )
    with _command_state():
        from genbench.statistics import stats as _stats

        return _stats(_path(path, "the statistics path"), _checked(config, "stats"), spatial=spatial)


def registered(
    kind: str | None = None, *, include: Sequence[str | os.PathLike[str]] | None = None
) -> dict[str, list[ListedEntry]]:
    """What `genbench list` shows, as data: ``{kind: [ListedEntry(name, source, description,
    alias_of, error, opt_in, default_under), ...]}`` for "models", "datasets", "metrics" or "features" (all four by default). Every
    plugin is imported: one that fails is listed with its ``error``, the others load. ``include``:
    `--include`'s files, as ``RunConfig.include`` (their names listed with the file as source)."""
    # importing the plugins draws (rich's console, which the datasets' downloads print on)
    with _callers_generators_kept():
        from genbench.listing import registered as _registered

        _include_argument(include)

        return _registered(kind)


def model_options(
    name: str,
    dataset: str | os.PathLike[str] = _DEFAULT_DATASET,
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> ModelOptions:
    """What `genbench list models NAME` shows, as data: the config fields of the model ``name``,
    which ``--set NAME.FIELD=VALUE`` (``RunConfig.overrides``) takes, as they are on ``dataset``:
    ``ModelOptions(model, dataset, fields, weights_from, owner_fields, note)``, each field a
    ``ModelOption(name, type, value, source, affects, comment)``: ``value`` as ``--set`` writes it,
    ``source`` "dataset" where the dataset's per-dataset defaults set it (else "default", the
    dataclass's), ``affects`` "training" (a new value retrains), "sampling" (the trained weights are
    reused) or "unused" (nothing on this data), ``comment`` the field's ``# ...`` in the source.
    ``include``: `--include`'s files, as ``RunConfig.include``."""
    with _callers_generators_kept():
        from genbench.model_fields import model_options as _model_options

        _include_argument(include)
        if isinstance(dataset, os.PathLike):
            dataset = _path(dataset, "dataset")
        return _model_options(name, dataset)


def metric_info(name: str, *, include: Sequence[str | os.PathLike[str]] | None = None) -> MetricInfo:
    """What `genbench list metrics NAME` shows, as data: what the metric ``name`` declares,
    ``MetricInfo(name, source, description, values, options, runs_by_default, runs_by_default_under,
    reference, supported_kinds, version, needs_logits)``, each value a ``MetricValue(name, better)``
    (better "higher", "lower" or "none"), each option a ``MetricOption(name, default, type, words)``
    (``default`` as ``--metric-option`` writes it, None where computed from the inputs). Computes
    nothing. ``include``: `--include`'s files, as ``RunConfig.include``."""
    with _callers_generators_kept():
        from genbench.metric_declarations import metric_info as _metric_info

        _include_argument(include)
        return _metric_info(name)


def dataset_info(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> DatasetInfo:
    """What `genbench list datasets NAME` shows, as data: what the dataset ``name`` declares (kind,
    example shape, value range, split sizes, modes, default features, whether its files are
    downloaded and the folders under ``data_dir``, as ``--data-dir``, they are looked for in), as a
    ``DatasetInfo``; None where it is not known until the data is loaded. Reads no data and
    downloads nothing. ``include``: `--include`'s files, as ``RunConfig.include``."""
    with _callers_generators_kept():
        from genbench.dataset_declarations import dataset_info as _dataset_info

        _include_argument(include)
        return _dataset_info(name, None if data_dir is None else _path(data_dir, "data_dir"))


def feature_info(
    name: str,
    dataset: str = _DEFAULT_DATASET,
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> FeatureInfo:
    """What `genbench list features NAME` shows, as data: what the feature extractor ``name``
    declares (the kinds of data it takes, whether it gives logits, its features' and logits' widths
    on ``dataset``, its weights file's flag, variable, folders, URL and digest, what its fingerprint
    covers, the metrics a run without --metrics computes under it), as a ``FeatureInfo``; None where
    it is not known until loaded or not declared. Loads no weights, downloads and trains nothing.
    ``include``: `--include`'s files, as ``RunConfig.include``."""
    with _callers_generators_kept():
        from genbench.feature_declarations import feature_info as _feature_info

        _include_argument(include)
        return _feature_info(name, dataset)


def cache_entries(
    cache_dir: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None
) -> CacheListing:
    """What `genbench list cache` shows, as data: ``CacheListing(cache_dir, data_dir, entries)``, its
    ``size`` their bytes together, each entry a ``CacheEntry(kind, what, path, size, last_used,
    if_deleted, config)``: one a checkpoint's folder, a resumable training state, a features file (a
    ``stale features`` one where an older key scheme wrote it, never read again), a classifier,
    downloaded weights, a dataset's files, a killed write's temp file, a cut-off download's part,
    largest first.
    ``cache_dir`` and ``data_dir`` as ``RunConfig``'s [default: $GENBENCH_CACHE, $GENBENCH_DATA,
    else ~/.cache/genbench and its data/]. Deletes nothing: ``rm -r`` an entry's ``path``."""
    from genbench.cache_listing import cache_entries as _cache_entries
    from genbench.data.base import default_cache_dir, default_data_dir
    from genbench.workdir import absolute

    cache = default_cache_dir() if cache_dir is None else absolute(_path(cache_dir, "cache_dir"))
    data = default_data_dir() if data_dir is None else absolute(_path(data_dir, "data_dir"))
    return _cache_entries(cache, data)


def report(
    out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "runs",
    leaderboards: str | os.PathLike[str] | None = None,
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> dict[str, str]:
    """Aggregate results under ``out`` into leaderboards (``out/leaderboards`` unless given);
    returns {dataset: markdown}. ``out``: a results folder, or a list of them (results made on two
    machines, two batches of seeds) read as one board, which then needs ``leaderboards``: each
    folder's own ``leaderboards/`` is the board of that folder alone. ``include``: `--include`'s
    files, as ``RunConfig.include``: the board reads a plugin metric's declared directions (its
    columns' arrows and ranking) from its class, which the results do not record. A result file
    that cannot be read (truncated, another format, a newer genbench's) is left out, said on a
    ``warning:`` line naming it and the fix (`genbench report`: an ``error:`` line, status 2); with
    none readable, a ``GenbenchError``."""
    out_dirs = _report_folders(out, leaderboards)
    with _frames_read(include):
        from genbench.reporting import default_leaderboards, write_report

        boards = (
            _path(leaderboards, "leaderboards")
            if leaderboards is not None
            else default_leaderboards(out_dirs[0])
        )
        return write_report(out_dirs[0] if len(out_dirs) == 1 else out_dirs, boards)


def results_frame(
    out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "runs",
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> pd.DataFrame:
    """One row per result file under ``out`` (a results folder, or a list of them read as one, as
    :func:`report` reads them), as the board reads them: ``dataset``, ``model``, ``variant``,
    ``label``, ``row_label`` (the board row it is a seed of, as :func:`leaderboard_frame` names it),
    ``seed``, ``status``, ``error``, ``flags``, the protocol fields (``num_samples``,
    ``reference_split``, ``features``, ...), ``metric_errors`` (a dict) and one column per metric
    value, unrounded. Writes nothing. ``include``: as :func:`report`'s."""
    folders = _out_folders(out)  # first, as report's
    with _frames_read(include):
        from genbench.frames import per_result_frame

        return per_result_frame(folders)


def training_log_frame(
    out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "runs",
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> pd.DataFrame:
    """The training curves behind the results under ``out``: one row per logged step of each
    result's training log (``Result.training_log``, what the model's ``fit`` passed to
    ``ctx.log``, loaded with its checkpoint where the run trained nothing), with the result's
    ``dataset``, ``model``, ``variant``, ``label``, ``row_label`` (as :func:`results_frame`'s),
    ``seed`` and ``status``, then ``step`` and one column per logged value (NaN where a row has
    none). Writes nothing. ``out`` and ``include``: as :func:`results_frame`'s."""
    folders = _out_folders(out)  # first, as report's
    with _frames_read(include):
        from genbench.frames import training_log_frame as _training_log_frame

        return _training_log_frame(folders)


def leaderboard_frame(
    out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "runs",
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """The boards of the results under ``out`` as DataFrames, ``{dataset: board}``: the rows and
    columns :func:`report` writes to ``<dataset>.csv`` (a row per model variant and protocol, ranked,
    each metric's mean and ``_std`` over seeds), made by the same code: ``rank``, ``n_ok`` and the
    metrics as numbers, unrounded, the other columns as the text the CSV holds (``seeds`` "0,1",
    ``num_samples`` "100"). Writes nothing, so a list of folders needs no ``leaderboards``.
    ``include``: as :func:`report`'s."""
    folders = _out_folders(out)  # first, as report's
    with _frames_read(include):
        from genbench.frames import leaderboard_frames

        return leaderboard_frames(folders)


def fid_gaps_frame(
    out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "runs",
    *,
    include: Sequence[str | os.PathLike[str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """The boards' FID gaps tables of the results under ``out`` as DataFrames, ``{dataset: gaps}``:
    the rows and columns :func:`report` writes to ``<dataset>.fid_gaps.csv`` (a row per pair of
    neighbouring ranks within a protocol: ``row_label`` and ``next_row_label``, their seeds' counts
    ``n`` and ``next_n``, ``delta_fid`` with its interval ``ci_low``, ``ci_high`` at ``ci_level``,
    ``p``, ``test`` "paired" or "Welch", ``df``, and ``untested``, why a pair has no test, else ""),
    made by the same code, unrounded. A dataset whose board has no FID gaps table (one ranked row,
    or rows of one seed each) has no key, as report writes no file for it. Writes nothing.
    ``out`` and ``include``: as :func:`leaderboard_frame`'s."""
    folders = _out_folders(out)  # first, as report's
    with _frames_read(include):
        from genbench.frames import gaps_frames

        return gaps_frames(folders)


@contextlib.contextmanager
def _frames_read(include: Any) -> Iterator[None]:
    """What :func:`report` and the frames do around reading a board: the caller's generators kept
    (saying why a cell misses a seed imports rich's console, which draws), ``include``'s files
    imported, and the metrics' declared directions read anew: a metric unknown before its file was
    included, or a notebook cell's metric run again with another higher_is_better (the board ranked
    by the old one)."""
    with _callers_generators_kept():
        from genbench.metric_columns import forget_declared

        _include_argument(include)
        forget_declared()
        yield


def _report_folders(out: Any, leaderboards: Any) -> list[Path]:
    """:func:`report`'s ``out`` as its folders, each once. Several need ``leaderboards``: written to
    the first one's ``leaderboards/``, a board holding another folder's rows sat beside the first
    folder's results as if it were theirs, and the next report of that folder alone replaced it."""
    folders = _out_folders(out)
    if len(folders) > 1 and leaderboards is None:
        raise GenbenchError(
            f"{len(folders)} --out folders make one board, which belongs in none of them; "
            "pass --leaderboards DIR (where to write it)"
        )
    return folders


def _out_folders(out: Any) -> list[Path]:
    """``out`` (a results folder, or a list or tuple of them) as its folders, each once."""
    from genbench.result_folders import as_folders

    if isinstance(out, str | os.PathLike):
        return [_path(out, "out")]
    if not isinstance(out, list | tuple):
        raise GenbenchError(f"out must be a str, a Path or a list of them, got {type(out).__name__}")
    return as_folders([_path(o, "out") for o in out])


__all__ = [
    "CacheEntry",
    "CacheListing",
    "DataSpec",
    "DatasetInfo",
    "FeatureInfo",
    "GenbenchError",
    "GenbenchWarning",
    "GenerativeModel",
    "ListedEntry",
    "MetricInfo",
    "MetricOption",
    "MetricValue",
    "ModelOption",
    "ModelOptions",
    "Result",
    "RunConfig",
    "TrainContext",
    "cache_entries",
    "dataset_info",
    "evaluate",
    "feature_info",
    "fid_gaps_frame",
    "leaderboard_frame",
    "metric_info",
    "model_options",
    "register_dataset",
    "register_features",
    "register_metric",
    "register_model",
    "registered",
    "report",
    "results_frame",
    "run",
    "stats",
    "training_log_frame",
]
