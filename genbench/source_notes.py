"""A board's sections on code from other packages: the package and version of each row's model that
is no built-in nor baseline, and of any dataset, feature extractor or metric a plugin provided. A
reader of the board could not tell which release of a third-party plugin made or scored its numbers
(the CSV's ``*_source`` columns have every row's). Nothing for a board of genbench's own code.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from genbench.provenance import is_genbench_text
from genbench.text import md_code, md_text


def sources_markdown(agg: pd.DataFrame) -> list[str]:
    """Both sections of one board's rows ``agg``: models, then datasets, features and metrics."""
    return _models_markdown(agg) + _scoring_code_markdown(agg)


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
