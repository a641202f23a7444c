"""The folders genbench writes under ``--out`` itself, and the names they keep from datasets and rows.

A run writes each result to ``<out>/<dataset>/<label>/seed<N>.json`` (:meth:`genbench.results.Result.path`;
the failed attempts, asides and ``--save-samples`` files beside it), and the figures of its runs to
``<out>/<dataset>/figures/<label>-seed<N>/`` (:func:`figures_dir`); `genbench report` writes to
``<out>/leaderboards/`` unless given ``--leaderboards``
(:func:`genbench.reporting.default_leaderboards`): ``<dataset>.md``, ``.csv`` and ``.tex``, and each
dataset's figures in ``<dataset>/``.

So a dataset's folder sits beside ``leaderboards/``, and a label's folder beside ``figures/``. A
model registered as ``figures`` had its results in the figures' folder, its runs' figure folders
beside its seeds; a dataset named ``leaderboards`` had its results in the report's folder, where the
report's figure folder of another dataset is a label's folder when a model is named as that dataset.
These names are refused where they are given: at registration
(:func:`genbench.registration_checks.check_folder_name`), as the name a built dataset gives itself
(:func:`genbench.resolve.check_built_dataset_name`), for a folder or archive of images given as
``--dataset`` (:func:`genbench.resolve.check_shared_inputs`) and for `genbench eval`'s ``--name``
(:func:`genbench.evaluation.check_result_name`). The tables below are what the layout code reads,
so a name cannot be reserved in one place and written in another.

A dataset's folder, and its board's files and folder, take its name as
:func:`genbench.portable_names.portable` spells it (:func:`dataset_folder`, :func:`board_name`): a
plugin dataset ``con`` has ``<out>/_con/`` and ``_con.md``, which Windows makes; every other name is
its own spelling. A results folder of the old name that Linux made (``<out>/con/``) is still where
that dataset's results are read, skipped and written, and an earlier report's ``con.md`` is the
board a report replaces.

Checkpoints (``<cache>/checkpoints/<dataset>/<model>/seed<N>-<key>/``) hold no folder of genbench's
beside a name; a metric's figures and a feature extractor's cache are files named by their code,
no folder of their name: neither reserves names.
"""

from __future__ import annotations

from pathlib import Path

from genbench.portable_names import exactly_there, kept_path, portable

#: the folder of a dataset's run figures, beside its labels' folders: ``<out>/<dataset>/figures/``
FIGURES = "figures"
#: the folder a report of ``--out`` is written to unless told, beside its datasets' folders
LEADERBOARDS = "leaderboards"

#: genbench's own folders directly under ``--out``, beside each dataset's results folder: the names a
#: dataset cannot take, each with what it is (for the error)
BESIDE_DATASETS: dict[str, str] = {
    LEADERBOARDS: "the folder `genbench report` writes to unless given --leaderboards (<out>/leaderboards/)",
}
#: genbench's own folders in ``<out>/<dataset>/``, beside each label's results folder: the names a
#: label (a model, `genbench eval`'s ``--name``) cannot take
BESIDE_LABELS: dict[str, str] = {
    FIGURES: "the folder a run writes its figures to (<out>/<dataset>/figures/)",
}


def genbench_folder(name: str, beside: dict[str, str]) -> str | None:
    """What the folder of genbench's that ``name`` would be is (one of :data:`BESIDE_DATASETS` or
    :data:`BESIDE_LABELS`, as ``beside``), or None. Case aside: the default file systems of macOS and
    Windows take ``Figures/`` and ``figures/`` for one folder."""
    return beside.get(name.lower())


def figures_dir(out: Path | str, dataset: str) -> Path:
    """Where a run's figures go, each run's in ``<label>-seed<N>/`` under it."""
    return dataset_folder(out, dataset) / FIGURES


def dataset_folder(out: Path | str, dataset: str) -> Path:
    """The results folder of ``dataset`` under ``out``: ``<out>/<dataset>/``, the name spelled
    portably (``_con`` for a plugin's ``con``, which Windows cannot make), or the folder of the old
    name where one of exactly that name is there (:func:`genbench.portable_names.kept_path`): results
    written there before are still read, skipped and written beside."""
    return kept_path(Path(out), Path(portable(dataset)))


def board_name(leaderboards: Path | str, dataset: str) -> str:
    """The stem of ``dataset``'s board files (``<stem>.md``, ``.csv``, ``.tex``) and the name of its
    board figures' folder in the folder ``leaderboards``: ``dataset``, spelled portably (``_con``),
    or the old name where an earlier report's ``<dataset>.md`` of exactly that name is there, so
    that a report replaces the board Linux made before rather than leave it stale beside a new one."""
    name = portable(dataset)
    old = f"{dataset}.md"
    return dataset if name != dataset and exactly_there(Path(leaderboards), old, file=True) else name
