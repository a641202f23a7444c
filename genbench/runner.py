"""train-or-load -> sample (timed) -> features once -> every metric -> one result JSON each.

``run(config)`` is what `genbench run` calls (``evaluate(samples, ...)``, what `genbench eval`
calls, is in :mod:`genbench.evaluation`; scoring samples into a result in :mod:`genbench.scoring`;
training or loading a cached checkpoint in :mod:`genbench.training`).
Every name is resolved before any work starts, so a typo fails in a second, not after an
hour of training. A model plugin that fails to import, diverges or raises is recorded and
skipped; the others go on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

import torch

from genbench import registry
from genbench.api import DataSpec, GenerativeModel
from genbench.config import (
    Override,
    RunConfig,
    canonical_variant,
    check_seeds,
    check_sequence_sweeps,
    expand_variants,
    parse_metric_options,
    parse_overrides,
    resolve_metric_options,
    resolve_model_config,
    variant_label,
)
from genbench.data.base import Dataset, default_cache_dir
from genbench.errors import (
    Diverged,
    GenbenchError,
    MetricInputError,
    PluginLoadError,
    PluginOutputError,
    UnknownNameError,
)
from genbench.features.base import FeatureExtractor, Features
from genbench.io import atomic_write_json, check_writable
from genbench.metrics.base import Metric
from genbench.progress import Progress
from genbench.results import Result, environment
from genbench.scoring import evaluate_into
from genbench.training import retrain_finished, train_or_load


@dataclass(frozen=True)
class Owner:
    """The model whose trained weights a ``weights_from`` model reuses, with its ``--set`` fields."""

    name: str
    cls: type[GenerativeModel]
    overrides: dict[str, str]


@dataclass
class Plan:
    """Everything resolved before any work: the run fails here, or not at all for user input."""

    config: RunConfig
    dataset: Dataset
    extractor: FeatureExtractor
    metrics: list[Metric]
    #: name, class, variants, and the model whose weights it samples from (None when it trains its own)
    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]]
    overrides: list[Override]
    device: torch.device
    cache_dir: Path
    skipped: dict[str, str] = field(default_factory=dict)  # model -> why (broken plugin)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> {key: value}
    #: (mu, sigma) from --reference-stats, for FID; read by load_stats once the reference features exist
    reference_stats: tuple[Any, Any] | None = None
    #: why --reference-stats could not be used: FID records it as its error, the other metrics run
    reference_stats_error: str | None = None
    #: checkpoint directories --retrain has cleared in this run: a checkpoint shared by several rows
    #: (ddpm and every ddim variant) is trained once per run, then loaded
    retrained: set[Path] = field(default_factory=set)
    #: checkpoint directories whose training diverged in this run: a shared checkpoint's other rows
    #: record that divergence instead of training up to it again (once per ddim variant)
    diverged: dict[Path, Diverged] = field(default_factory=dict)


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
        valid = "cuda:0" if n == 1 else f"cuda:0 to cuda:{n - 1}"
        raise GenbenchError(f"device {name!r} requested but there are {n} CUDA devices; use {valid}")
    return dev


def build_dataset(name: str, config: RunConfig) -> Dataset:
    cls = registry.datasets.get(name)
    return cls(data_dir=config.data_dir, cache_dir=config.cache_dir or default_cache_dir())


def build_extractor(dataset: Dataset, config: RunConfig, device: torch.device) -> FeatureExtractor:
    name = config.features or dataset.default_features
    cls = registry.features.get(name)
    if dataset.kind not in cls.supported_kinds:
        raise GenbenchError(
            f"feature extractor {name!r} does not handle {dataset.kind} data ({dataset.name!r}); "
            f"use --features {dataset.default_features}"
        )
    return cls(
        dataset,
        cache_dir=config.cache_dir or default_cache_dir(),
        device=device,
        weights=config.inception_weights,
        batch_size=config.batch_size,
    )


def build_metric_options(
    config: RunConfig, metrics: list[Metric], dataset: Dataset
) -> dict[str, dict[str, Any]]:
    """``--metric-option`` values, checked against the options each metric declares."""
    given = parse_metric_options(config.metric_options)
    chosen = {m.name: m for m in metrics}
    out = {}
    named: dict[str, str] = {}  # canonical metric -> the name its options were given under
    for name, opts in given.items():
        canonical = registry.metrics.check(name)
        if canonical not in chosen and not _supports(canonical, dataset.kind):
            raise GenbenchError(
                f"--metric-option {name}.{next(iter(opts))} names metric {name!r}, which does not apply to "
                f"{dataset.kind} data ({dataset.name}); drop the option"
            )
        if canonical not in chosen:
            raise GenbenchError(
                f"--metric-option {name}.{next(iter(opts))} names a metric this run does not compute; "
                f"add {name} to --metrics or drop the option"
            )
        if canonical in named:  # an alias and its metric (or two aliases): the last one silently won
            raise GenbenchError(
                f"--metric-option {named[canonical]}.* and --metric-option {name}.* both set options of "
                f"metric {canonical!r} ({name!r} is another name for it); give them under one name"
            )
        named[canonical] = name
        out[canonical] = resolve_metric_options(canonical, dict(chosen[canonical].options), opts)
        check_metric_options(chosen[canonical], out[canonical])
    return out


def check_metric_options(metric: Metric, options: dict[str, Any]) -> None:
    """``metric.check_options`` before any training; a plugin's own bug there is one error line too."""
    try:
        metric.check_options(options)
    except GenbenchError:
        raise
    except Exception as e:
        raise metric_plugin_error(
            metric.name,
            f"raised {type(e).__name__} checking its options",
            e,
            f"--metric-option {metric.name}.*",
        ) from e


def metric_plugin_error(name: str, what: str, e: Exception, drop: str | None) -> PluginLoadError:
    """A metric plugin's own bug before any training, naming its distribution and the fix."""
    source = registry.metrics.source(name)
    fix = f"fix or uninstall {source}" + (f", or drop {drop}" if drop else "")
    return PluginLoadError(f"metric plugin {name!r} from {source} {what}: {e}; {fix}")


def _supports(name: str, kind: str) -> bool:
    """Whether metric ``name`` handles ``kind`` data; a plugin that fails to import is reported elsewhere."""
    try:
        return kind in registry.metrics.get(name).supported_kinds
    except PluginLoadError:
        return True


def build_metrics(names: list[str] | None, kind: str, console: Progress, dataset: str = "") -> list[Metric]:
    """The metrics to compute: those named (``--metrics``), or every installed one that handles
    ``kind`` data. A named metric that cannot handle it fails here, before any training: a run that
    trains for an hour and then leaves it out, without a word, would be worse."""
    explicit = names is not None
    out: list[Metric] = []
    broken: set[type[Metric]] = set()  # warned about once, even when listed under two names
    for name in names if explicit else registry.metrics.names(include_aliases=False):
        if explicit:
            registry.metrics.check(name)
        try:
            cls = registry.metrics.get(name)
        except PluginLoadError as e:
            if explicit:
                raise
            console.warn(str(e))  # a broken metric plugin never takes the others down
            continue
        if kind not in cls.supported_kinds:
            if explicit:
                data = f"{kind} data ({dataset})" if dataset else f"{kind} data"
                raise GenbenchError(f"metric {name!r} does not apply to {data}; drop it from --metrics")
            continue
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


def start_metric(name: str, cls: type[Metric], explicit: bool) -> Metric:
    """``cls()``; a raise is a :class:`PluginLoadError` naming the plugin's distribution.

    Named with --metrics, it stops the run before any training: the user asked for this metric,
    and a run that trains for an hour to leave it out would be worse than failing in a second.
    """
    try:
        return cls()
    except Exception as e:
        drop = f"{name} from --metrics" if explicit else None
        raise metric_plugin_error(name, f"failed to start: {type(e).__name__}", e, drop) from e


def _check_type(config: RunConfig, name: str, ok: Callable[[Any], bool], what: str) -> None:
    """A field of a RunConfig built in Python (the CLI's parser always gives the right types): a
    string where a list goes was read one character at a time ("unknown model 'd'")."""
    value = getattr(config, name)
    if not ok(value):
        raise GenbenchError(f"RunConfig.{name} must be {what}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _is_names(value: Any) -> bool:
    return _is_list(value) and all(isinstance(v, str) for v in value)


def check_config_types(config: RunConfig, *, run: bool) -> None:
    """The types of the fields `genbench eval` reads, and with ``run`` those only `genbench run`
    reads, each failing in one line naming the field and an example of its type."""
    _check_type(config, "seeds", _is_list, "a list of integers, e.g. [0, 1, 2]")
    _check_type(config, "dataset", lambda v: isinstance(v, str), "a dataset name, e.g. 'digits'")
    _check_type(
        config,
        "features",
        lambda v: v is None or isinstance(v, str),
        "a feature extractor name or None, e.g. 'raw'",
    )
    _check_type(
        config,
        "metrics",
        lambda v: v is None or _is_names(v),
        "a list of metric names, or None for every metric that applies, e.g. ['fid']",
    )
    _check_type(
        config,
        "metric_options",
        _is_names,
        "a list of METRIC.KEY=VALUE strings, e.g. ['fid.backend=clean-fid']",
    )
    _check_type(config, "batch_size", _is_int, "an integer, e.g. 500")
    for flag in ("figures", "progress"):  # RunConfig(figures="no") is true
        _check_type(config, flag, _is_bool, "True or False")
    if not run:
        return
    for flag in ("retrain", "amp"):
        _check_type(config, flag, _is_bool, "True or False")
    _check_type(config, "models", _is_names, "a list of model names, e.g. ['ddpm']")
    _check_type(config, "overrides", _is_names, "a list of MODEL.FIELD=VALUE strings, e.g. ['ddim.steps=10']")
    _check_type(
        config,
        "samples",
        lambda v: v is None or _is_int(v),
        "an integer (samples per model), or None for the size of the train split, e.g. 1000",
    )
    _check_type(config, "checkpoint_every", _is_int, "an integer (training steps), e.g. 500")
    if config.checkpoint_every < 0:  # step % -5 == 0 checkpointed every 5 steps
        raise GenbenchError(
            f"--checkpoint-every must be >= 0 (0 saves no resumable checkpoints), got {config.checkpoint_every}"
        )


def check_shared_inputs(config: RunConfig) -> tuple[torch.device, Path]:
    """What `genbench run` and `genbench eval` both check before any work: the types of the fields
    they read (the Python API's RunConfig is not parsed), the dataset, features and metric names,
    the seeds, the batch size, the device and the output directory. Returns the device and the
    cache dir."""
    check_config_types(config, run=False)
    check_seeds(config.seeds)
    if config.batch_size < 1:  # eval too: it extracted no features and cached that empty reference
        raise GenbenchError(f"--batch-size must be positive, got {config.batch_size}")
    registry.datasets.check(config.dataset)
    if config.features:
        registry.features.check(config.features)
    for name in config.metrics or []:
        registry.metrics.check(name)
    device = resolve_device(config.device)
    check_writable(config.out)
    return device, Path(config.cache_dir or default_cache_dir())


def plan(config: RunConfig, console: Progress | None = None) -> Plan:
    """Resolve and validate every name, list and path; load the dataset. No training happens."""
    console = console or Progress(enabled=False)
    check_config_types(config, run=True)
    if not config.models:
        raise GenbenchError("no models given; pass --models, e.g. --models ddpm,gan")
    if config.samples is not None and config.samples < 2:
        raise GenbenchError(f"--samples must be at least 2, got {config.samples}")
    if not config.seeds:
        raise GenbenchError("no seeds given; pass --seeds, e.g. --seeds 0,1,2")
    for name in config.models:
        registry.models.check(name)
    device, cache_dir = check_shared_inputs(config)
    given = parse_overrides(config.overrides)
    overrides = canonical_overrides(given)
    check_writable(cache_dir, flag="--cache-dir")

    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]] = []
    skipped: dict[str, str] = {}
    classes: dict[str, type[GenerativeModel]] = {}
    for name in dict.fromkeys(config.models):
        try:
            cls = registry.models.get(name)
            classes[registry.models.check(name)] = cls
        except PluginLoadError as e:
            console.warn(str(e))
            skipped[name] = str(e)
    owners = set()
    for name, cls in list(classes.items()):
        if cls.weights_from:
            try:
                owners.add(registry.models.canonical(cls.weights_from))
            except UnknownNameError:  # the plugin's mistake, or a missing package: not the user's input
                skipped[name] = (
                    f"model {name!r} samples the weights of {cls.weights_from!r} (its weights_from), "
                    f"which is not installed; install the plugin that provides it"
                )
                console.warn(skipped[name])
                del classes[name]
    known = {registry.models.canonical(n) for n in config.models} | owners  # broken plugins too
    for o, typed in zip(overrides, given, strict=True):  # the error names the model as typed
        if o.model not in known:
            raise GenbenchError(
                f"--set {typed.model}.{o.field} names a model that is not in --models; "
                f"add {typed.model} to --models"
            )
    dataset = build_dataset(config.dataset, config)
    spec = dataset.spec  # loads the train split: a missing file fails here
    dataset.load(config.reference_split)
    for name, cls in classes.items():
        try:
            models.append(plan_model(name, cls, spec, overrides))
        except PluginLoadError as e:  # its weights owner failed to import
            console.warn(str(e))
            skipped[name] = str(e)
        except GenbenchError:
            raise  # the user's input (a --set field, a dataset it cannot handle): fails the run now
        except (Exception, SystemExit) as e:  # a plugin's own bug (dataset_defaults, Config): the others run
            skipped[name] = f"model {name!r} raised {type(e).__name__} resolving its config: {e}"
            console.warn(skipped[name])
    measures = {
        "num_samples": config.samples or spec.num_train,
        "reference_split": config.reference_split,
        "features": config.features or dataset.default_features,
        "reference_stats": config.reference_stats_text(),
    }
    check_no_results_replaced(config, dataset.name, models, skipped, measures)
    extractor = build_extractor(dataset, config, device)
    metrics = build_metrics(config.metrics, dataset.kind, console, dataset.name)
    options = build_metric_options(config, metrics, dataset)
    return Plan(config, dataset, extractor, metrics, models, overrides, device, cache_dir, skipped, options)


def row_label(overrides: dict[str, str], owner: Owner | None) -> str:
    """A result's variant: its ``--set`` values, then its weights owner's (``steps=10,ddpm.lr=1e-3``)."""
    label = variant_label(overrides)
    if owner is not None:  # the weights come from another model: its overrides name this row too
        owned = variant_label({f"{owner.name}.{k}": v for k, v in owner.overrides.items()})
        label = ",".join(x for x in (label, owned) if x)
    return label


def check_no_results_replaced(
    config: RunConfig,
    dataset: str,
    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]],
    skipped: dict[str, str],
    measures: dict[str, Any],
) -> None:
    """Refuse, before any work, to write a result over one that measured something else:

    - one that `genbench eval` wrote (it records its samples): ``genbench eval x.npz --name ddpm``
      then ``genbench run --models ddpm`` replaced the evaluation silently;
    - one of another protocol (``measures``: sample count, reference split, features, reference
      statistics): a quick ``--samples 200`` check replaced the full-size result of the same seed,
      whose numbers the report keeps apart, with nothing left to keep.

    A result of the same protocol is replaced, as a rerun should; so is one without samples. Not
    by a failure, though: a "failed" result goes beside an ok one (:func:`write_result`)."""
    from genbench.results import load_result

    rows = [(name, row_label(v, owner)) for name, _, variants, owner in models for v in variants]
    rows += [(name, "") for name in skipped]  # a broken plugin's "failed" results are written too
    fix = "pass --out to write this run elsewhere, or move that file away"
    for name, label in rows:
        for seed in dict.fromkeys(config.seeds):
            path = Result(model=name, dataset=dataset, seed=seed, variant=label).path(config.out)
            if not path.exists():
                continue
            try:
                old = load_result(path)
            except Exception:  # not a result genbench can read: nothing to protect
                continue
            samples = old.protocol.get("samples")
            if samples:
                what = samples.get("path") or "samples passed to genbench.evaluate"
                raise GenbenchError(
                    f"{path} holds the evaluation of {what}, which this run would replace; {fix}"
                )
            if old.status != "ok" or name in skipped:
                continue
            was = {**old.protocol, "features": (old.protocol.get("features") or {}).get("name")}
            differ = [k for k, v in measures.items() if k in was and was[k] != v]
            if differ:
                raise GenbenchError(
                    f"{path} holds a result at {_describe(was, differ)}, which this run at "
                    f"{_describe(measures, differ)} would "
                    f"replace; {fix}"
                )


def _describe(protocol: dict[str, Any], keys: list[str]) -> str:
    from genbench.protocols import PROTOCOL_FIELDS  # the report's names; imported here: it loads pandas

    return ", ".join(f"{PROTOCOL_FIELDS[k]} {protocol[k]}" for k in keys)


def plan_model(
    name: str, cls: type[GenerativeModel], spec: DataSpec, overrides: list[Override]
) -> tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]:
    """Check that ``cls`` handles the dataset of ``spec``; resolve and check (``check_config``) every
    variant's config and its weights owner's now, so that a bad --set value fails before any training."""
    cls.check_spec(spec)
    check_sequence_sweeps(cls, [o for o in overrides if o.model == name])
    # named by what they change: a sweep point at the default is the plain model, typed twice is one
    variants = [canonical_variant(cls, spec.name, v) for v in expand_variants(name, overrides)]
    variants = list({variant_label(v): v for v in variants}.values())
    owner = weights_owner(cls, overrides)
    owner_cfg = None
    if owner is not None:
        owner.cls.check_spec(spec)
        owner = Owner(owner.name, owner.cls, canonical_variant(owner.cls, spec.name, owner.overrides))
        owner_cfg = resolve_model_config(owner.cls, spec.name, owner.overrides)
        owner.cls.check_config(spec, owner_cfg)
    for v in variants:  # the values too (ddim.steps=0), not only their types: DDPM would train first
        cfg = resolve_model_config(cls, spec.name, v)
        if owner_cfg is None:  # as documented, (spec, config): a plugin's override may take no more
            cls.check_config(spec, cfg)
        else:
            cls.check_config(spec, cfg, owner_config=owner_cfg)
    return name, cls, variants, owner


def load_stats(p: Plan, reference: Features, console: Progress) -> None:
    """Read ``--reference-stats`` into ``p`` once the reference features exist (before any training),
    checking the keys, shapes and that their dimension is the features'.

    A bad file is a user error but not a fatal one (issue: "the results of the other metrics still
    written"): it is shown at once, so the user can stop the run, and FID records it as its error.
    """
    if p.config.reference_stats is None:
        return
    from genbench.features.reference import load_reference_stats

    dim = reference.features.shape[1] if len(reference) else None
    try:
        p.reference_stats = load_reference_stats(p.config.reference_stats, dim=dim)
    except MetricInputError as e:
        p.reference_stats_error = str(e)
        console.warn(f"{e}; FID will not be computed, the other metrics will")


def canonical_overrides(overrides: list[Override]) -> list[Override]:
    """``--set`` overrides under each model's registered name, so that an alias's (``gan.lr``)
    reaches the model it names (``gan-ns``); a field set twice, under any name, fails."""
    out: list[Override] = []
    seen: dict[tuple[str, str], str] = {}
    for o in overrides:
        name = registry.models.canonical(o.model)
        if (name, o.field) in seen:
            raise GenbenchError(
                f"--set {o.model}.{o.field} and --set {seen[name, o.field]}.{o.field} set the same field of "
                f"{name!r}; give it once (sweep with --set {name}.{o.field}=A,B)"
            )
        seen[name, o.field] = o.model
        out.append(replace(o, model=name))
    return out


def weights_owner(cls: type[GenerativeModel], overrides: list[Override]) -> Owner | None:
    """``cls``'s weights owner (None when it trains its own); ``overrides`` are canonical."""
    if not cls.weights_from:
        return None
    name = registry.models.canonical(cls.weights_from)
    mine = [o for o in overrides if o.model == name]
    for o in mine:
        if len(o.values) > 1:
            raise GenbenchError(
                f"--set {name}.{o.field} sweeps {name}, which a dependent model reuses; sweep one value at a time"
            )
    return Owner(name, registry.models.get(name), {o.field: o.values[0] for o in mine})


def run(config: RunConfig, console: Progress | None = None) -> list[Result]:
    """Run every (model, variant, seed) of ``config``; returns the results written."""
    console = console or Progress(enabled=config.progress)
    p = plan(config, console)
    reference = reference_features_for(p, console)
    load_stats(p, reference, console)
    results: list[Result] = []
    seeds = list(dict.fromkeys(config.seeds))  # --seeds 0,0 runs seed 0 once
    for name, why in p.skipped.items():  # broken plugins: recorded, reported once, never fatal
        for seed in seeds:
            failed = Result(model=name, dataset=p.dataset.name, seed=seed, status="failed", error=why)
            failed.error_kind = "plugin"
            results.append(write_result(failed, config.out, console)[0])
    for name, cls, variants, owner in p.models:
        for overrides in variants:
            for seed in seeds:
                result = run_one(p, name, cls, overrides, owner, seed, reference, console)
                result, path = write_result(result, config.out, console)
                console.done(result, path)
                results.append(result)
    retrain_finished(p)
    return results


def write_result(result: Result, out: Path, console: Progress) -> tuple[Result, Path | None]:
    """Write ``result``; returns what was written and where (None when nothing could be).

    A "failed" result (this attempt broke: out of memory, a corrupt checkpoint, a plugin that no
    longer imports, ``sample`` raising) never replaces an "ok" or "diverged" one of the same seed,
    which measured something: that file is kept, the failure goes beside it to
    ``seed<N>.failed.json`` (which the report never reads) and a warning says so. Any other result
    ("ok", or "diverged": the model's own outcome, a finding) replaces ``seed<N>.json`` and removes
    a ``seed<N>.failed.json`` left by an earlier attempt; so does a "failed" one over a failure.

    A write that raises (a value in a plugin's config that no JSON writer takes, a full disk) fails
    this model only, as its other bugs do: it is recorded as "failed" with the reason (identity and
    error only, the part that can still be written) and the other models run."""
    try:
        return result, _write_keeping_outcomes(result, out, console)
    except Exception as e:
        why = f"the result of model {result.model!r} could not be written to {result.path(out)}"
        failed = Result(
            model=result.model,
            dataset=result.dataset,
            seed=result.seed,
            variant=result.variant,
            status="failed",
            # a GenbenchError already names the file and the fix ("cannot write ...; free some space")
            error=str(e) if isinstance(e, GenbenchError) else f"{why}: {type(e).__name__}: {e}",
            # GenbenchError or OSError: an unwritable --out or a full disk, which the user fixes
            error_kind="user" if isinstance(e, GenbenchError | OSError) else "plugin",
        )
        console.warn(f"{result.label} seed {result.seed}: {failed.error}")
        try:
            return failed, _write_keeping_outcomes(failed, out, console)
        except Exception as again:  # the disk itself: the summary still reports this failure
            console.warn(f"{result.label} seed {result.seed}: nor could its failure be recorded ({again})")
            return failed, None


def _write_keeping_outcomes(result: Result, out: Path, console: Progress) -> Path:
    """The file rule of :func:`write_result`."""
    from genbench.results import load_result

    path, aside = result.path(out), result.failed_path(out)
    if result.status == "failed" and path.exists():
        try:
            earlier = load_result(path).status
        except Exception:  # not a result genbench can read: nothing to keep
            earlier = None
        if earlier in ("ok", "diverged"):
            atomic_write_json(aside, asdict(result))
            console.warn(
                f"{result.label} seed {result.seed} failed; the earlier {earlier} result in {path} "
                f"is kept, and this failure is written to {aside}"
            )
            return aside
    written = result.write(out)
    with contextlib.suppress(OSError):  # a stale failure left beside it is never read: no reason to fail
        aside.unlink(missing_ok=True)
    return written


def reference_features_for(p: Plan, console: Progress) -> Features:
    from genbench.features.reference import reference_features

    with console.status(
        f"reference features: {p.dataset.name} {p.config.reference_split} ({p.extractor.name})"
    ):
        return reference_features(p.dataset, p.extractor, p.config.reference_split, p.cache_dir)


def run_one(
    p: Plan,
    name: str,
    cls: type[GenerativeModel],
    overrides: dict[str, str],
    owner: Owner | None,
    seed: int,
    reference: Features,
    console: Progress,
) -> Result:
    result = Result(
        model=name,
        dataset=p.dataset.name,
        seed=seed,
        variant=row_label(overrides, owner),
        environment=environment(str(p.device)),
    )
    try:
        # plan resolved it once already; a plugin's dataset_defaults may still raise this time
        cfg = resolve_model_config(cls, p.dataset.name, overrides)
        result.config = asdict(cfg) if is_dataclass(cfg) else {}
        if owner is not None:
            result.config["weights_from"] = {"model": owner.name, "overrides": owner.overrides}
        model, train_s, log, info = obtain_model(p, name, cls, cfg, seed, console, owner)
        result.training_log = log
        result.training = info
        result.timings["train_s"] = train_s
        n = p.config.samples or p.dataset.spec.num_train
        evaluate_into(result, p, model, n, seed, reference, console)
    except Diverged as e:
        result.status, result.error, result.flags = "diverged", str(e), ["diverged"]
        result.error_kind = "diverged"
        console.warn(f"{result.label} seed {seed}: {e}")
    except GenbenchError as e:  # a batch the model may not return is its bug, as a metric's values are
        kind = "plugin" if isinstance(e, PluginOutputError) else "user"
        result.status, result.error, result.error_kind = "failed", str(e), kind
        console.warn(f"{result.label} seed {seed}: {e}")
    except (Exception, SystemExit) as e:  # a plugin's own bug, sys.exit too: the other models run
        result.status, result.error = "failed", f"model {name!r} raised {type(e).__name__}: {e}"
        result.error_kind = "plugin"
        console.warn(result.error)
    return result


def obtain_model(
    p: Plan,
    name: str,
    cls: type[GenerativeModel],
    cfg: Any,
    seed: int,
    console: Progress,
    owner: Owner | None,
) -> tuple[GenerativeModel, float, list[dict[str, float]], dict[str, Any]]:
    """Train or load ``name``, or, for a DDIM-like model, its weights ``owner``."""
    if owner is not None:
        owner_cfg = resolve_model_config(owner.cls, p.dataset.name, owner.overrides)
        trained, train_s, log, info = train_or_load(p, owner.name, owner.cls, owner_cfg, seed, console)
        return cls.from_trained(trained, cfg), train_s, log, {"weights_from": owner.name, **info}
    return train_or_load(p, name, cls, cfg, seed, console)
