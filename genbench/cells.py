"""A leaderboard cell: the mean and spread of one metric over a row's ok seeds, the note that
explains a cell over fewer seeds than its row has (a metric that failed, or was not run, for some of
them) and why, and how a cell is written in a table ("mean ± std", marked when it has a note).

Kept apart from :mod:`genbench.leaderboard`, which groups the runs into rows and fills each row's
cells with :func:`row_cells`; :mod:`genbench.markdown` writes them with :func:`fmt` and lists the
notes under the tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genbench.metric_columns import metric_columns
from genbench.missing_training_log import TRAINING_LOG_METRICS, no_log_reason

#: what marks a cell not averaged over all of its row's seeds (explained in the notes below the tables)
PARTIAL_MARK = "†"


def row_cells(ok: pd.DataFrame, metric_cols: list[str]) -> dict[str, object]:
    """Mean and std over the ok seeds per metric, with a note for each cell that misses some seeds."""
    row: dict[str, object] = {}
    notes: dict[str, CellNote] = {}
    for c in metric_cols:
        vals = pd.to_numeric(ok[c], errors="coerce")
        have = vals.dropna()
        row[c] = float(have.mean()) if len(have) else np.nan
        row[f"{c}_std"] = float(have.std(ddof=1)) if len(have) > 1 else np.nan
        if len(have) > 1 and (have == have.iloc[0]).all():
            # seeds that agree exactly (a deterministic metric, a control): in floating point the
            # mean of three 0.1s is 0.10000000000000002 and their std 1.7e-17, a board cell of
            # "0.1 ± 1.7e-17" that said the seeds differ, and a CSV mean none of them had
            row[c], row[f"{c}_std"] = float(have.iloc[0]), 0.0
        note = _cell_note(c, ok, vals)
        if note is not None:
            notes[c] = note
    row["notes"] = "; ".join(note_lines(notes, metric_cols))
    row["cell_notes"] = notes
    return row


@dataclass(frozen=True)
class CellNote:
    """Why a cell is not a mean over all of its row's ok seeds."""

    seeds_with: tuple[int, ...]  # the seeds its value is over
    n_seeds: int  # the row's ok seeds
    missing: tuple[tuple[int, str], ...]  # (seed, why it has no value)

    def text(self, columns: str) -> str:
        why = "; ".join(f"seed {seed}: {reason}" for seed, reason in self.missing)
        if not self.seeds_with:
            return f"{columns}: no value; {why}"
        used = ", ".join(map(str, self.seeds_with))
        return (
            f"{columns} from {len(self.seeds_with)} of {self.n_seeds} seeds "
            f"({'seed' if len(self.seeds_with) == 1 else 'seeds'} {used}); {why}"
        )


def _cell_note(column: str, ok: pd.DataFrame, values: pd.Series) -> CellNote | None:
    have = values.notna()
    if have.all():
        return None
    no_log = ok["no_training_log"] if "no_training_log" in ok else pd.Series(False, index=ok.index)
    missing = []
    for seed, errors, lost in zip(ok["seed"][~have], ok["metric_errors"][~have], no_log[~have], strict=True):
        why = _why_missing(column, errors)
        if why is None and have.any() and _true(lost):
            # other seeds have a value (the row's model logs what the metric reads): a seed loaded
            # with no training log read "no value recorded", as though its value had been lost
            why = _no_log(column)
        missing.append((int(seed), why))
    if not have.any() and all(why is None for _, why in missing):
        return None  # computed for no seed and no error (e.g. does not apply): an empty cell, as always
    return CellNote(
        tuple(sorted(int(s) for s in ok.loc[have, "seed"])),
        len(ok),
        tuple((seed, why or "no value recorded") for seed, why in sorted(missing)),
    )


def _why_missing(column: str, errors: dict[str, str]) -> str | None:
    """The recorded error of the metric that fills ``column``, if it failed."""
    from genbench.metric_calls import metric_message

    reasons = [metric_message(m, why) for m, why in errors.items() if column in metric_columns(m)]
    return "; ".join(reasons) or None


def _true(value: object) -> bool:
    """Whether ``value`` is True (a frame's NaN, of a run without the column, is no True)."""
    return isinstance(value, bool | np.bool_) and bool(value)


def _no_log(column: str) -> str | None:
    """Why a seed whose weights came with no training log has no value in ``column``: None unless
    ``column`` is one of a metric that reads the log (:data:`TRAINING_LOG_METRICS`)."""
    metric = next((m for m in TRAINING_LOG_METRICS if column in metric_columns(m)), None)
    return no_log_reason(metric) if metric is not None else None


def note_lines(notes: dict[str, CellNote], columns: list[str]) -> list[str]:
    """One line per explanation of ``columns``' notes; columns with the same explanation share it."""
    grouped: dict[CellNote, list[str]] = {}
    for c in columns:
        if c in notes:
            grouped.setdefault(notes[c], []).append(c)
    return [note.text(", ".join(cols)) for note, cols in grouped.items()]


#: from here on a number is written with an exponent again: whole, mifid's 2.3e17 for a copy of its
#: training images read as an 18-digit measurement ("232922059488182112")
WHOLE_BELOW = 1e10


def fmt(mean: float, std: float) -> str:
    """``mean ± std`` for a table cell: 3 significant digits (4 below 1), the std 2. A number with
    that many integer digits or more is written without an exponent ("2307 ± 480", never "2.31e+03 ±
    4.8e+02"): an exponent saves no width there and is misread. Tiny values keep theirs (1.453e-05),
    and huge ones (from :data:`WHOLE_BELOW`, 1e10) get one: 2.33e+17, not 18 digits of false precision."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    digits = 4 if abs(mean) < 1 else 3
    text = significant(mean, digits)
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {significant(std, 2, whole=False)}"
    return text


def significant(x: float, digits: int, *, whole: bool = True) -> str:
    """``x`` to ``digits`` significant digits, trailing zeros kept ("2.00", "0.50"; a whole number is
    written whole: "8", "0"), without an exponent once that has as many integer
    digits (rounded up into them: 999.7 is "1000", not "1e+03"); ``whole`` keeps every integer digit
    there (a mean: "2307"), else they are rounded to ``digits`` (a spread: "480")."""
    if math.isfinite(x) and x == int(x) and abs(x) < WHOLE_BELOW:
        return f"{x:.0f}"  # a count every seed agreed on, or a 0: "8", not "8.00"
    rounded = float(f"{x:.{digits}g}")
    if abs(rounded) < 10 ** (digits - 1) or abs(rounded) >= WHOLE_BELOW:
        # "#" keeps the trailing zeros that are significant digits: a mean of 1.9995 ± 0.0084 read
        # "2 ± 0.0084", shown coarser than its own spread; it is "2.00 ± 0.0084"
        return f"{x:#.{digits}g}"
    return f"{x if whole else rounded:.0f}"
