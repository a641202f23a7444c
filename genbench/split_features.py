"""A dataset split's features as a run or an evaluation reads them: from the on-disk cache
(:func:`genbench.features.reference.reference_features`: keyed by the data, the extractor and the
arithmetic; locked; written atomically), extracted there once with the run's bar and forecast.

The reference split's are read before any model is trained
(:func:`genbench.plan_reference.reference_features_for`); any other split's when a metric asks for
it (:meth:`genbench.metrics.base.EvalContext.split_features`: memorization's held-out test split in
feature space). Extracted by the metric itself, the test split was extracted again by every
command (14 minutes of Inception features for CIFAR-10's 10000 test images on a CPU, each time,
with no bar), while the train split's came from this cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from genbench.extraction_bar import CACHED, noun
from genbench.features.base import extract_reporting

if TYPE_CHECKING:
    from genbench.config import Split
    from genbench.features.base import FeatureExtractor, Features
    from genbench.features.same_pass import PassKey
    from genbench.planning import Plan
    from genbench.progress import Progress


def split_features_for(
    p: Plan,
    console: Progress,
    split: Split,
    what: str | None = None,
    hint: str = CACHED,
    extractor: FeatureExtractor | None = None,
    beside: Sequence[FeatureExtractor] = (),
) -> Features:
    """Every example of ``p``'s dataset ``split`` in ``extractor``'s features (by default ``p``'s),
    from the cache when there; else extracted and cached, shown as ``what`` and the extractors'
    names (by default ``test features of DATASET (EXTRACTOR)``) with a forecast ending with ``hint``. ``beside``: other
    extractors whose features the same pass gives, cached with them
    (:func:`genbench.features.reference.reference_features`), named in the bar."""
    from genbench.features.reference import reference_features, uncached
    from genbench.features.same_pass import names, same_pass

    by = extractor or p.run_extractor
    also = uncached(p.dataset, same_pass(by, beside), split, p.cache_dir)
    what = f"{what or f'{split} features of {p.dataset.name}'} ({names(by, also)})"
    with console.extracting(what, noun(p.dataset.spec.kind), hint) as bar:
        return reference_features(p.dataset, by, split, p.cache_dir, bar, beside=also)


def beside_the_run(p: Plan, reference: bool = False) -> list[FeatureExtractor]:
    """The extractors whose features ``p``'s metrics read beside the run's and its pass gives too
    (:meth:`genbench.metrics.base.Metric.features_beside`): of the samples, or (``reference``) of
    the reference split, by the metrics that compare with it."""
    from genbench.features.same_pass import same_pass

    have_stats = p.config.reference_stats is not None
    wanted = [
        m.features_beside(p.extractor)
        for m in p.metrics
        if not reference or m.uses_reference_features(have_stats)
    ]
    return same_pass(p.run_extractor, wanted)


def split_features_reader(
    p: Plan, console: Progress, extractor_changed: Callable[[], bool]
) -> Callable[[Split, FeatureExtractor | None], Features]:
    """What a metric's ``ctx.split_features(split, extractor)`` calls in a run:
    :func:`split_features_for`. Not through the cache while ``extractor_changed()`` (a metric plugin
    changed the extractor's networks, which :class:`genbench.shared_inputs.SharedInputs` puts back
    after it; sfid's spatial extractor runs the same network): features of the changed networks,
    written there, would have been every later command's."""

    def read(split: Split, extractor: FeatureExtractor | None = None) -> Features:
        if extractor_changed():
            # as stored: uint8 images are converted batch by batch (for a plugin's own extract, whole)
            return extract_reporting(extractor or p.run_extractor, p.dataset.load_stored(split)[0], None)
        return split_features_for(p, console, split, extractor=extractor)

    return read


def sample_features_reader(
    console: Progress, label: str, hint: str, ready: Mapping[PassKey, Features] | None = None
) -> Callable[[FeatureExtractor, torch.Tensor], Features]:
    """What a metric's ``ctx.sample_features_in(extractor)`` calls in a run: the features the run's
    pass gave beside its own (``ready``, by :func:`~genbench.features.same_pass.pass_key`), else the
    samples extracted with the bar the run's own extraction of them shows (``hint`` ending its
    forecast)."""

    def read(extractor: FeatureExtractor, samples: torch.Tensor) -> Features:
        if ready:
            from genbench.features.same_pass import pass_key

            if (got := ready.get(pass_key(extractor))) is not None:
                return got
        with console.extracting(f"{extractor.name} features of {label}", "samples", hint) as bar:
            return extract_reporting(extractor, samples, bar)

    return read
