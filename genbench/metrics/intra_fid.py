"""Intra-FID of a class-conditional model (Miyato & Koyama 2018, "cGANs with Projection
Discriminator"; StudioGAN's iFID, Kang et al. 2023).

For each class ``c`` of the dataset, the FID between the samples drawn for ``c``
(``ctx.sample_labels == c``) and the reference split's examples of class ``c`` (its true labels,
``Dataset.load_labels``; never a classifier's predictions), in the run's features::

    intra_fid     = mean_c FID(samples of c, reference of c)    (lower is better)
    intra_fid_max = max_c  FID(samples of c, reference of c)    (the worst class)

FID of all samples at once cannot see a model that draws the right images for the wrong class (a
generator that ignores its labels has FID of an unconditional one, and intra-FID of the distance
between the classes); intra-FID does. Every class of the dataset (``num_modes``) counts, equally, as
Miyato & Koyama average them: a class the harness drew no samples for is an error, not left out.

The distance is fid's own (:func:`genbench.metrics.fid.frechet_distance` of
:func:`~genbench.metrics.fid.gaussian_statistics`), with fid's ``backend`` option. Each class's
Gaussian is estimated from its own rows: with ``K`` classes a class has about ``N / K`` samples, so
intra-FID is biased upwards more than FID of the same ``N`` (the bias of a Fréchet distance falls as
``1 / n``); compare intra-FIDs of the same number of samples only, and expect a warning (fid's) where
a class has no more rows than the features have dimensions. A class with fewer than 2 samples or
reference examples has no covariance: an error naming the fix.

The reference classes' Gaussians are computed once a command (kept in intra_fid's cache on the
reference features). ``--reference-stats`` hold one Gaussian for all classes and cannot give them:
intra_fid needs the reference features, as kid and prdc do.
"""

from __future__ import annotations

import warnings
import zlib
from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.metrics._classes import num_classes, reference_classes, sample_classes
from genbench.metrics._inputs import (
    MORE_SAMPLES,
    check_features,
    check_same_dim,
    option,
    reference_rows,
    split_fix,
)
from genbench.metrics.base import EvalContext, Metric
from genbench.metrics.fid import DEFAULT_BACKEND, check_backend, frechet_distance, gaussian_statistics
from genbench.registry import register_metric
from genbench.sample_labels import PlannedClasses

METRIC = "intra_fid"


@register_metric(METRIC)
class IntraFID(Metric):
    """Mean and worst per-class FID of a class-conditional model's samples (Miyato & Koyama 2018)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"intra_fid": False, "intra_fid_max": False}
    # in the default set: it applies to class-conditional models alone (applies_to), so an
    # unconditional model's results hold no value of it (their protocol records its version and
    # options, as for every planned metric; a board's caption names only computed metrics' options)
    #: the trace formula, as fid's: "torch-fidelity" (eigenvalues) or "clean-fid" (scipy's sqrtm)
    options: ClassVar[dict[str, object]] = {"backend": DEFAULT_BACKEND}
    description = (
        "intra-FID of a class-conditional model: the mean (and max) over classes of the FID between the "
        "samples drawn for a class and the reference examples of that class (Miyato & Koyama 2018; "
        "StudioGAN's iFID)"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        check_backend(METRIC, options)

    def check_classes(self, options: dict[str, Any], classes: PlannedClasses) -> None:
        # compute's count checks, before any training: the counts drawn are stratified to the train
        # split's (the same at every seed), the reference split's are its labels'. Its warning for a
        # class of no more rows than the features' dimensions is compute's alone, as fid's for all
        # samples is: said once, for the model and seed it concerns, not here and again there
        counts = np.asarray(classes.counts)
        if (counts < 2).any() and classes.given:
            # `genbench eval` of samples with their classes, before any features are extracted: no
            # --samples draws more of a class there, and without intra_fid (in the default set,
            # unasked) the other metrics are scored
            fix = f"give 2 or more samples of each class, or leave {METRIC} out of --metrics"
            _check_counts(counts, f"of {classes.num_samples} samples are given", fix)
        elif (counts < 2).any():
            fewest = classes.fewest_samples(2)
            fix = (
                f"use --samples {fewest} or more"
                if fewest is not None
                else "no number of samples draws any for a class the train split has no examples of; "
                "use a dataset whose train split has examples of each class"
            )
            _check_counts(counts, f"of {classes.num_samples} samples are drawn", fix)
        if classes.reference_counts is not None:
            split = classes.reference_split
            _check_counts(np.asarray(classes.reference_counts), f"{split} examples are", split_fix(split))

    def applies_to(self, ctx: EvalContext) -> bool:
        # an unconditional model's samples are left out quietly (named, its error says why)
        return super().applies_to(ctx) and ctx.sample_labels is not None

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        backend = option(ctx, METRIC, "backend", DEFAULT_BACKEND)
        check_backend(METRIC, {"backend": backend})
        labels = sample_classes(ctx, METRIC)
        x = check_features(ctx.sample_features.features, "sample", METRIC, why="for a covariance")
        ref = reference_rows(ctx, METRIC, why="for a covariance")
        check_same_dim(x, ref, METRIC)
        k = num_classes(ctx, METRIC)
        ref_labels = reference_classes(ctx, METRIC, len(ref))
        sample_counts = np.bincount(labels, minlength=k)
        ref_counts = np.bincount(ref_labels[(ref_labels >= 0) & (ref_labels < k)], minlength=k)
        _check_counts(sample_counts, "samples were drawn", MORE_SAMPLES)
        _check_counts(ref_counts, f"{ctx.reference_split} examples are", split_fix(ctx.reference_split))
        dim = x.shape[1]
        _warn_singular(sample_counts, dim, "samples", f"use more than {dim} samples per class")
        grow = f"{split_fix(ctx.reference_split)}, or compare in features of fewer dimensions (--features)"
        _warn_singular(ref_counts, dim, "reference examples", grow)
        ref_stats = _reference_class_gaussians(ctx, ref, ref_labels, k)
        distances = []
        # each class's distance may warn as fid's does (clean-fid's eps retry): said once, not K times
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for c in range(k):
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by frechet_distance
                    mu, sigma = gaussian_statistics(x[labels == c])
                distances.append(frechet_distance(mu, sigma, *ref_stats[c], backend=backend))
        for message in dict.fromkeys(str(w.message).replace("fid:", f"{METRIC}:", 1) for w in caught):
            warnings.warn(message, stacklevel=2)
        return {"intra_fid": float(np.mean(distances)), "intra_fid_max": float(np.max(distances))}


def _check_counts(counts: np.ndarray, what: str, fix: str) -> None:
    """Every class with at least 2 rows, the fewest a covariance takes; else one line naming the fix."""
    short = np.flatnonzero(counts < 2)
    if len(short):
        shown = ", ".join(f"class {c}: {counts[c]}" for c in short[:5]) + (", ..." if len(short) > 5 else "")
        raise MetricInputError(
            f"{METRIC}: fewer than 2 {what} for {len(short)} of {len(counts)} classes ({shown}), which "
            f"have no covariance; {fix}"
        )


def _warn_singular(counts: np.ndarray, dim: int, what: str, fix: str) -> None:
    """fid's warning for a singular covariance (:func:`genbench.metrics.fid.warn_if_singular`), once for
    every class whose rows are at most the features' dimensions."""
    few = np.flatnonzero(counts <= dim)
    if len(few):
        warnings.warn(
            f"{METRIC}: {len(few)} of {len(counts)} classes have at most {dim} {what} (as few as "
            f"{counts[few].min()}) for {dim}-dimensional features: their covariances are singular and "
            f"intra-FID is biased upwards; for a comparable intra-FID, {fix}",
            stacklevel=3,
        )


def _reference_class_gaussians(
    ctx: EvalContext, ref: np.ndarray, ref_labels: np.ndarray, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each class's mean and covariance of the reference features, read-only, computed once a
    command: kept in intra_fid's own cache on the reference features (every model and seed scored
    against them reads the same), keyed by the labels they were split by."""
    kept = ctx.reference_features.cache
    key = ("class gaussians", k, len(ref_labels), zlib.crc32(np.ascontiguousarray(ref_labels).data))
    if key not in kept:
        stats = []
        for c in range(k):
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named by frechet_distance
                mu, sigma = gaussian_statistics(ref[ref_labels == c])
            for a in (mu, sigma):  # every later model reads them: none may change them
                a.setflags(write=False)
            stats.append((mu, sigma))
        kept[key] = stats
    return kept[key]
