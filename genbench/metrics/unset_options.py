"""The rule a metric option left unset follows, as a board names it. ``fid_inf``'s and ``is_inf``'s
``min_size``, unset (recorded as null), is ``max(N // 10, 2 d)`` for features d wide, and
``max(N // 10, 2 K)`` for K classes of logits (:func:`genbench.metrics._extrapolation.default_min_size`).
A result records neither width, so the board names the rule: its caption read
"fid_inf.min_size=none", which named no smallest subset, where the intercept depends on it. KID's
unset subset size is named by the size itself (:mod:`genbench.metrics.kid_subset`), which the
protocol's N and reference size give. Without torch, which the report never imports."""

from __future__ import annotations

#: the default smallest subset of an extrapolated metric is N / this, as the paper's 5000 of 50000
MIN_FRACTION = 10

#: (metric, option) -> what the option left unset is, in the words of docs/metrics.md's options table
RULES = {
    ("fid_inf", "min_size"): f"max(N // {MIN_FRACTION}, 2 × feature dimension)",
    ("is_inf", "min_size"): f"max(N // {MIN_FRACTION}, 2 × classes)",
}


def unset_rule(metric: str, option: str) -> str | None:
    """What ``metric``'s ``option`` left unset (None) stands for, or None where the metric declares
    no such rule (its null is shown as "none")."""
    return RULES.get((metric, option))
