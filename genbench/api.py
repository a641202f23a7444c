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
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import torch

from genbench.errors import UnsupportedDataError
from genbench.sampling_steps import report_step
from genbench.train_context import TrainContext  # part of the contract: what fit is handed


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
        """Channels of an image (``shape[0]``); 1 for points."""
        return self.shape[0] if self.kind == "image" else 1

    @property
    def resolution(self) -> int | None:
        """Width of an image in pixels (``shape[-1]``); None for points."""
        return self.shape[-1] if self.kind == "image" else None


@dataclass
class NoConfig:
    """Config for a model with no options."""


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
    #: ``training.model_version`` (a ``weights_from`` model records its owner's, whose weights it uses).
    #: A model of an ``--include`` file, of the script that runs or of a notebook cell is keyed by its
    #: code besides (:func:`genbench.training.checkpoint_subdir`)
    version: ClassVar[int] = 1
    #: an absolute folder of trained checkpoints that ship with the model, laid out as genbench's checkpoint
    #: cache (``<dataset>/<name>/seed<N>-<key>/model.pt``, :func:`genbench.training.checkpoint_subdir`):
    #: a run whose checkpoint the cache lacks (and has no interrupted training of to resume) loads the
    #: shipped one of the same key instead of training; ``--retrain`` trains. None: nothing ships. Its
    #: files install only where listed as package data (a run warns of a folder that does not exist)
    shipped_checkpoints: ClassVar[str | Path | None] = None
    #: True for a class-conditional model: ``fit`` reads the train split's class labels from
    #: ``ctx.labels`` and ``sample`` is called with ``labels=``, an int64 tensor of ``n`` classes in
    #: ``[0, spec.num_modes)`` on the generator's device, one for each sample to draw. The harness
    #: draws the labels (seeded) and refuses the model on a dataset without labels. False: ``sample``
    #: is never handed labels, so a plugin written before conditioning existed is called as it was
    conditional: ClassVar[bool] = False
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
    def weights_owner_config(cls, config: Any) -> Any:
        """``config`` for this model trained or loaded only as another's weights owner (the model
        whose ``weights_from`` names it), which is never sampled: the harness checks and builds the
        owner with what this returns. A sampling-only field whose default this model's own
        ``check_config`` refuses beside a training field may be set here to a value it accepts
        (ddpm-cond's default guidance needs ``p_uncond > 0``; ddim-cond samples with its own
        guidance). It must not change ``train_config``, which keys the checkpoint. By default
        ``config`` unchanged.
        """
        return config

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
        """Move the model to ``device``: record it as ``self.device`` and move each
        ``torch.nn.Module`` held as an attribute (``self.net``), in place as ``Module.to`` moves it,
        so an optimizer's parameters stay its own. A plugin holding only its networks needs no
        override: one that did not move them ran on a laptop and failed on a GPU machine. Tensors,
        and modules in lists or dicts, are a subclass's to move: it overrides this and calls super()."""
        self.device = torch.device(device)
        for value in vars(self).values():
            if isinstance(value, torch.nn.Module):
                value.to(self.device)
        return self

    def train_config(self) -> dict[str, Any]:
        """The config fields that affect training; their hash keys the checkpoint cache.

        Sampling-only options (e.g. DDIM's steps and eta) must be left out, so changing them reuses
        the trained weights.
        """
        config = self.config
        return (
            dataclasses.asdict(config)
            if dataclasses.is_dataclass(config) and not isinstance(config, type)
            else {}
        )

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any] | None:
        """Train on ``train`` (N x *shape, in the data range). Returns a dict summarising it
        (``{"steps": n}``, recorded in the result's ``training``; None for none): anything else is
        warned of and not recorded.

        Raise :class:`genbench.errors.Diverged` when the loss becomes NaN or inf.
        """
        return {}

    @abstractmethod
    def sample(self, n: int, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Return ``n`` samples shaped ``(n, *spec.shape)``, float, in ``spec.value_range``.

        Define it as ``sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor``, and
        draw every random number from ``generator``, on its device, which is the run's (CUDA on a GPU
        machine): ``torch.randn(..., generator=generator, device=generator.device)``.

        A ``conditional`` model's ``sample`` takes a keyword ``labels`` besides (``sample(self, n, *,
        generator, labels)``): sample ``i`` is drawn for class ``labels[i]``. Both override this
        signature (``*args: Any, **kwargs: Any``, which type checkers take as any arguments): one
        naming ``generator`` alone here made mypy and pyright refuse a conditional model's ``labels``.
        """

    def sampling_progress(self, step: int, steps: int) -> None:
        """Call from ``sample`` to say that this call has done ``step`` of its ``steps`` (a diffusion
        sampler's denoising steps): the harness's sampling bar then moves within a batch and shows
        its time remaining, where a slow sampler's one batch takes hours. Optional: a model that
        never calls it advances the bar once a batch. Cheap (the harness updates its bar at most ten
        times a second); it never changes what is sampled or timed. Outside the harness's
        sampling it does nothing."""
        report_step(step, steps)

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to sample (weights, EMA, fitted statistics)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, so that the model samples as it did."""

    @property
    def nfe(self) -> float:
        """Network evaluations per sample (1 for one-shot generators, steps for diffusion): a number
        >= 0, read once the model has sampled, so an adaptive solver may give its mean."""
        return 1


def config_hash(
    model_name: str,
    dataset: str,
    train_config: dict[str, Any],
    seed: int,
    version: int = 1,
    *,
    source: str | None = None,
) -> str:
    """Stable short hash of everything that determines a trained checkpoint: the model's name and
    ``version``, the dataset, the training config and the seed; ``source``, the sha256 of the file
    ``--include`` imported the model from, or of the script or notebook class that defines it
    (:mod:`genbench.script_code`; None, and not hashed, for any other model: every other key stays
    as it was)."""
    keyed = {
        "model": model_name,
        "version": version,
        "dataset": dataset,
        "config": train_config,
        "seed": seed,
    }
    if source is not None:
        keyed["source"] = source
    blob = json.dumps(keyed, sort_keys=True, default=_key_text)
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
