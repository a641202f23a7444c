"""Which split of the data a metric compares the samples with, as it declares it
(:attr:`genbench.metrics.base.Metric.compares_with` and :attr:`~genbench.metrics.base.Metric.compares_also`),
the check of that declaration at registration, and the words the run's protocol line says it in.

Every metric but memorization compares with the run's reference split (``--reference-split``,
train unless given); memorization with the train split whatever it is, and its ``ct`` and
``memorization_rate_heldout`` with the test split too; mifid's distance ``mifid_d`` (and so
``mifid``) with the train split's features too, whatever the reference split. A plugin's copy detector that compares with
the train split was said to be "against the test split" under ``--reference-split test``, as only
memorization was named: the metric now says so itself, and the protocol line, `genbench list
metrics NAME` and the board's column captions read what it says.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genbench.metrics.base import Metric

#: what :attr:`Metric.compares_with` and the keys of :attr:`Metric.compares_also` may be: the run's
#: reference split, or a split of the data named whatever ``--reference-split`` is
COMPARED_SPLITS = ("reference", "train", "test")
#: the default: the run's reference split, every value
REFERENCE = "reference"


def compares_problem(cls: type[Metric]) -> str | None:
    """What is wrong with a metric class's ``compares_with`` and ``compares_also``, or None; the
    message goes after "metric 'NAME' " and names the fix."""
    split = cls.compares_with
    if not isinstance(split, str) or split not in COMPARED_SPLITS:
        return f"declares compares_with = {split!r}; use {_splits()}{_close(split, COMPARED_SPLITS)}"
    also = cls.compares_also
    fix = (
        "map a split ('train' or 'test') to the names of the values compared with it, e.g. "
        "{'test': ('my_rate_heldout',)}"
    )
    if not isinstance(also, Mapping):
        return f"declares compares_also = {also!r}; {fix}"
    values = list(cls.higher_is_better)
    for other, names in also.items():
        if not isinstance(other, str) or other not in COMPARED_SPLITS:
            return (
                f"declares compares_also = {also!r}; {other!r} is no split: use "
                f"{_splits()}{_close(other, COMPARED_SPLITS)}"
            )
        if other == split:
            return (
                f"declares compares_also = {also!r} with compares_with = {split!r}, which every value "
                f"compares with already; drop {other!r} from compares_also"
            )
        if isinstance(names, str):  # ("ct") is a string: its characters would be the values
            return (
                f"declares compares_also = {also!r}, {other!r} mapped to a string; use a tuple of "
                f"value names: {{{other!r}: ({names!r},)}}"
            )
        if not isinstance(names, tuple) or not names or not all(isinstance(n, str) for n in names):
            return f"declares compares_also = {also!r}; {fix}"
        for name in names:
            if name not in values:
                return (
                    f"declares compares_also = {also!r}; {name!r} is none of its values (its "
                    f"higher_is_better's names){_close(name, values)}"
                )
    # a "stats" metric may compare some values with another split too (mifid's distance, the train
    # split's features), but all of them with one split it would need that split's examples
    if (split != REFERENCE or (also and cls.reference != "stats")) and cls.reference != "features":
        declared = f"compares_with = {split!r}" if split != REFERENCE else f"compares_also = {also!r}"
        return (
            f"declares {declared} with reference = {cls.reference!r}, which compares with no split's "
            "examples; set reference = 'features' (the dataset is read), or leave "
            f"{declared.split(' ')[0]} out"
        )
    return None


def split_protocol(metric: Metric, options: dict[str, Any], kind: str) -> str | None:
    """What ``metric``'s numbers are measured against where that is not the run's reference split, as
    the protocol line says it (``"memorization against the train split, in pixels"``), else None:
    the split it declares (:attr:`Metric.compares_with`), whatever the reference split, and the
    space, which is not the features the line names where, with its ``--metric-option`` values
    ``options``, it reads none (`--metrics memorization` printed ``memorization_rate=0.5`` under
    "against the test split ..., in classifier features")."""
    if metric.compares_with == REFERENCE:
        return None
    if metric.reads_features(options):
        where = "these features"
    else:
        where = "pixels" if kind == "image" else "the points' coordinates"
    return f"{metric.name} against the {metric.compares_with} split, in {where}"


def other_splits(cls: type[Metric]) -> dict[str, str]:
    """Each of ``cls``'s values (its ``higher_is_better``'s names) that compares the samples with
    another split than the run's reference split, by the split it declares: the board's column
    captions say it (:func:`genbench.column_captions.columns_caption`)."""
    also = {value: split for split, values in cls.compares_also.items() for value in values}
    splits = {value: also.get(value, cls.compares_with) for value in cls.higher_is_better}
    return {value: split for value, split in splits.items() if split != REFERENCE}


def _splits() -> str:
    """``'reference' (the run's --reference-split, the default), 'train' or 'test'``."""
    named = [repr(s) for s in COMPARED_SPLITS]
    named[0] += " (the run's --reference-split, the default)"
    return f"{', '.join(named[:-1])} or {named[-1]}"


def _close(given: Any, known: Any) -> str:
    """``"; did you mean 'train'?"`` where ``given`` is close to one of ``known``, else ``""``."""
    close = difflib.get_close_matches(str(given), [str(k) for k in known], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
