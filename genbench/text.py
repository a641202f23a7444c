"""Plain-text pieces shared by messages and captions."""

from __future__ import annotations


def and_list(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (one item as it is)."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
