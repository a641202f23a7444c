"""Which model a ``--set`` field belongs to, where the model it names has no such field but another
model of the run has: ``--models ddpm,vae --set ddpm.latent_dim=8`` listed ddpm's 22 fields, not
that ``latent_dim`` is the VAE's (:func:`check_fields_of_other_models`). A ``weights_from`` model's
training field (``ddim.train_steps``) is refused naming its owner's with the value as typed, a sweep
whole (:func:`owner_field_error`, which the Python API's configs get too).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING

from genbench.errors import GenbenchError

if TYPE_CHECKING:  # genbench.overrides imports this module (through genbench.model_config)
    from genbench.overrides import Override


def check_fields_of_other_models(classes: dict[str, type], overrides: list[Override]) -> None:
    """Refuse, in one line naming the model to set it on, a ``--set`` field (canonical
    ``overrides``) that its model lacks and another model of ``classes`` (the run's, by registered
    name) has; a close name of its own model's fields is still offered."""
    for o in overrides:
        cls = classes.get(o.model)
        if cls is None or not (own := config_field_names(cls)) or o.field in own:
            continue
        if owned := owner_field(cls, o.field):  # ddim.train_steps: ddpm's, named with the sweep as typed
            # (resolve_model_config, given one sweep point at a time, named its first value alone)
            raise owner_field_error(o.model, o.field, owned, o.text)
        others = [n for n, c in classes.items() if n != o.model and o.field in config_field_names(c)]
        if not others:
            continue  # resolve_model_config's "did you mean" or its list of fields
        close = difflib.get_close_matches(o.field, own, n=3)
        also = f"; or did you mean {', '.join(f'{o.model}.{c}' for c in close)}?" if close else ""
        raise GenbenchError(
            f"model {o.model!r} has no config field {o.field!r}: it is a field of "
            f"{' and '.join(repr(n) for n in others)}; use --set {others[0]}.{o.field}={o.text}{also}"
        )


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
