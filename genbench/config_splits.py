"""Labels whose seeds were trained under different model configs (an edited config file, a genbench
upgrade, ``--amp``): each config is a row of its own, and the board says why, a line per row, in a
section of the markdown board and in the LaTeX board's caption."""

from __future__ import annotations

from typing import Any

import pandas as pd

from genbench.text import md_section, md_text, seed_words

#: what the lines on a label's rows split by model config (:func:`config_split_lines`) explain
CONFIGS_INTRO = (
    "These seeds of one label were trained under different configs (an edited config file, a "
    "genbench upgrade, `--amp`, an edited `--include` file): other networks, so each config is a "
    "row of its own, never one mean."
)


def config_split_lines(agg: pd.DataFrame) -> list[str]:
    """Labels whose seeds were trained under different model configs: a line per row, its seeds and
    what differs (:func:`genbench.leaderboard.config_groups`), in markdown."""
    if "config_differs" not in agg:
        return []
    split = agg[agg["config_differs"].fillna("").astype(bool)]
    return [
        f"{md_text(r.row_label)}, {_config_seeds(r)}: {md_text(r.config_differs)}" for r in split.itertuples()
    ]


def config_splits_markdown(agg: pd.DataFrame) -> list[str]:
    """The board's section on those labels, in markdown (none when there is none)."""
    return md_section("Seeds trained under different model configs", CONFIGS_INTRO, config_split_lines(agg))


def _config_seeds(row: Any) -> str:
    """The seeds of a config-split row: its ok ones, and those without samples named apart."""
    failed = getattr(row, "failed_seeds", "")
    parts = [seed_words(row.seeds)] if row.seeds else []
    parts += [f"{seed_words(failed)} without samples"] if failed else []
    return ", ".join(parts)
