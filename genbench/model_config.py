"""A model's config (its ``Config`` dataclass) as a run builds it: from the dataclass defaults, the
model's per-dataset defaults (``baselines/configs/<dataset>/<model>.toml`` for the reference models,
read by :func:`read_toml`) and ``--set MODEL.FIELD=VALUE`` overrides, in that order
(:func:`resolve_model_config`), each value read as its field's type by :mod:`genbench.field_values`.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench.errors import GenbenchError
from genbench.field_values import coerce, from_defaults
from genbench.override_fields import owner_field, owner_field_error

if TYPE_CHECKING:
    from genbench.api import GenerativeModel


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
