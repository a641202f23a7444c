"""The records of the Python API that docs/commands.md spells out field by field
(`ListedEntry(name, source, ...)`, `CacheEntry(kind, what, ...)`) name every field of the class, in
its order. The listing said `ListedEntry(name, source, description, alias_of, error, opt_in,
default_under)` after `reads_features` and `reads_features_by` joined it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from genbench.cache_listing import CacheEntry
from genbench.listing import ListedEntry

COMMANDS = Path(__file__).resolve().parent.parent / "docs" / "commands.md"


def spelled_fields(name: str) -> list[str]:
    """The fields docs/commands.md gives in ``name(a, b, ...)``, read across a line break."""
    text = re.sub(r"\s+", " ", COMMANDS.read_text())
    m = re.search(rf"\b{name}\(([a-z_, ]+)\)", text)
    assert m, f"docs/commands.md spells out no {name}(...)"
    return [f.strip() for f in m.group(1).split(",")]


@pytest.mark.parametrize("record", [ListedEntry, CacheEntry], ids=lambda c: c.__name__)
def test_the_docs_spell_out_every_field_of_the_record(record):
    assert spelled_fields(record.__name__) == [f.name for f in dataclasses.fields(record)]
