"""The protocol line a run or an evaluation says before its first result ("protocol: digits, 1437
samples per model and seed against the train split (1437 examples), in classifier features
(...), seeds 0,1,2"), and the reference part of a result's protocol it is made from: the per-result
lines show values only (``fid=13.2``), which name no protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from genbench.metric_splits import split_protocol
from genbench.sample_labels import DRAWN
from genbench.text import option_setting

if TYPE_CHECKING:
    from genbench.planning import Plan


def reference_protocol(p: Plan) -> dict[str, Any]:
    """What the samples were compared with: the reference split read here; else (no metric compared
    with the data: IS, FID against --reference-stats) the split that a `genbench stats` file of this
    dataset records, so that runs and evaluations against one file share a protocol; else none."""
    from genbench.features.reference_stats import made_reference

    if p.reads_reference:
        split = p.config.reference_split
        return {
            "reference_split": split,
            "num_reference": len(p.dataset.load_stored(split)[0]),
            "dataset_fingerprint": p.dataset.fingerprint(),
        }
    return made_reference(p.reference_made if p.reference_stats is not None else None, p.dataset.name)


def protocol_line(p: Plan, seeds: list[int], labels: dict[str, Any] | None = None) -> str:
    """The protocol every number of the run is measured under, as one line said before the first
    result: the per-run lines show values only (``fid=13.2``), which named no protocol. ``labels``:
    what an evaluation's protocol records of the samples' classes (None: it has none); a run's
    class-conditional models draw theirs (:func:`genbench.sample_labels.run_labels`), said too."""
    ref = reference_protocol(p)
    if p.reads_reference:  # reference_protocol then names the split read
        against = f"against the {ref['reference_split']} split ({ref['num_reference']} examples)"
        if p.reference_stats_text is not None:  # and these against the file: ADM's fid, sfid and prdc
            named = ", ".join(m.name for m in p.metrics if m.reference == "stats")
            against += f", {named} against reference statistics {p.reference_stats_text}"
    elif p.reference_stats_text is not None:
        split, size = ref.get("reference_split"), ref.get("num_reference")
        # what the file says it is of: a genbench stats file's split and size, EDM2's image count
        of = [f"{split} split"] if split else []
        if size is not None:
            of.append(f"{size} examples")
        against = f"against reference statistics {p.reference_stats_text}" + (
            f" ({', '.join(of)})" if of else ""
        )
    else:
        against = "against no reference"
    if p.extractor is not None:
        info = p.extractor.info()
        features = f"in {info.get('name')} features ({info.get('fingerprint')})"
    else:  # none was built: named, "in inception features" would claim one
        features = "no features (no metric reads any)"
    samples = p.measures.get("num_samples")
    each = " per model and seed" if p.models else ""  # an evaluation scores the samples it is given
    line = (
        f"protocol: {p.dataset.name}, {samples} samples{each} {against}, {features}, "
        f"seed{'s' if len(seeds) > 1 else ''} {','.join(map(str, seeds))}"
    )
    # the options given with --metric-option change the numbers below it as much as N does (KID's
    # subsets, FID's backend, memorization's space): two runs differing only there printed one line
    if p.metric_options:
        line += f"; --metric-option {given_options(p.metric_options)}"
    # the class mix the conditional metrics and FID depend on (the results, captions and CSV say it)
    if labels is not None:
        line += f"; classes {labels['drawn']}"
    elif any(cls.conditional for _, cls, _, _ in p.models):
        line += f"; class-conditional models' labels {DRAWN}, seeded by the run's seed"
    # a metric against another split than the reference (memorization's train split, whatever the
    # reference split), in its own space (memorization's pixels by default), as the metric declares
    for m in p.metrics:
        said = split_protocol(m, p.metric_options.get(m.name, {}), p.dataset.kind)
        if said is not None:
            line += f"; {said}"
    return line


def given_options(options: Mapping[str, Mapping[str, Any]]) -> str:
    """``--metric-option`` values as resolved (``{"kid": {"subsets": 5}}``), spelled as the flag and
    as the board's caption spells them: "kid.subsets=5", sorted, ``None`` as "none"."""
    return ", ".join(
        sorted(
            option_setting(metric, name, value)
            for metric, values in options.items()
            for name, value in values.items()
        )
    )
