"""Names to objects, checked before any work: what `genbench run` and `genbench eval` both resolve.

The device, dataset, feature extractor and metrics (each metric's checks before any training, its
``--metric-option`` values among them, are :mod:`genbench.metric_checks`'); the types of a
:class:`~genbench.config.RunConfig` built in Python are checked first, in
:mod:`genbench.config_types`. A typo fails here, in a second.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import torch

from genbench import registry
from genbench.config import RunConfig, flag_of
from genbench.config_types import check_config_types
from genbench.data.base import Dataset, default_cache_dir
from genbench.data.image_archive import ImageArchive
from genbench.data.image_folder import ImageFolder, image_data_path
from genbench.errors import GenbenchError, PluginLoadError, said
from genbench.features.base import FeatureExtractor
from genbench.io import check_writable, file_in_the_way
from genbench.isolation import plugin_state_kept
from genbench.layout import BESIDE_DATASETS, genbench_folder
from genbench.metrics.base import Metric
from genbench.portable_names import NOT_FOLDERS
from genbench.progress import Progress

T = TypeVar("T")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise GenbenchError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):  # mps, meta, xpu...: the samplers and metrics are untested there
        raise GenbenchError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GenbenchError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        # a one-GPU machine (the usual one) asked for cuda:1 read "there are 1 CUDA devices"
        there = (
            f"are {n} CUDA devices; use cuda:0 to cuda:{n - 1}" if n > 1 else "is 1 CUDA device; use cuda:0"
        )
        raise GenbenchError(f"device {name!r} requested but there {there}")
    return dev


def build_dataset(name: str | os.PathLike[str], config: RunConfig) -> Dataset:
    """The registered dataset ``name``, or the folder of images (``--dataset DIR``) or image archive
    (``--dataset FILE.npz``) it names. A dataset of one split (``has_test_split = False``) with
    ``config.reference_split`` "test" is refused here, naming the fix."""
    cache_dir = config.cache_dir or default_cache_dir()
    path = image_data_path(name)
    if path is not None:
        dataset: Dataset = _image_data(path, config)
    else:
        assert isinstance(name, str)  # image_data_path took every PathLike as a path
        cls = registry.datasets.get(name)
        dataset = call_plugin(
            "dataset",
            name,
            "failed to start: {error}",
            lambda: cls(data_dir=config.data_dir, cache_dir=cache_dir),
        )
    if config.reference_split == "test" and not dataset.has_test_split:
        # the fix said here, of --reference-split test alone: a metric reading the test split of a
        # run against the train split is told the dataset's test_split_refusal() without it
        raise GenbenchError(f"{dataset.test_split_refusal()}; pass --reference-split train (the default)")
    return dataset


def _image_data(path: Path, config: RunConfig) -> ImageFolder:
    """The folder of images, or the image archive, at ``path`` (:func:`image_data_path`'s), as the
    dataset; nothing of it is read yet."""
    kind = ImageFolder if path.is_dir() else ImageArchive
    return kind(path, data_dir=config.data_dir, cache_dir=config.cache_dir or default_cache_dir())


def check_image_data_name(value: str | os.PathLike[str], data: ImageFolder) -> None:
    """Fail when the name of a folder or archive of images given as ``--dataset value`` (its basename
    or stem, :func:`genbench.data.image_folder.as_name`) is a folder genbench writes beside the
    datasets' under ``--out`` (:mod:`genbench.layout`): images in a folder ``leaderboards/`` had their
    results in the report's folder. Refused, not named otherwise: the name is the board's title,
    the results' folder and part of the fingerprint, so a name genbench chose over the file's own
    would be looked for in vain; renaming the folder or file, or a link to it, is one command."""
    what = genbench_folder(data.name, BESIDE_DATASETS)
    if what is None:
        return
    noun = "folder" if data.path.is_dir() else "file"
    other = f"{data.name}-images" + ("" if data.path.is_dir() else data.path.suffix.lower())
    raise GenbenchError(
        f"--dataset {value} would be named {data.name!r}, {what}, beside each dataset's results "
        f"folder; rename the {noun} or link it under another name (ln -s {data.path} {other}) and "
        "pass that"
    )


def check_built_dataset_name(dataset: Dataset) -> None:
    """Fail when the dataset a run or eval writes results of names itself (its ``name``, the results'
    folder under ``--out``) as a folder genbench writes beside the datasets' (:mod:`genbench.layout`):
    registration checks the registered name alone, and a plugin whose ``name`` property returned
    ``leaderboards`` had its results in the report's folder, and one returning ``..`` beside ``--out``
    (a name of no folder of its own, or of two, is refused too). (A folder or archive of images is named
    by its path, refused with its own fix in :func:`check_image_data_name`.)"""
    name = dataset.name
    what = genbench_folder(name, BESIDE_DATASETS) if isinstance(name, str) else None
    if what is not None:
        what = f"{what}, beside each dataset's results folder"
    elif isinstance(name, str) and (name in NOT_FOLDERS or "/" in name or "\\" in name):
        # ".." wrote its results beside --out, "" and "." among the datasets' folders, "a/b" a level down
        what = "which names no single folder of its own under --out"
    if what is None:
        return
    registered = dataset.registered_name or type(dataset).__name__.lower()
    raise GenbenchError(
        f"dataset {registered!r} ({type(dataset).__module__}.{type(dataset).__qualname__}) names itself "
        f"{name!r} (its name property), {what}; make its name property return another name, e.g. "
        f"{registered!r} (the name it is registered under)"
    )


#: the RunConfig fields that name a feature network's weights file (FeatureExtractor.weights_option),
#: each with the built-in extractor that reads it: a file given to the other is named unused
WEIGHTS_OPTIONS = {"inception_weights": "inception", "dinov2_weights": "dinov2", "clip_weights": "clip"}


def build_extractor(
    dataset: Dataset, config: RunConfig, device: torch.device, console: Progress
) -> FeatureExtractor:
    name = run_features(config, dataset)
    cls = registry.features.get(name)
    if dataset.kind not in cls.supported_kinds:
        # the dataset's own default_features: "use --features" it named the extractor just refused
        fix = (
            f"use --features {dataset.default_features}"
            if name != dataset.default_features
            else f"declare supported_kinds = {(*cls.supported_kinds, dataset.kind)!r} in the extractor if it "
            f"handles {dataset.kind} data, or pass --features raw"
        )
        raise GenbenchError(
            f"feature extractor {name!r} does not handle {dataset.kind} data ({dataset.name!r}); {fix}"
        )
    own = cls.weights_option if cls.takes_weights else None
    for option, reader in WEIGHTS_OPTIONS.items():
        given = getattr(config, option)
        if given is None or option == own:
            continue
        flag = flag_of(option)
        why = (
            f"take no weights file; --features {reader} does"
            if own is None
            else f"read {flag_of(own)}; --features {reader} reads {flag}"
        )
        console.warn(f"{flag} {given} is not used: the {name} features {why}")
    weights = getattr(config, cls.weights_option, None) if own is not None else None
    if weights is not None and not registry.is_genbench(registry.features.source(name)):
        # a plugin's own open() of the file said "failed to start: FileNotFoundError; fix or uninstall
        # <its package>", the user's typo blamed on the plugin (the built-ins name the file to fetch)
        if not Path(weights).exists():
            raise GenbenchError(
                f"{flag_of(cls.weights_option)} {weights} not found (the {name} features read it); "
                "pass an existing weights file"
            )
    extractor = call_plugin(
        "feature extractor",
        name,
        # the file given is named: a file the plugin cannot read was "KeyError: 174812789" alone
        "failed to start"
        + (f" with {flag_of(cls.weights_option)} {weights}" if weights else "")
        + ": {error}",
        lambda: cls(
            dataset,
            cache_dir=config.cache_dir or default_cache_dir(),
            device=device,
            weights=getattr(config, cls.weights_option, None),
            batch_size=config.batch_size,
        ),
        features_fallback(dataset, name),
    )
    if config.reference_stats is not None:
        extractor.reference_stats = Path(config.reference_stats)
    return extractor


def call_plugin(kind: str, name: str, what: str, call: Callable[[], T], drop: str | None = None) -> T:
    """``call()`` into a plugin; its own bug is :func:`plugin_error`, ``what`` saying when, with
    ``{error}`` for the exception's type. A GenbenchError names its own fix and goes on as it is;
    so does CUDA running out of memory, which is no plugin's bug. What it leaves changed of torch's
    global settings and the working directory is restored (:func:`plugin_state_kept`)."""
    try:
        with plugin_state_kept(f"{kind} {name!r}"):
            return call()
    except (GenbenchError, torch.OutOfMemoryError, KeyboardInterrupt):
        raise
    except BaseException as e:  # sys.exit and a plugin's own BaseException too, as for models and metrics
        raise plugin_error(kind, name, what.format(error=type(e).__name__), e, drop) from e


def features_fallback(dataset: Dataset | None, name: str) -> str | None:
    """The fix beside "uninstall it" for a broken feature extractor: the dataset's default one."""
    default = getattr(dataset, "default_features", None)
    return f"pass --features {default}" if default and default != name else None


def plugin_error(
    kind: str, name: str, what: str, e: BaseException, drop: str | None = None
) -> PluginLoadError:
    """A plugin's own bug (``kind`` "metric", "dataset" or "feature extractor"), naming its
    distribution and the fix, as one line; a dataset or feature extractor is what the whole run
    stands on, so its bug stops the run (it was a traceback that named no plugin)."""
    table = {"metric": registry.metrics, "dataset": registry.datasets, "feature extractor": registry.features}
    try:
        source = table[kind].source(name)
    except GenbenchError:  # not registered under that name (built directly in Python)
        source = "the package that defines it"
    if registry.is_genbench(source):  # "fix or uninstall genbench" named no fix a user can make
        fix = "a genbench bug: please report it with `genbench --version`'s output" + (
            f", or {drop}" if drop else ""
        )
        return PluginLoadError(f"genbench's {kind} {name!r} {what}: {said(e)}; {fix}")
    fix = f"fix or uninstall {source}" + (f", or {drop}" if drop else "")
    return PluginLoadError(f"{kind} plugin {name!r} from {source} {what}: {said(e)}; {fix}")


def build_metrics(
    names: list[str] | None,
    kind: str,
    console: Progress,
    dataset: str = "",
    features: str | None = None,
) -> list[Metric]:
    """The metrics to compute: those named (``--metrics``), or :func:`default_metrics`'. A named
    metric that cannot handle ``kind`` fails here, before any training: a run that trains for an
    hour and then leaves it out, without a word, would be worse."""
    explicit = names is not None
    features = canonical_features(features)
    out: list[Metric] = []
    broken: set[type[Metric]] = set()  # warned about once, even when listed under two names
    for name in names if names is not None else default_metrics((kind,), features, console.warn):
        if explicit:
            registry.metrics.check(name)
        cls = registry.metrics.get(name)  # a named one that fails to import stops the run
        if kind not in cls.supported_kinds:  # named: the default ones handle it
            data = f"{kind} data ({dataset})" if dataset else f"{kind} data"
            raise GenbenchError(f"metric {name!r} does not apply to {data}; drop it from --metrics")
        # once each: --metrics fid,fid, or an alias that a plugin declares as an entry point of
        # its own (listed as a name until its module is imported)
        if cls in broken or any(type(m) is cls for m in out):
            continue
        try:
            out.append(start_metric(name, cls, explicit))
        except PluginLoadError as e:
            if explicit:
                raise
            console.warn(str(e))  # as for a plugin that fails to import: the others run
            broken.add(cls)
    return out


def default_metrics(
    kinds: Sequence[str], features: str | None, warn: Callable[[str], None] | None = None
) -> list[str]:
    """The metrics a run without --metrics computes (:func:`build_metrics`) on data of one of
    ``kinds`` under the extractor ``features`` (canonical; None: not known), as `genbench list
    features NAME` shows them: every installed one that handles such data and runs by default
    (``runs_by_default``; the others are opt-in, but for those that declare ``features`` in
    ``runs_by_default_under``: ``cmmd`` under ``clip``), each class once. A metric plugin that fails
    to import is left out, said with ``warn``: a broken plugin never takes the others down."""
    out: list[str] = []
    seen: set[type[Metric]] = set()
    for name in registry.metrics.names(include_aliases=False):
        try:
            cls = registry.metrics.get(name)
        except PluginLoadError as e:
            if warn is not None:
                warn(str(e))
            continue
        if cls in seen or set(kinds).isdisjoint(cls.supported_kinds) or not cls.runs_by_default_in(features):
            continue
        seen.add(cls)
        out.append(name)
    return out


def run_features(config: RunConfig, dataset: Dataset) -> str:
    """The name of the extractor a run measures in, as :func:`build_extractor` picks it."""
    return config.features or dataset.default_features


def canonical_features(name: str | None) -> str | None:
    """``name``'s registered name (an alias's target), or ``name`` itself where it is unknown: a typo
    in ``--features`` is :func:`build_extractor`'s to name, with its fix. Its module is imported
    first (as :func:`build_extractor` does next): a plugin's extractor under two entry points is
    known as one, an alias of the other, only once imported."""
    if name is None:
        return None
    try:
        return registry.features.canonical(name)
    except GenbenchError:
        return name


def start_metric(name: str, cls: type[Metric], explicit: bool) -> Metric:
    """``cls()``; a raise is a :class:`PluginLoadError` naming the plugin's distribution.

    Named with --metrics, it stops the run before any training: the user asked for this metric,
    and a run that trains for an hour to leave it out would be worse than failing in a second.
    """
    try:
        with plugin_state_kept(f"metric {name!r}"):
            return cls()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # sys.exit and a plugin's own BaseException too
        drop = f"drop {name} from --metrics" if explicit else None
        raise plugin_error("metric", name, f"failed to start: {type(e).__name__}", e, drop) from e


def check_shared_inputs(config: RunConfig, *, results: bool = True) -> tuple[torch.device, Path]:
    """What `genbench run` and `genbench eval` both check before any work: the types of the fields
    they read (the Python API's RunConfig is not parsed), the dataset, features and metric names,
    the seeds, the batch size, the device and the output directory. ``results``: whether results
    are written under ``config.out`` (`genbench stats` writes one file): then a folder of images
    given as the dataset must not be named as a folder of genbench's there. Returns the device and
    the cache dir."""
    check_config_types(config, run=False)
    if config.batch_size < 1:  # eval too: it extracted no features and cached that empty reference
        raise GenbenchError(f"--batch-size must be positive, got {config.batch_size}")
    path = image_data_path(config.dataset)
    if path is None:  # a folder or archive of images needs no registered name
        registry.datasets.check(str(config.dataset))  # a name: a path-like value is a path or refused
    elif results:
        check_image_data_name(config.dataset, _image_data(path, config))
    if config.features:
        registry.features.check(config.features)
    for name in config.metrics or []:
        registry.metrics.check(name)
    device = resolve_device(config.device)
    check_writable(Path(config.out))
    cache_dir = Path(config.cache_dir or default_cache_dir())
    # a file there (`GENBENCH_CACHE=~/.cache/genbench/features/x.npz`): eval and stats went on with
    # two warnings that no cache could be locked or written; run refused it later (check_writable),
    # naming only --cache-dir. A cache that is a directory but read-only is read as it is.
    if (in_the_way := file_in_the_way(cache_dir, cache_flag(config))) is not None:
        raise in_the_way
    return device, cache_dir


def cache_flag(config: RunConfig) -> str:
    """What sets the cache directory of ``config``, for a fix that names it: --cache-dir where it was
    given, else --cache-dir or $GENBENCH_CACHE (which gave it, or would move the default
    ``~/.cache/genbench`` for every job: the fix named --cache-dir alone)."""
    return "--cache-dir" if config.cache_dir is not None else "--cache-dir or $GENBENCH_CACHE"
