"""``--set MODEL.FIELD=VALUE``: the flags parsed into :class:`Override` values; a comma-separated
value swept, each value a variant of the model (:func:`expand_variants`; a tuple field's items are
joined by ':', :func:`check_sequence_sweeps`); and each variant named by what it changes
(:func:`canonical_variant`, :func:`variant_label`). Which model a field belongs to is
:mod:`genbench.override_fields`; the config a variant builds, :mod:`genbench.model_config`.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genbench.errors import GenbenchError
from genbench.field_values import canonical_text, same_value, unwrap_optional
from genbench.flag_values import split_assignment
from genbench.model_config import resolve_model_config

if TYPE_CHECKING:
    from genbench.api import GenerativeModel


@dataclass(frozen=True)
class Override:
    model: str
    field: str
    values: tuple[str, ...]
    text: str = ""  # the value as typed, before it was split into sweep values


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
