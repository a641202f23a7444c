"""The weights owner of a model that samples another model's trained weights (its ``weights_from``:
ddim samples ddpm's): :class:`Owner`, found and checked for a run by :func:`weights_owners`, one per
point of the sweep of the owner's ``--set`` fields that change those weights
(:func:`weights_fields`: they name the dependent's row and key the checkpoint it shares), and the
refusal of its other fields where the owner is not itself in ``--models``
(:func:`check_owner_fields_used`): they would change nothing anywhere.
:mod:`genbench.model_plan` calls them while it plans each model.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from genbench import registry
from genbench.api import DataSpec, GenerativeModel
from genbench.config import RunConfig
from genbench.errors import GenbenchError, PluginLoadError, RegistrationError, UnknownNameError, attempt
from genbench.field_values import same_value
from genbench.isolation import global_rng_kept, torch_state_kept
from genbench.model_config import resolve_model_config
from genbench.overrides import Override, check_sequence_sweeps, expand_variants


@dataclass(frozen=True)
class Owner:
    """The model whose trained weights a ``weights_from`` model reuses, with its ``--set`` fields
    that change those weights; ``ignored``: its other ``--set`` fields (how it samples, or a field
    its training does not use on this data), which reach its own rows only."""

    name: str
    cls: type[GenerativeModel]
    overrides: dict[str, str]
    ignored: tuple[str, ...] = ()

    def config(self, dataset: str) -> Any:
        """The owner's config on ``dataset`` as a weights owner: its defaults and ``overrides``,
        through its :meth:`~genbench.api.GenerativeModel.weights_owner_config` (it is never sampled)."""
        return self.cls.weights_owner_config(resolve_model_config(self.cls, dataset, self.overrides))


class OwnerFailed(Exception):
    """What a weights owner's own code raised (its ``dataset_defaults``, ``weights_owner_config``,
    ``__init__``, ``train_config`` or ``fit``), or its training's divergence, while a row of a
    ``weights_from`` model resolved its config or trained or loaded the weights that it samples: the row names the owner, whose code it was (a ddpm bug in a ddim
    row said "model 'ddim' raised RuntimeError", and ddim's code never ran)."""

    def __init__(self, owner: str, error: BaseException):
        super().__init__(owner, error)
        self.owner, self.error = owner, error


@contextlib.contextmanager
def owners_code(owner: str) -> Iterator[None]:
    """Raise what weights owner ``owner``'s own code raises in the block as :class:`OwnerFailed`: the
    user's input (a checkpoint of other data, a full disk, a GenbenchError) and Ctrl-C as they are."""
    try:
        yield
    except (GenbenchError, KeyboardInterrupt):
        raise
    except BaseException as e:  # the owner's own code, or its training diverging: not the sampler's
        raise OwnerFailed(owner, e) from e


def weights_from_refusal(name: str, cls: type[GenerativeModel]) -> str | None:
    """Why model ``name`` (of class ``cls``) cannot sample the weights its ``weights_from`` names, or
    None: a model that is not installed (a typo too: "did you mean"), the model itself, or one that
    trains no weights of its own, as it samples another's (ddim's are ddpm's). The harness would
    otherwise build ``cls`` as its own owner, never calling ``from_trained``, and fail in the plugin's
    own code (an ``AttributeError`` for the owner it never set)."""
    said = f"model {name!r} samples the weights of {cls.weights_from!r} (its weights_from)"
    try:
        owner = registry.models.canonical(str(cls.weights_from))
    except UnknownNameError:
        hint = registry.models.did_you_mean(str(cls.weights_from))  # "; did you mean 'ddpm'?"
        fix = "fix its weights_from, or install" if hint else "install"
        return f"{said}, which is not installed{hint or ';'} {fix} the plugin that provides it"
    if owner == registry.models.canonical(name):
        return f"{said}, itself; set weights_from to the model whose trained weights it samples, or None"
    try:
        owner_from = registry.models.get(owner).weights_from
    except PluginLoadError:
        return None  # its import error is the row's error (the run's failed owner)
    if owner_from:
        return (
            f"{said}, which trains none of its own: it samples the weights of {owner_from!r}; "
            f"set weights_from = {owner_from!r}"
        )
    return None


def weights_owners(cls: type[GenerativeModel], overrides: list[Override], spec: DataSpec) -> list[Owner]:
    """``cls``'s weights owners (none when it trains its own) on the data of ``spec``: one per point
    of the grid of the owner's ``--set`` fields that change its trained weights (``--set
    ddpm.train_steps=200,400`` gives two, each a checkpoint that a row of ``cls`` samples, as a
    diffusers user swaps schedulers over each checkpoint); ``overrides`` are canonical, the owners'
    values as typed (the planner makes them canonical)."""
    if not cls.weights_from:
        return []
    name = registry.models.canonical(cls.weights_from)
    mine = [o for o in overrides if o.model == name]
    owner_cls = registry.models.get(name)
    if owner_cls.conditional != cls.conditional:
        # it samples the owner's network: labels handed to one trained without them, or none to one
        # trained with them, which the model's own code may not notice
        which = (
            ("a class-conditional", "an unconditional")
            if cls.conditional
            else ("an unconditional", "a class-conditional")
        )
        raise RegistrationError(
            f"model {cls.registered_name or cls.__name__!r} is {which[0]} model but samples the weights of "
            f"{name!r} (its weights_from), {which[1]} one; set its conditional to {owner_cls.conditional} "
            "or take the weights of a model that conditions as it does"
        )
    owner_cls.check_spec(spec)
    # its tuple fields as plan_model checks the owner's own (--models ddim alone plans no ddpm):
    # ddpm.ch_mult=1,2 is no sweep of one-level U-Nets to run one at a time, but (1, 2) mistyped
    check_sequence_sweeps(owner_cls, mine)
    weights = weights_fields(owner_cls, spec, mine)
    ignored = tuple(o.field for o in mine if o.field not in weights)
    grid = expand_variants(name, [o for o in mine if o.field in weights])
    return [Owner(name, owner_cls, point, ignored) for point in grid]


def weights_fields(cls: type[GenerativeModel], spec: DataSpec, overrides: list[Override]) -> set[str]:
    """The fields of ``overrides`` (``cls``'s own, one sweep value of a field at a time) that change
    the weights ``cls`` trains on the data of ``spec``: those that change its ``train_config``, which
    keys its checkpoint. A model that samples ``cls``'s weights (``weights_from``) sees nothing else
    of ``cls``'s config: ``--models ddim --set ddpm.variance=beta`` (how ddpm samples) or
    ``ddpm.ch=64`` on ring8 (the U-Net's, where the MLP trains) sampled the very weights of plain
    ``ddim`` under a row that named the field. Only when ``overrides`` has any, builds one ``cls``
    per config compared (each field at its values and at the default, the others at their first
    value, or at their defaults where that one does not build) and reads its ``train_config``, as
    the runner keys the checkpoint: one model whose ``config`` was swapped under it gave the same
    ``train_config`` for every value of a plugin that read its config in ``__init__`` (a dict of
    hyperparameters kept there), and its every training field was refused as changing nothing.

    A value whose model the plugin's own code fails to build (a ``check_config`` refusing it with a
    ValueError) is left out of the comparison: it fails its own rows (:mod:`genbench.model_plan`),
    and failed every value's. A field none of whose values compares counts as changing the weights:
    its rows, named by it, fail."""
    if not overrides:
        return set()
    first = {o.field: o.values[0] for o in overrides}
    keys: dict[str, Any] = {}

    def key(given: dict[str, str]) -> Any:
        # built as the weights owner it is here (ddpm-cond with p_uncond=0 refused its own default
        # guidance, which the dependent never uses)
        config = attempt(lambda: cls.weights_owner_config(resolve_model_config(cls, spec.name, given)))
        if isinstance(config, BaseException):
            return UNBUILT
        if (seen := repr(config)) not in keys:
            # its __init__ checks the config, so a bad value fails as it would in training; what it
            # changes of torch's global generators and settings is put back (the runner builds it
            # again, and warns then)
            with global_rng_kept(), torch_state_kept(f"model {cls.registered_name!r}", lambda _: None):
                built = attempt(lambda: cls(spec, config).train_config())
            keys[seen] = UNBUILT if isinstance(built, BaseException) else built
        return keys[seen]

    default = attempt(partial(resolve_model_config, cls, spec.name, {}))
    if isinstance(default, BaseException):  # its defaults do not resolve (dataset_defaults raised)
        return {o.field for o in overrides}  # nothing compares: every row, named by them, fails
    hints = typing.get_type_hints(cls.Config)
    out = set()
    for o in overrides:
        resolved = [attempt(partial(resolve_model_config, cls, spec.name, {o.field: v})) for v in o.values]
        changed = [
            v
            for v, c in zip(o.values, resolved, strict=True)
            if isinstance(c, BaseException)
            or not same_value(getattr(c, o.field), getattr(default, o.field), hints[o.field])
        ]
        if not changed:  # a value at the default names no variant (canonical_variant): no mistake
            out.add(o.field)
            continue
        rest = {f: v for f, v in first.items() if f != o.field}
        if (base := key(rest)) is UNBUILT:  # another field's first value is one the plugin refuses
            rest, base = {}, key({})
        # a value at the default says nothing: it keys the checkpoint as ``rest`` does
        compared = [k for v in changed if (k := key({**rest, o.field: v})) is not UNBUILT]
        # none compared (every other value refused, or its defaults): its rows, named by it, fail
        if base is UNBUILT or not compared or any(k != base for k in compared):
            out.add(o.field)
    return out


#: the ``train_config`` of a model that its plugin's own code failed to build (:func:`weights_fields`)
UNBUILT = object()


def check_owner_fields_used(
    config: RunConfig, owners: list[tuple[str, Owner | None]], given: list[Override], dataset: str
) -> None:
    """Refuse a ``--set`` field of a weights owner that is not in ``--models`` and does not change the
    weights its dependents sample (:attr:`Owner.ignored`): it changed nothing anywhere, yet named
    the dependent's row (``ddim[ddpm.variance=beta]``, plain ddim's very samples). With the owner in
    --models it is the owner's own variant, and the dependent's row is its plain one. ``owners``:
    the model and weights owner of each row planned, and of each row failed at planning: else the
    field passed where a plugin's bug failed every row (the rows recorded as failed), and was
    refused where one row planned."""
    requested = {registry.models.canonical(n) for n in config.models}
    typed = {(registry.models.canonical(o.model), o.field): o for o in given}
    for name, owner in owners:
        if owner is None or owner.name in requested or not owner.ignored:
            continue
        o = typed[owner.name, owner.ignored[0]]
        raise GenbenchError(
            f"--set {o.model}.{o.field}={o.text} does not change the {owner.name} weights that {name} samples "
            f"on {dataset} (it is no part of {owner.name}'s training config there): {name}'s row would name a "
            f"change it does not make; drop it, or add {owner.name} to --models to run {owner.name} with it"
        )
