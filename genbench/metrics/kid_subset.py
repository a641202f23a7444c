"""KID's subset size as it is used: ``kid.subset_size`` unset (None, the default) is
``min(1000, samples, reference examples)``, which a result records as None. The report shows the
size used instead, so that every KID names its protocol: "kid.subset_size=none" named none.
Without torch, which the report never imports."""

from __future__ import annotations

from typing import Any, TypeGuard

#: the largest subset torch-fidelity's KID draws by default (its ``kid_subset_size``)
MAX_SUBSET_SIZE = 1000
#: the subset size of rows whose sizes differ only as their N does (:func:`follows_samples`), as a
#: caption names it
FOLLOWS_SAMPLES = f"min({MAX_SUBSET_SIZE}, N)"


def default_subset_size(num_samples: int, num_reference: int) -> int:
    """The subset size of a KID given no ``kid.subset_size``: every subset fits both sets."""
    return min(MAX_SUBSET_SIZE, num_samples, num_reference)


def follows_samples(subset_size: Any, num_samples: Any) -> bool:
    """Whether ``subset_size`` is what an unset ``kid.subset_size`` gives at ``num_samples`` samples
    against a reference of as many or more: two protocols at N=200 and N=300 then differ in N, and
    a row label "N=200, kid.subset_size=200" repeated it. A protocol does not key its reference size,
    so a reference smaller than N (whose size is the default) is not known here: such a size reads
    as set, as does any size where N is not recorded."""
    if not (_count(subset_size) and _count(num_samples)):
        return False
    return subset_size == default_subset_size(num_samples, num_samples)


def used_metric_options(protocol: dict[str, Any]) -> dict[str, Any] | None:
    """``protocol["metric_options"]`` with a KID subset size recorded as None (the default) replaced
    by the size its subsets had, derived from the ``num_samples`` and ``num_reference`` the protocol
    records; as recorded where it does not record both (an older or hand-made result). The one rule
    of what is the same protocol: the report's rows (:mod:`genbench.leaderboard`) and a rerun's
    replacement of a result (:func:`genbench.replacement.metrics_replaced`) both compare options so,
    and ``kid.subset_size=1000`` given is the default left unset at N and reference sizes of 1000 or more."""
    options = protocol.get("metric_options")
    if not isinstance(options, dict):
        return options
    kid = options.get("kid")
    if not isinstance(kid, dict) or "subset_size" not in kid or kid["subset_size"] is not None:
        return options
    n, ref = protocol.get("num_samples"), protocol.get("num_reference")
    if not (_count(n) and _count(ref)):
        return options
    return {**options, "kid": {**kid, "subset_size": default_subset_size(n, ref)}}


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
