"""What a plan compares with, read before any model is trained: the reference split's features
(:func:`reference_features_for`) and a ``--reference-stats`` file (:func:`load_stats`), checked
against them. Shared by `genbench run` (:mod:`genbench.runner`) and `genbench eval`
(:mod:`genbench.evaluation`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genbench.errors import GenbenchError, MetricInputError
from genbench.extraction_bar import REFERENCE_HINT
from genbench.features.base import FeatureExtractor, Features
from genbench.planning import Plan
from genbench.progress import Progress
from genbench.split_features import beside_the_run, split_features_for


def reference_features_for(p: Plan, console: Progress) -> Features:
    """The reference split's features, or none when no metric compares with them (IS; FID against
    --reference-stats) or no metric reads features (memorization in pixels compares with the train
    split's images): for CIFAR-10 they are Inception over 50000 images, hours on a CPU."""
    if not p.reads_reference or p.extractor is None:
        return Features(np.zeros((0, 0)))
    split = p.config.reference_split
    # sfid's spatial features of the split, from the same pass when it is extracted (same_pass)
    what = f"reference features of {p.dataset.name} {split}"
    return split_features_for(
        p, console, split, what, REFERENCE_HINT, beside=beside_the_run(p, reference=True)
    )


def load_stats(p: Plan, reference: Features, console: Progress) -> None:
    """Read ``--reference-stats`` into ``p`` once the reference features exist (before any training),
    checking the keys, shapes and that their dimension is the features'.

    A bad file is a user error but not a fatal one (issue: "the results of the other metrics still
    written"): it is shown at once, so the user can stop the run, and FID records it as its error.
    Where every metric asked for compares with the statistics (``--metrics fid``), there are no other
    results to keep, and it is fatal before any work.
    """
    if p.config.reference_stats is None or p.extractor is None:  # none: no metric reads features
        return
    from genbench.features.library_stats import cleanfid_mode_warning
    from genbench.features.reference_stats import (
        check_stats_features,
        load_reference_stats,
        stats_extraction_warning,
        stats_made,
    )

    path = Path(p.config.reference_stats)
    dim = reference.features.shape[1] if len(reference) else _feature_dim(p, p.extractor)
    try:
        stats = load_reference_stats(path, dim=dim, features=p.extractor.name)
        p.reference_made = stats_made(path)
        check_stats_features(p.reference_made, p.extractor.info(), path)
    except MetricInputError as e:
        p.reference_stats_error = str(e)
        # every metric that compares with the statistics, not FID alone: a plugin's was then called
        # with neither the statistics nor reference features, and failed as its own bug
        named = [m.name for m in p.metrics if m.reference == "stats"]
        if len(named) == len(p.metrics):
            # no other metric to keep (--metrics fid): going on extracted the samples' features (for a
            # run, trained and sampled) into an "ok" result without a value, which then stood in the
            # way of the corrected command ("holds a result at features inception")
            raise GenbenchError(str(e)) from None
        which = "FID" if named in ([], ["fid"]) else ", ".join(named)
        console.warn(f"{e}; {which} will not be computed, the other metrics will")
        return
    for a in stats:  # shared by every metric of every model: a metric's `sigma += eps * I` changed them all
        a.setflags(write=False)
    p.reference_stats = stats
    # the split this command's rows record (planning.planned_reference): its own where it reads one,
    # else the file's, where the file names one of this dataset
    split = p.measures.get("reference_split") or p.config.reference_split
    if differs := stats_extraction_warning(p.reference_made, p.extractor, path, str(p.config.dataset), split):
        console.warn(differs)
    made = p.reference_made or {}
    # a file that records no features (clean-fid's) may still name its mode: clean or legacy
    if "features" not in made and (mode := cleanfid_mode_warning(path, p.extractor.name)):
        console.warn(mode)
    if made.get("dataset") is None:  # a file that says nothing of its data (clean-fid's)
        return
    theirs = (made["dataset"], made.get("split"), made.get("dataset_fingerprint"))
    if p.reads_reference:  # the split the other metrics compare with: dataset, split and data must match
        mine: tuple[str, str, str] = (p.dataset.name, p.config.reference_split, p.dataset.fingerprint())
        other = theirs != mine
    else:  # the data is not read: only the dataset's name can be checked
        mine = (p.dataset.name, "(not read)", "(not read)")
        other = theirs[0] != mine[0]
    if other:
        console.warn(
            f"reference statistics {path} describe {theirs[0]} {theirs[1]} (fingerprint {theirs[2]}), "
            f"not {mine[0]} {mine[1]} (fingerprint {mine[2]}); FID compares with the statistics all the same"
        )


def _feature_dim(p: Plan, extractor: FeatureExtractor) -> int | None:
    """The features' dimension without the reference features (no metric compared with them): a run
    reads its data anyway, so two examples give it, and statistics of the wrong dimension are shown
    before hours of training rather than after (an extractor that declares its ``feature_dim()`` runs
    nothing for it). An evaluation trains nothing: FID checks then."""
    if not p.models:
        return None
    known = extractor.feature_dim()  # the built-ins know it without running their network
    if known is not None:
        return known
    from genbench.data.folder import float_samples

    # two examples as floats (an extractor plugin's own extract takes no uint8), not the split converted
    two = float_samples(p.dataset.load_stored("train")[0][:2])
    return int(extractor.extract(two).features.shape[1])
