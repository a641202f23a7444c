"""Rows whose results would share one file: a row's result is ``<out>/<dataset>/<label>/seed<N>.json``,
its folder named by :func:`genbench.results.safe_name`, which writes '_' for what a folder name cannot
hold, so ``m[arch=a b]`` and ``m[arch=a_b]`` had one folder; and the default file systems of macOS
and Windows take ``m_arch=ResNet/`` and ``m_arch=resnet/`` for one. The second row's result replaced
the first's, both were said to be ok, and the report showed one of them under the second's name. A
run now refuses such rows before any work (:func:`check_rows_apart`), and never writes over another
row's result (:func:`other_row`).

Datasets are not in question: registered names and those of image folders are lowercase
(:func:`genbench.data.image_folder.as_name`), and two folders of one name are told apart by their
fingerprint (:func:`genbench.replacement.protocol_replaced`)."""

from __future__ import annotations

from pathlib import Path

from genbench.errors import GenbenchError
from genbench.results import Result, safe_name

#: how a run keeps rows that share a folder apart
APART_FIX = "run them into separate --out folders"


def check_rows_apart(out: Path, dataset: str, rows: list[tuple[str, str]]) -> None:
    """Fail when two of a run's ``rows`` (model, variant label) on ``dataset`` would write their
    results into one folder under ``out``, on this file system or on one that ignores case."""
    seen: dict[str, Result] = {}
    for model, variant in rows:
        row = Result(model=model, dataset=dataset, seed=0, variant=variant)
        first = seen.setdefault(safe_name(row.label).casefold(), row)
        if first.label != row.label:
            raise GenbenchError(
                f"{first.label} and {row.label} would write their results to one folder, "
                f"{row.path(out).parent}{_why(first, row)}; {APART_FIX}"
            )


def other_row(old: Result, new: Result) -> str | None:
    """Why ``new`` must not replace ``old``, the result now in the file ``new`` goes to, when ``old``
    is another row's (another dataset's or label's, whose folder the file system takes for
    ``new``'s); None when it is ``new``'s own row."""
    if (old.dataset, old.label) == (new.dataset, new.label):
        return None
    theirs = f"{old.label} on {old.dataset}" if old.dataset != new.dataset else old.label
    return f"holds the result of {theirs}, another row, whose folder {new.label}'s shares{_why(old, new)}"


def _why(a: Result, b: Result) -> str:
    if safe_name(a.label) == safe_name(b.label) and a.dataset == b.dataset:
        return " (a folder name writes '_' for what it cannot hold)"
    return " (the file system does not tell upper from lower case apart)"
