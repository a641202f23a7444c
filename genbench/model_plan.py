"""One model's rows in the plan of a `genbench run` (:func:`plan_model`): its variants resolved and
checked (``check_config``), once per weights owner (ddim once per ddpm checkpoint swept), and the
rows a broken plugin fails (:class:`Failed`), named as the user asked for them (:func:`asked_rows`).
:mod:`genbench.planning` calls it for every model of the run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from genbench import registry
from genbench.api import DataSpec, GenerativeModel
from genbench.errors import GenbenchError, PluginLoadError, RegistrationError, attempt, said
from genbench.model_config import resolve_model_config
from genbench.overrides import (
    Override,
    canonical_variant,
    check_sequence_sweeps,
    expand_variants,
    variant_label,
)
from genbench.weights_owner import Owner, weights_owners


@dataclass(frozen=True)
class Failed:
    """A row of the run that failed before any work: its model plugin did not import, its weights
    owner is missing or does not fit, or its config cannot be built or checked (the plugin's own
    bug: a ``Config`` field with no default, a ``check_config`` raising ``ValueError``, not a
    GenbenchError). The runner records it as it records a failure at run time, under its row: a
    failure of ``--set m.k=-1`` filed under plain ``m`` sat beside, or stood in for, the plain
    model's result."""

    model: str
    variant: str  # the row's label (:func:`row_label`): '' for the plain model
    error: str
    cls: type[GenerativeModel] | None = None  # None: it did not import
    #: the weights owner the row samples, where it was found: its --set fields that change nothing
    #: the row samples are refused where every row failed at planning too (:mod:`genbench.planning`)
    owner: Owner | None = None


def row_label(overrides: dict[str, str], owner: Owner | None) -> str:
    """A result's variant: its ``--set`` values, then its weights owner's (``steps=10,ddpm.lr=1e-3``)."""
    label = variant_label(overrides)
    if owner is not None:  # the weights come from another model: its overrides name this row too
        owned = variant_label({f"{owner.name}.{k}": v for k, v in owner.overrides.items()})
        label = ",".join(x for x in (label, owned) if x)
    return label


def plan_model(
    name: str, cls: type[GenerativeModel], spec: DataSpec, overrides: list[Override]
) -> tuple[list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]], list[Failed]]:
    """Check that ``cls`` handles the dataset of ``spec``; resolve and check (``check_config``) every
    variant's config and its weights owner's now, so that a bad --set value fails before any training.

    Returns the model with the variants that passed, once per weights owner (ddim once per ddpm
    checkpoint swept; owner None when it trains its own), and the rows that failed.
    A GenbenchError is the user's input (a --set value its ``Config`` or ``check_config`` refuses, a
    dataset it cannot handle): it is raised and fails the run now. Any other exception is the
    plugin's own bug, whether its config was being built or checked (:func:`checked_variants`): it
    fails the variant it was raised for, and the other variants and models run; raised for one
    weights owner's value (:func:`checked_owners`), it fails the rows of that value; raised before
    the variants are known (``check_spec``, its weights owners), it fails every row asked for."""
    who, doing = name, "resolving its config"  # whose code raised, doing what: the error names both
    try:
        cls.check_spec(spec)
        check_sequence_sweeps(cls, [o for o in overrides if o.model == name])
        if cls.weights_from:  # the owner's code from here: its check_spec, its config's defaults
            who, doing = registry.models.canonical(cls.weights_from), f"{doing} as {name}'s weights owner"
        owners = weights_owners(cls, overrides, spec)
    except (PluginLoadError, RegistrationError) as e:  # its weights owner failed to import, or does not fit
        return [], [Failed(name, label, str(e), cls) for label in asked_rows(name, overrides)]
    except (GenbenchError, KeyboardInterrupt):
        raise  # the user's input (a --set field, a dataset it cannot handle): fails the run now
    except BaseException as e:  # a plugin's own bug (check_spec, dataset_defaults)
        error = config_error(who, e, doing)
        return [], [Failed(name, label, error, cls) for label in asked_rows(name, overrides)]
    # its own variants, which no owner changes: a plugin's bug there (its unused_fields) fails each row
    named = attempt(functools.partial(named_variants, name, cls, spec, overrides))
    planned: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]] = []
    failed: list[Failed] = []
    for owner, owner_cfg, why in checked_owners(name, spec, owners):
        if isinstance(named, BaseException):
            why = why or config_error(name, named, "resolving its config")
            labels = asked_rows(name, overrides, owner)
        elif why is not None:  # the owner's plugin failed for this value: named as planned rows are
            variants = [*named[0], *(typed for typed, _ in named[1])]
            labels = list(dict.fromkeys(row_label(v, owner) for v in variants))
        else:
            variants, broken = checked_variants(name, cls, spec, named, owner, owner_cfg)
            if variants:
                planned.append((name, cls, variants, owner))
            failed += broken
            continue
        failed += [Failed(name, label, why, cls, owner) for label in labels]
    return planned, failed


def checked_owners(
    name: str, spec: DataSpec, owners: list[Owner]
) -> list[tuple[Owner | None, Any, str | None]]:
    """Each of ``owners`` (model ``name``'s weights owners, their values as typed) once, canonical
    (``200`` and ``2e2`` are one checkpoint, and one row of ``name``), with its config as a weights
    owner and None, or with why its plugin's own code raised resolving or checking that config: the
    rows of that value fail, and those of the other values run (a ``check_config`` refusing one
    value with a ValueError failed every value's rows, under rows named without it). An owner whose
    config never resolved is named by its fields as typed. ``[(None, None, None)]`` for a model that
    trains its own weights."""
    if not owners:
        return [(None, None, None)]
    out: dict[str, tuple[Owner | None, Any, str | None]] = {}
    for typed in owners:
        doing, cfg = "resolving its config", None
        overrides, raised = canonical_or_typed(typed.cls, spec.name, typed.overrides)
        owner = replace(typed, overrides=overrides)
        if raised is None:
            raised = cfg = attempt(functools.partial(owner.config, spec.name))
            if not isinstance(cfg, BaseException):
                doing = "checking its config"
                raised = attempt(functools.partial(owner.cls.check_config, spec, cfg))
        why = None
        if isinstance(raised, BaseException):
            why = config_error(owner.name, raised, f"{doing} as {name}'s weights owner")
        out.setdefault(variant_label(owner.overrides), (owner, cfg, why))
    return list(out.values())


def canonical_or_typed(
    cls: type[GenerativeModel], dataset: str, typed: dict[str, str]
) -> tuple[dict[str, str], BaseException | None]:
    """``typed`` canonical (:func:`canonical_variant`) and None; or, where the plugin's own code
    raised resolving it, ``typed`` as typed (sorted), named so, and what it raised."""
    canonical = attempt(functools.partial(canonical_variant, cls, dataset, typed))
    if isinstance(canonical, BaseException):
        return dict(sorted(typed.items())), canonical
    return canonical, None


def named_variants(
    name: str, cls: type[GenerativeModel], spec: DataSpec, overrides: list[Override]
) -> tuple[list[dict[str, str]], list[tuple[dict[str, str], BaseException]]]:
    """The variants of ``name`` that ``overrides`` (canonical) ask for, each canonical and once,
    without the fields it does not use (:func:`without_unused_fields`); and those whose config never
    resolved, named by their fields as typed (sorted), with what the plugin's code raised."""
    variants, unresolved = [], []
    # named by what they change: a sweep point at the default is the plain model, typed twice is one
    for typed in expand_variants(name, overrides):
        variant, raised = canonical_or_typed(cls, spec.name, typed)
        if raised is not None:
            unresolved.append((variant, raised))
        else:
            variants.append(variant)
    variants = without_unused_fields(name, cls, spec, variants)
    return list({variant_label(v): v for v in variants}.values()), unresolved


def checked_variants(
    name: str,
    cls: type[GenerativeModel],
    spec: DataSpec,
    named: tuple[list[dict[str, str]], list[tuple[dict[str, str], BaseException]]],
    owner: Owner | None,
    owner_cfg: Any,
) -> tuple[list[dict[str, str]], list[Failed]]:
    """The variants of ``name`` (``named``: :func:`named_variants`) whose config is built and
    passes ``check_config`` (given ``owner_cfg``, its weights owner's), and the rows of those whose
    config raised anything but a GenbenchError (raised: the user's input). A config that cannot be
    built and one that its check refuses with a ValueError are one failure, the plugin's: the row is
    named by its fields as typed where its config never resolved."""
    failed: dict[str, Failed] = {}

    def fails(variant: dict[str, str], e: BaseException, doing: str) -> None:
        label = row_label(variant, owner)
        failed.setdefault(label, Failed(name, label, config_error(name, e, doing), cls, owner))

    variants, unresolved = named
    for typed, e in unresolved:
        fails(typed, e, "resolving its config")
    checked = []
    for v in variants:
        # the values too (ddim.steps=0), not only their types: DDPM would train first
        cfg = attempt(functools.partial(resolve_model_config, cls, spec.name, v))
        if isinstance(cfg, BaseException):
            fails(v, cfg, "resolving its config")
            continue
        # as documented, (spec, config) without an owner: a plugin's override may take no more
        extra = {} if owner_cfg is None else {"owner_config": owner_cfg}
        refused = attempt(functools.partial(cls.check_config, spec, cfg, **extra))
        if isinstance(refused, BaseException):  # a ValueError for k=-1: not as its API says to refuse
            fails(v, refused, "checking its config")
            continue
        checked.append(v)
    return checked, list(failed.values())


def config_error(name: str, e: BaseException, doing: str) -> str:
    """The error of model ``name`` whose own code raised ``e`` while ``doing`` (resolving or
    checking its config) at planning, as one line naming the plugin, and the fix where it is known."""
    text = said(e)
    why = f"model {name!r} raised {type(e).__name__} {doing}: {text}"
    if isinstance(e, TypeError) and "required" in text:  # Config(width: int) with no default
        why += "; give every field of its Config a default"
    return why


def asked_rows(name: str, overrides: list[Override], owner: Owner | None = None) -> list[str]:
    """The labels of the rows of model ``name`` that ``overrides`` (canonical) ask for, each with
    its fields as typed, sorted as a canonical variant's are: a model whose config cannot be resolved
    has no canonical variants, and the failure of ``--set m.k=1,2`` is that of rows ``m[k=1]`` and
    ``m[k=2]``, not of plain ``m``."""
    mine = registry.models.canonical(name)
    labels = [row_label(dict(sorted(v.items())), owner) for v in expand_variants(mine, overrides)]
    return list(dict.fromkeys(labels))


def without_unused_fields(
    name: str, cls: type[GenerativeModel], spec: DataSpec, variants: list[dict[str, str]]
) -> list[dict[str, str]]:
    """``variants`` (canonical) each without the fields its config does not use on the data of
    ``spec`` (:meth:`GenerativeModel.unused_fields`): such a variant is named by what it changes, as
    one at a field's default is. A field that no variant uses is refused: it changes nothing, and a
    row named after it held the plain model's very samples. Refusing a variant's unused field even
    where another variant of the sweep uses it refused a legitimate sweep: ``--set
    vae.decoder_sigma=none,0.5 --set vae.min_log_sigma=-4`` (a floored learned sigma beside a fixed
    one, whose floor does nothing) could not run at all."""
    unused = [
        set(v) & set(cls.unused_fields(spec, resolve_model_config(cls, spec.name, v))) for v in variants
    ]
    used = {f for v, u in zip(variants, unused, strict=True) for f in v if f not in u}
    if never := [(f, v[f]) for v, u in zip(variants, unused, strict=True) for f in sorted(u - used)]:
        field, value = never[0]
        raise GenbenchError(
            f"--set {name}.{field}={value} changes nothing {name} trains or samples on {spec.name} "
            f"({spec.kind} data): its row would name a change it does not make; drop it"
        )
    return [{f: x for f, x in v.items() if f not in u} for v, u in zip(variants, unused, strict=True)]
