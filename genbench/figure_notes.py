"""What a board's figures say in words, as its table says it: beside each point, the machine and
batch it was timed on, its row's flags and seeds without samples, and its values over fewer of the
row's seeds (†); beneath the axes, the protocol, the seeds and what the error bars are. A PNG is
read (and shared) apart from its board, so it says these itself (:mod:`genbench.board_figures` draws
the figures). A run's own figures (its nearest neighbours, its 2D samples) say beneath them which
run and seed they show, of how many samples (:func:`run_protocol`), in the same footer."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

import pandas as pd

from genbench.cells import PARTIAL_MARK
from genbench.markdown import SPREAD
from genbench.rerun_notes import rerun_words
from genbench.text import option_setting
from genbench.timing_caption import differing_timing_facts

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def timing_tags(rows: pd.DataFrame) -> list[str]:
    """Each of ``rows``' sampling machine and batch size ("on CPU: A, batch 50"), in what they differ
    in (:func:`~genbench.timing_caption.differing_timing_facts`, as the Cost table names them), "" for
    every row where they were all timed alike: a figure's samples/s of rows timed on other machines
    or batch sizes compare those as much as the models, so each point names its own. Where a
    checkpoint was trained is on no figure (none plots train_s)."""
    apart = [c for c in differing_timing_facts(rows) if c != "trained_on"]
    return [
        ", ".join(
            f"on {v}" if c == "sampled_on" else f"batch {v}"
            for c in apart
            if (v := getattr(row, c)) == v and v != ""  # not recorded (NaN, ""): nothing to say
        )
        for row in rows.itertuples()
    ]


def shared_timing(timed: pd.DataFrame) -> str | None:
    """The machine and batch size that all of ``timed`` (the rows whose samples/s a figure draws)
    were sampled on and in, in words ("samples/s timed on CPU: A, in batches of 500"); None when
    they share neither. Where they differ, each point names its own (:func:`timing_tags`): where they
    were alike, nothing on the figure said on what its samples/s were measured."""
    apart = differing_timing_facts(timed)
    said = []
    for column, words in (("sampled_on", "on {}"), ("batch_size", "in batches of {}")):
        values = {v for v in timed.get(column, []) if v == v and v != ""}  # recorded: not NaN or ""
        if column not in apart and len(values) == 1:
            said.append(words.format(*values))
    return f"samples/s timed {', '.join(said)}" if said else None


def figure_protocol(rows: pd.DataFrame, timed: pd.DataFrame | None = None) -> str:
    """The protocol of a figure's ``rows`` (one protocol's), for a line beneath it: the samples per
    model and seed, what they were scored against and in which features, the seeds, what the
    error bars are, and where ``timed`` (the rows whose samples/s it draws) were timed
    (:func:`shared_timing`). A PNG is read (and shared) apart from its board: its FIDs, and the bars
    round them, said nothing of N, the split, the features, nor which spread the bars drew."""

    def one(field: str) -> str | None:
        found = sorted({str(v) for v in rows.get(field, pd.Series(dtype=object)).dropna()})
        return "/".join(found) or None

    n, split, stats, features = (
        one(f) for f in ("num_samples", "reference_split", "reference_stats", "features")
    )
    against = f"the reference statistics {stats}" if stats else f"the {split} split" if split else None
    clauses = [f"N = {n} samples per model and seed" if n else "samples per model and seed"]
    clauses[0] += f" vs {against}" if against else ""
    clauses += [f"{features} features"] if features else []
    clauses += [options] if (options := _fid_options(rows)) else []
    with_numbers = rows[rows["n_ok"] > 0] if "n_ok" in rows else rows
    seeds = sorted({s for row in with_numbers.get("seeds", []) for s in str(row).split(",") if s}, key=int)
    if with_numbers.get("seeds", pd.Series(dtype=object)).nunique() > 1:
        clauses.append(f"seeds {', '.join(seeds)} (each row's on the board)")
    elif seeds:
        clauses.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}")
    clauses.append(f"error bars: ± {SPREAD} over seeds" if len(seeds) > 1 else "one seed, so no error bars")
    if timed is not None and (where := shared_timing(timed)):
        clauses.append(where)
    # about the width of a 6-inch figure at 7 pt; "torch-fidelity" is not split at its hyphen
    return textwrap.fill("; ".join(clauses), 100, break_on_hyphens=False)


def _fid_options(rows: pd.DataFrame) -> str | None:
    """The FID options that ``rows`` (whose FIDs a board figure draws) share, as ``--metric-option``
    spells them ("fid.backend=torch-fidelity"): the board's caption named them, the PNG, read apart
    from it, did not, and clean-fid's backend gives other FIDs. None where they differ or none are
    recorded (a row of each option is then another protocol, which its own figure draws)."""
    recorded = {
        json.dumps(json.loads(text).get("fid") or {}, sort_keys=True)
        for text in rows.get("metric_options", pd.Series(dtype=object)).dropna()
        if text
    }
    if len(recorded) != 1 or not (options := json.loads(recorded.pop())):
        return None
    return ", ".join(option_setting("fid", name, value) for name, value in sorted(options.items()))


def run_protocol(label: str, seed: int, num_samples: int, clauses: list[str], width: int = 100) -> str:
    """The protocol of a figure drawn at run time from one run (``label`` and ``seed``) of
    ``num_samples`` samples, then ``clauses`` (what the figure's own marks and numbers are), for a
    line beneath it (:func:`with_protocol`); ``width``: characters a line, fewer on a narrow figure.
    Its link on the board names the seed, the PNG did not, nor which variant (a nearest-neighbour
    grid of ``ddim[steps=10]`` was titled ``ddim``), nor out of how many samples it was drawn."""
    return textwrap.fill("; ".join([f"{label}, seed {seed}: N = {num_samples} samples", *clauses]), width)


#: characters of the notes' 7 pt text an inch of figure, where a note is wrapped to its figure's
#: width (:func:`note_width`)
NOTE_CHARS_PER_INCH = 18


def note_width(fig: Figure) -> int:
    """How many characters a line of a note beneath ``fig`` holds (a run's figure, of its own width)."""
    return int(NOTE_CHARS_PER_INCH * fig.get_figwidth())


def with_protocol(fig: Figure, text: str) -> None:
    """``text`` (:func:`figure_protocol`, :func:`run_protocol`) beneath the axes, which
    ``tight_layout`` leaves room for."""
    lines = text.count("\n") + 1
    fig.text(0.5, 0.01, text, ha="center", va="bottom", fontsize=7, color="dimgray", parse_math=False)
    # about a line's height of 7 pt text each (0.14 inch at the step curve's 4 inches): a share of
    # the height alone left inches of white beneath the 11-inch nearest-neighbour grid
    fig.tight_layout(rect=(0, lines * min(0.035, 0.16 / fig.get_figheight()), 1, 1))


def point_marks(row: Any) -> str:
    """What a figure's point says of an aggregated ``row`` beside its name, as its board's flags
    column does: its flags, and the outcome of its seeds without samples, with those seeds. A seed
    that failed (out of memory, a plugin's bug) carries no flag, so a row averaged over the seeds
    that remained was drawn as a sound model, where the table marks it **failed**."""
    flags = [f for f in str(row.flags).split(",") if f]
    lost = [s for s in str(getattr(row, "status", "ok")).split(";") if s not in ("ok", *flags)]
    failed = getattr(row, "failed_seeds", "")
    without = [f"no samples from seed{'s' if ',' in failed else ''} {failed}"] if failed else []
    return "; ".join(m for m in (", ".join([*flags, *lost]), *without) if m)


def rerun_mark(row: Any) -> str:
    """What a figure's point says of an aggregated ``row`` some of whose seeds a later run failed to
    redo, as its table's flags do: "a later rerun of seed 1 failed" (the values drawn are the earlier
    run's, :mod:`genbench.rerun_notes`); "" for a row without. The figures drew such a point as
    current. Not a flag: the values are sound, so the point keeps its colour."""
    failed = getattr(row, "failed_reruns", None)
    return rerun_words(failed) if isinstance(failed, dict) else ""


def partial_marks(row: Any, columns: dict[str, str]) -> str:
    """Which of ``columns`` (a column -> its name on the figure) of an aggregated ``row`` a point
    draws over fewer of the row's seeds, as its table marks the cell †: "† FID from 2 of 3 seeds"
    (a metric failed, or was not run, for some seeds). "" when none: the figures drew such a mean as
    if it were over the row's seeds."""
    notes = getattr(row, "cell_notes", None)
    if not isinstance(notes, dict):  # a frame aggregated without them
        return ""
    said = [
        f"{name} from {len(note.seeds_with)} of {note.n_seeds} seeds"
        for column, name in columns.items()
        if (note := notes.get(column)) is not None and note.seeds_with
    ]
    return f"{PARTIAL_MARK} {', '.join(said)}" if said else ""


#: what a figure with a value marked † says beneath it
PARTIAL_NOTE = (
    f"{PARTIAL_MARK}: a value over fewer of its row's seeds (its metric failed or was not run for the "
    "others), as the table marks it"
)


def protocol_and_partial(rows: pd.DataFrame, marked: bool, timed: pd.DataFrame | None = None) -> str:
    """:func:`figure_protocol` (``timed``: the rows whose samples/s are drawn), with
    :data:`PARTIAL_NOTE` beneath when a point is marked †."""
    return figure_protocol(rows, timed=timed) + (f"\n{textwrap.fill(PARTIAL_NOTE, 100)}" if marked else "")
