"""What a downloaded file is checked against: the md5 the dataset tables list, or the first hex digits
of its sha256, which torch.hub's convention puts in a weights file's name
(``weights-inception-2015-12-05-6726825d.pth``: ``torch.hub.load_state_dict_from_url(check_hash=True)``
compares the same digits).

An expected digest is a string: a bare hex digest is an md5 (the dataset tables' values, unchanged),
``"sha256:<hex>"`` names its algorithm; its hex may be a prefix of the whole digest.
"""

from __future__ import annotations

import hashlib
from typing import Any


def sha256_prefix(prefix: str) -> str:
    """The expected digest of a file whose sha256 starts with ``prefix``."""
    return f"sha256:{prefix}"


def split(expected: str) -> tuple[str, str]:
    """(algorithm, expected hex) of ``expected``."""
    algorithm, sep, value = expected.partition(":")
    return (algorithm, value.lower()) if sep else ("md5", expected.lower())


def new(expected: str | None) -> Any:
    """A hashlib object of ``expected``'s algorithm (md5 when nothing is expected)."""
    return hashlib.new(split(expected)[0] if expected is not None else "md5")


def matches(expected: str, hexdigest: str) -> bool:
    """Whether ``hexdigest`` (of ``expected``'s algorithm) is the one expected, or starts with it."""
    value = split(expected)[1]
    return bool(value) and hexdigest[: len(value)] == value
