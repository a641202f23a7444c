"""A board's sections on code from other packages: the package and version of each row's model that
is no built-in nor baseline, and of any dataset, feature extractor or metric a plugin provided. A
reader of the board could not tell which release of a third-party plugin made or scored its numbers
(the CSV's ``*_source`` columns have every row's). Nothing for a board of genbench's own code,
but the rows whose seeds two releases (or sources) of genbench ran, which the LaTeX captions name too.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from genbench.provenance import is_genbench_text
from genbench.text import md_code, md_section, md_text, seed_words


def sources_markdown(agg: pd.DataFrame) -> list[str]:
    """The sections of one board's rows ``agg``: models, then datasets, features and metrics from
    other packages, then the rows whose seeds genbench releases or sources apart ran."""
    return _models_markdown(agg) + _scoring_code_markdown(agg) + _genbench_code_markdown(agg)


#: what the lines of :func:`genbench_code_lines` explain (the markdown's section, the LaTeX captions)
GENBENCH_CODE_INTRO = (
    "These rows average seeds run by different genbench releases or sources (`genbench` and "
    "`source_digest` in each result's environment). A metric whose computation changed has a new "
    "version, which keeps its seeds in rows apart: these seeds differ in code that the metrics' "
    "versions do not track (sampling, training, feature extraction, or nothing that moves a number). "
    "A seed whose result records no source (written before genbench recorded it) was run by code "
    "that is not known, so it may differ too. "
    "To compare one code's numbers, rerun the other seeds with the genbench that ran the rest "
    "(`genbench run --models MODEL --dataset DATASET --seeds SEEDS`, with the other flags those seeds "
    "ran with, replaces a result of the same protocol)."
)


#: what :func:`genbench_code_intro` adds where the board's rows were run by different releases
ROWS_APART_INTRO = (
    "The board's rows were run by different genbench releases, so each row names its own: rows of two "
    "releases are compared across that code too."
)


def _releases(agg: pd.DataFrame) -> set[str]:
    """The genbench releases that ran ``agg``'s ok seeds ("genbench 0.1.0"), those recorded."""
    return {
        code.split(" (source ")[0]
        for by_code in agg.get("genbench_code_seeds", pd.Series(dtype=object))
        if isinstance(by_code, dict)
        for code in by_code
        if code
    }


def genbench_code_intro(agg: pd.DataFrame) -> str:
    """What the lines of :func:`genbench_code_lines` of ``agg`` explain."""
    return GENBENCH_CODE_INTRO + (f" {ROWS_APART_INTRO}" if len(_releases(agg)) > 1 else "")


def genbench_code_lines(agg: pd.DataFrame) -> list[str]:
    """A line per row of ``agg`` whose seeds were run by different genbench releases, or sources of
    one release (``genbench_code_seeds``, from :func:`genbench.leaderboard.aggregate`), in markdown:
    "`vae`: seeds 0, 1 by genbench 0.1.0 (source b4f2987ae2eb241d); seeds 2, 3 by genbench 0.0.9
    (source deadbeef0000)". A seed that recorded no digest (or no release) beside one that did is
    named too, its source "not recorded": the code that ran it is unknown, so it may differ (it went
    unnamed beside seeds of today's digest). Where the board's rows were run by different releases
    (a row of genbench 0.0.9's beside rows of 0.1.0), every row has its line: each row's seeds were
    one release's, and the board named none. The CSV's ``*_source`` columns name the releases
    alone, joined, with no seeds."""
    if "genbench_code_seeds" not in agg:
        return []
    apart = len(_releases(agg)) > 1
    ok_seeds = agg["seeds"] if "seeds" in agg else pd.Series("", index=agg.index)
    lines = []
    for label, by_code, ok in zip(
        agg.get("row_label", agg["label"]), agg["genbench_code_seeds"], ok_seeds, strict=True
    ):
        if not isinstance(by_code, dict):
            continue
        versions = {code.split(" (source ")[0] for code in by_code}
        digests = {code.split(" (source ")[1] for code in by_code if " (source " in code}
        # the seeds whose result records no genbench at all, which seeds_by leaves out
        named = {s for seeds in by_code.values() for s in seeds.split(",")}
        unrecorded = [s for s in (ok.split(",") if isinstance(ok, str) and ok else []) if s not in named]
        unknown = bool(unrecorded) or any(" (source " not in code for code in by_code)
        if len(versions) > 1 or len(digests) > 1 or (digests and unknown) or (apart and any(by_code)):
            runs = [
                f"{seed_words(seeds)} by {md_text(_code_text(code, digests))}"
                for code, seeds in by_code.items()
            ]
            if unrecorded and by_code:
                runs.append(f"{seed_words(','.join(unrecorded))} by a genbench that recorded no release")
            lines.append(f"{md_code(label)}: {'; '.join(runs)}")
    return lines


def _code_text(code: str, digests: set[str]) -> str:
    """``code`` ("genbench 0.1.0", with its source where it recorded one) as a row's line names it:
    "(source not recorded)" added where other seeds of the row recorded theirs, from which this
    seed's code may differ."""
    return f"{code} (source not recorded)" if digests and " (source " not in code else code


def _genbench_code_markdown(agg: pd.DataFrame) -> list[str]:
    return md_section(
        "Seeds run by different genbench code", genbench_code_intro(agg), genbench_code_lines(agg)
    )


def _other(text: object) -> bool:
    return isinstance(text, str) and not is_genbench_text(text)


def _models_markdown(agg: pd.DataFrame) -> list[str]:
    if "model_source" not in agg:
        return []
    rows = [
        f"- {md_text(r.row_label)}: {md_text(r.model_source)}"
        for r in agg.itertuples()
        if _other(r.model_source)
    ]
    if not rows:
        return []
    return ["", "## Models from other packages", "", *rows]


def _scoring_code_markdown(agg: pd.DataFrame) -> list[str]:
    """One line per dataset, extractor and metric from another package, with its source; when the
    board's rows do not all share that source (seeds or rows run under two releases), one line per
    row, so that no mean is read as one release's."""
    labels = list(agg.get("row_label", agg["label"]))
    per_code: dict[str, dict[str, object]] = {}  # "dataset `x`" -> row label -> its source text
    for i, (_, row) in enumerate(agg.iterrows()):
        for what, text in _row_sources(row).items():
            per_code.setdefault(what, {})[labels[i]] = text
    lines = []
    for what, by_row in per_code.items():
        texts = set(by_row.values())
        if not any(_other(t) for t in texts):
            continue
        if len(texts) == 1:
            lines.append(f"- {what}: {md_text(next(iter(texts)))}")
        else:
            lines += [f"- {what}, {md_text(r)}: {md_text(t)}" for r, t in by_row.items() if _other(t)]
    if not lines:
        return []
    return ["", "## Datasets, features and metrics from other packages", "", *lines]


def _row_sources(row: pd.Series) -> dict[str, object]:
    """What made a row's numbers besides its model ("dataset `ring8`", "features `raw`", "metric
    `fid`") -> its recorded source text, for those the row recorded."""
    found: dict[str, Any] = {}
    if isinstance(row.get("dataset_source"), str):
        found[f"dataset {md_code(row['dataset'])}"] = row["dataset_source"]
    if isinstance(row.get("features_source"), str):
        found[f"features {md_code(row.get('features'))}"] = row["features_source"]
    metrics = row.get("metric_sources")
    for metric, text in sorted(json.loads(metrics).items() if isinstance(metrics, str) else ()):
        found[f"metric {md_code(metric)}"] = text
    return found
