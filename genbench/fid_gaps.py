"""A board's "FID gaps" table: whether each ranked row's FID is below the next row's beyond the
noise between seeds, so that a reader does not take two rows a seed apart for a ranking.

Each pair of neighbouring ranks (within one dataset and protocol) is tested on the two rows'
per-seed FIDs: the difference of the means, its confidence interval and a two-sided p.

- Rows that sampled the same checkpoint at every seed (DDIM's samplers over DDPM's weights) are
  compared seed by seed: a paired t-test on the per-seed differences (n - 1 degrees of freedom),
  in which the training noise both rows share cancels. Treated as independent instead, DDIM-50
  and DDIM-100 on the digits board (their seeds' FIDs rise and fall together) gave p = 0.44;
  paired, 0.022.
- Other rows by Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom), their
  seeds taken as independent.

The paired test is valid for any two rows whose seeds are independent of one another (each seed's
pair drawn apart from the others'); it is chosen only where the checkpoint is shared, since only
there does it gain power: on independent rows it has n - 1 degrees of freedom where Welch's has up
to 2n - 2. So a recorded checkpoint path that held other weights at the two rows' runs (a
``--retrain`` between them) costs the test power, not its validity.

Both are written out here rather than called from scipy (``ttest_rel``, ``ttest_ind(equal_var=
False)``), which the tests check them against: scipy warns of "catastrophic cancellation" on a row
whose seeds agree exactly (a control's FID of 0 on every seed), and its ``confidence_interval``
needs scipy 1.11 where genbench supports 1.10. Each pair is tested alone, with no correction for a
board's other pairs.

:func:`fid_gaps` gives the numbers (a DataFrame, unrounded); :func:`gaps_cells` the table's text,
which the markdown and LaTeX boards both write; :func:`gaps_csv_frame` the numbers that
``<dataset>.fid_gaps.csv`` holds beside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genbench.cells import significant
from genbench.text import md_text

#: the confidence level of a gap's interval
LEVEL = 0.95

TITLE = "FID gaps"

CAPTION = (
    "Whether each ranked row's FID is below the next row's beyond the noise between seeds: "
    "`Δ fid` is the next row's mean FID minus this row's, with the "
    f"{LEVEL:.0%} confidence interval of that difference and its two-sided p. Rows that sampled "
    "the same checkpoint at every seed (DDIM's samplers over DDPM's weights) are compared seed by "
    "seed (`paired`: a t-test on the per-seed differences, in which the training noise they share "
    "cancels); other rows by Welch's t-test (`Welch`: unequal variances, their seeds taken as "
    "independent). An interval that holds 0 means these seeds cannot tell the two rows apart. "
    "Each pair is tested alone, with no correction for the board's other pairs."
)


@dataclass(frozen=True)
class Gap:
    """A t-test of ``worse``'s FIDs against ``better``'s; the test's fields are nan and
    ``untested`` says why where there is none."""

    delta: float  # the difference of the means
    low: float  # the confidence interval of delta, at LEVEL
    high: float
    p: float  # two-sided
    df: float  # degrees of freedom: Welch-Satterthwaite's, or n - 1 for a paired test
    untested: str | None = None


def welch_gap(better: Sequence[float], worse: Sequence[float], level: float = LEVEL) -> Gap:
    """Welch's test of ``mean(worse) - mean(better)``, the two taken as independent. A side of one
    value has no sample variance (no test: "one seed"); two sides whose values each agree exactly
    have no spread to test against ("no spread over seeds", as a deterministic control's have)."""
    a, b = np.asarray(better, dtype=np.float64), np.asarray(worse, dtype=np.float64)
    delta = float(b.mean() - a.mean())
    if min(len(a), len(b)) < 2:
        return _untested(delta, "one seed")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return _untested(delta, "no spread over seeds")
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return _t_test(delta, math.sqrt(va + vb), df, level)


def paired_gap(better: Sequence[float], worse: Sequence[float], level: float = LEVEL) -> Gap:
    """The paired t-test of ``worse - better``, value by value (the same seeds in the same order):
    the mean difference against the spread of the differences, on n - 1 degrees of freedom."""
    d = np.asarray(worse, dtype=np.float64) - np.asarray(better, dtype=np.float64)
    delta = float(d.mean())
    if len(d) < 2:
        return _untested(delta, "one seed")
    if d.var(ddof=1) == 0:
        return _untested(delta, "no spread over seeds")
    return _t_test(delta, math.sqrt(d.var(ddof=1) / len(d)), len(d) - 1, level)


def _t_test(delta: float, se: float, df: float, level: float) -> Gap:
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    p = float(2 * stats.t.sf(abs(delta) / se, df))
    return Gap(delta, delta - half, delta + half, p, float(df))


def _untested(delta: float, why: str) -> Gap:
    return Gap(delta, math.nan, math.nan, math.nan, math.nan, why)


def row_gap(
    this: dict[int, tuple[float, str | None]], below: dict[int, tuple[float, str | None]]
) -> tuple[str, Gap]:
    """The test between two rows' ``{seed: (fid, checkpoint)}`` (``fid_by_seed``) and its name:
    paired where both have the same seeds and sampled the same checkpoint at each, else Welch's."""
    shared = this.keys() == below.keys() and all(
        this[s][1] is not None and this[s][1] == below[s][1] for s in this
    )
    better, worse = [v for v, _ in this.values()], [v for v, _ in below.values()]
    if shared and len(this) > 1:
        return "paired", paired_gap(better, worse)
    return "Welch", welch_gap(better, worse)


def fid_gaps(agg: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of neighbouring ranks of ``agg`` (:func:`~genbench.leaderboard.aggregate`'s
    rows, in its order) within a dataset and protocol: the two rows' labels and ranks, their seeds'
    counts and the :class:`Gap` between their FIDs. Empty where no two rows are ranked."""
    out: list[dict[str, Any]] = []
    if "rank" not in agg or "fid_by_seed" not in agg:
        return pd.DataFrame(out)
    ranked = agg[agg["rank"].notna()]
    for (dataset, _), rows in ranked.groupby(["dataset", "protocol_order"], sort=False):
        rows = rows.sort_values("rank", kind="stable")
        for this, below in zip(rows.itertuples(), rows.iloc[1:].itertuples(), strict=False):
            test, gap = row_gap(this.fid_by_seed, below.fid_by_seed)
            out.append(
                {
                    "dataset": dataset,
                    "rank": int(this.rank),
                    "label": this.row_label,
                    "next_rank": int(below.rank),
                    "next_label": below.row_label,
                    "n": len(this.fid_by_seed),
                    "next_n": len(below.fid_by_seed),
                    "delta": gap.delta,
                    "ci_low": gap.low,
                    "ci_high": gap.high,
                    "p": gap.p,
                    "df": gap.df,
                    "test": test,
                    "untested": gap.untested,
                }
            )
    return pd.DataFrame(out)


def tested_gaps(agg: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`fid_gaps` of one dataset's rows ``agg`` where the board has the table; None where no
    pair of rows has a test (one ranked row, or rows of one seed each), as a table of dashes would
    say nothing."""
    gaps = fid_gaps(agg)
    if gaps.empty or gaps["untested"].notna().all():
        return None
    return gaps


#: the file beside ``<dataset>.csv`` that holds the table's numbers, written only for a board with it
GAPS_CSV_SUFFIX = ".fid_gaps.csv"
#: its columns, from :func:`fid_gaps`' (named as the board CSV names a row: ``row_label``), in the
#: markdown table's order, the test's degrees of freedom and why a pair has none after them
GAPS_CSV_COLUMNS = {
    "dataset": "dataset",
    "rank": "rank",
    "label": "row_label",
    "next_rank": "next_rank",
    "next_label": "next_row_label",
    "n": "n",
    "next_n": "next_n",
    "delta": "delta_fid",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "ci_level": "ci_level",
    "p": "p",
    "test": "test",
    "df": "df",
    "untested": "untested",
}


def gaps_csv_frame(agg: pd.DataFrame) -> pd.DataFrame | None:
    """The board's FID gaps as ``<dataset>.fid_gaps.csv`` holds them: a row per pair of the
    markdown table, its numbers unrounded (the table shows 3 significant digits, and "< 0.001" for
    a p below that); the interval's level in ``ci_level``. None where the board has no table."""
    gaps = tested_gaps(agg)
    if gaps is None:
        return None
    gaps = gaps.assign(ci_level=LEVEL, untested=gaps["untested"].where(gaps["untested"].notna(), ""))
    return gaps[list(GAPS_CSV_COLUMNS)].rename(columns=GAPS_CSV_COLUMNS)


def gaps_cells(agg: pd.DataFrame) -> tuple[pd.DataFrame, list[str]] | None:
    """The table's text for one dataset's rows ``agg``; None where the board has none
    (:func:`tested_gaps`)."""
    gaps = tested_gaps(agg)
    if gaps is None:
        return None
    # why a pair has no test, else None: the frame holds a missing value as NaN (pandas 3), which
    # reads as true, and printed "nan" in place of a tested pair's interval and p
    why_not = [w if isinstance(w, str) else None for w in gaps["untested"]]
    several = gaps["n"].ne(gaps["n"].iloc[0]).any() or gaps["next_n"].ne(gaps["n"].iloc[0]).any()
    table = pd.DataFrame(
        {
            "rank": gaps["rank"].astype(str),
            "model": [md_text(v) for v in gaps["label"]],
            "next": [
                f"{r}: {md_text(v)}" for r, v in zip(gaps["next_rank"], gaps["next_label"], strict=True)
            ],
            # rows over different numbers of seeds: how many each side's test had
            **(
                {"seeds": [f"{n} vs {m}" for n, m in zip(gaps["n"], gaps["next_n"], strict=True)]}
                if several
                else {}
            ),
            "Δ fid": [significant(d, 3) for d in gaps["delta"]],
            f"{LEVEL:.0%} CI": [
                why or f"[{significant(lo, 3)}, {significant(hi, 3)}]"
                for lo, hi, why in zip(gaps["ci_low"], gaps["ci_high"], why_not, strict=True)
            ],
            "p": [why or p_text(p) for p, why in zip(gaps["p"], why_not, strict=True)],
            "test": gaps["test"],
        }
    )
    align = ["left" if c in ("model", "next", "seeds", "test") else "right" for c in table.columns]
    return table, align


def p_text(p: float) -> str:
    """A p-value to 2 significant digits, and "< 0.001" below that (more digits there are noise in
    a test over a few seeds)."""
    return "< 0.001" if p < 0.001 else f"{p:.2g}"
