"""What the harness hands to a model's ``fit``: :class:`TrainContext` (seed, device, checkpointing,
progress and logging). Part of the model plugin contract (:mod:`genbench.api`, which exports it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genbench.environment import machine_as_written
from genbench.errors import CheckpointError
from genbench.termination import saving_for_stop, step_ended, stop_if_waiting


class TrainContext:
    """What the harness hands to ``fit``: seed, device, checkpointing, progress and logging.

    ``save_checkpoint(state, step)`` writes atomically (call it when ``should_checkpoint(step)``:
    ``checkpoint_every`` steps or ``checkpoint_minutes`` minutes after the last save, whichever comes
    first; ``clock`` is what those minutes are read from, a fake one in tests);
    ``load_checkpoint()`` returns ``(state, step)`` of the last save, or ``None``. A model that
    saves its optimizer and RNG states with its weights resumes to the same final weights as an
    uninterrupted run (on the CPU). The training log (``history``) and the
    training time so far travel with every checkpoint, so a resumed run reports the whole run.
    ``data_digest`` (the harness's digest of the train split) is saved with each checkpoint too, and
    ``load_checkpoint`` refuses one saved while training on other data.
    """

    def __init__(
        self,
        *,
        seed: int,
        device: torch.device | str,
        checkpoint_path: Path | None = None,
        checkpoint_every: int = 0,
        checkpoint_minutes: float = 0.0,
        amp: bool = False,
        progress: Callable[[int, int, dict[str, float]], None] | None = None,
        log: Callable[[int, dict[str, float]], None] | None = None,
        data_digest: str | None = None,
        machine: str = "",
        warn: Callable[[str], None] | None = None,
        info: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        labels: torch.Tensor | None = None,
    ):
        self.seed = seed
        #: the train split's class labels (int64, one per example of ``fit``'s ``train``) for a
        #: class-conditional model (``GenerativeModel.conditional``); None for any other model
        self.labels = labels
        #: a torch.device, whatever was given: DDPM's fit read ``ctx.device.type``, and a script's
        #: ``TrainContext(seed=0, device="cuda")`` failed there alone with an AttributeError
        self.device = torch.device(device)
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.checkpoint_minutes = checkpoint_minutes
        self._clock = clock
        self.amp = amp
        self._progress = progress
        self._log = log
        self.data_digest = data_digest
        #: the machine this process trains on, in words (``environment.machine_text``), saved with each
        #: checkpoint: a resumed training's time is summed over every machine that trained it
        self.machine = machine
        #: the machines of the parts before a resume, in order (restored by :meth:`load_checkpoint`)
        self.machines_before: list[str] = []
        #: shows a state that cannot be saved (:meth:`save_checkpoint`); None: it raises instead
        self._warn = warn
        #: says what happened (a resume): the run's log named a loaded checkpoint, never a resumed one
        self._info = info
        #: what the refused resumable state held, in words (``a mod.Config object``): no later
        #: state is tried, and a stop's last line names it as why there is nothing to resume
        self.refused: str | None = None
        #: rows logged with :meth:`log` (``{"step": ..., **values}``), restored on resume
        self.history: list[dict[str, float]] = []
        #: the step training resumed from (0 when it started afresh)
        self.resumed_from = 0
        #: the step of the last state this process saved (None before its first save)
        self.saved_step: int | None = None
        #: the last step whose end the training reported (:meth:`should_checkpoint`; None before)
        self.ended_step: int | None = None
        #: the last resumable save failed on the disk (full, read-only): said once until one succeeds
        self._unsaved = False
        self._elapsed_before = 0.0
        self._t0 = time.perf_counter()
        #: the step and clock time that the next periodic save counts from: the last save, the
        #: resume, or the start
        self._since = (0, clock())
        #: the step at whose end a periodic save was last due
        self._due_step: int | None = None

    def machines(self) -> list[str]:
        """Every machine that trained this run so far, in order, each once."""
        return list(dict.fromkeys([*self.machines_before, self.machine]))

    def elapsed(self) -> float:
        """Training wall time in seconds, including the time before a resume."""
        return self._elapsed_before + (time.perf_counter() - self._t0)

    def progress(self, step: int, total: int, **values: float) -> None:
        """Advance the progress bar to ``step`` of ``total`` showing ``values`` (e.g. loss)."""
        if self._progress is not None:
            self._progress(step, total, values)

    def log(self, step: int, **values: float) -> None:
        """Record training scalars for ``step`` (kept in the run's training log)."""
        self.history.append({"step": float(step), **{k: float(v) for k, v in values.items()}})
        if self._log is not None:
            self._log(step, values)

    def should_checkpoint(self, step: int) -> bool:
        """Whether to :meth:`save_checkpoint` after ``step``: once ``checkpoint_every`` steps or
        ``checkpoint_minutes`` minutes (0: no limit) have passed since the last save (or the start,
        or the resume), whichever comes first, and at the end of the step that SIGTERM (under the
        CLI) waited for, so that the rerun resumes from that step
        (:func:`genbench.termination.steps_end_first`). ``checkpoint_every=0`` saves no resumable
        state, on time neither. Ask it at every step's end.

        The clock decides only when a state is saved, never what is trained: a resumed training
        ends with the same weights wherever its states were saved."""
        step = int(step)  # a step counted in numpy or a tensor, as a number
        self.ended_step = step
        if not (self.checkpoint_path and self.checkpoint_every):
            return False  # no resumable state is saved: a stop is taken where it lands
        if step_ended(step):
            return True
        if step == self._due_step:
            return True  # asked again at the same step's end (a fit that writes two files): the same answer
        # 40 s a step (the CIFAR-10 DDPM on a CPU) made 500 steps 5.5 hours of work at risk
        since_step, since_time = self._since
        now = self._clock()
        due = step - since_step >= self.checkpoint_every or (
            self.checkpoint_minutes > 0 and now - since_time >= 60 * self.checkpoint_minutes
        )
        if due:
            # counted from here even where the fit saves with its own code, or skips this save (its
            # last step's state is its final one): else it would be due at every step from now on
            self._since, self._due_step = (step, now), step
        return due

    def save_checkpoint(self, state: dict[str, Any], step: int) -> None:
        """Save ``state`` (weights, optimizer and RNG states) after ``step``, with the training log.

        ``state`` may hold tensors, numbers, strings, lists, tuples and dicts (and numpy arrays and
        scalars), what checkpoints are loaded back with; one holding another object (a dataclass,
        a custom class) raises :class:`~genbench.errors.StateContentError`, or, with ``warn``,
        is shown once and never saved: the training goes on, but cannot be resumed. With ``warn``, a
        disk that cannot take the state (full, over quota, read-only) is shown too, once until a
        save succeeds: the training goes on, resumable from the last state saved."""
        saving_for_stop()
        ctrl_c = False
        try:
            self._save(state, step)
        except KeyboardInterrupt:
            # Ctrl-C (or a stop already taken) cut the write short: it stops as itself, as Ctrl-C
            # does while the step runs; taking the waiting stop over it read as SIGTERM's (exit 143)
            ctrl_c = True
            raise
        finally:
            if not ctrl_c:
                stop_if_waiting()  # the stop that waited for this step's end, now that its state is saved

    def _save(self, state: dict[str, Any], step: int) -> None:
        if self.checkpoint_path is None or self.refused is not None:
            return
        from genbench.checkpoint import save_checkpoint
        from genbench.errors import GenbenchError, StateContentError

        try:
            save_checkpoint(
                self.checkpoint_path,
                {
                    "step": int(step),  # a plain int, whatever the plugin counts with (numpy, a tensor)
                    "state": state,
                    "history": self.history,
                    "elapsed_s": self.elapsed(),
                    "data_digest": self.data_digest,
                    "machines": self.machines(),
                },
            )
            self.saved_step = int(step)
            self._since = (int(step), self._clock())
            self._unsaved = False
        except StateContentError as e:
            holder = "the state given to ctx.save_checkpoint()"
            refused = StateContentError(e.refused, holder)
            if self._warn is None:
                raise refused from e
            # refused at its first save, not when a rerun could not load it: the training so far is
            # kept (stopping it here would throw it away), and the fix is shown at once
            self.refused = e.refused
            self._warn(f"{refused}; training goes on, but cannot be resumed if it is interrupted")
        except GenbenchError as e:
            # a full disk (or quota, or a cache gone read-only) at a periodic save failed the model,
            # throwing away the training so far: the state only serves a resume. The training goes
            # on; the last state saved (the atomic write left it whole) is what a rerun resumes
            if self._warn is None or not isinstance(e.__cause__, OSError):
                raise
            if not self._unsaved:
                last = self.saved_step if self.saved_step is not None else self.resumed_from
                resumes = f"resumes from step {last}" if last else "starts over"
                self._warn(
                    f"the resumable state of step {int(step)} was not saved: {e}; training goes on, "
                    f"but if it is interrupted the rerun {resumes}"
                )
            self._unsaved = True

    def load_checkpoint(self) -> tuple[dict[str, Any], int] | None:
        """``(state, step)`` of the last :meth:`save_checkpoint` of an interrupted run, or None:
        resume from ``step + 1``."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return None
        from genbench.checkpoint import load_checkpoint

        payload = load_checkpoint(self.checkpoint_path)
        # Refused, as a model.pt trained on other data is, rather than discarded: resuming would mix
        # weights trained on the old data into the new (and model.pt would record only the new
        # digest), and starting over silently could throw away hours of training when the data
        # path was wrong by mistake: fixing it resumes, --retrain starts over. A state saved before
        # the digest was recorded (None) resumes as it did.
        saved = payload.get("data_digest")
        if saved is not None and self.data_digest is not None and saved != self.data_digest:
            raise CheckpointError(
                f"resumable training state {self.checkpoint_path} was saved while training on other "
                "data: the train split changed since; rerun with --retrain"
            )
        step = int(payload["step"])
        self.history[:] = [r for r in payload.get("history", []) if r.get("step", 0) <= step]
        self._elapsed_before, self._t0 = float(payload.get("elapsed_s", 0.0)), time.perf_counter()
        # a state saved before machines were recorded: its part's machine is unknown
        self.machines_before = [
            machine_as_written(str(m)) for m in payload.get("machines", ["an unrecorded machine"])
        ]
        self.resumed_from = step
        self._since = (step, self._clock())
        if self._info is not None:
            self._info(f"resuming the interrupted training from step {step} ({self.checkpoint_path})")
        return payload["state"], step
