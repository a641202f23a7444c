"""``--skip-done``: which rows of a `genbench run` already have their result on disk, measured exactly
as this run would measure it, so that the rerun of a killed multi-model run reads them back rather
than train, sample and score them again (hours of DDPM sampling on CIFAR-10 for identical numbers).

A result is reused only when it is "ok" (or "diverged": the model's own outcome) and everything
this run would record of it is the same: the protocol that decides whether a run may replace it
(:func:`genbench.replacement.replaced_by_run`, with the fingerprints of features and data), and
beyond that, exactly, the sample count, reference, features, seed, batch size, metrics and their
versions and options, the model's resolved config, version, code and checkpoint key, genbench's
version and code (its source digest: results of an older checkout or build of the same release
were reused, scored by sampling and training code the metrics' versions do not track) and the
device kind. Anything else, a "failed" result or any difference, is run again,
as without the flag; :func:`done_rows` says why in a few words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench.api import GenerativeModel
from genbench.io import as_written
from genbench.metric_checks import effective_metric_options
from genbench.model_config import resolve_model_config
from genbench.model_plan import row_label
from genbench.portable_names import portable
from genbench.replacement import add_fingerprints, replaced_by_run
from genbench.results import Result
from genbench.weights_owner import OwnerFailed, owners_code

if TYPE_CHECKING:
    from genbench.planning import Plan
    from genbench.progress import Progress
    from genbench.weights_owner import Owner

#: a row of the run at a seed: (model, variant label, seed)
Row = tuple[str, str, int]


def row_config(
    p: Plan, name: str, cls: type[GenerativeModel], overrides: dict[str, str], owner: Owner | None
) -> tuple[Any, dict[str, Any], Any]:
    """``(config, result_config, owner_config)``: the config of ``name`` with ``overrides``, what its
    result records of it (with the weights owner's, whose network it samples), and the owner's."""
    cfg = resolve_model_config(cls, p.dataset.name, overrides)
    recorded = asdict(cfg) if is_dataclass(cfg) and not isinstance(cfg, type) else {}
    owner_cfg = None
    if owner is not None:  # planning resolved it once, and the owner's code runs again here
        with owners_code(owner.name):
            owner_cfg = owner.config(p.dataset.name)
    if owner is not None:  # its network is the owner's: seeds sampled from two DDPM configs differ
        recorded["weights_from"] = {
            "model": owner.name,
            "overrides": owner.overrides,
            "config": asdict(owner_cfg)
            if is_dataclass(owner_cfg) and not isinstance(owner_cfg, type)
            else {},
        }
    return cfg, recorded, owner_cfg


def done_rows(p: Plan, seeds: list[int], out: Path, console: Progress) -> dict[Row, Result]:
    """The results of ``p``'s rows that ``--skip-done`` reuses, read from ``out``, each said on a line
    of its own; a result there that is not reused is said too, with why, and is run again."""
    done: dict[Row, Result] = {}
    for name, cls, variants, owner in p.models:
        for overrides in variants:
            label = row_label(overrides, owner)
            built: dict[str, GenerativeModel] = {}  # the variant's model, built once for its seeds
            for seed in seeds:
                path = Result(model=name, dataset=p.dataset.name, seed=seed, variant=label).path(out)
                if not path.is_file():
                    continue
                shown = f"{name}[{label}]" if label else name
                try:
                    old, why = _reusable(p, path, name, cls, overrides, owner, seed, console.warn, built)
                except Exception as e:  # a plugin's config or constructor raising: the run records it
                    raised = e.error if isinstance(e, OwnerFailed) else e
                    old, why = None, f"it could not be checked: {type(raised).__name__}"
                if old is None:
                    console.note(f"seed {seed} of {shown}: {path} is run again ({why}; --skip-done)")
                    continue
                console.note(f"seed {seed} of {shown}: done ({path}), skipped (--skip-done)")
                done[name, label, seed] = old
    return done


def _reusable(
    p: Plan,
    path: Path,
    name: str,
    cls: type[GenerativeModel],
    overrides: dict[str, str],
    owner: Owner | None,
    seed: int,
    warn: Callable[[str], None],
    built: dict[str, GenerativeModel],
) -> tuple[Result | None, str]:
    """The result in ``path`` when this run would measure exactly it, else None and why not.
    ``built``: the model that trains the variant's weights, by name, once built (:func:`_weights_differ`)."""
    import genbench
    from genbench.provenance import model_source
    from genbench.results import load_result

    try:
        old = load_result(path)
    except Exception:
        return None, "it is not a result this genbench reads"
    if old.status not in ("ok", "diverged"):
        return None, f"it is {old.status}"
    if old.protocol.get("samples"):
        return None, "it is an evaluation"
    env = old.environment
    if env.get("genbench") != genbench.__version__:
        return None, f"genbench {env.get('genbench')} wrote it"
    if (why := _code_differs(env)) is not None:
        return None, why
    now = {"device": str(p.device)}
    if p.device.type == "cuda":
        import torch

        now["gpu"] = torch.cuda.get_device_name(p.device)
    if _device_kind(env) != _device_kind(now):
        return None, f"it ran on {_device_kind(env)}"
    source = model_source(cls)
    if any(env.get(k) != v for k, v in source.items()):
        return None, "the model's code differs"
    cfg, recorded, owner_cfg = row_config(p, name, cls, overrides, owner)
    if old.config != as_written(recorded):
        return None, "the model's config differs"
    if old.status == "diverged":
        if p.device.type == "cuda":  # its result does not record whether --amp trained it
            return None, "a diverged result on CUDA does not record --amp"
        return old, ""
    why = _weights_differ(p, old, name, cls, cfg, owner, owner_cfg, seed, warn, built)
    if why:
        return None, why
    return (old, "") if (why := _protocol_differs(p, old, seed)) is None else (None, why)


def _code_differs(env: dict[str, Any]) -> str | None:
    """Why the genbench code that wrote a result (its environment ``env``) is not this one's, or
    None: its source digest (:func:`genbench.environment.source_digest`) differs, or it records none
    (an older genbench's, which may sample, train or extract otherwise under the same version)."""
    from genbench.environment import source_digest

    here = source_digest()
    if "source_digest" not in env:
        return "an older genbench wrote it: it records no source digest"
    if env["source_digest"] != here:
        return f"other genbench code wrote it (source {env['source_digest']}, this run's {here})"
    return None


def _device_kind(env: dict[str, Any]) -> str:
    """The kind of device a result's environment records: its type, and the GPU's name on CUDA."""
    device = str(env.get("device") or "")
    kind = device.split(":")[0]
    return f"{kind} ({env.get('gpu')})" if kind == "cuda" else kind


def _weights_differ(
    p: Plan,
    old: Result,
    name: str,
    cls: type[GenerativeModel],
    cfg: Any,
    owner: Owner | None,
    owner_cfg: Any,
    seed: int,
    warn: Callable[[str], None],
    built: dict[str, GenerativeModel],
) -> str | None:
    """Why ``old``'s weights are not those this run would train or load (model version, checkpoint
    key, mixed precision), or None. The model whose training config keys the checkpoint is built
    once a variant (kept in ``built``): its key differs between seeds by the seed alone, and a
    CIFAR-10 DDPM's U-Net was built again for each."""
    from genbench.isolation import torch_state_kept
    from genbench.training import checkpoint_subdir

    trainer, trainer_cfg, trainer_name = (
        (cls, cfg, name) if owner is None else (owner.cls, owner_cfg, owner.name)
    )
    info = old.training
    if info.get("model_version") != trainer.version:
        return f"model version {info.get('model_version')} made it"
    if not trainer.trainable:
        return None if info.get("trainable") is False else "its weights were trained"
    if info.get("amp") != p.amp:
        return "its --amp differs"
    # built for its train_config(), as training builds it; what its constructor changes of torch's
    # global state (grad mode off) is undone, as around training
    if trainer_name not in built:
        with torch_state_kept(f"model {trainer_name!r}", warn):
            built[trainer_name] = trainer(p.dataset.spec, trainer_cfg)
    subdir = checkpoint_subdir(p.dataset.name, trainer_name, built[trainer_name], seed, p.amp)
    checkpoint = Path(str(info.get("checkpoint") or ""))
    # a folder of the name genbench gave before it spelled unportable ones apart (con/ for _con/)
    # is that checkpoint's (training.train_or_load loads it)
    recorded = tuple(portable(part) for part in checkpoint.parent.parts[-len(subdir.parts) :])
    if recorded != subdir.parts:
        return "its checkpoint's training config differs"
    return None


def _protocol_differs(p: Plan, old: Result, seed: int) -> str | None:
    """Why ``old`` is not of the protocol this run's result would record, or None: the rule that
    decides whether the run may replace it, then each field exactly."""
    fingerprints = lambda: add_fingerprints(p.measures, p.extractor, p.dataset, p.reads_reference)  # noqa: E731
    if replaced_by_run(old, p.measures, p.metrics, p.metric_options, fingerprints=fingerprints):
        return "its protocol differs"
    protocol = old.protocol
    features = protocol.get("features") or {}
    was = {**protocol, "features": features.get("name"), "features_fingerprint": features.get("fingerprint")}
    if differ := [k for k, v in p.measures.items() if was.get(k) != v]:
        return f"its {', '.join(differ)} differs"
    if protocol.get("seed") != seed:
        return "its seed differs"
    if protocol.get("batch_size") != p.config.batch_size:
        return f"it ran at --batch-size {protocol.get('batch_size')}"
    if protocol.get("metric_versions") != {m.name: m.version for m in p.metrics}:
        return "its metrics differ"
    if protocol.get("metric_options") != as_written(effective_metric_options(p.metrics, p.metric_options)):
        return "its metric options differ"
    if old.metric_errors:
        return f"{', '.join(old.metric_errors)} failed in it"
    if p.config.save_samples and not _samples_kept(old, p):
        return "its samples were not kept (--save-samples)"
    return None


def _samples_kept(old: Result, p: Plan) -> bool:
    """Whether ``old``'s samples are beside it: a recorded name that is no plain file name (a path,
    hand-edited) keeps none there (``with_name`` raised ValueError on it, a traceback)."""
    name = old.samples_file.get("name")
    if not name or Path(name).name != name:
        return False
    return old.path(Path(p.config.out)).with_name(name).is_file()
