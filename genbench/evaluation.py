"""``evaluate(samples, config)``: what `genbench eval` calls. Scores samples generated elsewhere
(an ``.npz`` or ``.npy``, an image folder, an array or a tensor) against a dataset, with the same features,
metrics and protocol record as `genbench run`, and never overwrites a result it did not write.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench import registry
from genbench.config import DEFAULT_SEED, EVAL_FIELDS, RunConfig, unused_fields_warning
from genbench.data.base import Dataset
from genbench.environment import environment
from genbench.errors import DataError, GenbenchError
from genbench.feature_use import needed_extractor, reads_features
from genbench.layout import BESIDE_LABELS, genbench_folder
from genbench.memorization_memory import warn_memorization_memory
from genbench.metric_checks import (
    build_metric_options,
    check_metric_classes,
    check_metric_features,
    check_metric_samples,
)
from genbench.metrics.base import Metric
from genbench.plan_reference import load_stats, reference_features_for
from genbench.planning import (
    Plan,
    check_stats_found,
    planned_reference,
    reads_reference,
    warn_archive_statistics,
    warn_unused_split,
    without_unused_stats,
)
from genbench.progress import Progress, command_console
from genbench.protocol_line import protocol_line
from genbench.replacement import add_fingerprints, metrics_replaced, protocol_replaced
from genbench.resolve import (
    build_dataset,
    build_metrics,
    check_built_dataset_name,
    check_shared_inputs,
    run_features,
)
from genbench.results import Result, names_no_folder, safe_name
from genbench.sample_labels import checked_labels, given_labels, labelled_classes, labels_sha256
from genbench.saved_samples import kept_by, remove_samples_of, samples_sha256, write_with_samples
from genbench.scoring import evaluate_into

if TYPE_CHECKING:
    import torch


def evaluate(
    samples: Any,
    config: RunConfig,
    *,
    name: str | None = None,
    labels: Any = None,
) -> Result:
    """Evaluate samples from anywhere against ``config.dataset`` (what `genbench eval` does).

    ``samples`` is the path of an ``.npz`` or ``.npy`` file or an image folder, a numpy array or a torch tensor
    (see :mod:`genbench.data.folder`). ``name`` is the leaderboard row: by default the file's or the
    folder's name ("samples" for an array); for a run's saved samples (``--save-samples``), the
    run's row with ``-eval`` (:func:`run_samples_name`). An existing result under that name is replaced only by
    an evaluation of the same samples (the same file or folder, or equal values with the same class
    labels, if any), so re-running is safe and nothing else is ever overwritten.

    Class-conditional samples: an ``.npz`` holding their classes beside them (ADM's ``arr_1`` beside
    ``arr_0``, or a conditional run's saved ``labels``) hands those to the metrics as
    ``EvalContext.sample_labels`` (checked: one integer per sample, in ``[0, num_modes)``), and the
    protocol records their counts; without them the metrics get None, as for unconditional samples.
    ``labels`` gives them for samples of any form (an array or tensor of one class per sample; a
    file's own labels are then not read): what a caller holding class-conditional samples in memory
    passes, as the ``.npz`` holds them for `genbench eval`.

    When no metric compares with the reference examples (IS alone, or FID against
    ``config.reference_stats``), the dataset is never read if it declares its ``example_shape``,
    and the protocol records no reference split or dataset fingerprint.
    """
    console = Progress(enabled=config.progress)
    # what a plugin leaves changed of torch's state, and a dataset's first download, said here
    with command_console(console):
        return _evaluate(samples, config, name, console, labels)


def _evaluate(
    samples: Any, config: RunConfig, name: str | None, console: Progress, given_classes: Any
) -> Result:
    from genbench.data.folder import as_samples

    if unused := unused_fields_warning(config, EVAL_FIELDS, "evaluate"):
        console.warn(unused)
    for why in registry.ignored_plugins():  # the built-in of that name runs; say whose is not
        console.warn(why)
    path = Path(samples).resolve() if isinstance(samples, str | os.PathLike) else None
    named = name is not None
    if name is None:
        name = _default_name(path)
        # --samples /: "--name '' cannot name a result", unasked; a file "a|b.npz" as "--name 'a|b'"
        if names_no_folder(name) or _splits_a_row(name):
            raise GenbenchError(
                f"cannot name a result after --samples {path}; pass --name, e.g. --name my-model"
            )
        if (what := genbench_folder(safe_name(name), BESIDE_LABELS)) is not None:  # figures.npz
            raise GenbenchError(
                f"cannot name a result after --samples {path}: {safe_name(name)!r} is {what}, beside "
                "each result's folder; pass --name, e.g. --name my-model"
            )
    name = check_result_name(name)
    device, cache_dir = check_shared_inputs(config)
    given = _single_seed(config.seeds)  # None: the run's seed, for a run's saved samples, else 0
    dataset = build_dataset(config.dataset, config)
    check_built_dataset_name(dataset)  # its results folder, as the registered name was checked
    metrics = build_metrics(
        config.metrics, dataset.kind, console, dataset.name, run_features(config, dataset)
    )
    config = without_unused_stats(config, metrics, console)
    check_stats_found(config, metrics)
    warn_archive_statistics(config, dataset, metrics, console)
    out = Path(config.out)
    # metrics of the samples alone (IS) and FID against --reference-stats: nothing of the dataset is
    # read when it declares its example shape, so cifar10 samples are scored against clean-fid's
    # or torch-fidelity's precomputed statistics without the archive (and no reference features
    # are extracted for nothing: Inception over 50000 images is hours on a CPU)
    reads = reads_reference(config, metrics)
    warn_unused_split(config, dataset, reads, console)
    with _naming_what_needs_the_data(config, metrics, reads, dataset):
        # 8-bit images kept uint8, a quarter of float32's memory: converted batch by batch as scored
        x = as_samples(samples, dataset.spec if reads else dataset.shape_spec(), keep_uint8=True)
        if len(x) < 2:  # as run's --samples: FID, KID and PRDC each failed on a line of their own
            where = str(path) if path is not None else "the array"
            raise GenbenchError(f"{where} holds 1 sample; pass 2 or more (FID's covariance needs 2)")
        # recorded in the protocol: where the numbers came from, and what a re-run may replace
        sha = samples_sha256(x)
        source = {
            "path": str(path) if path is not None else None,
            # as a run records the samples it keeps (--save-samples): an evaluation of them matches it
            "sha256": sha,
        }
        # the classes of class-conditional samples (ADM's arr_1, a run's saved labels), checked before any work
        if given_classes is not None:
            fix = f"pass labels= an integer array of {int(x.shape[0])} classes, one per sample, or None"
            labels = checked_labels(
                given_classes, int(x.shape[0]), dataset, "labels=", "given (labels=)", fix, console.warn
            )
        else:
            labels = given_labels(path, int(x.shape[0]), dataset, console.warn) if path is not None else None
        if labels is not None:  # the classes are part of what was scored: other labels, other values
            source["labels_sha256"] = labels_sha256(labels[0])
        run = kept_by(path, sha) if path is not None else None
        seed = _seed_for(run, given)
        _warn_other_seed(path, run, seed, console)
        if run is not None and not named:
            name = run_samples_name(run) or name
        result = Result(model=name, dataset=dataset.name, seed=seed, environment=environment(str(device)))
        options = build_metric_options(config, metrics, dataset)
        # before any work: nothing is computed in vain
        features = reads_features(metrics, options)  # else no extractor is built (memorization in pixels)
        measures = {"num_samples": int(x.shape[0]), **planned_reference(config, dataset, reads, features)}
        # a bad --features first: its own fix
        extractor = needed_extractor(dataset, config, metrics, options, features, device, console)
        check_metric_features(metrics, extractor, config.metrics)
        check_metric_samples(metrics, options, measures["num_samples"], extractor)
        warn_memorization_memory(metrics, options, measures["num_samples"], dataset, console)
        if labels is not None:  # intra_fid's class of one sample, said before any feature is extracted
            classes = labelled_classes(labels[1]["counts"], dataset, config.reference_split, reads)
            check_metric_classes(metrics, options, classes)

        def fingerprints() -> None:  # computed only when a result is there to compare with
            add_fingerprints(measures, extractor, dataset, reads)

        check_replaceable(
            result.path(out), source, metrics, options, measures, fingerprints=fingerprints, row=result
        )
        check_other_seeds(result.path(out), source)
        p = Plan(
            config,
            dataset,
            extractor,
            metrics,
            [],
            [],
            device,
            cache_dir,
            metric_options=options,
            reads_reference=reads,
            measures=measures,
        )
        reference = reference_features_for(p, console)  # none when reads_reference is False
        load_stats(p, reference, console)
        console.note(protocol_line(p, [seed], labels[1] if labels is not None else None))
        evaluate_into(
            result, p, None, int(x.shape[0]), seed, reference, console, samples=x, sample_labels=labels
        )
    result.protocol["samples"] = source
    try:  # checked before any work, and again now: another process may have written the file since
        fix = "to report this evaluation, move its file into an --out of its own"
        check_replaceable(
            result.path(out),
            source,
            metrics,
            options,
            measures,
            fix=fix,
            fingerprints=fingerprints,
            row=result,
        )
    except GenbenchError as e:
        out_path = _write(result, result.aside_path(out), x, console)
        console.warn(
            f"a result was written while this evaluation ran (by another genbench process, or by hand) "
            f"and is kept: {e}. This result is written to {out_path}, which the report does not read"
        )
    else:
        out_path = _write(result, result.path(out), x, console)
        # as a run's result does (runner.write_result): a failed rerun's file left beside the row's
        # seed (its result deleted by hand, as the report's note on it advises, then evaluated into)
        # was noted on the board as a later failure of this evaluation's values
        failed = result.failed_path(out)
        with contextlib.suppress(OSError):
            failed.unlink(missing_ok=True)
        remove_samples_of(failed)
    console.done(result, out_path)
    return result


def _write(result: Result, path: Path, samples: torch.Tensor, console: Progress) -> Path:
    """Write ``result`` to ``path``. A run's samples file left beside it (its result deleted by hand,
    as the refusal to replace a run's result advises) sat beside this evaluation, which had not
    scored it: kept, and recorded, only when it holds the samples evaluated, else removed."""
    return write_with_samples(result, path, samples, False, console.warn, flag=None)


def _seed_for(run: Result | None, given: int | None) -> int:
    """The seed an evaluation scores with: ``given`` (``--seed``), else the seed of ``run``, whose saved
    samples these are, else 0. KID's subsets and IS's splits are drawn from the seed: a default of 0
    scored ``seed1.samples.npz`` to other KID and IS values than its run's, unless --seed 1 was passed."""
    if given is not None:
        return given
    return run.seed if run is not None else DEFAULT_SEED


def _warn_other_seed(path: Path | None, run: Result | None, seed: int, console: Progress) -> None:
    """Warn, before any work, when ``path`` is ``run``'s saved samples (``--save-samples``) and ``--seed``
    gave another seed than the run's: KID's subsets and IS's splits are drawn from the seed."""
    if run is not None and run.seed != seed:
        console.warn(
            f"{path} holds the samples of {run.label} seed {run.seed}, which drew KID's subsets and IS's "
            f"splits from seed {run.seed}; scored as seed {seed}, they give other numbers than its run: "
            f"pass --seed {run.seed} to score them as it did"
        )


@contextlib.contextmanager
def _naming_what_needs_the_data(
    config: RunConfig, metrics: list[Metric], reads: bool, dataset: Dataset
) -> Iterator[None]:
    """A missing dataset's error (its download's fix first), with what else would do without it:
    dropping the metrics that compare with the data when --reference-stats can stand in; when none
    does, the features that need it (a dataset classifier is trained on it)."""
    try:
        yield
    except DataError as e:
        if reads and config.reference_stats is not None:
            needy = [m.name for m in metrics if m.uses_reference_features(have_stats=True)]
            # those the file serves alone: mifid compares with it too, but reads the train split
            alone = [m.name for m in metrics if m.name not in needy and m.reference == "stats"] or ["fid"]
            hint = (
                f"; or score against --reference-stats alone, without the data: drop the metrics that "
                f"read it ({', '.join(needy)}), e.g. --metrics {','.join(alone)}"
            )
        elif not reads:
            features = config.features or dataset.default_features
            hint = (
                f"; the {features!r} features are made from the data: pass --features inception, "
                "clean-inception or raw to score without it"
            )
            if config.reference_stats is not None:  # statistics of these features: of no use to others
                hint += f", with statistics of those features in place of {config.reference_stats}"
        else:
            hint = ""
        raise DataError(f"{e}{hint}") from None


def _default_name(path: Path | None) -> str:
    if path is None:
        return "samples"
    return path.name if path.is_dir() else path.stem  # a folder "run.v2" keeps its whole name


def run_samples_name(run: Result) -> str | None:
    """The default row of an evaluation of ``run``'s saved samples: its row with ``-eval``
    (``vae[steps=20]-eval``), so that a reader of the board places it, and the evaluations of the
    run's seeds make one row of as many seeds, as its own row does. Named after the file, each seed
    was a row of its own that no reader could place ("seed0.samples", "seed1.samples"); named as
    the run itself, it would be written over the run's result (which eval refuses). None when the
    label cannot name a result (a "/" in a --set value): the file's name serves."""
    name = f"{run.label}-eval"
    try:
        return check_result_name(name)
    except GenbenchError:
        return None


def check_result_name(name: str) -> str:
    """``name`` when it names one result directory and one row of a board; a "/" or a name of only dots
    or punctuation would write the result where :func:`genbench.results.find_results` never looks,
    ``figures`` in the runs' figures folder (:data:`genbench.layout.BESIDE_LABELS`), and a "|" or a
    line break would split the markdown board's row."""
    if "/" in name or "\\" in name or _splits_a_row(name) or names_no_folder(name):
        raise GenbenchError(
            f"--name {name!r} cannot name a result; use letters, digits, '.', '_', '=' or '-', e.g. --name my-model"
        )
    # its results in <out>/<dataset>/figures/, among the runs' figure folders (genbench.layout)
    if (what := genbench_folder(safe_name(name), BESIDE_LABELS)) is not None:
        raise GenbenchError(
            f"--name {name!r} is {what}, beside each result's folder; use another, "
            f"e.g. --name {safe_name(name)}-eval"
        )
    return name


def _splits_a_row(name: str) -> bool:
    """Whether ``name`` would split its row of the markdown board: a "|" or a line break (tabulate
    writes cells as they are)."""
    return any(c == "|" or not c.isprintable() for c in name)


def _single_seed(seeds: list[int] | None) -> int | None:
    """The one seed of an evaluation (None when none was given: :func:`_seed_for` settles it): one set
    of samples gives one result, so several seeds would only vary the metrics' subsets while looking
    like independent runs on a leaderboard."""
    if seeds is None:
        return None
    if not seeds:  # the Python API's RunConfig(seeds=[]) was seed 0, silently; run refuses it
        raise GenbenchError("no seed given; pass one, e.g. --seed 0")
    unique = list(dict.fromkeys(seeds))
    if len(unique) > 1:
        raise GenbenchError(
            f"eval takes one seed, got {','.join(map(str, unique))}; pass one (--seed {unique[0]}) and "
            f"evaluate each seed's samples on their own, under the same --name"
        )
    return unique[0]


def check_other_seeds(path: Path, source: dict[str, Any]) -> None:
    """Refuse to score samples that another seed of the same row already scored: the board averages a
    row's seeds as independent sample sets, so one file under --seed 0 and --seed 1 showed its FID
    as "58.7 ± 0", a spread over seeds that no second sample set was behind."""
    from genbench.results import load_result

    for other in sorted(path.parent.glob("seed*.json")):
        if other == path or not other.stem[4:].isdigit():  # seed<N>.failed.json, .aside-*: not the row's
            continue
        try:
            theirs = load_result(other).protocol.get("samples") or {}
        except Exception:  # unreadable: check_replaceable's business when it is this seed's
            continue
        if theirs.get("sha256") == source["sha256"]:
            raise GenbenchError(
                f"{other} already scored these samples as seed {other.stem[4:]}, and the board would average "
                f"them as two seeds; evaluate this seed's own samples, or pass --name for a row of their own"
            )


def check_replaceable(
    path: Path,
    source: dict[str, Any],
    metrics: list[Metric],
    options: dict[str, dict[str, Any]],
    measures: dict[str, Any],
    fix: str = "",
    fingerprints: Callable[[], None] | None = None,
    row: Result | None = None,
) -> None:
    """Refuse to overwrite ``path`` unless it holds an evaluation of the same samples (the same file
    or folder, or equal values) under the same protocol (``measures``: reference split, features,
    reference statistics, and the fingerprints that ``fingerprints()`` adds to it when there is such
    a result; :func:`genbench.replacement.protocol_replaced`) that ``metrics`` with
    ``options`` would not lose values of (:func:`genbench.replacement.metrics_replaced`). A mistyped
    --reference-stats path replaced a good FID with its error. ``fix``: what the error tells the user
    to do (by default: another --name). ``row``: the result to be written, whose folder another
    row's may share (:func:`genbench.shared_folders.other_row`: ``--name 'a b'`` and ``--name a_b``,
    or ``ResNet`` and ``resnet`` on macOS): that row's result is never replaced, its samples the same
    or not."""
    from genbench.results import load_result
    from genbench.shared_folders import other_row

    if not path.exists():
        return
    fix = (
        fix
        or "pass --name to save these samples under a name of their own, or delete that file to replace it"
    )
    try:
        old = load_result(path)
        theirs = old.protocol.get("samples") or {}
        label = old.label
    except Exception:  # unreadable or foreign JSON: not provably ours, so not ours to replace
        theirs, label = {}, None
    else:
        if row is not None and (clash := other_row(old, row)):
            raise GenbenchError(f"{path} {clash}; {fix}")
    same_file = theirs.get("path") is not None and theirs["path"] == source["path"]
    # a digest of labels that one of them does not record (unlabelled samples, an older genbench's
    # result) is no difference; labels dropped are _labels_dropped's
    was, now = theirs.get("labels_sha256"), source.get("labels_sha256")
    same_labels = was is None or now is None or was == now
    if same_file or (theirs.get("sha256") == source["sha256"] and same_labels):
        why = None
        if old.status == "ok":
            if fingerprints is not None:
                fingerprints()
            why = (
                protocol_replaced(old, measures, "evaluation", metrics)
                or metrics_replaced(old, metrics, options)
                or _labels_dropped(old, source)
            )
        if why:
            raise GenbenchError(f"{path} {why}, {fix}")
        return
    if theirs.get("sha256") == source["sha256"]:  # the same images drawn for other classes
        what = f"the evaluation of these samples with other class labels ({_drawn(old)})"
    elif theirs.get("path"):
        what = f"the evaluation of {theirs['path']}"
    elif theirs:
        what = "the evaluation of other samples"
    elif label is not None:
        what = f"a result of {label!r} that records no samples (a genbench run result, or an older eval)"
    else:
        what = "a file that genbench cannot read as a result"
    raise GenbenchError(f"{path} already holds {what}; {fix}")


def _labels_dropped(old: Result, source: dict[str, Any]) -> str | None:
    """What an evaluation of ``source`` without class labels would lose of ``old``, an evaluation of
    the same samples with theirs (``protocol.sample_labels``): the values of the metrics that read
    them (intra_fid, class_accuracy, cas), replaced by a result without any; None when it loses
    none. A re-evaluation that forgot ``labels=``, or the same images saved elsewhere without them
    (a folder of PNGs of an .npz's), dropped them without a word."""
    if "labels_sha256" in source or not old.protocol.get("sample_labels"):
        return None
    return (
        f"holds an evaluation of these samples with class labels ({_drawn(old)}), whose class-conditional "
        "values this one without labels would drop; give the same labels ('labels' beside 'samples' in "
        "the .npz, ADM's arr_1 beside arr_0, or evaluate(..., labels=))"
    )


def _drawn(old: Result) -> str:
    """Where ``old``'s class labels came from, as its protocol records it."""
    return str((old.protocol.get("sample_labels") or {}).get("drawn") or "none")
