"""The checks a name and a class pass when they are registered, before the registry writes anything.

A registry name (and each alias) is lower-case letters, digits, ``-`` or ``_``; aliases are a tuple
of other names, each once; a model or dataset name is none of the folders genbench writes beside
its folder under ``--out`` (:mod:`genbench.layout`). The class subclasses the registry's base,
declares a positive integer ``version``, is not abstract; a model's ``Config`` is a dataclass, its
``shipped_checkpoints`` an absolute folder and its ``conditional`` a bool (a conditional model's
``sample`` taking ``labels``); ``supported_kinds`` is a collection of known kinds of data; and the
class's own ``declaration_problem()`` (a dataset's ``kind``, a metric's ``higher_is_better``) finds
nothing. Each failure is one :class:`RegistrationError` line naming the fix.

Nothing here reads a registry's table: whether a name is taken, and by whom, is
:class:`genbench.registry.Registry`'s concern.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import re
from typing import Any

from genbench.errors import RegistrationError
from genbench.layout import BESIDE_DATASETS, BESIDE_LABELS, genbench_folder
from genbench.text import and_list

#: a registry name, matched whole (``fullmatch``: ``$`` also matches before a final newline, and
#: ``"gan\n"`` passed ``match``); no '.': `--set NAME.FIELD=` splits there
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_\-]*")
#: the kinds of data: a dataset's ``kind``, and what a model, metric or extractor's ``supported_kinds``
#: may hold (:attr:`genbench.data.base.Dataset.kind` is typed with the same two)
KINDS = ("image", "points")
#: genbench's own folders beside the folder a name of each kind makes under ``--out``
#: (:mod:`genbench.layout`): a dataset's ``<out>/<dataset>/``, a model's ``<out>/<dataset>/<model>/``.
#: Metrics and feature extractors make no folder of their name.
_FOLDERS_BESIDE = {"model": BESIDE_LABELS, "dataset": BESIDE_DATASETS}


def check_name(kind: str, name: str) -> None:
    """Fail unless ``name`` can be a ``kind`` name (``kind`` as messages say it: "model")."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise RegistrationError(
            f"invalid {kind} name {name!r}: use lower-case letters, digits, '-' or '_' "
            "(no '.': `--set NAME.FIELD=VALUE` splits at the first '.')"
        )


def check_folder_name(kind: str, name: str) -> None:
    """Fail when ``name``'s folder under ``--out`` would be one genbench writes itself: a model
    ``figures`` had its results in ``<out>/<dataset>/figures/``, among its runs' figures; a dataset
    ``leaderboards`` its results in the report's folder. An alias makes no folder: results are
    written under the name it stands for."""
    what = genbench_folder(name, _FOLDERS_BESIDE.get(kind, {}))
    if what is not None:
        raise RegistrationError(
            f"{kind} name {name!r} is {what}, beside each {kind}'s results folder; choose another name, "
            f"e.g. '{name}-{kind}'"
        )


def check_decorator_name(kind: str, decorator: str, name: Any) -> None:
    """Fail unless ``name``, given to ``decorator`` (``"register_model"``), can be a ``kind`` name.
    ``@genbench.register_model`` without its parentheses hands it the class itself: the decorator it
    returned took the class's place under its name, nothing was registered, and the only sign was
    "unknown model" later, at the run."""
    noun = decorator.removeprefix("register_")  # model, dataset, metric, features
    fix = f'use @genbench.{decorator}("my-{noun}")'
    if callable(name):  # a class (or a function) decorated with @register_model, no name given
        raise RegistrationError(f"@genbench.{decorator} was used without a name on {target_of(name)}; {fix}")
    if not isinstance(name, str):
        raise RegistrationError(f"a {kind} name is a str, got {name!r} ({type(name).__name__}); {fix}")
    check_name(kind, name)


def checked_aliases(kind: str, name: str, aliases: tuple[str, ...]) -> tuple[str, ...]:
    """``aliases`` of ``name`` as a tuple, after checking each of them."""
    if isinstance(aliases, str):
        raise RegistrationError(f"{kind} {name!r}: aliases must be a tuple of names, got {aliases!r}")
    aliases = tuple(aliases)
    for alias in aliases:
        check_name(kind, alias)
        if alias == name:
            raise RegistrationError(f"{kind} {name!r} lists its own name among its aliases; remove it")
    if len(set(aliases)) != len(aliases):
        raise RegistrationError(f"{kind} {name!r} lists an alias twice: {aliases!r}")
    return aliases


def check_class(kind: str, base: type, name: str, obj: Any) -> None:
    """Fail unless ``obj`` can be registered as ``kind`` ``name`` of a registry whose classes
    subclass ``base``."""
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise RegistrationError(
            f"{kind} {name!r} must be a subclass of {base.__module__}.{base.__qualname__}, got {obj!r}"
        )
    version = getattr(obj, "version", 1)  # models and metrics declare one; others inherit none
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RegistrationError(f"{kind} {name!r} has version {version!r}; use a positive integer")
    problem = class_problem(base, obj)
    if problem is None and hasattr(obj, "declaration_problem"):
        problem = obj.declaration_problem()
    if problem:
        raise RegistrationError(f"{kind} {name!r} {problem}")


def class_problem(base: type, obj: type[Any]) -> str | None:
    """What makes ``obj`` unusable as a class of a registry of ``base``, whatever its base checks
    itself: it is abstract (instantiating it is a TypeError far from here), its ``Config`` is not a
    dataclass (``--set model.field=`` and the TOML configs read its fields), or its ``supported_kinds``
    is not a collection of known kinds (a string is one of its characters to ``in``)."""
    missing = sorted(getattr(obj, "__abstractmethods__", ()))
    if missing:
        methods = and_list([f"{m}()" for m in missing])
        them = "it" if len(missing) == 1 else "them"
        return f"({target_of(obj)}) is abstract: it does not implement {methods}; define {them} in the class"
    if isinstance(getattr(base, "Config", None), type):  # models: a dataclass of options
        config = obj.Config
        if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
            return (
                f"declares Config = {config!r}, which is not a dataclass; decorate it with "
                "@dataclasses.dataclass (its fields are the options `--set` and the TOML configs set)"
            )
    if hasattr(base, "shipped_checkpoints"):  # models
        shipped = obj.shipped_checkpoints
        # absolute: a relative one would be looked for under the directory genbench runs in
        if shipped is not None and not (isinstance(shipped, str | os.PathLike) and os.path.isabs(shipped)):
            return (
                f"declares shipped_checkpoints = {shipped!r}; give the absolute folder its trained "
                "checkpoints ship in, e.g. Path(__file__).parent / 'weights', or None"
            )
    if hasattr(base, "conditional"):  # models
        if problem := conditional_problem(obj):
            return problem
    if hasattr(base, "supported_kinds"):
        return kinds_problem(obj.supported_kinds)
    return None


def conditional_problem(obj: type[Any]) -> str | None:
    """What is wrong with a model's declared ``conditional``, or None: a bool (a truthy string
    such as "no" would hand labels to a ``sample`` that takes none), and a conditional model's
    ``sample`` takes ``labels`` (else every run of it failed at its first batch, after training)."""
    conditional = obj.conditional
    if not isinstance(conditional, bool):
        return (
            f"declares conditional = {conditional!r}; use True (a class-conditional model: sample "
            "takes labels=) or False"
        )
    if not conditional:
        return None
    try:
        params = inspect.signature(obj.sample).parameters
    except (TypeError, ValueError):  # a signature inspect cannot read: the first batch will tell
        return None
    if "labels" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return (
            "declares conditional = True, but its sample() takes no labels; define "
            "sample(self, n, *, generator, labels), sample i drawn for class labels[i]"
        )
    return None


def kinds_problem(kinds: Any) -> str | None:
    """What is wrong with a declared ``supported_kinds``, or None."""
    if isinstance(kinds, str):  # ("image") is a string: `in` would match its characters
        return f"declares supported_kinds = {kinds!r}, a string; use a tuple of kinds: supported_kinds = ({kinds!r},)"
    if not isinstance(kinds, (tuple, list, set, frozenset)) or not kinds:
        return f"declares supported_kinds = {kinds!r}; use a tuple of kinds, e.g. ('image', 'points')"
    for kind in kinds:
        if kind not in KINDS:
            return f"declares supported_kinds = {kinds!r}; {kind!r} is no kind of data: {kind_fix(kind)}"
    return None


def kind_fix(kind: Any) -> str:
    """The fix for an unknown kind of data: ``use 'image' or 'points'; did you mean 'image'?``."""
    close = difflib.get_close_matches(str(kind), KINDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"use {' or '.join(repr(k) for k in KINDS)}{hint}"


def target_of(obj: Any) -> str:
    """``module:qualname`` of a class, as an entry point naming it would read (how messages name it)."""
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
