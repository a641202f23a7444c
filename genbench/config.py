"""Run configuration: plain dataclasses whose fields map one to one onto CLI flags.

The flags' text is read by :mod:`genbench.flag_values`. Model configs are the models' own
dataclasses, built by :mod:`genbench.model_config` from their defaults, the model's per-dataset
defaults and ``--set MODEL.FIELD=VALUE`` overrides (:mod:`genbench.overrides`: a comma-separated
value sweeps); ``--metric-option`` values are read by :mod:`genbench.metric_options`. How a text
becomes a field's typed value, and is written back, is :mod:`genbench.field_values`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# re-exported: where baselines/ (configs.py, ship_weights.py) and benchmarks/ import them from
from genbench.flag_values import parse_seeds as parse_seeds
from genbench.model_config import read_toml as read_toml
from genbench.model_config import resolve_model_config as resolve_model_config
from genbench.workdir import absolute

#: the models and controls `genbench run` evaluates when given no --models
DEFAULT_MODELS = ("vae", "gan-ns", "gan-sat", "ddpm", "ddim", "copy", "collapse", "gaussian")
DEFAULT_DATASET = "digits"


class DatasetDefault(str):
    """:data:`DEFAULT_DATASET` as ``RunConfig``'s default: equal to it everywhere, and telling
    :func:`genbench.evaluate` and :func:`genbench.stats` that no dataset was given (`genbench eval`
    and `genbench stats` require ``--dataset``; a notebook's ``RunConfig()`` scored samples against
    digits, refused CIFAR-10's for their shape with "save samples at the dataset's shape", and wrote
    digits' statistics). `run` takes it as the dataset, as `genbench run` without ``--dataset``."""

    __slots__ = ()


#: the seed of a run given none, and of an evaluation of samples that are no run's saved samples
DEFAULT_SEED = 0
#: minutes between resumable checkpoints of a run given no --checkpoint-minutes
DEFAULT_CHECKPOINT_MINUTES = 30.0
#: a dataset's splits (here, not in genbench.data, so that the config needs no torch)
Split = Literal["train", "test"]


@dataclass
class RunConfig:
    """Everything `genbench run` needs; each field is one CLI flag. A path field takes a str or a Path
    (``~`` is expanded)."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))  # --models
    # --dataset: a dataset's name, a folder or an .npz/.npy of images; the default is run's alone
    # (evaluate and stats refuse it, as `genbench eval` and `genbench stats` require --dataset)
    dataset: str | Path = DatasetDefault(DEFAULT_DATASET)
    # --seeds (eval's --seed): None = seed 0, except that `genbench eval` of a run's saved samples
    # (--save-samples) takes that run's seed, which drew its KID subsets and IS splits
    seeds: list[int] | None = None
    samples: int | None = None  # --samples: samples per model; None = size of the train split
    metrics: list[str] | None = None  # --metrics: None = every metric that applies and runs by default
    features: str | None = None  # --features: None = the dataset's default extractor
    reference_split: Split = "train"  # --reference-split: split the samples are compared to
    reference_stats: Path | str | None = None  # --reference-stats: .npz (mu, sigma) or EDM2 .pkl
    out: Path | str = Path("runs")  # --out: result JSONs and figures
    data_dir: Path | str | None = None  # --data-dir: downloaded datasets (default $GENBENCH_DATA)
    cache_dir: Path | str | None = None  # --cache-dir: checkpoints, classifiers, statistics
    device: str = "auto"  # --device: auto | cpu | cuda | cuda:N
    batch_size: int = 500  # --batch-size: sampling and feature batch size
    retrain: bool = False  # --retrain: ignore cached checkpoints
    # --skip-done: a (model variant, seed) whose "ok" or "diverged" result on disk measured exactly what
    # this run would (genbench.skip_done) is read back, not trained, sampled and scored again; off by
    # default, so that a rerun measures anew (throughput)
    skip_done: bool = False
    # --checkpoint-every: training steps between resumable checkpoints; 0 saves none (on time neither)
    checkpoint_every: int = 500
    # --checkpoint-minutes: also save one once this many minutes have passed since the last (0: on
    # steps only). None = not given: DEFAULT_CHECKPOINT_MINUTES (30), and nothing with
    # checkpoint_every 0, which refuses any minutes given beside it but 0 (a given 30 as well).
    # A slow training's 500 steps are hours (the CIFAR-10 DDPM's 40 s a step on a CPU: 5.5 hours)
    # lost to a kill; 30 minutes caps the work at risk while the save (570 MB for that DDPM,
    # seconds to write) stays well under 1% of the time. A fast training saves on steps first.
    checkpoint_minutes: float | None = None
    overrides: list[str] = field(default_factory=list)  # --set MODEL.FIELD=VALUE
    metric_options: list[str] = field(default_factory=list)  # --metric-option METRIC.KEY=VALUE
    # --inception-weights: None = each extractor's own variable ($GENBENCH_INCEPTION_WEIGHTS for
    # inception, $GENBENCH_CLEAN_INCEPTION_WEIGHTS for clean-inception), else its download
    inception_weights: Path | str | None = None
    # --dinov2-weights: the dinov2 features' checkpoint (dinov2_vitl14_pretrain.pth); None =
    # $GENBENCH_DINOV2_WEIGHTS, else torch.hub's cache, else its download
    dinov2_weights: Path | str | None = None
    # --clip-weights: the clip features' checkpoint (openai/clip-vit-large-patch14-336's
    # pytorch_model.bin or model.safetensors); None = $GENBENCH_CLIP_WEIGHTS, else genbench's cache,
    # else the Hugging Face hub cache, else its download
    clip_weights: Path | str | None = None
    amp: bool = False  # --amp: mixed precision training on CUDA
    # --deterministic/--no-deterministic: train on CUDA with torch's deterministic algorithms, so that
    # the same command trains the same weights (slower; the CPU's training is deterministic anyway)
    deterministic: bool = True
    figures: bool = True  # --figures/--no-figures
    # --save-samples: keep each run's samples beside its result, as seed<N>.samples.npz (float32, what
    # the run scored and `genbench eval --samples` reads back to the same numbers; 614 MB per CIFAR-10
    # seed, so off by default)
    save_samples: bool = False
    # --progress/--no-progress: the bars, spinners, a log file's step lines and the "loaded" notes;
    # off, the protocol line, warnings and one line per result are still said (Progress.note, done)
    progress: bool = True
    # --include (repeatable): .py files, or folders of them, whose @genbench.register_* classes to
    # use without packaging them (genbench.includes); imported before anything else is checked
    include: Sequence[str | os.PathLike[str]] = field(default_factory=list)

    def minutes_between_checkpoints(self) -> float:
        """``checkpoint_minutes`` as training uses it: :data:`DEFAULT_CHECKPOINT_MINUTES` where it
        was not given (None)."""
        return DEFAULT_CHECKPOINT_MINUTES if self.checkpoint_minutes is None else self.checkpoint_minutes

    def reference_stats_text(self) -> str | None:
        """``reference_stats`` as results record it in their protocol: its file's name and content hash
        (:func:`genbench.features.reference_stats.stats_identity`)."""
        if self.reference_stats is None:
            return None
        from genbench.features.reference_stats import stats_identity

        return stats_identity(Path(self.reference_stats))


#: the RunConfig fields that `genbench eval` (:func:`genbench.evaluate`) reads; the others (models,
#: samples, --set overrides, training's) only `genbench run` reads
EVAL_FIELDS = frozenset(
    {
        "dataset", "seeds", "metrics", "metric_options", "features", "reference_split",
        "reference_stats", "out", "data_dir", "cache_dir", "device", "batch_size",
        "inception_weights", "dinov2_weights", "clip_weights", "figures", "progress", "include",
    }
)  # fmt: skip
#: the RunConfig fields that `genbench stats` (:func:`genbench.stats`) reads
STATS_FIELDS = frozenset(
    {
        "dataset", "features", "reference_split", "data_dir", "cache_dir", "device", "batch_size",
        "inception_weights", "dinov2_weights", "clip_weights", "progress", "include",
    }
)  # fmt: skip


#: RunConfig's path fields: made absolute when a command starts (:func:`absolute_paths`)
PATH_FIELDS = (
    "out", "data_dir", "cache_dir", "reference_stats", "inception_weights", "dinov2_weights", "clip_weights",
)  # fmt: skip


def flag_of(field_name: str) -> str:
    """The CLI flag of a RunConfig field: ``dinov2_weights`` is ``--dinov2-weights``."""
    return "--" + field_name.replace("_", "-")


def absolute_paths(config: RunConfig) -> RunConfig:
    """``config`` with ``~`` expanded in its paths (a shell leaves ``--out=~/x`` as typed, and it made
    ./~/x) and each made absolute against the working directory now, once, before any plugin runs.
    A model's ``fit`` that did ``os.chdir`` (research code moving to its folder) and then saved its
    resumable state through the TrainContext wrote it under its new directory, as the harness's
    ``model.pt`` after it (the directory is restored only once training returns), and the result
    recorded a checkpoint path that named nothing: the next run trained again. A value that is no
    path is left for :func:`genbench.config_types.check_config_types` to refuse; an empty one is refused
    by the caller (``Path("")`` is the working directory)."""
    changed: dict[str, Any] = {}
    for name in PATH_FIELDS:
        value = getattr(config, name)
        if isinstance(value, str | os.PathLike) and str(value).strip():
            path = absolute(Path(value).expanduser())
            if str(path) != str(value):
                changed[name] = path
    return dataclasses.replace(config, **changed) if changed else config


def unused_fields(config: RunConfig, used: frozenset[str]) -> list[str]:
    """The fields of ``config`` that a command reading only ``used`` ignores although they are set
    (other than their default, or ``[]`` as the CLI passes for ``models``): an API caller's
    ``RunConfig(samples=1000)`` for `evaluate` scored every sample it was given, silently."""
    default = RunConfig()

    def is_set(name: str) -> bool:
        value, unset = getattr(config, name), getattr(default, name)
        if isinstance(unset, Path) and isinstance(value, str | Path):  # out="runs" is the default
            # made absolute by absolute_paths: ./runs is the default too
            return absolute(Path(value).expanduser()) != absolute(unset)
        return value != unset and value != []

    return [f.name for f in dataclasses.fields(config) if f.name not in used and is_set(f.name)]


def unused_fields_warning(config: RunConfig, used: frozenset[str], command: str) -> str | None:
    """One line naming the set fields of ``config`` that ``command`` ignores, or None."""
    unused = unused_fields(config, used)
    if not unused:
        return None
    named = ", ".join(f"RunConfig.{name}" for name in unused)
    why = (
        "; it scores every sample it is given (pass samples[:N] to score fewer)"
        if "samples" in unused
        else ""
    )
    return f"{command} does not read {named}: ignored{why}"
