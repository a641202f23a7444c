"""What a board's rows ran with where their brackets name no value. A row is named by what it changes
(``ddim[steps=100]``, :func:`genbench.overrides.canonical_variant`), so plain ``ddim`` beside it ran at
the config's own ``steps`` and ``eta``, which the board named nowhere: a reader of ``ddim-cond`` and
``ddim-cond[guidance=0]`` could not tell that the first is guided (0.1), nor ``ddim`` from
``ddim[steps=100]`` without the README. For each field that a bracket on the board names, the value
the model's other rows ran at is said above the tables (and in each LaTeX caption), from the
configs the results record.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from genbench.field_values import value_text
from genbench.text import md_code

#: what the line on the values of unnamed fields (:func:`default_values_line`) begins with
DEFAULTS_INTRO = (
    "Rows without brackets, and bracketed rows for the fields their brackets leave out, ran at their "
    "config's values"
)

_MISSING = object()


def default_values_line(frame: pd.DataFrame) -> str | None:
    """A sentence, in markdown, naming for each model with bracketed rows in ``frame`` (one board's
    runs, with ``model``, ``variant`` and ``model_config``) the value each field named in a bracket
    had where a bracket does not name it: "... ran at their config's values: `ddim` eta=0,
    steps=50.". Values the runs disagree on (seeds under two configs) or did not record are left
    out; None when nothing is left to say."""
    if "model_config" not in frame or frame.empty:
        return None
    said = []
    for model, runs in frame.groupby("model", sort=True):
        variants = [_fields(v) for v in runs["variant"]]
        named = sorted({k for fields in variants for k in fields})
        values = []
        for field in named:
            seen = {
                json.dumps(value, sort_keys=True)
                for fields, config in zip(variants, runs["model_config"], strict=True)
                if field not in fields and (value := _value(config, field)) is not _MISSING
            }
            if len(seen) == 1:
                values.append(f"{field}={value_text(json.loads(seen.pop()))}")
        if values:
            said.append(f"{md_code(model)} {', '.join(values)}")
    return f"{DEFAULTS_INTRO}: {'; '.join(said)}." if said else None


def _fields(variant: object) -> set[str]:
    """The fields a variant names (``"eta=1,steps=100"`` -> {eta, steps}); a value holds no comma."""
    return {part.split("=", 1)[0] for part in str(variant or "").split(",") if "=" in part}


def _value(config_json: object, field: str) -> Any:
    """``field``'s value in a run's recorded config (``model_config``'s JSON): its own field, or an
    ``owner.field`` of the model whose weights it samples (``ddpm.train_steps`` of a DDIM row)."""
    if not isinstance(config_json, str) or not config_json:
        return _MISSING
    config = json.loads(config_json).get("config") or {}
    owner, _, name = field.rpartition(".")
    if owner:
        source = config.get("weights_from") or {}
        if source.get("model") != owner:
            return _MISSING
        config = source.get("config") or {}
    return config.get(name, _MISSING)
