"""Train a model, resume its interrupted training, or load its cached checkpoint.

The cache key hashes the model's name and ``version``, the dataset, the training config (and
``--amp``'s precision) and the seed (and the code of a model of an included file, a script or a
notebook, :func:`checkpoint_subdir`), so a second run loads instead of retraining. ``--retrain``
clears a checkpoint once per run (and, after an interruption, once per command: the rerun loads
what the interrupted run retrained and resumes the training it interrupted).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genbench.api import GenerativeModel, TrainContext, _key_text, config_hash
from genbench.checkpoint import PARTIAL as PARTIAL
from genbench.checkpoint import load_checkpoint, save_checkpoint, serialized
from genbench.determinism import deterministic_training
from genbench.environment import machine, machine_as_written, machine_text
from genbench.errors import Diverged, GenbenchError, StateContentError
from genbench.io import alone, remove_temps, took_over
from genbench.isolation import ctrl_c_kept, seed_globals
from genbench.portable_names import kept_path, portable
from genbench.progress import Progress
from genbench.retraining import RETRAINING, clear_for_retrain, retrain_command
from genbench.script_code import edited_code
from genbench.shipped import shipped_checkpoint
from genbench.termination import say_rerun, steps_end_first
from genbench.training_forecast import shorten_hint
from genbench.weights_source import compare_with_shipped, recorded

if TYPE_CHECKING:
    from genbench.planning import Plan


def train_or_load(
    p: Plan,
    name: str,
    cls: type[GenerativeModel],
    cfg: Any,
    seed: int,
    console: Progress,
    label: str | None = None,
) -> tuple[GenerativeModel, float, list[dict[str, float]], dict[str, Any]]:
    """Build ``name`` and train it, resume its interrupted training, or load its trained checkpoint.
    ``label`` names it in the console with its variant (``vae[steps=500]``; ``name`` by default): the
    variants of a sweep each trained and loaded as plain ``vae``.

    Returns the model, the training time (of the original run when loaded), the training log and a
    summary of what happened (recorded as the result's ``training``).
    """
    seed_globals(seed)  # for plugins that draw from the global generators
    model = cls(p.dataset.spec, cfg).to(p.device)
    if not cls.trainable:
        ctx = TrainContext(seed=seed, device=p.device, labels=fit_labels(p, cls))
        # nothing is cached, but a fit that caught Ctrl-C was scored as fitted and the run went on
        with deterministic_training(p.device, p.config.deterministic), ctrl_c_kept():
            model.fit(_train_split_to_fit(p), ctx)
        return model, ctx.elapsed(), ctx.history, {"trainable": False, "model_version": cls.version}

    amp = p.amp
    subdir = checkpoint_subdir(p.dataset.name, name, model, seed, amp)
    ckpt_dir = kept_path(p.cache_dir / "checkpoints", subdir)  # con/ where Linux made it before _con/
    final = ckpt_dir / "model.pt"
    digest = p.dataset.content_digest("train")
    before = _written(final)
    label = label or name
    with trained_alone(ckpt_dir, f"{label} seed {seed}", console) as waited:
        # a checkpoint there once the lock is held: the process waited for (if any) saved it, or only
        # loaded it, and did not end without saving it, even where --retrain now trains it anew
        found = final.exists()
        for written in (PARTIAL, "model.pt"):  # what a killed write left, as large as the checkpoint
            remove_temps(ckpt_dir / written, older_than=KILLED_WRITE_S)
        if p.config.retrain and ckpt_dir not in p.retrained:
            # saved by another process while this one waited for the lock: trained anew after this
            # --retrain began, so it is loaded, not trained again (cluster jobs retraining a board)
            meanwhile = _written(final) not in (None, before)
            clear_for_retrain(
                ckpt_dir, command=retrain_command(p), data_digest=digest, trained_meanwhile=meanwhile
            )
            p.retrained.add(ckpt_dir)
        elif not p.config.retrain:  # used as it is: an interrupted --retrain's mark is over, or the next
            (ckpt_dir / RETRAINING).unlink(missing_ok=True)  # --retrain would load this instead of training
        if ckpt_dir in p.diverged:  # an earlier row of this run trained it: the same steps diverge again
            raise p.diverged[ckpt_dir]
        load = functools.partial(
            _load_trained,
            model,
            name=name,
            label=label,
            seed=seed,
            p=p,
            cls=cls,
            amp=amp,
            digest=digest,
            console=console,
        )
        shipped = shipped_checkpoint(cls, subdir)
        if final.exists():
            train_s, log, info = load(final)
            if shipped is not None and not p.config.retrain:  # the cache's comes first: other weights?
                compare_with_shipped(
                    info, shipped, ckpt_dir, f"{label} seed {seed}", p.shipped_digests, console.warn
                )
            return model, train_s, log, info
        # what ships with the model, unless --retrain, or an interrupted training here is to resume
        if shipped is not None and not p.config.retrain and not (ckpt_dir / PARTIAL).exists():
            try:
                return model, *load(shipped, shipped=True)
            except GenbenchError as e:  # other data (another scikit-learn's digits), an unreadable file
                console.warn(f"{e}; training {label} seed {seed} instead")
        if waited and not found:  # the process that held the lock saved nothing: killed, diverged
            took_over(f"{label} seed {seed}", "saving it", "training it", console.warn)
        return model, *_train_and_save(
            model,
            ckpt_dir,
            name=name,
            label=label,
            seed=seed,
            p=p,
            cls=cls,
            amp=amp,
            digest=digest,
            console=console,
        )


def _load_trained(
    model: GenerativeModel,
    final: Path,
    *,
    name: str,
    seed: int,
    p: Plan,
    cls: type[GenerativeModel],
    amp: bool,
    digest: str,
    console: Progress,
    label: str,
    shipped: bool = False,
) -> tuple[float, list[dict[str, float]], dict[str, Any]]:
    """Load ``final`` (a model.pt in the cache, or with ``shipped`` one that ships with ``cls``) into
    ``model``: (the original training time, log, weights info); ``label`` names it in the console."""
    payload = load_checkpoint(final)
    trained_data = payload.get("data_digest")  # None: written before it was recorded
    if trained_data is not None and trained_data != digest:
        raise GenbenchError(
            f"checkpoint {final} was trained on other data: the train split of dataset "
            f"{p.dataset.name!r} " + ("differs here" if shipped else "changed since; rerun with --retrain")
        )
    try:
        model.load_state_dict(payload["state"])
    except Exception as e:
        raise GenbenchError(
            f"checkpoint {final} does not fit model {name!r} ({type(e).__name__}); rerun with --retrain"
        ) from e
    console.info(f"{label} seed {seed}: loaded {final}")
    if not shipped:  # a run killed between saving model.pt and removing the resumable state left it
        (final.parent / PARTIAL).unlink(missing_ok=True)
    # where train_s was timed: not recorded by earlier checkpoints
    where = payload.get("machine")
    where = machine_as_written(where) if isinstance(where, str) and where else None
    info = weights_info(final, True, cls, amp, payload.get("summary", {}), where)
    if shipped:
        info["shipped"] = True
    info = recorded(info, "shipped" if shipped else "cache", payload["state"])
    return float(payload.get("train_s", 0.0)), list(payload.get("training_log", [])), info


def _train_split_to_fit(p: Plan) -> torch.Tensor:
    """The train split, float32, as a copy of its own for one ``fit``: a model writing into its data
    (train.mul_(10) in fit, or later in sample through the reference it kept) changed every later
    model's numbers, all recorded "ok". Made only when a model fits, never when a checkpoint is
    loaded: an image folder's uint8 split would otherwise be converted for nothing."""
    return p.dataset.handing_out_copies().load("train")[0]


def fit_labels(p: Plan, cls: type[GenerativeModel]) -> torch.Tensor | None:
    """What ``fit`` reads from ``ctx.labels``: a conditional model's train labels (int64, on the CPU,
    one per row of its ``train``), None for any other model, whose ``fit`` is handed what it was."""
    if not cls.conditional:
        return None
    from genbench.sample_labels import train_labels

    return train_labels(p.dataset)


def _train_and_save(
    model: GenerativeModel,
    ckpt_dir: Path,
    *,
    name: str,
    seed: int,
    p: Plan,
    cls: type[GenerativeModel],
    amp: bool,
    digest: str,
    console: Progress,
    label: str,
) -> tuple[float, list[dict[str, float]], dict[str, Any]]:
    """Train ``model`` (resuming ``ckpt_dir``'s interrupted training) and save its model.pt:
    (the training time, log, weights info); ``label`` names it in the console."""
    final = ckpt_dir / "model.pt"
    ctx = TrainContext(
        seed=seed,
        device=p.device,
        checkpoint_path=ckpt_dir / PARTIAL,
        checkpoint_every=p.config.checkpoint_every,
        checkpoint_minutes=p.config.minutes_between_checkpoints(),
        amp=amp,
        progress=console.training(
            f"train {label} seed {seed}",
            hint=lambda total: shorten_hint(name, model.train_config(), total),
        ),
        data_digest=digest,  # saved in train.pt: a resume on changed data is refused
        machine=machine_text(machine(str(p.device))),
        warn=lambda message: console.warn(f"{label} seed {seed}: {message}"),
        info=lambda message: console.info(f"{label} seed {seed}: {message}"),
        labels=fit_labels(p, cls),
    )
    try:
        check_state_storable(model, name)
        with deterministic_training(p.device, p.config.deterministic) as mode:
            # a fit that caught Ctrl-C is interrupted all the same: no model.pt, its train.pt kept;
            # SIGTERM waits for the step to end, and its state is saved
            with steps_end_first(), ctrl_c_kept():
                summary = model.fit(_train_split_to_fit(p).to(p.device), ctx)
        if summary is not None and not isinstance(summary, Mapping):
            # a fit returning its last loss was a TypeError here, after the whole training and
            # before its model.pt: the trained weights were lost for a summary nothing needs
            console.warn(
                f"{label} seed {seed}: fit() returned {type(summary).__name__} {summary!r:.40}, not a dict "
                'of its summary (e.g. {"steps": n}); it is not recorded'
            )
            summary = None
        # saved with the weights: a loaded checkpoint says how it was trained
        summary = {**(summary or {}), **mode}
        check_weights_finite(model, summary, ctx)
    except KeyboardInterrupt as e:
        say_rerun(e, _rerun_after_stop(ctx, ckpt_dir, f"{label} seed {seed}"))
        raise
    except Exception as e:
        # failed (diverged, a bug): the next --retrain starts over; interrupted: it resumes
        (ckpt_dir / RETRAINING).unlink(missing_ok=True)
        if isinstance(e, Diverged):
            p.diverged[ckpt_dir] = e
        raise
    finally:
        console.training_done()
    train_s = ctx.elapsed()
    # a training resumed elsewhere (another machine, thread count or GPU) was timed on each of them
    trained_on = " then ".join(ctx.machines())
    # a subclass (an IntEnum, np.float64) as its plain type: the loader refuses an Enum
    summary = {k: stored(v) for k, v in summary.items() if isinstance(v, int | float | str | bool)}
    summary["resumed_from"] = ctx.resumed_from
    try:
        save_checkpoint(
            final,
            {
                "state": model.state_dict(),
                "train_s": train_s,
                "training_log": ctx.history,
                "config": stored(model.train_config()),
                "summary": summary,
                # the key names the dataset, not its content: a plugin dataset's changed data is caught here
                "data_digest": digest,
                "machine": trained_on,
            },
        )
    except KeyboardInterrupt as e:
        # stopped writing model.pt (SIGTERM waits for no step here): the training is done, and the
        # rerun resumes its last saved state; it said "trained models load from their checkpoints"
        what = _rerun_after_stop(ctx, ckpt_dir, f"{label} seed {seed}", trained=True)
        say_rerun(e, what)
        raise
    except GenbenchError as e:
        if isinstance(e, StateContentError):  # what fit left the state holding, unchecked before it
            e = StateContentError(e.refused, "state_dict()")
        elif not isinstance(e.__cause__, OSError):
            raise
        # a full disk, or a state the loader would refuse, after the whole training: the trained model
        # was thrown away with the run. It is scored now, uncached; the resumable state (if any) stays
        # for the next run to resume
        console.warn(
            f"{label} seed {seed}: trained, but {e}; it is scored now, and the next run trains it again"
        )
        info = recorded(
            weights_info(final, False, cls, amp, summary, trained_on), "trained", model.state_dict()
        )
        info["checkpoint"] = None
        return train_s, ctx.history, info
    # The retraining mark stays until the whole run finishes (retrain_finished): an interrupted
    # run's rerun loads what it had retrained. The resumable state (weights, EMA, optimizer) is of
    # no use once model.pt exists, and for the CIFAR-10 DDPM it is about 570 MB per seed.
    (ckpt_dir / PARTIAL).unlink(missing_ok=True)
    info = weights_info(final, False, cls, amp, summary, trained_on)
    return train_s, ctx.history, recorded(info, "trained", model.state_dict())


def _rerun_after_stop(ctx: TrainContext, ckpt_dir: Path, who: str, trained: bool = False) -> str:
    """What a rerun does with ``who``'s training, stopped (Ctrl-C, SIGTERM) before its model.pt was
    written; ``trained``: its fit had returned (stopped writing model.pt)."""
    if (ckpt_dir / PARTIAL).exists():
        step = ctx.saved_step if ctx.saved_step is not None else ctx.resumed_from
        # a fit that resumed at its last step asks of no step's end: it trained none
        last = ctx.ended_step if ctx.ended_step is not None else ctx.resumed_from
        if trained and step == last:
            # resumed at the end of its training, nothing is trained again: "rerun to resume
            # training" read as more training, "trained models load" as a model.pt there was none of
            return (
                f"rerun to save {who}'s trained model from its state at its last step ({step}): "
                "nothing is trained again"
            )
        return f"rerun to resume training from step {step}" if step else "rerun to resume training"
    # stopped before a state to resume from was saved: the rerun trains from step 0
    if ctx.refused is not None:
        # the refusal warned of earlier, not --checkpoint-every: a shorter one saves nothing either
        return (
            f"{who} saved no state to resume from (its state holds {ctx.refused}, which was refused), "
            "so a rerun trains it from the start"
        )
    return f"{who} had saved no state to resume from ({checkpoint_flags(ctx)}), so a rerun trains it from the start"


def checkpoint_flags(ctx: TrainContext) -> str:
    """When ``ctx`` saves a resumable state, as the flags that say so: ``--checkpoint-every 500,
    --checkpoint-minutes 30`` (the minutes left out where they are 0, or ignored: every 0 saves none)."""
    flags = f"--checkpoint-every {ctx.checkpoint_every}"
    if ctx.checkpoint_every and ctx.checkpoint_minutes:
        flags += f", --checkpoint-minutes {ctx.checkpoint_minutes:g}"
    return flags


def check_state_storable(model: GenerativeModel, name: str) -> None:
    """Raise :class:`StateContentError` before training when ``model``'s ``state_dict()`` already
    holds an object its checkpoint could not be loaded back with: its model.pt would be refused at
    the end of the training (scored uncached, and trained again on every run), so it fails before
    the hours of it. A state_dict() that raises before ``fit`` is checked when it is saved."""
    try:
        state = model.state_dict()
    except Exception:
        return
    try:
        serialized(state)
    except StateContentError as e:
        raise StateContentError(e.refused, "state_dict()", who=f"model {name!r}: ") from e


def stored(value: Any) -> Any:
    """``value`` (a training config, a summary) as model.pt stores it: numbers, strings, lists,
    tuples and dicts kept as they are, a subclass of one as its plain type, anything else (an Enum,
    a Path, a frozenset: config fields ``--set`` takes) as the checkpoint key hashes it, as its text
    (a set as its sorted items). The loader takes nothing else: the model.pt of a plugin with such
    a config field was saved, but could not be loaded."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    # a subclass as JSON writes it for the key: an IntEnum or a str Enum is its value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):  # bool has no subclass
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {stored(k): stored(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(stored(v) for v in value)
    return stored(_key_text(value))  # a set's sorted items may be Enums in turn


def checkpoint_subdir(dataset: str, name: str, model: GenerativeModel, seed: int, amp: bool) -> Path:
    """Where ``model``'s checkpoint lives under the cache's ``checkpoints/`` (and under a model's
    :attr:`~genbench.api.GenerativeModel.shipped_checkpoints`): ``<dataset>/<name>/seed<N>-<key>``,
    the dataset and model names spelled as folders every file system holds
    (:func:`genbench.portable_names.portable`: a plugin's ``con`` is ``_con``, which Windows makes;
    every other name is as it was, so existing caches are found; a folder of the old name is found
    by :func:`genbench.portable_names.kept_path`),
    the key hashing the training config, the seed and the model's version, and for a model of a file
    that ``--include`` named, that file's content: an edit to the file trains anew, where an
    installed plugin's ``version`` says when its checkpoints are stale (a researcher editing ``fit``
    in the file loaded the checkpoint of the code before, silently); for a model defined in the
    script that runs, or in a notebook, that script's content or the class's source
    (:func:`genbench.script_code.script_code`)."""
    code = edited_code(type(model))
    key = config_hash(
        name,
        dataset,
        training_key_config(model.train_config(), amp),
        seed,
        type(model).version,
        source=code.sha256 if code is not None else None,
    )
    return Path(portable(dataset)) / portable(name) / f"seed{seed}-{key}"


def weights_info(
    final: Path,
    loaded: bool,
    cls: type[GenerativeModel],
    amp: bool,
    summary: dict[str, Any],
    trained_on: str | None,
) -> dict[str, Any]:
    """What a result records of how its weights were obtained (``Result.training``): the checkpoint,
    loaded or trained, the model's version, mixed precision, the training summary, and the machine
    its training was timed on (when known)."""
    info = {"checkpoint": str(final), "loaded": loaded, "model_version": cls.version, "amp": amp, **summary}
    if trained_on is not None:
        info["trained_on"] = trained_on
    return info


def trained_alone(ckpt_dir: Path, who: str, console: Progress) -> contextlib.AbstractContextManager[bool]:
    """Hold the lock of ``ckpt_dir`` (a file beside it) while its checkpoint is loaded or trained.

    Two processes that needed one checkpoint (cluster jobs launched together, one per model: ddim
    takes ddpm's weights) both trained it, each slowing the other down, each recording the slowed
    training time, the last one's ``model.pt`` replacing the first's; a ``--retrain`` cleared a
    directory that another process was writing into. The second process now waits, then loads what
    the first saved (yields whether it waited: :func:`genbench.io.alone`).
    """
    return alone(ckpt_dir.parent / f"{ckpt_dir.name}.lock", who, "training it", console.warn)


def check_weights_finite(model: GenerativeModel, summary: dict[str, Any], ctx: TrainContext) -> None:
    """Raise :class:`Diverged` when training left a NaN or inf weight. A loss is checked before its
    step's update, so the last update (or any update of a plugin that checks nothing) could break
    the weights unseen: they were saved and cached, and every sample was "NaN from sample()",
    reported as the plugin's bug on each later run that loaded them."""
    bad = list(_nonfinite_tensors(model.state_dict()))
    if bad:
        steps = summary.get("steps")
        if not isinstance(steps, int):
            steps = int(ctx.history[-1]["step"]) if ctx.history else 0
        shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise Diverged(steps, why=f"NaN or inf weights after training: {shown}")


def _nonfinite_tensors(state: Any, prefix: str = "") -> Iterator[str]:
    """The names of the float tensors holding NaN or inf in a state dict, nested ones included (the
    baselines' are ``{"G": G.state_dict(), "D": ...}``), as ``G.net.0.weight``."""
    if torch.is_tensor(state):
        if state.is_floating_point() and not bool(state.isfinite().all()):
            yield prefix or "(the state)"
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from _nonfinite_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(state, list | tuple):
        for i, value in enumerate(state):
            yield from _nonfinite_tensors(value, f"{prefix}.{i}" if prefix else str(i))


def training_key_config(train_config: dict[str, Any], amp: bool) -> dict[str, Any]:
    """What the checkpoint key hashes besides the name, seed and version: bfloat16-autocast weights
    (``--amp`` on CUDA) are not the fp32 ones, so they get a key of their own and an fp32 run never
    loads them. Without ``--amp`` the config is hashed as it is, so fp32 keys never change."""
    return {**train_config, "amp": "bf16"} if amp else train_config


#: a checkpoint's temp file older than this is a killed write's: save_checkpoint serialises in memory
#: first, so a live write's temp is seconds old even for the CIFAR-10 DDPM (one that cannot take the
#: lock, on a file system without locks, may be writing beside us)
KILLED_WRITE_S = 3600.0


def _written(path: Path) -> tuple[int, int] | None:
    """When and as which file ``path`` was last written (its inode and mtime), None when absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns
