"""Results read from an ``--out`` folder (:func:`read_folder`) or from several as one board, and
where a folder without results points to the right one.

Results made on two machines, or in two batches of seeds, sit in two folders. Copying one into the
other by hand is no way to combine them: a result's file is ``<dataset>/<label>/seed<N>.json``
whatever its protocol, so ``copy`` at ``--samples 200`` and at ``--samples 300`` of seed 0 are one
file, and the copy replaced one of them without a word. ``genbench report --out A --out B`` reads
both folders and makes the board a folder holding all their results would (rows, seeds, order): a
run of one board row and seed found in both folders is counted once when the two files record
the same, and refused in one line naming both when they differ (which is the one to report is the
user's to say, never a silent pick).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Hashable, Sequence
from dataclasses import asdict
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.io import as_written
from genbench.results import Result, find_results, skipped_results
from genbench.unreadable_results import UnreadableResult, left_out, read_result_file


def as_folders(out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """``out`` as a list of folders: one path, or a sequence of them (a str is one path, not its
    characters), each once (the same folder named twice is read once). A folder inside another given
    one is refused (:func:`_nested`)."""
    if isinstance(out, str | os.PathLike):
        return [Path(out)]
    folders = [Path(o) for o in out]
    if not folders:
        raise GenbenchError("no results folder given; pass at least one --out folder")
    seen: dict[Path, Path] = {}
    for folder in folders:
        seen.setdefault(folder.resolve(), folder)
    for resolved, inner in seen.items():
        for outer in (seen[p] for p in resolved.parents if p in seen):
            raise GenbenchError(_nested(inner, outer))
    return list(seen.values())


def _nested(inner: Path, outer: Path) -> str:
    """The error for ``--out inner`` inside ``--out outer``. No run was counted twice (a result is
    ``<dataset>/<label>/seed<N>.json`` under exactly one of them), but a results folder inside
    another was read twice over: by itself, and by the outer one's report as a folder it does not
    read (:func:`genbench.results.skipped_results`), which it says to report alone; and a
    dataset's folder of the outer one said "no results under it: report the outer folder", which
    the user was doing."""

    if find_results(inner):
        return (
            f"--out {inner} is a results folder inside --out {outer}, whose report does not read "
            f"it; move {inner} out of {outer} and pass both"
        )
    return (
        f"--out {inner} is a folder inside --out {outer}, whose report reads every result under it "
        f"already; drop --out {inner}"
    )


def merged(loaded: list[tuple[Path, Result]], rows: Sequence[Hashable]) -> list[tuple[Path, Result]]:
    """``loaded`` (each result with its folder) from several folders, in the order one folder
    holding them all would list them (by file under the folder, then in the order the folders were
    given), each run once. ``rows``: each result's board row (:func:`genbench.leaderboard.run_rows`);
    two results of one row and seed are one run, which would be averaged twice: counted once when
    their files record the same, else a :class:`GenbenchError` naming both files and what differs."""
    # each file where it is under its folder (a row's folder of an older genbench's name included)
    order = sorted(range(len(loaded)), key=lambda i: (_under(*loaded[i]), i))
    kept: dict[tuple[Hashable, int], int] = {}
    for i in order:
        folder, r = loaded[i]
        key = (rows[i], r.seed)
        if key not in kept:
            kept[key] = i
            continue
        first_folder, first = loaded[kept[key]]
        differs = _differing_fields(first, r)
        if differs:
            raise GenbenchError(
                f"{first.path(first_folder)} and {r.path(folder)} are one run ({r.dataset}, {r.label}, "
                f"seed {r.seed}, one protocol) but record different {', '.join(differs)}; move the one "
                "not to report out of its --out folder (or report the folders apart)"
            )
    once = set(kept.values())
    return [loaded[i] for i in order if i in once]


def _under(folder: Path, result: Result) -> Path:
    """Where ``result``'s file is under its results ``folder``."""
    return result.path(folder).relative_to(folder)


def _differing_fields(a: Result, b: Result) -> list[str]:
    """The fields of two results whose recorded values differ (as written: a NaN equals a NaN)."""
    da, db = asdict(a), asdict(b)
    return [k for k in da if as_written(da[k]) != as_written(db[k])]


def where_results_are(out: Path) -> str | None:
    """What to pass as ``--out`` when ``out`` holds no results of its own but is part of a results
    folder (a dataset's folder, or a model's within it) or holds results folders one level down;
    None when neither. Said in place of "run `genbench run --out X` first", which sent the user to
    a costly rerun of results that were there."""
    if not out.is_dir():
        return None
    for up in (out.parent, out.parent.parent):
        if up != out and any(out in p.parents for p in find_results(up)):
            fix = f"genbench report --out {shlex.quote(str(up))}"
            return f"it is a folder inside the results folder {up}: report that, `{fix}`"
    inside = sorted(d for d in out.iterdir() if d.is_dir() and find_results(d))
    if not inside:
        return None
    outs = " ".join(f"--out {shlex.quote(str(d))}" for d in inside) + (
        " --leaderboards DIR" if len(inside) > 1 else ""
    )
    return f"the folders in it are results folders: report them with `genbench report {outs}`"


def read_folder(out: Path) -> tuple[list[Result], int]:
    """The readable results under the results folder ``out``, and how many result files it holds.
    Each file that cannot be read is said and left out (:mod:`genbench.unreadable_results`): one
    broken file took every other result's board down. A folder of no result files is an error."""
    paths = find_results(out)
    if not paths and out.exists() and not out.is_dir():  # "run --out that file" would fail too
        raise GenbenchError(
            f"{out} is a file, not a results folder; pass the folder `genbench run --out` wrote"
        )
    if not paths:
        hint = where_results_are(out)  # a dataset's folder, or one holding --out folders
        raise GenbenchError(f"no results under {out}; {hint or f'run `genbench run --out {out}` first'}")
    # said only where results were found: an --out one folder too deep or too shallow (the error
    # above) read every result as one "in a folder below its model's"
    _warn_skipped(out)
    results = []
    for path in paths:
        try:
            results.append(read_result_file(path, out))
        except UnreadableResult as e:
            left_out(e)
    return results, len(paths)


def _warn_skipped(out: Path) -> None:
    """Say each file under ``out`` that looks like a result but is not read (:func:`skipped_results`),
    on the running command's console, else on stderr: a report left them out without a word."""
    skipped = skipped_results(out)
    if skipped:
        from genbench.progress import warn_each  # rich: only when there is a word to say

        warn_each(skipped)
