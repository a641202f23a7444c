"""Results and boards as pandas DataFrames, read from results folders, writing nothing: what a
notebook wants in place of ``pd.read_csv`` of the files `genbench report` writes.

:func:`read_board` is the one place a board is read and aggregated: `genbench report`
(:func:`genbench.reporting.write_report`) renders its files from it, and
``genbench.leaderboard_frame`` returns :func:`board_csv_frame` of it, the very frame each
``<dataset>.csv`` is written from; ``genbench.fid_gaps_frame`` returns :func:`board_gaps_frame` of
it, the frame each ``<dataset>.fid_gaps.csv`` is written from. ``genbench.results_frame`` is its
per-result frame (one row per result file, the rows the board aggregates), with each result's board
row (``row_label``) beside it, and ``genbench.training_log_frame`` the same results' training logs,
a row per logged step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.board_csv import to_csv_frame
from genbench.fid_gaps import gaps_csv_frame
from genbench.leaderboard import aggregate, load_folders, results_frame, run_rows
from genbench.metric_columns import learn_recorded_columns
from genbench.results import Result


@dataclass(frozen=True)
class Board:
    """The results under one or several folders, read as one board."""

    #: each result with the folder it was read from (under which its run figures are)
    loaded: list[tuple[Path, Result]]
    #: one row per result (:func:`genbench.leaderboard.results_frame`)
    frame: pd.DataFrame
    #: one row per board row, every dataset's (:func:`genbench.leaderboard.aggregate`)
    agg: pd.DataFrame

    @property
    def results(self) -> list[Result]:
        return [r for _, r in self.loaded]

    @property
    def datasets(self) -> list[str]:
        """The datasets with a board, in the order the report writes them."""
        return sorted(self.frame["dataset"].unique())


def read_board(out: Path | Sequence[Path]) -> Board:
    """The results under ``out`` (one folder, or several read as one:
    :func:`~genbench.leaderboard.load_folders`) and their board; says each metric they name that
    cannot be loaded here (its columns lose their arrows). Writes nothing."""
    loaded = load_folders(out)
    results = [r for _, r in loaded]
    _warn_unloadable_metrics(results)
    learn_recorded_columns(results)  # an unloadable metric's columns, for its errors' cells
    frame = results_frame(results)
    return Board(loaded, frame, aggregate(frame))


def board_csv_frame(agg: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The rows and columns of ``<dataset>.csv``: ``dataset``'s board rows of ``agg``, ranked, as
    :func:`~genbench.board_csv.to_csv_frame` makes them (index 0, 1, ...)."""
    return to_csv_frame(agg[agg["dataset"] == dataset]).reset_index(drop=True)


def leaderboard_frames(out: Path | Sequence[Path]) -> dict[str, pd.DataFrame]:
    """``{dataset: the frame its <dataset>.csv is written from}`` of the results under ``out``."""
    board = read_board(out)
    return {dataset: board_csv_frame(board.agg, dataset) for dataset in board.datasets}


def board_gaps_frame(agg: pd.DataFrame, dataset: str) -> pd.DataFrame | None:
    """The rows and columns of ``<dataset>.fid_gaps.csv``: the FID gaps of ``dataset``'s board rows
    of ``agg`` (:func:`~genbench.fid_gaps.gaps_csv_frame`); None where the board has no FID gaps
    table (one ranked row, or rows of one seed each), for which the report writes no file."""
    return gaps_csv_frame(agg[agg["dataset"] == dataset])


def gaps_frames(out: Path | Sequence[Path]) -> dict[str, pd.DataFrame]:
    """``{dataset: the frame its <dataset>.fid_gaps.csv is written from}`` of the results under
    ``out``, for each dataset whose board has an FID gaps table (a board without one has no key, as
    the report writes no file for it)."""
    board = read_board(out)
    frames = {dataset: board_gaps_frame(board.agg, dataset) for dataset in board.datasets}
    return {dataset: frame for dataset, frame in frames.items() if frame is not None}


def per_result_frame(out: Path | Sequence[Path]) -> pd.DataFrame:
    """One row per result under ``out``, as the board reads them, with ``row_label`` (after
    ``label``): the board row the result is one seed of, as ``<dataset>.csv`` names it, so that the
    two frames join on ``dataset`` and ``row_label``."""
    return _with_row_labels(read_board(out))


def _with_row_labels(board: Board) -> pd.DataFrame:
    """``board``'s per-result frame with each result's ``row_label`` inserted after ``label``."""
    frame = board.frame
    rows = board.agg.set_index(["dataset", "label", "protocol_key", "config_tag"])["row_label"]
    named = [rows.get(key) for key in run_rows(frame)]
    frame = frame.copy()
    frame.insert(frame.columns.get_loc("label") + 1, "row_label", named)
    return frame


#: what identifies a result in :func:`training_log_frame`, before its rows' ``step`` and values
LOG_IDENTITY = ("dataset", "model", "variant", "label", "row_label", "seed", "status")


def training_log_frame(out: Path | Sequence[Path]) -> pd.DataFrame:
    """One row per logged training step of each result under ``out``: the result's identity
    (:data:`LOG_IDENTITY`, ``row_label`` as :func:`per_result_frame` names it), ``step`` (an int)
    and a column per value logged (``logged_<name>`` for one named as an identity column), in the
    order first logged, NaN where a row has none (a VAE's
    ``kl`` on a GAN's rows) or the file holds null (a NaN or inf logged: strict JSON has neither).
    A result with no log (a model that trains nothing, `genbench eval`'s samples) has no row."""
    board = read_board(out)
    identity = _with_row_labels(board)[list(LOG_IDENTITY)]
    rows = [
        {
            **ids,
            "step": _step(logged, i),
            **{_column(k): _logged(v) for k, v in logged.items() if k != "step"},
        }
        for ids, r in zip(identity.to_dict("records"), board.results, strict=True)
        for i, logged in enumerate(r.training_log, 1)
    ]
    frame = pd.DataFrame(rows, columns=None if rows else [*LOG_IDENTITY, "step"])
    return frame.astype({"step": "int64"})


def _column(key: str) -> str:
    """The column of a logged value: its key, ``logged_<key>`` where a plugin logged a value under an
    identity column's name (a ``seed`` or ``status`` of its own overwrote the result's)."""
    return f"logged_{key}" if key in LOG_IDENTITY else key


def _step(logged: dict[str, Any], position: int) -> int:
    """A log row's ``step``, or its position in the log (from 1) where it has none (a hand-edited
    result file: ``TrainContext.log`` writes it into every row)."""
    step = logged.get("step")
    return position if step is None else int(step)


def _logged(value: Any) -> float:
    """A logged value as a float: NaN for the null a result file holds for a NaN or inf."""
    return float("nan") if value is None else float(value)


def _warn_unloadable_metrics(results: list[Result]) -> None:
    """Say each metric the results name that cannot be loaded here (its columns lose their arrows),
    on the running command's console, else on stderr (:mod:`genbench.unloadable_metrics`)."""
    from genbench.unloadable_metrics import unloadable_metric_lines

    lines = unloadable_metric_lines(results)
    if lines:
        from genbench.progress import warn_each  # rich: only when there is a word to say

        warn_each(lines)
