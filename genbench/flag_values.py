"""A CLI flag's text as its value: a comma-separated list (``--models a,b``), the seeds (``--seeds
0,1,2``, `eval`'s ``--seed 0``) and their range, the reference split, and the ``OWNER.NAME=VALUE``
of ``--set`` and ``--metric-option``. A malformed text fails in one line naming the flag's form.
The seeds' range and the split are checked for a :class:`~genbench.config.RunConfig` built in Python
too (:func:`genbench.config_types.check_config_types`).
"""

from __future__ import annotations

import numbers
import re
from typing import TYPE_CHECKING, Any

from genbench.errors import GenbenchError

if TYPE_CHECKING:  # genbench.config imports this module (parse_seeds, re-exported there)
    from genbench.config import Split


def parse_list(text: str | None, what: str) -> list[str]:
    """Split ``a,b,c``; reject empty items with a clear message."""
    if text is None:
        return []
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise GenbenchError(f"malformed {what} list {text!r}; use comma-separated names like a,b,c")
    return items


def parse_seeds(text: str, *, one: bool = False) -> list[int]:
    """``--seeds 0,1,2``, or with ``one`` `eval`'s ``--seed 0`` (parsed as a list all the same, so
    that "3,4" meets eval's own "takes one seed" message): a malformed value's fix names the flag
    of the command that read it."""
    try:  # an empty item (0,,1) too: parse_list's "names like a,b,c" is no fix for seeds
        items = parse_list(text, "seed")
        # ASCII digits only: int() also takes 1_0 (as seed 10) and other scripts' digits; a sign passes,
        # so that check_seeds refuses -1 with its own message
        if not all(re.fullmatch(r"[+-]?[0-9]+", t) for t in items):
            raise ValueError(text)
        seeds = [int(t) for t in items]
    except (ValueError, GenbenchError):
        what, fix = (
            ("seed", "use one integer, e.g. --seed 0") if one else ("seed list", "use integers like 0,1,2")
        )
        raise GenbenchError(f"malformed {what} {text!r}; {fix}") from None
    return seeds  # their range is checked by check_shared_inputs, for the Python API too


def parse_split(text: str) -> Split:
    """``--reference-split``'s value, checked (the Python API's too, by
    :func:`genbench.config_types.check_config_types`, with the other RunConfig fields)."""
    if text not in ("train", "test"):
        raise GenbenchError(f"unknown split {text!r}; use --reference-split train or test")
    return "train" if text == "train" else "test"


#: the largest seed: numpy's RandomState takes 32 bits, and torch-fidelity's KID and IS seed one
#: with the run's seed (a larger one failed both metrics, recorded as a plugin bug)
MAX_SEED = 2**32 - 1


def check_seeds(seeds: list[Any], example: str = "--seeds 0,1,2") -> None:
    """Seeds are integers in 0 .. MAX_SEED (from the CLI's parser and from the Python API alike);
    a larger one failed inside every model, reported as each plugin's bug. ``example``: the fix, in
    the flag of the command that reads them (`eval` has ``--seed``)."""
    if any(
        isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= int(s) <= MAX_SEED
        for s in seeds
    ):
        shown = ",".join(map(str, seeds))
        raise GenbenchError(f"seeds must be integers from 0 to 2**32-1, got {shown}; use e.g. {example}")


def split_assignment(item: str, flag: str, form: str, example: str) -> tuple[str, str, str]:
    """``"ddim.steps=10"`` -> ``("ddim", "steps", "10")``; anything else fails naming ``form``."""
    key, sep, value = item.partition("=")
    owner, dot, name = key.strip().partition(".")
    if not sep or not dot or not owner or not name.strip() or not value.strip():
        raise GenbenchError(f"malformed {flag} {item!r}; use {form}, e.g. {example}")
    return owner, name.strip(), value.strip()
