"""Score samples into a result: sample a model (timed) unless samples are given, extract features
once, and compute every metric that applies. A metric that raises, or returns a value it may not
write, records that metric's error; the model and the other metrics are untouched (how one metric
is called, its values checked and its error recorded: :mod:`genbench.metric_calls`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genbench.api import GenerativeModel, SampleCheck
from genbench.data.folder import float_samples
from genbench.errors import GenbenchError, MetricInputError
from genbench.extraction_bar import SAMPLES_HINT
from genbench.features.base import Features, extract_reporting
from genbench.features.same_pass import PassKey, extract_beside, names, pass_key
from genbench.isolation import ctrl_c_kept, seed_globals, torch_state_kept
from genbench.layout import figures_dir
from genbench.metric_calls import (
    applies,
    compute_metric,
    key_owners,
    metric_message,
    not_applicable,
    record_metric_error,
)
from genbench.metric_checks import effective_metric_options
from genbench.metric_steps import reporting_progress
from genbench.metrics.base import EvalContext, Metric
from genbench.progress import Progress
from genbench.protocol_line import reference_protocol
from genbench.provenance import scoring_sources
from genbench.results import Result
from genbench.sample_labels import read_only, run_labels
from genbench.sampling_steps import reporting_steps
from genbench.shared_inputs import SharedInputs
from genbench.split_features import beside_the_run, sample_features_reader, split_features_reader

if TYPE_CHECKING:
    from genbench.planning import Plan


def sample_seed(seed: int) -> int:
    """The seed of ``seed``'s sampling stream: distinct from the training stream of the same seed."""
    return int.from_bytes(hashlib.sha256(f"sample:{seed}".encode()).digest()[:8], "little") >> 1


def sample_generator(seed: int, device: torch.device) -> torch.Generator:
    """The sampling generator of ``seed``: distinct from the training stream of the same seed."""
    return torch.Generator(device=device).manual_seed(sample_seed(seed))


def evaluate_into(
    result: Result,
    p: Plan,
    model: GenerativeModel | None,
    n: int,
    seed: int,
    reference: Features,
    console: Progress,
    samples: torch.Tensor | None = None,
    on_sampled: Callable[[torch.Tensor, torch.Tensor | None], object] | None = None,
    sample_labels: tuple[torch.Tensor, dict[str, Any]] | None = None,
) -> None:
    """Sample (unless ``samples`` is given), extract features once, compute every metric.
    ``on_sampled(samples, labels)`` gets the samples once they pass the harness's checks, and the
    classes they were drawn for (None for an unconditional model), before anything that may still
    fail (``--save-samples`` keeps them even when their features fail). ``sample_labels``: the
    classes of the given ``samples`` and what the protocol records of them (`genbench eval` of a
    class-conditional ``.npz``); a conditional ``model``'s are drawn here
    (:func:`genbench.sample_labels.run_labels`)."""
    from genbench.metrics.throughput import Throughput, measure_sampling

    timings = dict(result.timings)
    if samples is None:
        assert model is not None
        check = SampleCheck(result.model, p.dataset.spec)
        generator = sample_generator(seed, p.device)
        batch_labels = None
        if type(model).conditional:
            # drawn before the timed region, from a stream of their own: no sample's noise moves
            sample_labels = run_labels(p.dataset, n, seed)
            batch_labels = _BatchLabels(sample_labels[0], n, p.config.batch_size, generator.device)

        def sample_fn(b: int, g: torch.Generator) -> torch.Tensor:
            with torch.no_grad():
                if batch_labels is None:  # an unconditional model is called as it always was
                    return model.sample(b, generator=g)
                return model.sample(b, generator=g, labels=batch_labels.current)

        bar = console.sampling(f"sample {result.label} seed {seed}", n)

        def batch_started(b: int, timed: bool) -> None:
            if batch_labels is not None:
                batch_labels.started(b, timed)
            bar.batch_started(b, timed)

        # for a plugin that draws from the global generators as it samples (torch.randn_like, or
        # dropout left on): seeded at training only, it was wherever fit had left it, so the run that
        # trained the model and the next one, which loaded it, sampled and scored other numbers
        seed_globals(sample_seed(seed))
        try:
            # a sample that caught Ctrl-C returned a part of its batch, or the run went on: it stops
            with (
                torch_state_kept(f"{result.label} seed {seed}: model {result.model!r}", console.warn),
                ctrl_c_kept(),
                reporting_steps(bar.step),  # the model's steps within a batch (sampling_progress)
            ):
                samples, measured = measure_sampling(
                    sample_fn,
                    n,
                    p.config.batch_size,
                    generator,
                    p.device,
                    # the untimed warm-up batch only where throughput reports the timing: elsewhere
                    # it was a batch drawn for nothing (DDPM's 500 x 1000 steps, a fourth of its
                    # sampling on digits); the kept samples are the same either way
                    warmup=any(isinstance(m, Throughput) for m in p.metrics),
                    on_batch=bar,
                    check=check,  # not timed
                    on_batch_start=batch_started,
                )
        finally:
            console.sampling_done()
        check.check_all(samples)
        if on_sampled is not None:
            on_sampled(samples, sample_labels[0] if sample_labels is not None else None)
        timings.update(measured)
        timings["nfe"] = check.check_nfe(model.nfe)
    # sampled here: fewer with --samples N; samples given (eval) are what they are
    hint = SAMPLES_HINT if model is not None else ""
    tapped: dict[PassKey, Features] = {}
    if p.extractor is None:  # no metric reads features (memorization in pixels): none extracted
        feats, beside = _no_features(samples), []
    else:
        # the features a metric reads beside the run's that the same pass gives (sfid's spatial tap)
        beside = beside_the_run(p)
        with console.extracting(
            f"features of {result.label} ({names(p.extractor, beside)})", "samples", hint
        ) as extraction:
            t0 = time.perf_counter()
            feats, tapped = extract_beside(p.extractor, beside, samples, extraction)
            # less the bar's own time: the extraction's timing is the same with progress shown as without
            spent = extraction.spent if extraction is not None else 0.0
            timings["features_s"] = time.perf_counter() - t0 - spent
    reference_stats = p.reference_stats
    artifacts_dir = None
    if p.config.figures:
        artifacts_dir = figures_dir(p.config.out, result.dataset) / _stem(result)
        try:
            artifacts_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a full disk: no figures, but the metrics are still computed
            console.warn(
                f"{result.label} seed {seed}: no figures, cannot create {artifacts_dir} ({e.strerror})"
            )
            artifacts_dir = None
    # with the declared defaults, as Metric.options documents (each metric gets its own copy); the
    # protocol records the same
    options = effective_metric_options(p.metrics, p.metric_options)
    ctx = EvalContext(
        dataset=p.dataset,
        samples=samples,
        sample_features=feats,
        reference_features=reference,
        extractor=p.extractor,
        seed=seed,
        device=p.device,
        reference_split=p.config.reference_split,
        reference_stats=reference_stats,
        reference_stats_error=p.reference_stats_error,
        reference_stats_path=(
            Path(p.config.reference_stats)
            if reference_stats is not None and p.config.reference_stats is not None
            else None
        ),
        timings=timings,
        training_log=result.training_log,
        model_name=result.model,
        label=result.label,
        artifacts_dir=artifacts_dir,
        options=options,
        sample_labels=read_only(sample_labels[0]) if sample_labels is not None else None,
    )
    result.protocol = {
        "num_samples": int(samples.shape[0]),
        **reference_protocol(p),
        # FID's reference when given (the other metrics use the reference features); recorded even
        # when the file failed to load (FID's error says why), as run's plan records it: else the
        # rerun after fixing the file was refused as one of another protocol
        "reference_stats": p.reference_stats_text,
        # None: no metric read features, and none were extracted
        "features": p.extractor.info() if p.extractor is not None else None,
        "seed": seed,
        "device": str(p.device),
        "batch_size": p.config.batch_size,
        "metric_versions": {m.name: m.version for m in p.metrics},
        "metric_options": options,
    }
    if sample_labels is not None:  # a conditional model's only: every other result is as it was
        result.protocol["sample_labels"] = sample_labels[1]
    # what a metric measures on beside the run's features (sfid's spatial tap of the same network)
    measured_on = {m.name: info for m in p.metrics if (info := m.measured_with(p.extractor)) is not None}
    if measured_on:
        result.protocol["metric_features"] = measured_on
    owners = key_owners(p.metrics)
    shared = SharedInputs(
        {
            "sample": (feats, lambda: _sample_features_again(p, samples, feats)),
            "reference": (reference, lambda: _reference_again(p, reference)),
            # read through ctx.sample_features_in by every metric that asks for them
            **{
                f"{other.name} sample": (
                    tapped[pass_key(other)],
                    functools.partial(extract_reporting, other, samples, None),
                )
                for other in beside
            },
        },
        # handed to every metric (a split's features are extracted with it): a metric's .train() or forward
        # hook on its network changed every later metric's and model's features
        extractor=p.extractor,
        # the values its metrics share (mode labels): a metric that
        # changed the network computed them with it
        derived=ctx._cache,
    )
    # a split's features that a metric asks for (memorization's test split) come from the reference
    # cache, with a bar: extracted once for every model, seed and command, as the reference's are
    if p.extractor is not None:  # else none: EvalContext.split_features names the missing extractor
        ctx.split_features_reader = split_features_reader(p, console, shared.extractor_changed)
    # the samples in other features that a metric asks for (sfid's spatial Inception): those of the
    # run's pass, else extracted with a bar too
    ctx.sample_features_reader = sample_features_reader(console, result.label, hint, tapped)
    produced = []  # the metrics that wrote a value: whose code made a number of this result
    for metric in p.metrics:
        # its own copies live for this call only: kept to the end of the loop, the last metric's copy of
        # the samples (614 MB at CIFAR-10 scale) raised the evaluation's peak memory
        fail = functools.partial(record_metric_error, result, metric, console=console)
        before = dict(result.metrics)
        with shared.kept(metric, result, fail):
            seconds = _score_metric(metric, _own_copies(ctx, metric), result, p, owners, console)
        if seconds is not None:
            timings[f"{metric.name}_s"] = seconds
        if any(k not in before or before[k] is not v for k, v in result.metrics.items()):
            produced.append(metric)
    # which package (and version) provides the dataset, extractor and metrics: a plugin's named neither
    result.environment.update(scoring_sources(p.dataset, p.extractor, produced))
    # a metric used mode labels: name what made them, unless it is the feature extractor itself
    if ctx.has_cached("sample_modes"):
        labeller = p.dataset.mode_labeller()
        if labeller is not None and labeller != (result.protocol["features"] or {}).get("fingerprint"):
            result.protocol["mode_labeller"] = labeller
    if artifacts_dir is not None:
        from genbench.figures import save_sample_grid

        try:  # a figure that cannot be written (a full disk) never loses the metrics computed
            grid = save_sample_grid(
                samples, p.dataset, artifacts_dir / "samples.png", label=result.label, seed=seed
            )
            result.artifacts = {"samples": str(grid), **ctx.artifacts}
        except (GenbenchError, OSError) as e:
            result.artifacts = dict(ctx.artifacts)
            console.warn(f"{result.label} seed {seed}: the samples figure was not saved: {e}")
    result.timings = {k: float(v) for k, v in timings.items()}


class _BatchLabels:
    """The labels of the sampling loop's batches, in order; the warm-up batch gets the first batch's.
    ``started(b, timed)`` is :func:`~genbench.metrics.throughput.measure_sampling`'s
    ``on_batch_start``, which says before each batch whether it is the warm-up (an identity test of
    the generator it was handed leaned on how the loop builds them). Each batch's labels are a copy
    of its own on ``device``, made here, before the timed region: a model writing into its labels
    changes neither a later batch's nor what the metrics read."""

    def __init__(self, labels: torch.Tensor, n: int, batch_size: int, device: torch.device):
        self._timed = iter([part.to(device, copy=True) for part in labels[:n].split(max(1, batch_size))])
        self._warmup = labels[: min(batch_size, n)].to(device, copy=True)
        self.current: torch.Tensor | None = None

    def started(self, b: int, timed: bool) -> None:
        self.current = next(self._timed, None) if timed else self._warmup
        if self.current is None or len(self.current) != b:  # the loop batches as measure_sampling documents
            raise RuntimeError(f"sampling asked for a batch of {b} labels the harness did not prepare")


def _score_metric(
    metric: Metric, own: EvalContext, result: Result, p: Plan, owners: dict[str, str], console: Progress
) -> float | None:
    """Compute ``metric`` on its own copies ``own`` into ``result``; returns the seconds it took, or
    None when it does not apply (said, when the user named it)."""
    seed = own.seed
    # applies_to, and the compute that says why a metric does not apply, too: a default device or
    # dtype they left behind failed the next model as its own bug ("check the model")
    with torch_state_kept(f"{result.label} seed {seed}: metric {metric.name!r}", console.warn):
        if not applies(metric, own, result, console):
            # named with --metrics (every one is, then): left out, the user would not know it was not
            # computed; say why, unless applies_to raised (recorded as its error already). A warning,
            # not an error: gan_dynamics named for a run of a VAE and GANs applies to the GANs alone
            if p.config.metrics is not None and metric.name not in result.metric_errors:
                why = metric_message(metric.name, str(not_applicable(metric, own, result)))
                console.warn(f"{result.label} seed {seed}: not computed: {why}")
            return None
        t0 = time.perf_counter()
        try:
            if metric.reference == "stats" and own.reference_stats_error is not None:
                # the user's --reference-stats file cannot be used (named before any work): a metric that
                # compares with statistics has neither them nor the reference features, which were not
                # extracted; a plugin's was called anyway and failed as its own bug (exit 1)
                raise MetricInputError(own.reference_stats_error)
            # a spinner, and in a log file a line once it has run LOG_AFTER_S: prdc took 45 minutes
            # at 50k samples on a CPU, mifid 30, and the run showed nothing at all meanwhile; a bar
            # with the time left where the metric reports its progress (the k-NN metrics' blocks)
            with (
                console.computing(f"{result.label} seed {seed}: computing {metric.name}") as bar,
                reporting_progress(bar),
            ):
                compute_metric(metric, own, result, owners, console)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # a broken metric plugin never takes the others down
            # a --reference-stats file that cannot be used was named before any work
            # (plan_reference.load_stats): not again for each model and seed
            record_metric_error(result, metric, e, console, announced=own.reference_stats_error)
        return time.perf_counter() - t0


def _no_features(samples: torch.Tensor) -> Features:
    """The samples' features where no metric reads any, nothing extracted: one row of width 0 per
    sample, as many as the samples (what :func:`genbench.metrics._classes.sample_classes` counts)."""
    import numpy as np

    return Features(np.zeros((int(samples.shape[0]), 0)))


def _sample_features_again(p: Plan, samples: torch.Tensor, feats: Features) -> Features:
    """The samples' features extracted again (a metric changed them in place); none where none were."""
    if p.extractor is None:  # width 0: nothing a metric can change
        return feats
    return extract_reporting(p.extractor, samples, None)


def _reference_again(p: Plan, reference: Features) -> Features:
    """The reference features read again (from the cache, where :func:`reference_features` wrote them)."""
    from genbench.features.reference import reference_features

    if not p.reads_reference or p.extractor is None:  # none read: an empty array, which none can change
        return reference
    return reference_features(p.dataset, p.extractor, p.config.reference_split, p.cache_dir)


def _own_copies(ctx: EvalContext, metric: Metric) -> EvalContext:
    """``ctx`` with ``metric``'s own copies of what it could write into: the samples, the timings, the
    training log and the options (a metric's ``ctx.samples.mul_(50)`` turned the next metrics' memorized
    copies into "collapsed"; its ``ctx.timings["samples_per_s"] = 1e12`` was reported); a dataset whose
    ``load`` hands out copies; and a cache of its own beside the shared read-only features. The mode
    labels that several metrics share are read-only arrays (:meth:`EvalContext.sample_modes`)."""
    shared = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ctx) if f.init}
    return _SamplesCopiedOnRead(
        **{
            **shared,
            "dataset": ctx.dataset.handing_out_copies(),
            "sample_features": ctx.sample_features.seen_by(metric.name),
            "reference_features": ctx.reference_features.seen_by(metric.name),
            "timings": dict(ctx.timings),
            "training_log": copy.deepcopy(ctx.training_log),
            # a metric's `ctx.options["prdc"]["k_pr"] = 15` changed the next metrics' values, not
            # their recorded options
            "options": copy.deepcopy(ctx.options),
        }
    )


class _SamplesCopiedOnRead(EvalContext):
    """A metric's context whose ``samples`` are its own copy, made when it first reads them: copied for
    every metric, the samples cost the metrics that read only features (FID, KID, PRDC, IS) 614 MB
    and half a second each at 50000 CIFAR-10-sized samples."""

    _shared_samples: torch.Tensor
    _own_samples: torch.Tensor | None

    @property
    def samples(self) -> torch.Tensor:
        if self._own_samples is None:
            # `genbench eval`'s uint8 images are read as float in [-1, 1] (a new tensor: its own copy)
            shared = self._shared_samples
            self._own_samples = float_samples(shared) if shared.dtype == torch.uint8 else shared.clone()
        return self._own_samples

    @samples.setter
    def samples(self, value: torch.Tensor) -> None:  # the dataclass __init__'s assignment
        self._shared_samples, self._own_samples = value, None

    def _held_samples(self) -> torch.Tensor:
        # the uint8 images shared with the other metrics, never written into (extraction converts them
        # into new tensors), until this metric has its own float copy, which it may have changed
        if self._own_samples is None and self._shared_samples.dtype == torch.uint8:
            return self._shared_samples
        return self.samples

    @property
    def num_samples(self) -> int:
        return int(self._shared_samples.shape[0])


def _stem(result: Result) -> str:
    from genbench.results import safe_name

    return f"{safe_name(result.label)}-seed{result.seed}"
