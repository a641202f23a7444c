"""What `genbench list models NAME` shows, as data: the fields of a model's config, which ``--set
NAME.FIELD=VALUE`` takes, each with its type, the value it runs at on a dataset (and whether the
dataset's per-dataset defaults set it), whether changing it retrains the model or only changes how
it samples, and its comment in the source (``genbench.model_options``)."""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from genbench import registry
from genbench.config import DEFAULT_DATASET, RunConfig
from genbench.errors import GenbenchError, said
from genbench.field_comments import field_comments
from genbench.field_values import canonical_text
from genbench.model_config import resolve_model_config
from genbench.weights_owner import weights_from_refusal

if TYPE_CHECKING:
    from genbench.api import GenerativeModel

#: what a field changes: "training" (a key of the model's ``train_config``, which keys its
#: checkpoint: a new value retrains), "sampling" (only how it samples: the trained weights are
#: reused), "unused" (nothing on this dataset's data: ``--set`` refuses it), or "" (not known: the
#: model could not be built on the dataset, see :attr:`ModelOptions.note`)
Affects = Literal["training", "sampling", "unused", ""]


@dataclass(frozen=True)
class ModelOption:
    """One config field of a model (:attr:`ModelOptions.fields`), as ``--set`` sets it."""

    name: str
    type: str  # the field's type as written: int, tuple[int, ...]
    value: str  # the value it runs at on the dataset, as --set writes it (a tuple as 1:2)
    #: "dataset" where the dataset's per-dataset defaults set it (baselines/configs/<dataset>/<model>.toml
    #: for the baselines), "default" where the dataclass default holds
    source: Literal["dataset", "default"]
    affects: Affects
    comment: str = ""  # the ``# ...`` beside or above the field in the source; "" where none is readable


@dataclass(frozen=True)
class ModelOptions:
    """What :func:`genbench.model_options` returns (`genbench list models NAME`): a model's config
    fields on a dataset."""

    model: str  # the registered name (an alias resolved: gan -> gan-ns)
    dataset: str
    fields: tuple[ModelOption, ...]
    #: the model whose trained weights it samples (``weights_from``), and that model's fields that
    #: change those weights: set on it (``--set ddpm.lr=...``) they reach this model too
    weights_from: str | None = None
    owner_fields: tuple[str, ...] = ()
    note: str = ""  # why ``affects`` is unknown ("" when it is known)


def model_options(name: str, dataset: str | os.PathLike[str] = DEFAULT_DATASET) -> ModelOptions:
    """The config fields of the registered model ``name`` as they are on ``dataset`` (a registered
    name, or what ``--dataset`` takes). Imports torch: the model is built once on the dataset's
    shape, as a run builds it, to read its ``train_config`` keys."""
    if not isinstance(name, str):
        raise GenbenchError(f"the model must be a registered model's name (a str), got {type(name).__name__}")
    canonical = registry.models.canonical(name)  # an unknown name: "did you mean"
    cls = registry.models.get(canonical)
    data_name, spec, why = _spec(dataset)
    config = _call(canonical, "building its config", lambda: resolve_model_config(cls, data_name, {}))
    if not dataclasses.is_dataclass(config):
        return ModelOptions(canonical, data_name, ())
    given = _call(canonical, "reading its dataset defaults", lambda: dict(cls.dataset_defaults(data_name)))
    try:
        hints = typing.get_type_hints(type(config))
    except Exception:  # a string annotation that does not resolve: the field's own text
        hints = {}
    comments = field_comments(type(config))
    affects, note = _affects(cls, spec, config) if spec is not None else ({}, why)
    fields = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint = hints.get(f.name, f.type)
        fields.append(
            ModelOption(
                f.name,
                type_text(hint),
                _value_text(value, hint, f"{canonical}.{f.name}"),
                "dataset" if f.name in given else "default",
                affects.get(f.name, ""),
                comments.get(f.name, ""),
            )
        )
    owner: str | None = None
    owner_fields: tuple[str, ...] = ()
    refused = weights_from_refusal(canonical, cls) if cls.weights_from else None
    if refused:  # a typo listed "unknown model 'ddpmm'", a name never typed; itself recursed
        note = f"{note}; {refused}" if note else refused
    elif cls.weights_from:
        owner = registry.models.canonical(cls.weights_from)
        # the owner's fields that change its train_config, which keys the weights this one samples
        # (docs/plugins.md, weights_from)
        mine = model_options(owner, dataset)
        owner_fields = tuple(f.name for f in mine.fields if f.affects == "training")
        note = note or mine.note
    return ModelOptions(canonical, data_name, tuple(fields), owner, owner_fields, note)


def _spec(dataset: Any) -> tuple[str, Any, str]:
    """The name of ``dataset`` and its DataSpec as the model is built on it (its shape, without
    reading the data where the dataset declares it), or None with why not: a dataset not downloaded
    still lists its fields, without what each changes."""
    from genbench.resolve import build_dataset, call_plugin

    data = build_dataset(dataset, RunConfig())
    try:
        return data.name, call_plugin("dataset", data.name, "failed reading its shape", data.shape_spec), ""
    except GenbenchError as e:
        return data.name, None, f"what each field changes is not known without the data of {data.name!r}: {e}"


def _affects(cls: type[GenerativeModel], spec: Any, config: Any) -> tuple[dict[str, Affects], str]:
    """What each field of ``config`` changes on the data of ``spec``: the model is built as a run builds
    it and its ``train_config`` read (a run keys its checkpoint by it); its ``unused_fields`` change
    nothing there. Its construction failing leaves them unknown, said in the note."""
    from genbench.isolation import global_rng_kept, torch_state_kept

    name = getattr(cls, "registered_name", "") or cls.__name__
    try:
        with global_rng_kept(), torch_state_kept(f"model {name!r}", lambda _: None):
            keys = set(cls(spec, config).train_config())
            unused = set(cls.unused_fields(spec, config))
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a bad per-dataset value, or a plugin's own bug: the fields still list
        return {}, f"what each field changes is not known: building {name} on {spec.name} failed: {said(e)}"
    return {
        f.name: "unused" if f.name in unused else "training" if f.name in keys else "sampling"
        for f in dataclasses.fields(config)
    }, ""


def _call(model: str, what: str, call: typing.Callable[[], Any]) -> Any:
    """A call into the model's class; its own bug as one line naming it (a GenbenchError as it is)."""
    try:
        return call()
    except GenbenchError:
        raise
    except Exception as e:
        source = registry.models.source(model)
        raise GenbenchError(f"model {model!r} from {source} failed {what}: {said(e)}") from e


def type_text(hint: Any) -> str:
    """A type as written in source: ``int``, ``tuple[int, ...]``."""
    if isinstance(hint, str):
        return hint
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return str(hint).replace("typing.", "")


def _value_text(value: Any, hint: Any, where: str) -> str:
    try:
        return canonical_text(value, hint, where)
    except Exception:  # a value of a type --set cannot write: as Python writes it
        return repr(value)
