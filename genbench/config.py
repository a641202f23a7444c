"""Run configuration: plain dataclasses whose fields map one to one onto CLI flags.

Model configs are the models' own dataclasses. Their values come, in order, from the dataclass
defaults, the model's per-dataset defaults (``baselines/configs/<dataset>/<model>.toml`` for the
reference models), and ``--set MODEL.FIELD=VALUE`` overrides. A comma-separated value
(``--set ddim.steps=10,20,50,100``) sweeps: each value becomes its own variant of the model. How
such a text becomes a field's typed value, and is written back, is :mod:`genbench.field_values`.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import numbers
import os
import re
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from genbench.errors import GenbenchError
from genbench.field_values import (
    canonical_text,
    coerce,
    from_defaults,
    number_or_text,
    same_value,
    unwrap_optional,
)
from genbench.workdir import absolute

if TYPE_CHECKING:
    from genbench.api import GenerativeModel

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


def parse_list(text: str | None, what: str) -> list[str]:
    """Split ``a,b,c``; reject empty items with a clear message."""
    if text is None:
        return []
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise GenbenchError(f"malformed {what} list {text!r}; use comma-separated names like a,b,c")
    return items


def parse_seeds(text: str, *, one: bool = False) -> list[int]:
    """``--seeds 0,1,2``, or with ``one`` `eval`'s ``--seed 0`` (parsed as a list all the same, so
    that "3,4" meets eval's own "takes one seed" message): a malformed value's fix names the flag
    of the command that read it."""
    try:  # an empty item (0,,1) too: parse_list's "names like a,b,c" is no fix for seeds
        items = parse_list(text, "seed")
        # ASCII digits only: int() also takes 1_0 (as seed 10) and other scripts' digits; a sign passes,
        # so that check_seeds refuses -1 with its own message
        if not all(re.fullmatch(r"[+-]?[0-9]+", t) for t in items):
            raise ValueError(text)
        seeds = [int(t) for t in items]
    except (ValueError, GenbenchError):
        what, fix = (
            ("seed", "use one integer, e.g. --seed 0") if one else ("seed list", "use integers like 0,1,2")
        )
        raise GenbenchError(f"malformed {what} {text!r}; {fix}") from None
    return seeds  # their range is checked by check_shared_inputs, for the Python API too


def parse_split(text: str) -> Split:
    """``--reference-split``'s value, checked (the Python API's too, by
    :func:`genbench.config_types.check_config_types`, with the other RunConfig fields)."""
    if text not in ("train", "test"):
        raise GenbenchError(f"unknown split {text!r}; use --reference-split train or test")
    return "train" if text == "train" else "test"


#: the largest seed: numpy's RandomState takes 32 bits, and torch-fidelity's KID and IS seed one
#: with the run's seed (a larger one failed both metrics, recorded as a plugin bug)
MAX_SEED = 2**32 - 1


def check_seeds(seeds: list[Any], example: str = "--seeds 0,1,2") -> None:
    """Seeds are integers in 0 .. MAX_SEED (from the CLI's parser and from the Python API alike);
    a larger one failed inside every model, reported as each plugin's bug. ``example``: the fix, in
    the flag of the command that reads them (`eval` has ``--seed``)."""
    if any(
        isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= int(s) <= MAX_SEED
        for s in seeds
    ):
        shown = ",".join(map(str, seeds))
        raise GenbenchError(f"seeds must be integers from 0 to 2**32-1, got {shown}; use e.g. {example}")


@dataclass(frozen=True)
class Override:
    model: str
    field: str
    values: tuple[str, ...]
    text: str = ""  # the value as typed, before it was split into sweep values


def split_assignment(item: str, flag: str, form: str, example: str) -> tuple[str, str, str]:
    """``"ddim.steps=10"`` -> ``("ddim", "steps", "10")``; anything else fails naming ``form``."""
    key, sep, value = item.partition("=")
    owner, dot, name = key.strip().partition(".")
    if not sep or not dot or not owner or not name.strip() or not value.strip():
        raise GenbenchError(f"malformed {flag} {item!r}; use {form}, e.g. {example}")
    return owner, name.strip(), value.strip()


def parse_overrides(items: list[str]) -> list[Override]:
    out = []
    for item in items:
        model, fname, value = split_assignment(item, "--set", "MODEL.FIELD=VALUE", "ddim.steps=10")
        items = [v.strip() for v in value.split(",")]
        if not all(items):  # =10,,20 and =cosine, failed as "bad value ''" (or set a str field to '')
            raise GenbenchError(
                f"malformed --set list {value!r} in {item!r}; use comma-separated values, e.g. ddim.steps=10,20"
            )
        values = dict.fromkeys(items)  # =10,10 is one variant
        out.append(Override(model, fname, tuple(values), value))
    return out


def check_sequence_sweeps(cls: type[GenerativeModel], overrides: list[Override]) -> None:
    """Refuse a comma-separated value for a tuple field unless ':' shows which items belong together:
    commas sweep, so ``ddpm.ch_mult=1,2,2`` silently trained one single-level U-Net per item."""
    Config = cls.Config
    if not dataclasses.is_dataclass(Config):
        return
    hints = typing.get_type_hints(Config)
    for o in overrides:
        sequence = typing.get_origin(unwrap_optional(hints.get(o.field))) in (tuple, list)
        # the items as typed: a repeated one is one sweep value (=10,10 is one variant), so
        # ddpm.ch_mult=2,2 ran the one-level U-Net (2,) where (2, 2) was meant, with nothing said
        typed_items = (o.text or ",".join(o.values)).split(",")
        if sequence and len(typed_items) > 1 and not any(":" in v for v in o.values):
            # [1,2] and (1,2) as Python and TOML write them: the fixes leave out the brackets, which
            # --set reads as part of the items ("bad value '[1'")
            typed = [i for i in (v.strip("[]() ") for v in typed_items) if i]  # 1,2,2: three items
            items = [i for i in (v.strip("[]() ") for v in o.values) if i]
            would = f"would sweep {len(o.values)} one-item values"
            one = "each one-item value with a trailing ':' to sweep them"
            if len(o.values) == 1:
                would = f"would run the one-item value {','.join(items) or o.values[0]}"
                one = "it with a trailing ':' for that one-item value"
            raise GenbenchError(
                f"--set {o.model}.{o.field}={o.text} {would} of a tuple field; separate its items "
                f"with ':' ({o.model}.{o.field}={':'.join(typed)}), or write {one} "
                f"({o.model}.{o.field}={','.join(v + ':' for v in items)})"
            )


def parse_metric_options(items: list[str]) -> dict[str, dict[str, str]]:
    """``["fid.backend=clean-fid", "prdc.k_pr=5"]`` -> ``{"fid": {"backend": "clean-fid"}, "prdc": {"k_pr": "5"}}``.

    Values stay text here; :func:`resolve_metric_options` checks names and converts types.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        metric, name, value = split_assignment(
            item, "--metric-option", "METRIC.KEY=VALUE", "fid.backend=clean-fid"
        )
        mine = out.setdefault(metric, {})
        if name in mine:  # as --set does: the last one silently won
            raise GenbenchError(
                f"--metric-option {metric}.{name}={mine[name]} and --metric-option {metric}.{name}={value} "
                f"set the same option of {metric!r}; give it once"
            )
        mine[name] = value
    return out


def resolve_metric_options(
    metric: str,
    declared: dict[str, Any],
    given: dict[str, str],
    words: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Check ``given`` against the metric's declared options ({key: default}); convert each value to
    the type of its default: a tuple or list as ``--set`` reads one (``1:2``), items of its
    default's items' type; a number when the default is None (``0500`` and ``500`` are one
    protocol), else text. One of an option's ``words`` (``Metric.option_words``) stays as it is."""
    out: dict[str, Any] = {}
    for key, text in given.items():
        if text in (words or {}).get(key, ()):
            out[key] = text
            continue
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=3)
            hint = (
                f"; did you mean {', '.join(close)}?"
                if close
                else f"; options: {', '.join(declared) or 'none'}"
            )
            raise GenbenchError(f"metric {metric!r} has no option {key!r}{hint}")
        default, where = declared[key], f"{metric}.{key}"
        if default is None:
            out[key] = number_or_text(text)
        elif isinstance(default, str):
            out[key] = text
        else:
            out[key] = coerce(text, option_type(default), where)
    return out


def option_type(default: Any) -> Any:
    """The type a metric option's value is read as, from its declared ``default``: the default's
    type; a tuple or list of one item type as ``tuple[int, ...]`` (``list[int]``), items of mixed
    types as a bare ``tuple`` (``list``: each a number, else text, as a bare tuple field's); None
    for a default of None (a number, else text). `genbench list metrics NAME` shows it."""
    if default is None:
        return None
    if isinstance(default, tuple | list):
        kinds = {type(v) for v in default}
        if len(kinds) != 1:
            return tuple if isinstance(default, tuple) else list
        inner = kinds.pop()
        # built at run time as the literal tuple[inner, ...] and list[inner] are (inner is no static type)
        return (
            types.GenericAlias(tuple, (inner, ...))
            if isinstance(default, tuple)
            else types.GenericAlias(list, inner)
        )
    return type(default)


def resolve_model_config(cls: type[GenerativeModel], dataset: str, overrides: dict[str, str]) -> Any:
    """Build ``cls.Config`` from defaults, the dataset's defaults and ``overrides`` (field -> text)."""
    Config = cls.Config
    fields = {f.name: f for f in dataclasses.fields(Config)} if dataclasses.is_dataclass(Config) else {}
    hints = typing.get_type_hints(Config) if fields else {}
    values: dict[str, Any] = dict(cls.dataset_defaults(dataset))
    name = getattr(cls, "registered_name", cls.__name__)
    for key, val in values.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"fields: {', '.join(fields) or 'none'}"
            raise GenbenchError(
                f"config for {name!r} on {dataset!r} sets unknown field {key!r}; {hint} "
                f"(fix the model's per-dataset defaults)"
            )
        values[key] = from_defaults(val, hints[key], f"{name}.{key} in its {dataset!r} config")
    for key, text in overrides.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3)
            hint = (
                f"; did you mean {', '.join(close)}?" if close else f"; fields: {', '.join(fields) or 'none'}"
            )
            if owned := owner_field(cls, key):  # ddim.train_steps: a field of the ddpm it samples
                raise owner_field_error(name, key, owned, text)
            # the fields' values, types and comments: `genbench list models NAME` (model_fields.py)
            shown = f" (`genbench list models {name}` shows each with its value)" if fields else ""
            raise GenbenchError(f"model {name!r} has no config field {key!r}{hint}{shown}")
        values[key] = coerce(text, hints[key], f"{name}.{key}")
    return Config(**values)


def owner_field_error(name: str, key: str, owned: str, text: str) -> GenbenchError:
    """The refusal of ``--set NAME.KEY=TEXT`` where ``key`` is a field of ``owned``, the model whose
    weights ``name`` samples (:func:`owner_field`): the fix sets it on ``owned``."""
    return GenbenchError(
        f"model {name!r} has no config field {key!r}: it trains nothing, it samples the "
        f"weights of {owned!r} (its weights_from), whose field it is; use --set {owned}.{key}={text}"
    )


def owner_field(cls: type, key: str) -> str | None:
    """The model whose trained weights ``cls`` samples (its ``weights_from``) when ``key`` is a field
    of that model's config and not of ``cls``'s, else None: ``--set ddim.train_steps=400`` was
    answered "did you mean steps?", DDIM's sampling steps, where the training steps are DDPM's."""
    source = getattr(cls, "weights_from", None)
    if not source:
        return None
    from genbench import registry  # imports no model until one is asked for

    try:
        owner = registry.models.canonical(str(source))
        owner_cls = registry.models.get(owner)
    except GenbenchError:  # a weights_from not installed or broken: the planner names it
        return None
    return owner if key in config_field_names(owner_cls) else None


def config_field_names(cls: type) -> list[str]:
    """The fields of a model class's ``Config``; none where it is no dataclass."""
    Config = getattr(cls, "Config", None)
    return [f.name for f in dataclasses.fields(Config)] if dataclasses.is_dataclass(Config) else []


def expand_variants(model: str, overrides: list[Override]) -> list[dict[str, str]]:
    """The override dicts for ``model``: one per point of the sweep grid (one when no sweep)."""
    mine = [o for o in overrides if o.model == model]
    if not mine:
        return [{}]
    grid = itertools.product(*[o.values for o in mine])
    return [{o.field: v for o, v in zip(mine, combo, strict=True)} for combo in grid]


def canonical_variant(cls: type[GenerativeModel], dataset: str, overrides: dict[str, str]) -> dict[str, str]:
    """The ``overrides`` that change ``cls``'s config on ``dataset``, each as canonical text.

    A variant is named by what it changes, not by how it was typed: ``--set ddim.steps=50`` (the
    default) is plain ``ddim``, and ``eta=1``, ``eta=1.0`` and ``eta=1e0`` are one ``eta=1``, so the
    same measurement never lands in two results (and two leaderboard rows). Fields are sorted, so
    the order of the ``--set`` flags does not matter either."""
    if not overrides:
        return {}
    default = resolve_model_config(cls, dataset, {})
    config = resolve_model_config(cls, dataset, overrides)
    hints = typing.get_type_hints(cls.Config)
    return {
        key: canonical_text(getattr(config, key), hints[key], key)
        for key in sorted(overrides)
        if not same_value(getattr(config, key), getattr(default, key), hints[key])
    }


def variant_label(overrides: dict[str, str]) -> str:
    """``steps=10,eta=0`` — the variant's name in results and leaderboards ('' for defaults)."""
    return ",".join(f"{k}={v}" for k, v in overrides.items())


def read_toml(path: Path) -> dict[str, Any]:
    """A per-dataset defaults file, parsed; one that is no TOML fails in one line naming it."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise GenbenchError(f"config file {path} is not valid TOML ({e}); fix the file") from e
    except UnicodeDecodeError as e:  # TOML is UTF-8: a comment's "é" saved as Latin-1 or cp1252
        # raised this, which a run recorded as the model's own bug, naming neither the file nor the fix
        raise GenbenchError(
            f"config file {path} is not valid TOML (not UTF-8 text: byte {e.start}); save it as UTF-8"
        ) from e
