"""``--retrain``'s marks: a checkpoint directory that ``--retrain`` cleared is marked with the
command that cleared it until its run finishes, so that the rerun of an interrupted command loads
what it retrained and resumes the training it interrupted, where any other ``--retrain`` trains
anew (:func:`genbench.training.train_or_load` calls :func:`clear_for_retrain`, the runner
:func:`retrain_finished`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from genbench.checkpoint import PARTIAL, load_checkpoint
from genbench.errors import GenbenchError

if TYPE_CHECKING:
    from genbench.planning import Plan

#: marks a checkpoint directory that --retrain cleared and whose new training has not finished
RETRAINING = "retraining"


def retrain_command(p: Plan) -> str:
    """What a retraining mark records: the run's flags, less those that change no training. Only a
    rerun of the interrupted command honours the mark; any other ``--retrain`` trains anew. Its
    ``--seeds``, ``--models``, ``--metrics``, ``--set`` and ``--metric-option`` may come in another
    order: each names the same runs in any.

    Left out too: when resumable states are saved, which never changes the trained weights. A
    killed run's rerun with ``--checkpoint-minutes 10`` (to lose less to the next kill), or with the
    default's 30 typed out (``checkpoint_minutes`` is None when not given), cleared the state it
    would have resumed, hours of training."""
    # what a run shows or keeps, or when it saves, not what it trains; an included file's content
    # keys its model's checkpoint itself, whatever path names it (and results of every earlier
    # version, without the field, keep their marks' hashes)
    skipped = ("progress", "figures", "save_samples", "checkpoint_every", "checkpoint_minutes", "include")
    flags = {k: v for k, v in dataclasses.asdict(p.config).items() if k not in skipped}
    # lists whose order and repeats name the same runs: the rerun of a killed `--seeds 0,1` as
    # `--seeds 1,0` (or `--models b,a`, `--metrics kid,fid`, the --set flags in another order) was
    # taken for another command, and trained anew what it had retrained and the one it stopped in
    for name in ("models", "seeds", "metrics", "overrides", "metric_options"):
        if flags.get(name) is not None:
            flags[name] = sorted(set(flags[name]))
    if flags.get("seeds") == [0]:  # typed out, the seed a run without --seeds runs (as marks before)
        flags["seeds"] = None
    return hashlib.sha256(json.dumps(flags, sort_keys=True, default=str).encode()).hexdigest()[:16]


def clear_for_retrain(
    ckpt_dir: Path, command: str = "", data_digest: str | None = None, trained_meanwhile: bool = False
) -> None:
    """``--retrain``: clear ``ckpt_dir`` and mark it with ``command``, unless it holds a training
    marked by this same command: that is an interrupted run's (Ctrl-C, a killed process), and its
    rerun loads it when it finished and resumes it when it is unfinished and readable (the rerun used
    to start every model over, though Ctrl-C says "rerun to resume training"). A run that finishes
    drops its marks, as a failed training does.

    The mark names the command: a mark left by an interrupted run whose rerun never came (another
    command was run instead, e.g. ``--models`` of the unfinished model only) made a ``--retrain``
    days later load that checkpoint instead of training it. A marked training of other data (the
    train split changed since, ``data_digest``) is cleared too: it can be neither loaded nor resumed.

    ``trained_meanwhile``: another process saved ``model.pt`` while this one waited for the lock
    (:func:`genbench.training.trained_alone`). It was trained after this run began, as anew as ``--retrain`` asks, and
    is kept (unless it is of other data): the waiting process trained it over again, from scratch,
    once the first had finished, though docs/commands.md promises a checkpoint shared by several
    processes is trained once.
    """
    marker, partial, final = ckpt_dir / RETRAINING, ckpt_dir / PARTIAL, ckpt_dir / "model.pt"
    mine = _marked_by(marker, command)
    if mine or trained_meanwhile:
        for path in (final, partial) if mine else (final,):
            if path.exists():
                try:  # a corrupt one is cleared: its error says rerun with --retrain
                    trained_data = load_checkpoint(path).get("data_digest")
                except GenbenchError:
                    break
                if trained_data is None or data_digest is None or trained_data == data_digest:
                    return
                break
        else:  # nothing saved yet
            if mine:
                return
    if ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True)
    marker.write_text(command)


def _marked_by(marker: Path, command: str) -> bool:
    try:
        return marker.read_text() == command
    except OSError:  # no mark
        return False


def retrain_finished(p: Plan) -> None:
    """The run finished: the checkpoints it retrained are ordinary ones, which the next ``--retrain``
    trains anew. A mark of another command (a process whose training this run waited for and
    loaded, :func:`clear_for_retrain`) is that process's to end."""
    command = retrain_command(p)
    for ckpt_dir in p.retrained:
        if _marked_by(ckpt_dir / RETRAINING, command):
            (ckpt_dir / RETRAINING).unlink(missing_ok=True)
