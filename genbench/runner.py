"""train-or-load -> sample (timed) -> features once -> every metric -> one result JSON each.

``run(config)`` is what `genbench run` calls. Every name is resolved before any work starts
(:mod:`genbench.planning`, over the checks `genbench eval` shares in :mod:`genbench.resolve`), so
a typo fails in a second, not after an hour of training. ``evaluate(samples, ...)``, what
`genbench eval` calls, is in :mod:`genbench.evaluation`; scoring samples into a result in
:mod:`genbench.scoring`; training or loading a cached checkpoint in :mod:`genbench.training`; the
reference features and ``--reference-stats``, read before any training, in
:mod:`genbench.plan_reference`. A model plugin that fails to import, diverges or raises is
recorded and skipped; the others go on.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench.api import GenerativeModel
from genbench.config import DEFAULT_SEED, RunConfig, absolute_paths
from genbench.environment import environment
from genbench.errors import Diverged, GenbenchError, PluginOutputError, plugin_fix, said
from genbench.features.base import Features
from genbench.isolation import global_rng_kept, torch_state_kept
from genbench.model_plan import Failed, row_label
from genbench.overrides import variant_label
from genbench.plan_reference import load_stats, reference_features_for
from genbench.planning import Plan, plan
from genbench.progress import Progress, command_console
from genbench.protocol_line import protocol_line
from genbench.provenance import model_source
from genbench.replacement import add_fingerprints, replaced_by_run
from genbench.results import Result, Status
from genbench.retraining import retrain_finished
from genbench.saved_samples import remove_samples_of, write_with_samples
from genbench.scoring import evaluate_into
from genbench.shared_folders import other_row
from genbench.skip_done import done_rows, row_config
from genbench.termination import unwinding
from genbench.training import train_or_load
from genbench.weights_owner import Owner, OwnerFailed, owners_code


def run(config: RunConfig) -> list[Result]:
    """Run every (model, variant, seed) of ``config``; returns the results written. The caller's
    global torch generators are left as they were (:func:`genbench.isolation.global_rng_kept`). Its
    paths are made absolute first (:func:`genbench.config.absolute_paths`): nothing written depends
    on a working directory a plugin changes."""
    console = Progress(enabled=config.progress)
    # what a dataset or feature extractor plugin leaves changed of torch's state, and a dataset's first
    # download, are said on the console
    config = absolute_paths(config)
    if config.seeds is None:  # a copy: the caller's None stays, for an `evaluate` given the same config
        config = replace(config, seeds=[DEFAULT_SEED])
    with global_rng_kept(), command_console(console):
        return _run(config, console)


def _run(config: RunConfig, console: Progress) -> list[Result]:
    p = plan(config, console)
    results: list[Result] = []
    out = Path(config.out)
    assert config.seeds is not None  # run() set the default
    seeds = list(dict.fromkeys(config.seeds))  # --seeds 0,0 runs seed 0 once
    # broken plugins' rows: recorded, each said on its own result line as a failure at run time is,
    # under its variant, never fatal; at once, not after the reference features' extraction (hours
    # of Inception on a CPU), which a run of broken model plugins alone skips: they score nothing
    for failed in p.failed:
        for seed in seeds:
            results.append(record_failed(p, failed, seed, out, console))
    # --skip-done: the rows whose result on disk is what this run would measure, read back (said first)
    done = done_rows(p, seeds, out, console) if config.skip_done else {}
    rows = sum(len(variants) for _, _, variants, _ in p.models) * len(seeds)
    # none left to run: no reference features (hours of Inception on a CPU) for nothing
    to_run = bool(p.models) and len(done) < rows
    reference = reference_features_for(p, console) if to_run else Features(np.zeros((0, 0)))
    load_stats(p, reference, console)
    if p.models:
        console.note(protocol_line(p, seeds))

    def guard(old: Result) -> str | None:  # the plan's check, again at the write
        # the fingerprints join the measures only where the protocols are compared (replaced_by_run):
        # the plan added them only if a result was there then
        return replaced_by_run(
            old,
            p.measures,
            p.metrics,
            p.metric_options,
            fix=WRITTEN_ASIDE_FIX,
            fingerprints=lambda: add_fingerprints(p.measures, p.extractor, p.dataset, p.reads_reference),
        )

    for name, cls, variants, owner in p.models:
        for overrides in variants:
            for seed in seeds:
                if (kept := done.get((name, row_label(overrides, owner), seed))) is not None:
                    results.append(kept)
                    continue
                result, samples, labels = run_one(p, name, cls, overrides, owner, seed, reference, console)
                result, path = write_result(
                    result,
                    out,
                    console,
                    guard,
                    samples=samples,
                    save_samples=config.save_samples,
                    labels=labels,
                )
                del samples  # 614 MB at CIFAR-10 scale: not held through the next model's training
                console.done(result, path)
                results.append(result)
    retrain_finished(p)
    return results


def record_failed(p: Plan, failed: Failed, seed: int, out: Path, console: Progress) -> Result:
    """Write the "failed" result of a row that failed at planning (:class:`genbench.model_plan.Failed`)
    at ``seed`` under its own row, and say it on its result line, as :func:`run_one`'s failures
    are: the failure of ``--set m.k=-1`` was filed under plain ``m``, beside or in place of its result."""
    result = Result(
        model=failed.model,
        dataset=p.dataset.name,
        seed=seed,
        variant=failed.variant,
        status="failed",
        error=failed.error,
        error_kind="plugin",
        # which package provides the model, where it imported: the board names a plugin's rows by it
        environment={**environment(str(p.device)), **(model_source(failed.cls) if failed.cls else {})},
    )
    result, path = write_result(result, out, console)
    console.done(result, path)
    return result


#: the fix named when a result was written aside (:func:`write_result`): the run is over, so the
#: plan's fix (pass --out) would come too late
WRITTEN_ASIDE_FIX = "to report this run's result, move it into an --out of its own"


def write_result(
    result: Result,
    out: Path,
    console: Progress,
    guard: Callable[[Result], str | None] | None = None,
    *,
    samples: torch.Tensor | None = None,
    save_samples: bool = False,
    labels: torch.Tensor | None = None,
) -> tuple[Result, Path | None]:
    """Write ``result``; returns what was written and where (None when nothing could be).

    A "failed" result (this attempt broke: out of memory, a corrupt checkpoint, a plugin that no
    longer imports, ``sample`` raising) never replaces an "ok" or "diverged" one of the same seed,
    which measured something: that file is kept, the failure goes beside it to
    ``seed<N>.failed.json`` (which the report never reads) and a warning says so. Any other result
    ("ok", or "diverged": the model's own outcome, a finding) replaces ``seed<N>.json`` and removes
    a ``seed<N>.failed.json`` left by an earlier attempt; so does a "failed" one over a failure.

    A write that raises (a value in a plugin's config that no JSON writer takes, a full disk) fails
    this model only, as its other bugs do: it is recorded as "failed" with the reason (identity and
    error only, the part that can still be written) and the other models run.

    ``guard(old)`` says why ``result`` must not replace the result ``old`` now in its file (the plan's
    check, :func:`genbench.replacement.replaced_by_run`), or None. The plan checked before any work, but
    another process may have written that file since (two runs of one model and seed into one --out,
    ``--samples 200`` and ``--samples 300``: the last to finish replaced the other's result). Such a
    result goes to :meth:`Result.aside_path` instead, with a warning: nothing measured is lost.

    ``samples``, the samples ``result`` scored, are written beside whichever file it goes to when
    ``save_samples`` (:mod:`genbench.saved_samples`, which also keeps or removes an older samples
    file there), with ``labels``, the classes a conditional model drew them for."""
    keep = functools.partial(
        write_with_samples, samples=samples, save=save_samples, warn=console.warn, labels=labels
    )
    try:
        return result, _write_keeping_outcomes(result, out, console, guard, keep)
    except Exception as e:
        # no path named: it may have been bound for seed<N>.json or for a file beside it (aside), and
        # what fails here is no file's fault (an OSError is a GenbenchError naming its file)
        why = f"the result of model {result.model!r} could not be written"
        failed = Result(
            model=result.model,
            dataset=result.dataset,
            seed=result.seed,
            variant=result.variant,
            status="failed",
            # a GenbenchError already names the file and the fix ("cannot write ...; free some space")
            error=str(e) if isinstance(e, GenbenchError) else f"{why}: {type(e).__name__}: {e}",
            # GenbenchError or OSError: an unwritable --out or a full disk, which the user fixes
            error_kind="user" if isinstance(e, GenbenchError | OSError) else "plugin",
        )
        # not said here: the result line the caller prints (console.done) says it, and a full disk's
        # "cannot write" came four times a model (a warning, again, the result line, the summary)
        try:  # with the samples: the failure to write the result is no reason to lose them
            return failed, _write_keeping_outcomes(failed, out, console, None, keep)
        except Exception as again:  # the summary still reports this failure
            if not (isinstance(again, GenbenchError) and isinstance(again.__cause__, OSError)):
                # a disk that took neither file is the result line's "(not written)"; anything else is news
                console.warn(
                    f"{result.label} seed {result.seed}: nor could its failure be recorded ({again})"
                )
            return failed, None


def _write_keeping_outcomes(
    result: Result,
    out: Path,
    console: Progress,
    guard: Callable[[Result], str | None] | None,
    write: Callable[[Result, Path], Path],
) -> Path:
    """The file rule of :func:`write_result`; ``write(result, path)`` writes (with its samples, or
    keeping or removing a samples file there: :func:`write_with_samples`)."""
    from genbench.results import load_result

    path, aside = result.path(out), result.failed_path(out)
    failed = result.status == "failed"
    old, why = None, None
    if (failed or guard is not None) and path.exists():
        try:
            old = load_result(path)
        except GenbenchError as e:  # a newer genbench's result, written while this ran: kept
            why = f"holds a result this genbench cannot read ({e})"
        except Exception:  # not a result genbench can read: nothing to keep, as the plan decided
            old = None
    # another row's result, whose folder this one's shares (macOS's "ResNet/" for "resnet/"): never
    # replaced, nor a failure kept beside it as its own rerun's
    clash = other_row(old, result) if why is None and old is not None else None
    if clash:
        why = clash
    elif why is None and old is not None and not failed and guard is not None:
        why = guard(old)
    if why:
        elsewhere = write(result, aside if failed and not clash else result.aside_path(out))
        # --save-samples: the fix (move the result into an --out of its own) moves its samples too
        kept = result.samples_file.get("name")
        samples = f", its samples to {elsewhere.with_name(kept)} (move both)" if kept else ""
        console.warn(
            f"{result.label} seed {result.seed}: {path} was written while this run ran (by another "
            f"genbench process, or by hand) and is kept: it {why}. This result is written to "
            f"{elsewhere}{samples}, which the report does not read"
        )
        return elsewhere
    if failed and old is not None and old.status in ("ok", "diverged"):
        write(result, aside)
        console.warn(
            f"{result.label} seed {result.seed} failed; the earlier {old.status} result in {path} "
            f"is kept, and this failure is written to {aside}"
        )
        return aside
    written = write(result, path)
    with contextlib.suppress(OSError):  # a stale failure left beside it is never read: no reason to fail
        aside.unlink(missing_ok=True)
    remove_samples_of(aside)
    return written


def run_one(
    p: Plan,
    name: str,
    cls: type[GenerativeModel],
    overrides: dict[str, str],
    owner: Owner | None,
    seed: int,
    reference: Features,
    console: Progress,
) -> tuple[Result, torch.Tensor | None, torch.Tensor | None]:
    """The result of ``name`` (with ``overrides``) at ``seed``, the samples it scored (None when
    it failed before sampling) and the classes they were drawn for (None but for a conditional model)."""
    sampled: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    result = Result(
        model=name,
        dataset=p.dataset.name,
        seed=seed,
        variant=row_label(overrides, owner),
        # which package (and version) provides the model: a plugin's row named neither
        environment={**environment(str(p.device)), **model_source(cls)},
    )
    # a failure is recorded, not warned about: the run prints its status and error at once
    # (Progress.done), and the same message twice in a row was all a failure printed
    try:
        # plan resolved it once already; a plugin's dataset_defaults may still raise this time
        cfg, result.config, owner_cfg = row_config(p, name, cls, overrides, owner)
        # what the model changes of torch's global state (grad mode off) is undone before the metrics
        # and the next model (scoring.evaluate_into does the same around its sampling)
        with torch_state_kept(f"{result.label} seed {seed}: model {name!r}", console.warn):
            model, train_s, log, info = obtain_model(
                p, name, cls, cfg, seed, console, owner, owner_cfg, label=result.label
            )
        result.training_log = log
        result.training = info
        result.timings["train_s"] = train_s
        n = p.config.samples or p.dataset.spec.num_train
        evaluate_into(
            result, p, model, n, seed, reference, console, on_sampled=lambda x, y: sampled.append((x, y))
        )
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a plugin's own bug, sys.exit or its own BaseException too: the others run
        if (stop := unwinding(e)) is not None:
            # raised by a cleanup as Ctrl-C or a stop unwound (the progress bar's last write to the
            # terminal that SIGHUP says closed): the run is stopped, not the model failed. It was
            # recorded as the model's failure ("model 'vae' raised OSError: Input/output error")
            raise stop from None
        result.status, result.error, result.error_kind = failure(e, name)
        if result.status == "diverged":
            result.flags = ["diverged"]
    return result, *(sampled[0] if sampled else (None, None))


def failure(e: BaseException, name: str) -> tuple[Status, str, str]:
    """A row's ``(status, error, error_kind)`` when the work of model ``name``'s row raised ``e``:
    diverged, the user's input (a GenbenchError; a batch the model may not return is its bug, as a
    metric's values are), or a plugin's own bug, named by whose code raised it: its weights owner's
    (:class:`OwnerFailed`), as planning names it (:func:`genbench.model_plan.checked_owners`), or its
    own."""
    role = ""
    if isinstance(e, OwnerFailed):
        role = f" as {name}'s weights owner"  # the row's model; the owner's code raised
        name, e = e.owner, e.error
    if isinstance(e, Diverged):
        return "diverged", f"model {name!r} {said(e)} training{role}" if role else said(e), "diverged"
    if isinstance(e, GenbenchError):
        return "failed", said(e), "plugin" if isinstance(e, PluginOutputError) else "user"
    return "failed", f"model {name!r} raised {type(e).__name__}{role}: {said(e)}{plugin_fix(e)}", "plugin"


def obtain_model(
    p: Plan,
    name: str,
    cls: type[GenerativeModel],
    cfg: Any,
    seed: int,
    console: Progress,
    owner: Owner | None,
    owner_cfg: Any = None,
    label: str | None = None,
) -> tuple[GenerativeModel, float, list[dict[str, float]], dict[str, Any]]:
    """Train or load ``name``, or, for a DDIM-like model, its weights ``owner`` (of config ``owner_cfg``);
    ``label`` is the row's (``name`` with its variant), for the console."""
    if owner is not None:  # the owner's checkpoint, named with its own variant (ddpm[train_steps=500])
        owned = variant_label(owner.overrides)
        shown = f"{owner.name}[{owned}]" if owned else None
        # torch's global state the owner's training leaves changed is the owner's to fix, not this model's
        who = f"{label} seed {seed}: model {owner.name!r} as {name}'s weights owner"
        with owners_code(owner.name), torch_state_kept(who, console.warn):
            trained, train_s, log, info = train_or_load(
                p, owner.name, owner.cls, owner_cfg, seed, console, shown
            )
        return cls.from_trained(trained, cfg), train_s, log, {"weights_from": owner.name, **info}
    return train_or_load(p, name, cls, cfg, seed, console, label)
