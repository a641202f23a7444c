"""The model plugin contract.

A model is a class registered under a name: in-tree with ``@register_model("name")``, or from
another package through an entry point in the group ``genbench.models``::

    [project.entry-points."genbench.models"]
    my-model = "my_package.module:MyModel"

The harness builds it from the dataset's :class:`DataSpec` and a config dataclass, calls ``fit``
(unless the model is pretrained or takes its weights from another model), and calls ``sample`` in
batches. It validates every batch (shape, dtype, range, NaN/inf) and names the plugin in errors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import torch

from genbench.errors import CheckpointError, UnsupportedDataError
from genbench.termination import saving_for_stop, step_ended, stop_if_waiting


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about a dataset to be built."""

    name: str  # registered dataset name, e.g. "digits"
    kind: Literal["image", "points"]  # images are N x C x H x W, points are N x D
    shape: tuple[int, ...]  # shape of one example: (C, H, W) or (D,)
    value_range: tuple[float, float] | None  # (-1, 1) for images; None for unbounded points
    num_train: int  # size of the train split
    num_modes: int | None = None  # known number of modes (classes, mixture components)

    @property
    def channels(self) -> int:
        return self.shape[0] if self.kind == "image" else 1

    @property
    def resolution(self) -> int | None:
        return self.shape[-1] if self.kind == "image" else None


@dataclass
class NoConfig:
    """Config for a model with no options."""


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
        device: torch.device,
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
    ):
        self.seed = seed
        self.device = device
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.checkpoint_minutes = checkpoint_minutes
        self._clock = clock
        self.amp = amp
        self._progress = progress
        self._log = log
        self.data_digest = data_digest
        #: the machine this process trains on, in words (``results.machine_text``), saved with each
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
        is shown once and never saved: the training goes on, but cannot be resumed."""
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
        from genbench.errors import StateContentError

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
        except StateContentError as e:
            holder = "the state given to ctx.save_checkpoint()"
            refused = StateContentError(e.refused, holder)
            if self._warn is None:
                raise refused from e
            # refused at its first save, not when a rerun could not load it: the training so far is
            # kept (stopping it here would throw it away), and the fix is shown at once
            self.refused = e.refused
            self._warn(f"{refused}; training goes on, but cannot be resumed if it is interrupted")

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
        self.machines_before = [str(m) for m in payload.get("machines", ["an unrecorded machine"])]
        self.resumed_from = step
        self._since = (step, self._clock())
        if self._info is not None:
            self._info(f"resuming the interrupted training from step {step} ({self.checkpoint_path})")
        return payload["state"], step


class GenerativeModel(ABC):
    """Base class of every model plugin.

    Subclasses set ``Config`` (a dataclass with commented defaults) and implement ``sample``,
    ``state_dict`` and ``load_state_dict``; a model that learns from the data implements ``fit``
    (with ``trainable = False`` too, where fitting is cheap: it is then fitted on every run and
    never checkpointed).
    """

    Config: ClassVar[type] = NoConfig
    #: kinds of data the model handles ("image", "points")
    supported_kinds: ClassVar[tuple[str, ...]] = ("image", "points")
    #: False for controls whose fit() is trivial (storing or fitting statistics): the runner calls
    #: fit() on every run and writes no checkpoint for them
    trainable: ClassVar[bool] = True
    #: name of the registered model whose trained weights this one samples from (ddim -> "ddpm");
    #: the runner trains or loads that model's checkpoint and never trains this one. Of the owner's
    #: ``--set`` fields, those that change its ``train_config`` reach this model (and name its row);
    #: the others (how the owner samples) are the owner's alone, refused unless it is run too
    weights_from: ClassVar[str | None] = None
    #: bump when a change to the training code makes existing checkpoints stale: it is part of the
    #: checkpoint cache key (with the training config and the seed) and recorded in results as
    #: ``training.model_version`` (a ``weights_from`` model records its owner's, whose weights it uses)
    version: ClassVar[int] = 1
    #: an absolute folder of trained checkpoints that ship with the model, laid out as genbench's checkpoint
    #: cache (``<dataset>/<name>/seed<N>-<key>/model.pt``, :func:`genbench.training.checkpoint_subdir`):
    #: a run whose checkpoint the cache lacks (and has no interrupted training of to resume) loads the
    #: shipped one of the same key instead of training; ``--retrain`` trains. None: nothing ships. Its
    #: files install only where listed as package data (a run warns of a folder that does not exist)
    shipped_checkpoints: ClassVar[str | Path | None] = None
    #: set by the registry
    registered_name: ClassVar[str] = ""

    def __init__(self, spec: DataSpec, config: Any = None):
        self.check_spec(spec)
        self.spec = spec
        self.config = config if config is not None else self.Config()
        self.check_config(spec, self.config)
        self.device = torch.device("cpu")

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        """Raise :class:`UnsupportedDataError` when this model cannot handle ``spec``."""
        if spec.kind not in cls.supported_kinds:
            raise UnsupportedDataError(
                f"model {cls.registered_name or cls.__name__!r} does not handle {spec.kind} data "
                f"(dataset {spec.name!r}); choose a dataset of kind {', '.join(cls.supported_kinds)}"
            )

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        """Raise :class:`genbench.errors.GenbenchError` naming the field when ``config`` cannot work
        on ``spec`` (``steps=0``, a negative learning rate).

        The runner calls it for every variant before any training, so a bad ``--set`` value fails in
        a second rather than after the models before it have trained; ``__init__`` calls it too.
        ``owner_config`` is the config of the ``weights_from`` model whose weights this one samples
        (None otherwise): DDIM's ``steps`` must fit its DDPM's ``timesteps``.
        """
        return None  # by default every config the dataclass accepts is valid

    @classmethod
    def unused_fields(cls, spec: DataSpec, config: Any) -> tuple[str, ...]:
        """The fields of ``config`` that change nothing on the data of ``spec``, neither what is
        trained nor how it samples (a U-Net's width where an MLP trains on 2D points).

        ``--set`` refuses them: a row named ``ddpm[ch=64]`` on ring8 held plain ddpm's very samples.
        By default every field counts.
        """
        return ()

    @classmethod
    def from_trained(cls, owner: GenerativeModel, config: Any) -> Self:
        """Build a ``weights_from`` model around its trained owner (DDIM around a trained DDPM).

        The runner trains or loads the owner (``weights_from``) under the owner's own config and
        checkpoint key, then calls this; the new model shares the owner's network and differs only
        in how it samples.
        """
        raise NotImplementedError(f"{cls.__name__} sets weights_from but does not implement from_trained")

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        """Config values for ``dataset`` that override the dataclass defaults.

        The baselines read ``baselines/configs/<dataset>/<model>.toml`` here; CLI ``--set`` overrides
        are applied on top by the harness.
        """
        return {}

    def to(self, device: torch.device | str) -> Self:
        """Move the model to ``device``; subclasses move their modules and call super()."""
        self.device = torch.device(device)
        return self

    def train_config(self) -> dict[str, Any]:
        """The config fields that affect training; their hash keys the checkpoint cache.

        Sampling-only options (e.g. DDIM's steps and eta) must be left out, so changing them reuses
        the trained weights.
        """
        return dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        """Train on ``train`` (N x *shape, in the data range). Returns a summary (e.g. steps).

        Raise :class:`genbench.errors.Diverged` when the loss becomes NaN or inf.
        """
        return {}

    @abstractmethod
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        """Return ``n`` samples shaped ``(n, *spec.shape)``, float, in ``spec.value_range``.

        Draw every random number from ``generator``, on its device, which is the run's (CUDA on a GPU
        machine): ``torch.randn(..., generator=generator, device=generator.device)``.
        """

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to sample (weights, EMA, fitted statistics)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @property
    def nfe(self) -> float:
        """Network evaluations per sample (1 for one-shot generators, steps for diffusion): a number
        >= 0, read once the model has sampled, so an adaptive solver may give its mean."""
        return 1


def config_hash(
    model_name: str, dataset: str, train_config: dict[str, Any], seed: int, version: int = 1
) -> str:
    """Stable short hash of everything that determines a trained checkpoint: the model's name and
    ``version``, the dataset, the training config and the seed."""
    blob = json.dumps(
        {"model": model_name, "version": version, "dataset": dataset, "config": train_config, "seed": seed},
        sort_keys=True,
        default=_key_text,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _key_text(o: Any) -> Any:
    """A value JSON has no form for, as the key hashes it: a set by its sorted items (``str`` of a
    set of strings changes order with the hash seed, so each process got another key and
    retrained), anything else by its text."""
    if isinstance(o, set | frozenset):
        return sorted(o, key=repr)
    return str(o)


def plugin_number(value: Any) -> float | None:
    """A number a plugin returned (a metric's value, a model's ``nfe``) as a float, or None where it is
    none: text and bools are no measurement ("1.5", True), and ``float()`` of what cannot be read
    raises anything from TypeError to OverflowError (``10**400``) and RuntimeError (a meta tensor, or
    a tensor of several values), which failed the whole metric or model as its own bug."""
    if isinstance(value, str | bytes | bool | np.bool_):
        return None
    try:
        return float(value)
    except Exception:
        return None


@dataclass
class SampleCheck:
    """Validation of the batches a plugin returns."""

    model: str
    spec: DataSpec
    tolerance: float = 1e-3  # slack on the range check for float round-off
    seen: int = field(default=0)

    def __call__(self, batch: Any, expected: int) -> torch.Tensor:
        from genbench.errors import PluginOutputError

        who = f"model {self.model!r}"
        if not isinstance(batch, torch.Tensor):
            raise PluginOutputError(
                f"{who} returned {type(batch).__name__} from sample(); return a torch.Tensor"
            )
        # the checks below read its values: a sparse or meta tensor failed inside them with torch's
        # dispatch table (a hundred lines), as "model raised NotImplementedError", which it had not
        if batch.layout != torch.strided or batch.is_meta:
            what, fix = (
                ("a meta tensor, which holds no values,", "return one on generator.device")
                if batch.is_meta
                else (f"a tensor of layout {batch.layout}", "return a dense one (.to_dense())")
            )
            raise PluginOutputError(f"{who} returned {what} from sample(); {fix}")
        if not batch.is_floating_point():
            raise PluginOutputError(
                f"{who} returned dtype {batch.dtype} from sample(); return a float tensor"
            )
        want = (expected, *self.spec.shape)
        if tuple(batch.shape) != want:
            raise PluginOutputError(
                f"{who} returned shape {tuple(batch.shape)} from sample({expected}); expected {want}"
            )
        if not torch.isfinite(batch).all():
            bad = int((~torch.isfinite(batch)).sum())
            raise PluginOutputError(f"{who} returned {bad} NaN/inf values from sample(); check the model")
        if self.spec.value_range is not None:
            lo, hi = self.spec.value_range
            bmin, bmax = float(batch.min()), float(batch.max())
            if bmin < lo - self.tolerance or bmax > hi + self.tolerance:
                raise PluginOutputError(
                    f"{who} returned values in [{bmin:.3g}, {bmax:.3g}] from sample(); "
                    f"expected [{lo:g}, {hi:g}] (clamp the output)"
                )
            batch = batch.clamp(lo, hi)
        self.seen += expected
        return batch.detach().float().cpu()

    def check_nfe(self, nfe: Any) -> float:
        """The model's ``nfe``, read once it has sampled (an adaptive solver counts its evaluations as it
        goes): a number >= 0. A negative one was recorded and ranked first on the board's ``nfe ↓``
        column; None or a string failed the model as "could not convert string to float"."""
        from genbench.errors import PluginOutputError

        value = plugin_number(nfe)
        if value is None or not math.isfinite(value) or value < 0:
            raise PluginOutputError(
                f"model {self.model!r} has nfe = {nfe!r}; nfe is the number of network evaluations per "
                f"sample, a number >= 0 (1 for one network call)"
            )
        return value

    def check_all(self, samples: torch.Tensor) -> None:
        """The whole set, once sampled: images with not one value below the middle of the range were
        made in [0, 1] (torchvision's ``ToTensor``), which pass every batch's range check and then
        score as washed-out grey. Refused, as ``genbench eval`` refuses such files."""
        from genbench.errors import PluginOutputError

        if self.spec.kind != "image" or self.spec.value_range is None or not len(samples):
            return
        lo, hi = self.spec.value_range
        smin, smax = float(samples.min()), float(samples.max())
        if smin >= (lo + hi) / 2:
            raise PluginOutputError(
                f"model {self.model!r} returned images in [{smin:.3g}, {smax:.3g}] from sample(), none "
                f"below {(lo + hi) / 2:g}, as images made in [0, 1] are; return them in [{lo:g}, {hi:g}] "
                f"(x * 2 - 1)"
            )
