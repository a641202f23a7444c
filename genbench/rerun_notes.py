"""What a board says of seeds whose rerun failed. `genbench run` keeps an ok (or diverged) result
when a later run of its seed fails, and writes the failure beside it (``seed<N>.failed.json``,
:meth:`genbench.results.Result.failed_path`), which the board does not average: it showed the
earlier run's numbers with no hint that a newer attempt failed, so they looked current. Each such
seed is named in its row's flags and, with the failure's error, in a section under the tables (the
markdown) or the tables' captions (the LaTeX board, :mod:`genbench.latex`).
"""

from __future__ import annotations

import pandas as pd

from genbench.text import md_code, md_section, md_text, seed_words

#: what the lines on failed reruns (:func:`rerun_lines`) explain
RERUNS_INTRO = (
    "A later run of these seeds failed, after the result shown was written; genbench kept that "
    "result and wrote the failure beside it, so the values shown are the earlier run's:"
)


def failed_reruns(runs: pd.DataFrame) -> dict[int, str]:
    """``{seed: error}`` of a row's runs ``runs`` (a results frame's, with its ``failed_rerun``
    column) whose later rerun failed; {} for a frame made without the column."""
    if "failed_rerun" not in runs:
        return {}
    return {
        int(seed): error
        for seed, error in sorted(zip(runs["seed"], runs["failed_rerun"], strict=True))
        if isinstance(error, str)
    }


def _reruns(agg: pd.DataFrame) -> pd.Series:
    """Each row's :func:`failed_reruns` ({} for a frame aggregated without them)."""
    return agg["failed_reruns"] if "failed_reruns" in agg else pd.Series([{}] * len(agg), index=agg.index)


def rerun_words(failed: dict[int, str]) -> str:
    """What a row's seeds whose later rerun failed (:func:`failed_reruns`) come to in words: "a later
    rerun of seed 1 failed"; "" for none. The board's flags cell and its figures' points say it."""
    return f"a later rerun of {seed_words(','.join(map(str, failed)))} failed" if failed else ""


def rerun_flags(agg: pd.DataFrame) -> list[str]:
    """Each row's words for its flags cell: "(a later rerun of seed 1 failed)", "" for a row without."""
    return [f"({rerun_words(failed)})" if failed else "" for failed in _reruns(agg)]


def rerun_lines(agg: pd.DataFrame) -> list[str]:
    """A line per row and seed whose rerun failed, in markdown: "vae, seed 1: a later rerun failed
    (`seed1.failed.json`: CUDA out of memory); the values shown are the earlier run's"."""
    labels = agg.get("row_label", agg["label"])
    return [
        f"{md_text(label)}, seed {seed}: a later rerun failed ({md_code(f'seed{seed}.failed.json')}: "
        f"{md_text(error)}); the values shown are the earlier run's"
        for label, failed in zip(labels, _reruns(agg), strict=True)
        for seed, error in failed.items()
    ]


def reruns_markdown(agg: pd.DataFrame) -> list[str]:
    """The board's section on failed reruns; none on a board without."""
    return md_section("Failed reruns", RERUNS_INTRO, rerun_lines(agg))
