"""Run configuration: plain dataclasses whose fields map one to one onto CLI flags.

Model configs are the models' own dataclasses. Their values come, in order, from the dataclass
defaults, the model's per-dataset defaults (``baselines/configs/<dataset>/<model>.toml`` for the
reference models), and ``--set MODEL.FIELD=VALUE`` overrides. A comma-separated value
(``--set ddim.steps=10,20,50,100``) sweeps: each value becomes its own variant of the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import decimal
import difflib
import enum
import itertools
import math
import numbers
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from genbench.errors import GenbenchError
from genbench.workdir import absolute

#: the models and controls `genbench run` evaluates when given no --models
DEFAULT_MODELS = ("vae", "gan-ns", "gan-sat", "ddpm", "ddim", "copy", "collapse", "gaussian")
DEFAULT_DATASET = "digits"
#: a dataset's splits (here, not in genbench.data, so that the config needs no torch)
Split = Literal["train", "test"]


@dataclass
class RunConfig:
    """Everything `genbench run` needs; each field is one CLI flag. A path field takes a str or a Path
    (``~`` is expanded)."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))  # --models
    dataset: str = DEFAULT_DATASET  # --dataset
    seeds: list[int] = field(default_factory=lambda: [0])  # --seeds
    samples: int | None = None  # --samples: samples per model; None = size of the train split
    metrics: list[str] | None = None  # --metrics: None = every metric that applies
    features: str | None = None  # --features: None = the dataset's default extractor
    reference_split: Split = "train"  # --reference-split: split the samples are compared to
    reference_stats: Path | str | None = None  # --reference-stats: .npz with mu, sigma (FID only)
    out: Path | str = Path("runs")  # --out: result JSONs and figures
    data_dir: Path | str | None = None  # --data-dir: downloaded datasets (default $GENBENCH_DATA)
    cache_dir: Path | str | None = None  # --cache-dir: checkpoints, classifiers, statistics
    device: str = "auto"  # --device: auto | cpu | cuda | cuda:N
    batch_size: int = 500  # --batch-size: sampling and feature batch size
    retrain: bool = False  # --retrain: ignore cached checkpoints
    checkpoint_every: int = 500  # --checkpoint-every: training steps between resumable checkpoints
    overrides: list[str] = field(default_factory=list)  # --set MODEL.FIELD=VALUE
    metric_options: list[str] = field(default_factory=list)  # --metric-option METRIC.KEY=VALUE
    # --inception-weights: None = each extractor's own variable ($GENBENCH_INCEPTION_WEIGHTS for
    # inception, $GENBENCH_CLEAN_INCEPTION_WEIGHTS for clean-inception), else its download
    inception_weights: Path | str | None = None
    amp: bool = False  # --amp: mixed precision training on CUDA
    # --deterministic/--no-deterministic: train on CUDA with torch's deterministic algorithms, so that
    # the same command trains the same weights (slower; the CPU's training is deterministic anyway)
    deterministic: bool = True
    figures: bool = True  # --figures/--no-figures
    progress: bool = True  # --progress/--no-progress

    def reference_stats_text(self) -> str | None:
        """``reference_stats`` as results record it in their protocol: its file's name and content hash
        (:func:`genbench.features.reference.stats_identity`)."""
        if self.reference_stats is None:
            return None
        from genbench.features.reference import stats_identity

        return stats_identity(Path(self.reference_stats))


#: the RunConfig fields that `genbench eval` (:func:`genbench.evaluate`) reads; the others (models,
#: samples, --set overrides, training's) only `genbench run` reads
EVAL_FIELDS = frozenset(
    {
        "dataset", "seeds", "metrics", "metric_options", "features", "reference_split",
        "reference_stats", "out", "data_dir", "cache_dir", "device", "batch_size",
        "inception_weights", "figures", "progress",
    }
)  # fmt: skip
#: the RunConfig fields that `genbench stats` (:func:`genbench.stats`) reads
STATS_FIELDS = frozenset(
    {
        "dataset", "features", "reference_split", "data_dir", "cache_dir", "device", "batch_size",
        "inception_weights", "progress",
    }
)  # fmt: skip


#: RunConfig's path fields: made absolute when a command starts (:func:`absolute_paths`)
PATH_FIELDS = ("out", "data_dir", "cache_dir", "reference_stats", "inception_weights")


def absolute_paths(config: RunConfig) -> RunConfig:
    """``config`` with ``~`` expanded in its paths (a shell leaves ``--out=~/x`` as typed, and it made
    ./~/x) and each made absolute against the working directory now, once, before any plugin runs.
    A model's ``fit`` that did ``os.chdir`` (research code moving to its folder) and then saved its
    resumable state through the TrainContext wrote it under its new directory, as the harness's
    ``model.pt`` after it (the directory is restored only once training returns), and the result
    recorded a checkpoint path that named nothing: the next run trained again. A value that is no
    path is left for :func:`genbench.resolve.check_config_types` to refuse; an empty one is refused
    by the caller (``Path("")`` is the working directory)."""
    changed = {}
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
    :func:`genbench.resolve.check_config_types`, with the other RunConfig fields)."""
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
        isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s <= MAX_SEED for s in seeds
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


def check_sequence_sweeps(cls: type, overrides: list[Override]) -> None:
    """Refuse a comma-separated value for a tuple field unless ':' shows which items belong together:
    commas sweep, so ``ddpm.ch_mult=1,2,2`` silently trained one single-level U-Net per item."""
    Config = cls.Config
    if not dataclasses.is_dataclass(Config):
        return
    hints = typing.get_type_hints(Config)
    for o in overrides:
        sequence = typing.get_origin(_unwrap_optional(hints.get(o.field))) in (tuple, list)
        if sequence and len(o.values) > 1 and not any(":" in v for v in o.values):
            # [1,2] and (1,2) as Python and TOML write them: the fixes leave out the brackets, which
            # --set reads as part of the items ("bad value '[1'")
            typed = [i for i in (v.strip("[]() ") for v in o.text.split(",")) if i]  # 1,2,2: three items
            items = [i for i in (v.strip("[]() ") for v in o.values) if i]
            raise GenbenchError(
                f"--set {o.model}.{o.field}={o.text} would sweep {len(o.values)} one-item values of a tuple "
                f"field; separate its items with ':' ({o.model}.{o.field}={':'.join(typed)}), "
                f"or write each one-item value with a trailing ':' to sweep them "
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


def resolve_metric_options(metric: str, declared: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Check ``given`` against the metric's declared options ({key: default}); convert each value to
    the type of its default: a tuple or list as ``--set`` reads one (``1:2``), items of its
    default's items' type; a number when the default is None (``0500`` and ``500`` are one
    protocol), else text."""
    out: dict[str, Any] = {}
    for key, text in given.items():
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
            out[key] = _number_or_text(text)
        elif isinstance(default, str):
            out[key] = text
        elif isinstance(default, tuple | list):
            kinds = {type(v) for v in default}
            if len(kinds) == 1:
                inner = kinds.pop()
                out[key] = _coerce(
                    text, tuple[inner, ...] if isinstance(default, tuple) else list[inner], where
                )
            else:  # no one type to read the items as: numbers, else text
                items = [_number_or_text(v) for v in _items(text, where)]
                out[key] = tuple(items) if isinstance(default, tuple) else items
        else:
            out[key] = _coerce(text, type(default), where)
    return out


def _number_or_text(text: str) -> int | float | str:
    """``text`` as an int (``0500`` -> 500, ``5e2`` -> 500) or finite float when it is a number, else as it is."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() else number


def _items(value: str, where: str) -> list[str]:
    """A tuple value's colon-separated items; ``""`` and ``":"`` are the empty tuple, and one trailing
    ``:`` marks a one-item value (``1:``). An empty item anywhere else is refused, as one in a
    comma-separated sweep is: ``1::2`` read as ``1:2``, digits' default U-Net, so the run's row
    claimed no change at all."""
    if value in ("", ":"):
        return []
    items = value.removesuffix(":").split(":")
    if "" in items:
        raise GenbenchError(
            f"malformed tuple {value!r} for {where} (an empty item); write its items as 1:2:2, or : for none"
        )
    return items


def _union_members(typ: Any) -> list[Any]:
    """``[int, str]`` for ``int | str | None``; ``[typ]`` for a type that is no union."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(typ) if a is not type(None)]
    return [typ]


def _unwrap_optional(typ: Any) -> Any:
    """``int`` for ``int | None`` (and ``Optional[int]``); any other type as it is."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        return next((a for a in typing.get_args(typ) if a is not type(None)), typ)
    return typ


def _coerce(value: str, typ: Any, where: str) -> Any:
    """``value`` (``--set`` text) as a value of ``typ``; a value or type it cannot take fails on one line."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        members = _union_members(typ)
        if len(members) == 1:  # tuple[int, ...] | None: the tuple's rules
            return _coerce(value, members[0], where)
        return _coerce_union(value, members, where)
    if origin is typing.Literal:
        return _coerce_literal(value, args, where)
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return _coerce_enum(value, typ, where)
    try:
        if typ is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if typ is float:  # nan and inf pass every range check (nan < 0 is False): refused here
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            # -0.0 == 0.0, but it was labelled "-0" and hashed as "-0.0": one value, two variants and
            # two checkpoint keys; + 0.0 makes it 0.0 and leaves every other float as it is
            return number + 0.0
        if typ is int:
            return _integer(value)
        if typ is str:
            return value
        if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, float]: one item per type
            items = _items(value, where)
            form = ":".join(_type_name(a) for a in args)
            if len(items) != len(args):
                raise GenbenchError(
                    f"bad value {value!r} for {where}; expected {len(args)} items like {form}, got {len(items)}"
                )
            return tuple(_tuple_item(v, a, where, form) for v, a in zip(items, args, strict=True))
        if origin in (tuple, list, set, frozenset):
            inner = args[0] if args else str
            vals = [_tuple_item(v, inner, where, "1:2:2, or : for none") for v in _items(value, where)]
            return vals if origin is list else origin(vals)
    except ValueError:
        expected = "a finite float" if typ is float else getattr(typ, "__name__", typ)
        raise GenbenchError(f"bad value {value!r} for {where}; expected {expected}") from None
    if typ in (Any, object):  # a field that takes anything takes the text
        return value
    if isinstance(typ, type) and origin is None:  # Path, and any class built from its text
        try:
            return typ(value)
        except ValueError:
            raise GenbenchError(f"bad value {value!r} for {where}; expected {typ.__name__}") from None
        except Exception:
            pass
    raise GenbenchError(f"cannot set {where} of type {_type_name(typ)} with --set")


def _coerce_union(value: str, members: list[Any], where: str) -> Any:
    """``value`` as one of a union's ``members``, its type read from how it is written, as a TOML
    config's value is: an integer (``1``, ``0500``) is an int, a decimal (``1.0``, ``1e3``) a float,
    where the union has that type. Else the first member that reads it (``auto`` for ``int | str``),
    and only then a whole decimal as an int (``1e3`` for ``int | Literal["auto"]``). ``1.0`` for an
    ``int | float`` field was the int 1 (a checkpoint key of its own) though ``x = 1.0`` in a TOML
    is the float, and ``1e3`` for an ``int | str`` field was 1000 though ``x = "1e3"`` is the text."""
    numbers = [m for m in (int, float) if m in members]
    for member in numbers:
        try:
            return int(value) if member is int else _coerce(value, float, where)
        except (ValueError, GenbenchError):
            continue
    for member in [m for m in members if m not in numbers]:
        try:
            return _coerce(value, member, where)
        except GenbenchError:
            continue
    if int in members:
        with contextlib.suppress(ValueError):
            return _integer(value)
    shown = " | ".join(_type_name(m) for m in members)
    raise GenbenchError(f"bad value {value!r} for {where}; expected {shown}")


def _integer(value: str) -> int:
    """``value`` as an int: ``0500``, and a whole number written as a decimal (``1e3``, ``1000.0``),
    as a TOML config's ``train_steps = 1e3`` (a float) reads; ``1.5`` raises ValueError. Read
    exactly (``Decimal``), so a large one is not rounded to a float's 53 bits."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = decimal.Decimal(value)
    except decimal.InvalidOperation:
        raise ValueError(value) from None
    # within a float's range: int() of 1e999999999 would build a billion-digit number
    if not number.is_finite() or number.adjusted() > 308 or number != number.to_integral_value():
        raise ValueError(value)
    return int(number)


def _tuple_item(value: str, typ: Any, where: str, form: str) -> Any:
    """One item of a tuple value; one it cannot take names the tuple's form too (``[1:2]``,
    ``1;2`` and ``none`` were "expected int", which says nothing of colons)."""
    try:
        return _coerce(value, typ, where)
    except GenbenchError as e:
        if not str(e).startswith("bad value"):  # a type --set cannot make: no form would help
            raise
        raise GenbenchError(f"{e}; write its items as {form}") from None


def _type_name(typ: Any) -> str:
    if isinstance(typ, type) and typing.get_origin(typ) is None:
        return typ.__name__ if typ.__module__ == "builtins" else f"{typ.__module__}.{typ.__qualname__}"
    return str(typ).replace("typing.", "")


def _coerce_enum(value: str, typ: type[enum.Enum], where: str) -> enum.Enum:
    """An Enum member by its name (what :func:`value_text` writes), else by its value."""
    if value in typ.__members__:
        return typ.__members__[value]
    for member in typ:
        if value in (str(member.value), value_text(member.value)):
            return member
    choices = ", ".join(typ.__members__)
    raise GenbenchError(f"bad value {value!r} for {where}; expected one of {choices}")


def _coerce_literal(value: str, choices: tuple[Any, ...], where: str) -> Any:
    """The ``Literal`` choice ``value`` names, its text read as each choice's type (``2`` for ``Literal[1, 2]``)."""
    for choice in choices:
        try:
            converted = _coerce(value, type(choice), where)
        except GenbenchError:
            continue
        if type(converted) is type(choice) and converted == choice:
            return choice
    shown = ", ".join(value_text(c) for c in choices)
    raise GenbenchError(f"bad value {value!r} for {where}; expected one of {shown}")


def resolve_model_config(cls: type, dataset: str, overrides: dict[str, str]) -> Any:
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
        values[key] = _from_defaults(val, hints[key], f"{name}.{key} in its {dataset!r} config")
    for key, text in overrides.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3)
            hint = (
                f"; did you mean {', '.join(close)}?" if close else f"; fields: {', '.join(fields) or 'none'}"
            )
            raise GenbenchError(f"model {name!r} has no config field {key!r}{hint}")
        values[key] = _coerce(text, hints[key], f"{name}.{key}")
    return Config(**values)


def _from_defaults(value: Any, typ: Any, where: str) -> Any:
    """A ``dataset_defaults`` value (parsed TOML: text, numbers, booleans, lists) as a value of the
    field's type ``typ``, read as ``--set`` reads its text: ``"beta"`` for an Enum field is its member,
    ``[1, 2]`` for a tuple field is ``(1, 2)``, ``1`` for a float field is ``1.0``, ``1e3`` for an
    int field is ``1000`` (as ``--set`` reads ``1e3``), and ``1.5`` for an int field, or ``nan`` for a
    float field, fails on one line. A value already of the field's type (of one of a union's types)
    stays as it is, so the baselines' TOML values (all plain) keep their configs and checkpoint keys;
    a list sets a tuple field only."""
    members = _union_members(typ)  # "auto" for an int | str field is a value of its own
    if value is None or any(m in (Any, object) for m in members):
        return value
    # nan and inf as --set refuses them: a TOML's ``lr = nan`` passed every range check and trained
    finite = not isinstance(value, float) or math.isfinite(value)
    for target in members:
        plain = isinstance(target, type) and typing.get_origin(target) is None
        if plain and finite and isinstance(value, target) and (target is bool or not isinstance(value, bool)):
            return value + 0.0 if isinstance(value, float) else value  # -0.0 as --set reads it: 0.0
    expected = f"bad value {value!r} for {where}; expected {' | '.join(map(_type_name, members))}"
    sequence = any(typing.get_origin(m) in (tuple, list, set, frozenset) for m in members)
    containers = (list, tuple, set, frozenset, dict)
    if isinstance(value, dict) or (isinstance(value, containers) and not sequence):
        # value_text made ["cosine"] (a Python tuple too) the text "cosine" (and a table its repr): a
        # list sets a tuple field only
        raise GenbenchError(expected)
    if isinstance(value, containers):
        # value_text wrote [[1, 2]] as 1:2 and ["a:b"] as a:b, two items where one was given: no
        # value --set can write either
        items = [value_text(v) for v in value]
        if any(isinstance(v, containers) for v in value) or any(":" in v for v in items):
            raise GenbenchError(expected)
    return _coerce(value_text(value), typ, where)


def expand_variants(model: str, overrides: list[Override]) -> list[dict[str, str]]:
    """The override dicts for ``model``: one per point of the sweep grid (one when no sweep)."""
    mine = [o for o in overrides if o.model == model]
    if not mine:
        return [{}]
    grid = itertools.product(*[o.values for o in mine])
    return [{o.field: v for o, v in zip(mine, combo, strict=True)} for combo in grid]


def canonical_variant(cls: type, dataset: str, overrides: dict[str, str]) -> dict[str, str]:
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
        key: _canonical_text(getattr(config, key), hints[key], key)
        for key in sorted(overrides)
        if not same_value(getattr(config, key), getattr(default, key), hints[key])
    }


def same_value(a: Any, b: Any, typ: Any) -> bool:
    """``a == b`` for a field of type ``typ``, of one type too where ``typ`` holds both int and float:
    there 1 and 1.0 are two settings (a count and a fraction, as scikit-learn's ``max_samples``), and
    1.0 over a default of 1 was dropped as the default. Elsewhere ``scale: float = 1`` (a default
    the dataclass does not convert) is the 1.0 that ``--set scale=1`` reads."""
    members = _union_members(typ)
    return a == b and (type(a) is type(b) or not (int in members and float in members))


def _canonical_text(value: Any, typ: Any, where: str) -> str:
    """``value`` as :func:`value_text` writes it, or as ``repr`` writes a float where its text would
    read back as another type: ``1`` for the float 1.0 of an ``int | float`` field reads as the int."""
    text = value_text(value)
    if isinstance(value, float) and type(_coerce(text, typ, where)) is not float:
        return repr(value)
    return text


def value_text(value: Any) -> str:
    """A config value as ``--set`` text that reads back to it: ``1.0`` -> ``1``, ``(1, 2)`` -> ``1:2``,
    ``()`` -> ``:``."""
    if isinstance(value, enum.Enum):  # by name, which --set reads first
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text.removesuffix(".0")
    if isinstance(value, tuple | list):  # an empty one is ":" (an empty value is no --set)
        return ":".join(value_text(v) for v in value) or ":"
    if isinstance(value, set | frozenset):  # in a fixed order, so one set is one label
        return ":".join(sorted(value_text(v) for v in value)) or ":"
    if value is None:
        return "none"
    return str(value)


def variant_label(overrides: dict[str, str]) -> str:
    """``steps=10,eta=0`` — the variant's name in results and leaderboards ('' for defaults)."""
    return ",".join(f"{k}={v}" for k, v in overrides.items())


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise GenbenchError(f"config file {path} is not valid TOML ({e}); fix the file") from e
