"""Typed config values and their ``--set`` text: how a text value (``--set MODEL.FIELD=VALUE``, a
``--metric-option``, a value of a model's per-dataset TOML defaults) becomes a value of a dataclass
field's type, and how such a value is written back as text that reads back to it.

Kept apart from :mod:`genbench.model_config` and :mod:`genbench.metric_options`, which read model
configs and metric options with these rules: one reading of ``1e3``, ``1:2``, ``none`` or an Enum's
name for every place a value is typed, so that one setting is one variant, one label and one
checkpoint key wherever it was written.
"""

from __future__ import annotations

import contextlib
import decimal
import enum
import math
import types
import typing
from typing import Any

from genbench.errors import GenbenchError


def number_or_text(text: str) -> int | float | str:
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


def tuple_items(value: str, where: str) -> list[str]:
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


def unwrap_optional(typ: Any) -> Any:
    """``int`` for ``int | None`` (and ``Optional[int]``); any other type as it is."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        return next((a for a in typing.get_args(typ) if a is not type(None)), typ)
    return typ


def _bare_sequence(typ: Any) -> Any:
    """``tuple`` for a tuple type that names no item type (``tuple``, ``typing.Tuple``), as ``list``,
    ``set`` and ``frozenset`` for theirs; None for any other type (``tuple[int, ...]``)."""
    container = typing.get_origin(typ) or typ
    if container in (tuple, list, set, frozenset) and not typing.get_args(typ):
        return container
    return None


def coerce(value: str, typ: Any, where: str) -> Any:
    """``value`` (``--set`` text) as a value of ``typ``; a value or type it cannot take fails on one line."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    bare = _bare_sequence(typ)
    if bare is not None:
        # no item type to read its items by: numbers, else text, as a metric option's mixed tuple
        # reads them. ``tuple("3:4")`` made g=3:4 the characters ('3', ':', '4'), and their label
        # 3:::4 (g=1:2, the default, a variant of its own)
        items = [number_or_text(v) for v in tuple_items(value, where)]
        return items if bare is list else bare(items)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        members = _union_members(typ)
        if len(members) == 1:  # tuple[int, ...] | None: the tuple's rules
            return coerce(value, members[0], where)
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
            parts = tuple_items(value, where)
            form = ":".join(_type_name(a) for a in args)
            if len(parts) != len(args):
                raise GenbenchError(
                    f"bad value {value!r} for {where}; expected {len(args)} items like {form}, got {len(parts)}"
                )
            return tuple(_tuple_item(v, a, where, form) for v, a in zip(parts, args, strict=True))
        if origin in (tuple, list, set, frozenset):
            inner = args[0]  # a bare tuple or typing.Tuple was read above
            vals = [_tuple_item(v, inner, where, "1:2:2, or : for none") for v in tuple_items(value, where)]
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
            return int(value) if member is int else coerce(value, float, where)
        except (ValueError, GenbenchError):
            continue
    for member in [m for m in members if m not in numbers]:
        try:
            return coerce(value, member, where)
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
        return coerce(value, typ, where)
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
            converted = coerce(value, type(choice), where)
        except GenbenchError:
            continue
        if type(converted) is type(choice) and converted == choice:
            return choice
    shown = ", ".join(value_text(c) for c in choices)
    raise GenbenchError(f"bad value {value!r} for {where}; expected one of {shown}")


def from_defaults(value: Any, typ: Any, where: str) -> Any:
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
    for target in members:  # a bare tuple or list field's items are read below, as --set reads them
        plain = isinstance(target, type) and typing.get_origin(target) is None and not _bare_sequence(target)
        if plain and finite and isinstance(value, target) and (target is bool or not isinstance(value, bool)):
            return value + 0.0 if isinstance(value, float) else value  # -0.0 as --set reads it: 0.0
    expected = f"bad value {value!r} for {where}; expected {' | '.join(map(_type_name, members))}"
    bare = any(_bare_sequence(m) for m in members)
    sequence = bare or any(typing.get_origin(m) in (tuple, list, set, frozenset) for m in members)
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
        # a bare tuple's items are read as numbers, else text: ["1"] and [true] would be 1 and "true"
        if bare and any(number_or_text(t) != v for t, v in zip(items, value, strict=True)):
            raise GenbenchError(expected)
    return coerce(value_text(value), typ, where)


def same_value(a: Any, b: Any, typ: Any) -> bool:
    """``a == b`` for a field of type ``typ``, of one type too where ``typ`` holds both int and float:
    there 1 and 1.0 are two settings (a count and a fraction, as scikit-learn's ``max_samples``), and
    1.0 over a default of 1 was dropped as the default. Elsewhere ``scale: float = 1`` (a default
    the dataclass does not convert) is the 1.0 that ``--set scale=1`` reads."""
    members = _union_members(typ)
    return a == b and (type(a) is type(b) or not (int in members and float in members))


def canonical_text(value: Any, typ: Any, where: str) -> str:
    """``value`` as :func:`value_text` writes it, or as ``repr`` writes a float where its text would
    read back as another type: ``1`` for the float 1.0 of an ``int | float`` field reads as the int."""
    text = value_text(value)
    if isinstance(value, float) and type(coerce(text, typ, where)) is not float:
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
