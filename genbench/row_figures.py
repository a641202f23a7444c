"""Which runs show each board row, and under which file names its figures are copied beside it.

A label split by protocol or model config (``copy (N=200)``, ``ddpm (config 3f9a1c)``) is several
rows of one board, each a mean over its own seeds: each row is shown by its own runs' figures (its
lowest seed's), named with the row's label as the table shows it. Before, the figures were keyed by
the label alone: the label's lowest seed was copied for one of its rows, and the others had none.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.io import FIX_LEADERBOARDS, atomic_copy
from genbench.layout import figures_dir
from genbench.leaderboard import aggregate, results_frame, run_rows
from genbench.results import Result, safe_name


def board_rows(results: list[Result], rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """``rows`` (the board's aggregated rows), or those of ``results`` when not given."""
    return aggregate(results_frame(results)) if rows is None else rows


def row_runs(results: list[Result], rows: pd.DataFrame) -> list[tuple[Any, list[Result]]]:
    """Each of ``rows`` (:func:`~genbench.leaderboard.aggregate`'s) with its runs, lowest seed first:
    a row is one label's seeds under one protocol and config (its ok ones and those without
    samples). Each run is put in its row as :func:`~genbench.leaderboard.run_rows` says, not by its
    label and seed: two ``--out`` folders can hold one label's seed 0 under two protocols, two rows,
    and both runs went to one of them. Rows in label order, a split label's in its board's protocol
    order, then by config, so that the figures' order does not follow the ranking (which moves on a
    rerun)."""
    index = {
        (row.dataset, row.label, row.protocol_key, row.config_tag): row.Index for row in rows.itertuples()
    }
    runs: dict[Any, list[Result]] = {i: [] for i in rows.index}
    ordered = sorted(results, key=lambda r: r.seed)
    for r, key in zip(ordered, run_rows(results_frame(ordered)) if ordered else [], strict=True):
        i = index.get(key)
        if i is not None:  # a result of another dataset than the rows'
            runs[i].append(r)
    order = sorted(rows.itertuples(), key=lambda row: (row.label, *_split_key(row)))
    return [(row, runs[row.Index]) for row in order]


def _split_key(row: Any) -> tuple[int, str]:
    """What orders the rows of one label: its protocol's place on the board, then its config."""
    return int(getattr(row, "protocol_order", 0) or 0), str(getattr(row, "config_tag", "") or "")


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def row_stems(rows: pd.DataFrame) -> dict[Any, str]:
    """Each row's file-name stem: its label, made safe, then what sets it apart from its label's
    other rows, derived from its protocol and config (not from its label suffix, whose wording
    follows the board's other protocols): ``copy-protocol_1a2b3c4d``, ``ddpm-config_3f9a1c``. A row
    of a board with one protocol and config keeps its label's name, as the boards always had.

    Two labels that make the same safe name (``a b`` and ``a_b``) overwrote each other's grid: the
    label that is its own safe name keeps it, the others are told apart by a hash of their label,
    protocol and config (stable: it does not depend on the order of the rows). Names are told apart
    case aside (:func:`_clashes`)."""
    stems = {}
    for row in rows.itertuples():
        parts = [safe_name(row.label)]
        if getattr(row, "protocol", ""):  # several protocols on the board: each row's label names its own
            parts.append(f"protocol_{_digest(str(row.protocol_key))}")
        if getattr(row, "config_tag", ""):
            parts.append(safe_name(row.config_tag))  # "config 3f9a1c": a hash of the config already
        # within safe_name's length again (a long label's stem has its hash): a file name holds 255 bytes
        stems[row.Index] = safe_name("-".join(parts))
    labels = rows["label"]
    while clashes := _clashes(stems):
        for group in clashes:
            own = [i for i in group if safe_name(labels[i]) == labels[i]]
            for i in group:
                if own != [i]:  # the one label that is its own safe name keeps it
                    identity = "\0".join(
                        str(rows.get(c, pd.Series("", index=rows.index))[i]) for c in _IDENTITY
                    )
                    stems[i] = safe_name(f"{stems[i]}-{_digest(identity)}")
    return stems


#: what tells a board's rows apart (:func:`~genbench.leaderboard.aggregate`)
_IDENTITY = ("label", "protocol_key", "config_tag")


def _clashes(stems: dict[Any, str]) -> list[list[Any]]:
    """The groups of rows whose stems are one file name, case aside: the default file systems of
    macOS and Windows take ``A-samples.png`` and ``a-samples.png`` for one file."""
    groups: dict[str, list[Any]] = {}
    for i, stem in stems.items():
        groups.setdefault(stem.lower(), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def copy_run_figures(
    results: list[Result], out: Path | Sequence[Path], dest: Path, rows: pd.DataFrame | None = None
) -> dict[str, str]:
    """Copy each board row's per-run figures (its lowest seed with each) next to the leaderboard,
    atomically: a report killed or out of disk mid-copy leaves the previous board's figure whole, not
    a truncated PNG. Each link names the row as its table does and the seed: a grid is one run's
    samples. ``out``: the results folder, or each result's own (one per result, in order: a board of
    several ``--out`` folders, where one label's seed 0 can be in two). ``rows``: the board's
    (:func:`~genbench.leaderboard.aggregate`'s), else ``results``'."""
    folders = [Path(out)] * len(results) if isinstance(out, str | os.PathLike) else [Path(o) for o in out]
    home = {id(r): folder for r, folder in zip(results, folders, strict=True)}
    rows = board_rows(results, rows)
    stems = row_stems(rows)
    figures: dict[str, str] = {}
    for row, runs in row_runs(results, rows):
        shown: set[str] = set()
        for r in runs:
            for kind, src in r.artifacts.items():
                found = run_figure(src, home[id(r)], r.dataset)
                if kind in shown or found is None:
                    continue
                # a plain file name whatever the result file says: its keys are no path to follow
                name = f"{stems[row.Index]}-{safe_name(kind)}.png"
                atomic_copy(found, Path(dest) / name, fix=FIX_LEADERBOARDS)
                shown.add(kind)
                figures[f"{row.row_label}: {kind.replace('_', ' ')} (seed {r.seed})"] = (
                    f"{Path(dest).name}/{name}"
                )
    return figures


def run_figure(recorded: str, out: Path, dataset: str) -> Path | None:
    """Where a run's figure is now: under ``out``, whatever path the run recorded. A run records its
    figures under ``<out>/<dataset>/figures/``, with ``--out`` as given: relative to the directory
    the run started in, so a report from another directory, or of runs copied elsewhere, found none
    of them and dropped them without a word. The recorded path itself is never read: a result file
    in someone else's folder could name any file of the user's (``~/.ssh/id_ed25519``), which the
    report copied beside the board; nor is a link there, to a file or a folder (a link the folder's
    owner planted, ``figures/x -> ~/.ssh``, was followed to the same key)."""
    src = Path(recorded)
    base = figures_dir(out, dataset)
    path = base / src.parent.name / src.name
    if ".." in (src.parent.name, src.name) or any(p.is_symlink() for p in (base, path.parent, path)):
        return None
    return path if path.is_file() else None
