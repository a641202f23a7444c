"""A board's column captions: what a column's number is where the protocol caption above the tables
does not say it (the train split of the memorization columns, whatever the reference split) or a
paper prints the same metric on another scale (KID x 10^3). The markdown and LaTeX boards both write
:func:`columns_caption` under the tables it concerns."""

from __future__ import annotations

from collections.abc import Mapping

from genbench.text import and_list, md_code

#: what a column's number is, where the board's protocol caption (reference split, features) does not
#: say it or a paper prints the same metric on another scale; columns that share a sentence say it once
_MEMORIZATION = (
    "`memorization_rate`, `authpct` and `ct` compare the samples with the **train** split whatever the "
    "reference split (`ct` with the test split as fresh data), in the space `memorization.space` names "
    "(pixels by default, not the features above); `ct` is two-sided: below 0 the samples lie nearer the "
    "training examples than fresh data do (copying), above 0 farther (underfitting)."
)
_VENDI = (
    "`vendi` is the samples' Vendi Score (the effective number of distinct samples, in the features "
    "above) and `vendi_ref` the reference split's, both on min(N, reference size) examples: it grows "
    "with that number, so read `vendi` against `vendi_ref`, not against a score at another N."
)
_MIFID = (
    "`mifid` is FID divided by `mifid_d`, the samples' mean cosine distance (1 - |cos|) to their nearest "
    "example of the **train** split whatever the reference split, in the features above, where it is "
    "below `mifid.eps` (0.1, set for Inception features of photographs), else FID itself; its FID is "
    "against the reference above. Against the train split a copy of it has FID 0 and so `mifid` 0 (0/0, "
    "with a warning): read `mifid_d` beside it."
)
_INTRA_FID = (
    "`intra_fid` is the mean over the classes (`intra_fid_max` the worst class) of the FID between the "
    "samples drawn for a class and the reference examples of that class, each on about N / classes "
    "rows: biased upwards far more than `fid` at the same N, so compare intra-FIDs at the same N only."
)
_CLASS_ACCURACY = (
    "`class_accuracy` is the share of the samples that the dataset's labeller (its classifier, or the "
    "nearest mixture mean) assigns the class they were drawn for; `class_accuracy_ref` is the same "
    "labeller's accuracy on the reference split, the ceiling to read it against."
)
_CAS = (
    "`cas` is the test-split accuracy of a classifier trained on the samples with the classes they were "
    "drawn for (images: the dataset classifier's small CNN, seeded by the run's seed; points: the nearest "
    "class mean); `cas_ref` is the same recipe trained on the train split, the ceiling to read it "
    "against. Both are this recipe's, not Ravuri & Vinyals' ResNet-50 on ImageNet."
)
COLUMN_CAPTIONS = {
    # torch-fidelity's value, as stored; papers mostly print KID x 10^3 (some x 100): a board's 0.0328
    # beside a paper's 32.8 (x 10^3) read as a far better model, at the same distance
    "kid": "`kid` is the unbiased MMD² itself, as torch-fidelity returns it, not scaled: papers often "
    "print KID × 10³ (or × 100), so scale theirs down before comparing.",
    # the paper's scale (x 1000), but CMMD's only in CLIP features: under others the board's number
    # is another MMD, and the caption above names the features it was computed in
    "cmmd": "`cmmd` is MMD² × 1000 under CMMD's Gaussian kernel (sigma 10), as the paper prints it; it "
    "is CMMD only in `clip` features, under others an MMD on a scale of its own.",
    # the caption above the tables names the reference split and the features: a board against the
    # test split read as if its memorization numbers were copies of the test split
    "memorization_rate": _MEMORIZATION,
    "authpct": _MEMORIZATION,
    "ct": _MEMORIZATION,
    # the reference histogram is the split's labels (ctx.reference_modes), the samples' the labeller's:
    # the copy control's mode_kl on digits is 1.5e-5 (the classifier's train error), not 0
    "mode_kl": "`mode_kl` is KL(sample modes ‖ reference modes) with the samples' modes from the "
    "dataset's labeller (its classifier, or the nearest mixture mean) and the reference split's from "
    "its own labels where it has them, so a copy of the reference scores the labeller's errors, not 0.",
    # the score grows with n: a board's 6.1 beside a paper's 40 at 10x the samples is no less diverse
    "vendi": _VENDI,
    "vendi_ref": _VENDI,
    # the distance is to the train split whatever the reference, and 0.1 is Inception's threshold: a
    # board of classifier features penalises the gaussian control (d = 0.057 on digits)
    "mifid": _MIFID,
    "mifid_d": _MIFID,
    # each class's Gaussian is estimated from its own N / K rows: digits' test split as samples has
    # fid 7.1 and intra_fid 38 at 36 rows a class in 128 dimensions
    "intra_fid": _INTRA_FID,
    "intra_fid_max": _INTRA_FID,
    # the labeller's own errors: the copy-cond control scores the ceiling (0.9986 on digits), not 1
    "class_accuracy": _CLASS_ACCURACY,
    "class_accuracy_ref": _CLASS_ACCURACY,
    # a small CNN, not the paper's ResNet-50: a board's CAS beside a paper's ImageNet CAS is another number
    "cas": _CAS,
    "cas_ref": _CAS,
}


def columns_caption(columns: list[str], splits: Mapping[str, str] | None = None) -> str | None:
    """The :data:`COLUMN_CAPTIONS` of the shown ``columns``, each sentence once, then the split the
    others of ``splits`` (column -> the split its metric declares it compares with, where that is
    not the reference split: :func:`genbench.metric_columns.column_splits`) compare with, as one
    caption (None when no column has one). A plugin's copy detector declared against the train
    split read as against the reference split the caption above names: memorization's columns
    alone said otherwise, chosen by their names."""
    said = dict.fromkeys(COLUMN_CAPTIONS[c] for c in columns if c in COLUMN_CAPTIONS)
    splits = splits or {}
    declared = {c: splits[c] for c in columns if c not in COLUMN_CAPTIONS and c in splits}
    if declared:
        said[_splits_sentence(declared)] = None
    return " ".join(said) or None


def _splits_sentence(splits: Mapping[str, str]) -> str:
    """``"`a` and `b` compare the samples with the **train** split whatever the reference split,
    `c` with the **test** split."``: ``splits``' columns by split, in their order."""
    by_split: dict[str, list[str]] = {}
    for column, split in splits.items():
        by_split.setdefault(split, []).append(md_code(column))
    (split, first), *others = by_split.items()
    verb = "compares" if len(first) == 1 else "compare"
    parts = [f"{and_list(first)} {verb} the samples with the **{split}** split whatever the reference split"]
    parts += [f"{and_list(columns)} with the **{split}** split" for split, columns in others]
    return ", ".join(parts) + "."
