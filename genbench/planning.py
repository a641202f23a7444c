"""The plan of a `genbench run`: every model, variant, weights owner and result path resolved and
checked before any training (:func:`plan`), so that a bad name or ``--set`` value fails in a
second, not after an hour. Each model's rows are planned in :mod:`genbench.model_plan`, where broken
model plugins are recorded as failed rows (:class:`~genbench.model_plan.Failed`), under the variants
asked for, and the others run. A model that samples another's
weights finds that weights owner, and which of its ``--set`` fields change them, in
:mod:`genbench.weights_owner`. Whether a result already on disk may be replaced by the run is
checked in :mod:`genbench.replacement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.config_types import check_config_types
from genbench.data.base import Dataset
from genbench.errors import (
    Diverged,
    GenbenchError,
    MetricInputError,
    PluginLoadError,
)
from genbench.feature_use import needed_extractor, reads_features
from genbench.features.base import FeatureExtractor
from genbench.io import check_writable
from genbench.memorization_memory import warn_memorization_memory
from genbench.metric_checks import (
    build_metric_options,
    check_metric_classes,
    check_metric_features,
    check_metric_samples,
)
from genbench.metrics.base import Metric
from genbench.model_plan import Failed, asked_rows, plan_model
from genbench.override_fields import check_fields_of_other_models
from genbench.overrides import Override, parse_overrides
from genbench.progress import Progress
from genbench.replacement import add_fingerprints, check_no_results_replaced
from genbench.resolve import (
    build_dataset,
    build_metrics,
    cache_flag,
    check_built_dataset_name,
    check_shared_inputs,
    run_features,
)
from genbench.sample_labels import check_conditional_data, planned_classes
from genbench.shipped import missing_shipped_folders
from genbench.weights_owner import Owner, check_owner_fields_used, weights_from_refusal


@dataclass
class Plan:
    """Everything resolved before any work: the run fails here, or not at all for user input."""

    config: RunConfig
    dataset: Dataset
    #: None where no metric reads features (:func:`genbench.feature_use.reads_features`): nothing is
    #: extracted, and results record no features
    extractor: FeatureExtractor | None
    metrics: list[Metric]
    #: name, class, variants, and the model whose weights it samples from (None when it trains its own):
    #: a model appears once per weights owner variant (ddim once per ddpm.train_steps swept)
    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]]
    overrides: list[Override]
    device: torch.device
    cache_dir: Path
    failed: list[Failed] = field(default_factory=list)  # rows of broken plugins, recorded by the runner
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> {key: value}
    #: (mu, sigma) from --reference-stats, for FID; read by plan_reference.load_stats once the
    #: reference features exist
    reference_stats: tuple[Any, Any] | None = None
    #: why --reference-stats could not be used: FID records it as its error, the other metrics run
    reference_stats_error: str | None = None
    #: how the --reference-stats file says it was made (`genbench stats`), or None
    reference_made: dict[str, Any] | None = None
    #: False when no metric compares with the reference examples (IS, FID against --reference-stats):
    #: no reference features are extracted, and results record the reference the statistics file
    #: names, if any (:func:`reads_reference`)
    reads_reference: bool = True
    #: what a result of this run records of its protocol, known before any work (sample count,
    #: reference split, features, reference statistics): what a result it would replace is compared with;
    #: the fingerprints too once there is a result to compare
    #: (:func:`genbench.replacement.add_fingerprints`)
    measures: dict[str, Any] = field(default_factory=dict)
    #: checkpoint directories --retrain has cleared in this run: a checkpoint shared by several rows
    #: (ddpm and every ddim variant) is trained once per run, then loaded
    retrained: set[Path] = field(default_factory=set)
    #: checkpoint directories whose training diverged in this run: a shared checkpoint's other rows
    #: record that divergence instead of training up to it again (once per ddim variant)
    diverged: dict[Path, Diverged] = field(default_factory=dict)
    #: checkpoint directories whose cache checkpoint was compared with the shipped one of its key in
    #: this run, with the shipped weights' digest: read and warned of once, not once per ddim variant
    shipped_digests: dict[Path, str | None] = field(default_factory=dict)

    @property
    def run_extractor(self) -> FeatureExtractor:
        """:attr:`extractor`, for the code that extracts features: it runs only where some metric reads
        them, and so where one was built."""
        if self.extractor is None:
            raise RuntimeError("no metric of this run reads features: no feature extractor was built")
        return self.extractor

    @property
    def amp(self) -> bool:
        """Whether models train in mixed precision: ``--amp`` on CUDA only (:func:`plan` warns that
        it is float32 elsewhere); it is part of each checkpoint's key."""
        return self.config.amp and self.device.type == "cuda"

    @cached_property
    def reference_stats_text(self) -> str | None:
        """``--reference-stats`` as every result of this run records it: the file is hashed once for
        all of them, when the plan's replacement check reads it (:attr:`measures`)."""
        if "reference_stats" in self.measures:
            return self.measures["reference_stats"]
        return self.config.reference_stats_text()


#: more samples than any machine holds (2**31 8x8 grey images are 550 GB in float32)
MAX_SAMPLES = 2**31 - 1


def plan(config: RunConfig, console: Progress | None = None) -> Plan:
    """Resolve and validate every name, list and path; load the dataset. No training happens."""
    console = console or Progress(enabled=False)
    check_config_types(config, run=True)
    for why in registry.ignored_plugins():  # the built-in of that name runs; say whose is not
        console.warn(why)
    if not config.models:
        raise GenbenchError("no models given; pass --models, e.g. --models ddpm,gan")
    if config.samples is not None and config.samples < 2:
        raise GenbenchError(f"--samples must be at least 2, got {config.samples}")
    if config.samples is not None and config.samples > MAX_SAMPLES:  # torch's sizes overflowed past 2**63
        raise GenbenchError(f"--samples must be at most {MAX_SAMPLES} (2**31 - 1), got {config.samples}")
    if not config.seeds:
        raise GenbenchError("no seeds given; pass --seeds, e.g. --seeds 0,1,2")
    if config.skip_done and config.retrain:  # the results kept are of the checkpoints it trains anew
        raise GenbenchError(
            "--skip-done keeps results whose checkpoints --retrain trains anew; pass one of them"
        )
    for name in config.models:
        registry.models.check(name)
    device, cache_dir = check_shared_inputs(config)
    if config.amp and device.type != "cuda":  # Plan.amp is False: said, not silently float32
        console.warn(f"--amp is mixed precision on CUDA only: training on {device} runs in float32")
    given = parse_overrides(config.overrides)
    overrides = canonical_overrides(given)
    check_writable(cache_dir, flag=cache_flag(config))

    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]] = []
    failed: list[Failed] = []
    classes: dict[str, type[GenerativeModel]] = {}
    for name in dict.fromkeys(config.models):
        try:
            cls = registry.models.get(name)
            classes[registry.models.check(name)] = cls
        except PluginLoadError as e:
            failed += [Failed(name, label, str(e)) for label in asked_rows(name, overrides)]
    owners: set[str] = set()
    for name, cls in list(classes.items()):
        if cls.weights_from:
            refused = weights_from_refusal(name, cls)
            if refused is None:
                owners.add(registry.models.canonical(cls.weights_from))
            else:  # the plugin's mistake, or a missing package: not the user's input
                failed += [Failed(name, label, refused, cls) for label in asked_rows(name, overrides)]
                del classes[name]
    known = {registry.models.canonical(n) for n in config.models} | owners  # broken plugins too
    for o, typed in zip(overrides, given, strict=True):  # the error names the model as typed
        if o.model not in known:
            raise GenbenchError(
                f"--set {typed.model}.{o.field} names a model that is not in --models; "
                f"add {typed.model} to --models"
            )
    check_fields_of_other_models(classes, overrides)  # ddpm.latent_dim beside vae: the VAE's field
    dataset = build_dataset(config.dataset, config)
    check_built_dataset_name(dataset)  # its results folder, as the registered name was checked
    spec = dataset.spec  # loads the train split: a missing file fails here
    dataset.load_stored(config.reference_split)  # read and checked, not converted
    for name, cls in classes.items():
        if cls.conditional:  # no labels to train on and sample for: the user's choice of data, refused now
            check_conditional_data(name, dataset)
        planned, broken = plan_model(name, cls, spec, overrides)
        models += planned
        failed += broken
    owned = [(name, owner) for name, _, _, owner in models] + [(f.model, f.owner) for f in failed]
    check_owner_fields_used(config, owned, given, dataset.name)
    if not config.retrain:  # --retrain loads nothing shipped
        for why in missing_shipped_folders(models):
            console.warn(why)
    metrics = build_metrics(
        config.metrics, dataset.kind, console, dataset.name, run_features(config, dataset)
    )
    config = without_unused_stats(config, metrics, console)
    check_stats_found(config, metrics)
    warn_archive_statistics(config, dataset, metrics, console)
    options = build_metric_options(config, metrics, dataset)
    reads = reads_reference(config, metrics)
    warn_unused_split(config, dataset, reads, console)
    features = reads_features(metrics, options)
    measures = {
        "num_samples": config.samples or spec.num_train,
        **planned_reference(config, dataset, reads, features),
    }
    # a bad --features fails with its own fix before a rerun's check, which named it a change of protocol
    extractor = needed_extractor(dataset, config, metrics, options, features, device, console)
    check_metric_features(metrics, extractor, config.metrics)
    check_metric_samples(metrics, options, measures["num_samples"], extractor)
    warn_memorization_memory(metrics, options, measures["num_samples"], dataset, console)
    if any(cls.conditional for _, cls, _, _ in models):  # the classes its samples are drawn for
        drawn = planned_classes(dataset, measures["num_samples"], config.reference_split)
        check_metric_classes(metrics, options, drawn)
    check_no_results_replaced(
        config,
        dataset.name,
        models,
        failed,
        measures,
        metrics,
        options,
        fingerprints=lambda: add_fingerprints(measures, extractor, dataset, reads),
    )
    return Plan(
        config,
        dataset,
        extractor,
        metrics,
        models,
        overrides,
        device,
        cache_dir,
        failed,
        options,
        reads_reference=reads,
        measures=measures,
    )


def without_unused_stats(config: RunConfig, metrics: list[Metric], console: Progress) -> RunConfig:
    """``config`` without its ``--reference-stats`` when no chosen metric compares with statistics
    (``--metrics is``), with a warning: else results recorded the file in their protocol, and the
    board's caption named FID against it, though nothing was measured with it."""
    if config.reference_stats is None or any(m.reference == "stats" for m in metrics):
        return config
    console.warn(
        f"--reference-stats {config.reference_stats} is not used: none of the metrics "
        f"({', '.join(m.name for m in metrics)}) compares with statistics; FID does"
    )
    return replace(config, reference_stats=None)


def check_stats_found(config: RunConfig, metrics: list[Metric]) -> None:
    """Stop on a ``--reference-stats`` path that names nothing (a typo) where every metric compares
    with the statistics (``--metrics fid``), before the check of a result on disk, which met it first
    as a change of protocol ("... reference stats missing.npz would replace"). Where other metrics
    run too, :func:`genbench.plan_reference.load_stats` warns and they are computed."""
    path = config.reference_stats
    if path is None or Path(path).exists() or not all(m.reference == "stats" for m in metrics):
        return
    from genbench.features.reference_stats import load_reference_stats

    try:
        load_reference_stats(Path(path))
    except MetricInputError as e:  # "not found", with its fix
        raise GenbenchError(str(e)) from None


def warn_archive_statistics(
    config: RunConfig, dataset: Dataset, metrics: list[Metric], console: Progress
) -> None:
    """Say so when ``--dataset`` is an image archive holding reference statistics (ADM's reference
    batch: ``mu``, ``sigma``, ``mu_s``, ``sigma_s``, over the whole of ImageNet) and metrics that
    compare with statistics (FID, sFID) run without ``--reference-stats``: they compare with the
    archive's own images, not the file's statistics, which ADM's evaluator uses. Said, not switched:
    the statistics of 10000 images and of the whole dataset give other FIDs, and which one a number
    is measured against is the user's choice, recorded in its protocol."""
    from genbench.data.image_archive import ImageArchive, archive_statistics
    from genbench.features.reference_stats import MADE_KEY

    if config.reference_stats is not None or not isinstance(dataset, ImageArchive):
        return
    named = [m.name for m in metrics if m.reference == "stats"]
    held = [k for k in archive_statistics(dataset.path) if k != MADE_KEY]  # the record is no statistic
    if not named or not held:
        return
    verb = "compares" if len(named) == 1 else "compare"
    console.warn(
        f"{dataset.path.name} holds reference statistics ({', '.join(held)}), which are not used: "
        f"{', '.join(named)} {verb} with the statistics of its images; to compare with the file's "
        f"statistics, as ADM's evaluator does, pass --reference-stats {dataset.path}"
    )


def warn_unused_split(config: RunConfig, dataset: Dataset, reads: bool, console: Progress) -> None:
    """Name a ``--reference-split`` other than the default that no metric compares with (IS alone,
    FID against --reference-stats): the numbers were not measured against it, whatever the flag
    says. `genbench run` and `genbench eval` alike."""
    if reads or config.reference_split == "train":
        return
    console.warn(
        f"--reference-split {config.reference_split} is not used: no metric compares with a split of "
        f"{dataset.name}"
        + ("; FID compares with the --reference-stats file" if config.reference_stats else "")
    )


def reads_reference(config: RunConfig, metrics: list[Metric]) -> bool:
    """Whether a metric compares with the reference split's examples: else (IS; FID against
    --reference-stats) results record the reference the statistics file names, the same for
    `genbench run` and `genbench eval`, which then reads no data."""
    return any(m.uses_reference_features(config.reference_stats is not None) for m in metrics)


def planned_reference(config: RunConfig, dataset: Dataset, reads: bool, features: bool) -> dict[str, Any]:
    """The reference fields a result of ``config`` will record, known before any work: what a rerun
    is compared with (:func:`genbench.replacement.protocol_replaced`). ``features``: whether a
    metric reads features (:func:`genbench.feature_use.reads_features`); else the result records
    none."""
    from genbench.features.reference_stats import made_reference, stats_made

    if reads:
        split = config.reference_split
    else:
        made = stats_made(Path(config.reference_stats)) if config.reference_stats is not None else None
        split = made_reference(made, dataset.name)["reference_split"]
    return {
        "reference_split": split,
        "features": (config.features or dataset.default_features) if features else None,
        "reference_stats": config.reference_stats_text(),
    }


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
