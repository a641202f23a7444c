"""What a board says of seeds that scored other weights than the shipped ones of their key: the
cache's checkpoint of a key is loaded before the shipped one, and one trained on this machine made
``make leaderboards`` publish other numbers than the README's, with nothing on the board to say why.
Each result records both digests (:mod:`genbench.weights_source`); a section under the tables (the
markdown) or the tables' captions (the LaTeX board, :mod:`genbench.latex`) name the rows and seeds
whose digests differ. No column: the published boards' CSVs stay as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from genbench.text import md_code, md_section, seed_words


def other_than_shipped(training: dict[str, Any]) -> str:
    """``"other"`` where a result (its ``training``) scored the cache's checkpoint of a key whose
    shipped checkpoint holds other weights, "" otherwise (the shipped weights, none shipped of its key,
    or not recorded): a results frame's ``other_weights``, whose seeds a board names."""
    shipped = training.get("shipped_digest")
    return "other" if shipped is not None and training.get("weights_digest") != shipped else ""


#: what the lines of :func:`other_weights_lines` explain
OTHER_WEIGHTS_INTRO = (
    "These rows' seeds loaded the cache's checkpoint of a key whose shipped checkpoint holds other weights "
    "(each result's `training` records both digests, `weights_digest` and `shipped_digest`), so their "
    "values are not the published board's: to score the shipped weights, rerun them with an empty "
    "cache (`GENBENCH_CACHE=<empty folder>` or `--cache-dir`)."
)


def other_weights_lines(agg: pd.DataFrame) -> list[str]:
    """A line per row of ``agg`` whose seeds scored other weights than the shipped ones of their key
    (``other_weight_seeds``, from :func:`genbench.leaderboard.aggregate`), in markdown: "`gan-ns`:
    seeds 0, 1, 2"."""
    if "other_weight_seeds" not in agg:
        return []
    labels = agg.get("row_label", agg["label"])
    return [
        f"{md_code(label)}: {seed_words(seeds['other'])}"
        for label, seeds in zip(labels, agg["other_weight_seeds"], strict=True)
        if isinstance(seeds, dict) and seeds.get("other")
    ]


def other_weights_markdown(agg: pd.DataFrame) -> list[str]:
    """The board's section on seeds that scored other weights than the shipped ones; none without."""
    return md_section("Weights other than the shipped ones", OTHER_WEIGHTS_INTRO, other_weights_lines(agg))
