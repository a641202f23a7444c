"""The types of a :class:`~genbench.config.RunConfig` built in Python, checked before any work
(:func:`check_config_types`, which `genbench run` and `genbench eval` both call): the CLI's parser
always gives the right types, but a RunConfig made in Python may hold a string where a list goes
(read one character at a time: "unknown model 'd'"), ``"no"`` for a flag (true), or numpy's
integers (no JSON). Each field fails in one line naming it and an example of its type. The values
the parser checks are checked here too (the seeds, the reference split, ``checkpoint_every`` and
``checkpoint_minutes``), and numpy's numbers are made Python's.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

from genbench.config import DEFAULT_SEED, PATH_FIELDS, RunConfig
from genbench.errors import GenbenchError
from genbench.flag_values import check_seeds, parse_split


def _check_type(config: RunConfig, name: str, ok: Callable[[Any], bool], what: str) -> None:
    """A field of a RunConfig built in Python (the CLI's parser always gives the right types): a
    string where a list goes was read one character at a time ("unknown model 'd'")."""
    value = getattr(config, name)
    if not ok(value):
        raise GenbenchError(f"RunConfig.{name} must be {what}, got {value!r}")


def _is_int(value: Any) -> bool:  # numpy's integers too (np.arange(3), a sweep's values)
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:  # numpy's too
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _is_path(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


def _is_names(value: Any) -> bool:
    return _is_list(value) and all(isinstance(v, str) for v in value)


def _plain_ints(config: RunConfig, *names: str) -> None:
    """numpy's integers, checked by :func:`_is_int`, as Python ints: results are JSON, which has no
    ``np.int64``."""
    for name in names:
        value = getattr(config, name)
        if value is not None:
            setattr(config, name, int(value))


def check_config_types(config: RunConfig, *, run: bool) -> None:
    """The types of the fields `genbench eval` reads, and with ``run`` those only `genbench run`
    reads, each failing in one line naming the field and an example of its type."""
    if config.seeds is None and run:  # eval's None is settled once it knows whose samples it scores
        config.seeds = [DEFAULT_SEED]
    if config.seeds is not None:
        _check_type(config, "seeds", _is_list, "a list of integers, e.g. [0, 1, 2]")
        check_seeds(config.seeds, "--seeds 0,1,2" if run else "--seed 0")
    _check_type(config, "dataset", _is_path, "a dataset name or a folder of images, e.g. 'digits'")
    # Path("") is the working directory: `--dataset "$DATA"` with DATA unset read the folder the
    # command ran in as a dataset of images ("images have mixed sizes: leaderboards/...")
    if isinstance(config.dataset, str) and not config.dataset.strip():
        raise GenbenchError(
            "--dataset is empty (an unset shell variable?); pass a dataset name, e.g. --dataset digits "
            "(see `genbench list datasets`), or a folder or .npz of images, '.' for here"
        )
    _check_type(
        config,
        "features",
        lambda v: v is None or isinstance(v, str),
        "a feature extractor name or None, e.g. 'raw'",
    )
    if config.features is not None and not config.features.strip():  # ran the dataset's, unsaid
        raise GenbenchError(
            "--features is empty (an unset shell variable?); pass a feature extractor's name, e.g. "
            "--features inception (see `genbench list features`), or leave it out for the dataset's"
        )
    _check_type(
        config,
        "metrics",
        lambda v: v is None or (_is_names(v) and len(v) > 0),  # [] ran no metric and said "ok"
        "a list of metric names, or None for every metric that applies, e.g. ['fid']",
    )
    _check_type(
        config,
        "metric_options",
        _is_names,
        "a list of METRIC.KEY=VALUE strings, e.g. ['fid.backend=clean-fid']",
    )
    _check_type(config, "batch_size", _is_int, "an integer, e.g. 500")
    _check_type(config, "device", _is_str, "a string, e.g. 'auto', 'cpu' or 'cuda:0'")
    _check_type(config, "reference_split", _is_str, "a split name, e.g. 'train'")
    # its value too, as the CLI's parser checks it, not only where a split is read: IS alone (or FID
    # against --reference-stats) scored with RunConfig(reference_split="val") and a warning that it
    # was not used
    parse_split(config.reference_split)
    _check_type(config, "out", _is_path, "a path, e.g. 'runs'")  # Path(None) raised a TypeError
    for name in PATH_FIELDS:
        if name != "out":  # checked above: it has a default, never None
            _check_type(config, name, lambda v: v is None or _is_path(v), "a path or None")
    for flag in ("figures", "progress"):  # RunConfig(figures="no") is true
        _check_type(config, flag, _is_bool, "True or False")
    _plain_ints(config, "batch_size")
    if config.seeds is not None:
        config.seeds = [int(s) for s in config.seeds]
    if not run:
        return
    for flag in ("retrain", "skip_done", "amp", "deterministic", "save_samples"):
        _check_type(config, flag, _is_bool, "True or False")
    _check_type(config, "models", _is_names, "a list of model names, e.g. ['ddpm']")
    _check_type(config, "overrides", _is_names, "a list of MODEL.FIELD=VALUE strings, e.g. ['ddim.steps=10']")
    _check_type(
        config,
        "samples",
        lambda v: v is None or _is_int(v),
        "an integer (samples per model), or None for the size of the train split, e.g. 1000",
    )
    _check_type(config, "checkpoint_every", _is_int, "an integer (training steps), e.g. 500")
    _plain_ints(config, "samples", "checkpoint_every")
    if config.checkpoint_every < 0:  # step % -5 == 0 checkpointed every 5 steps
        raise GenbenchError(
            f"--checkpoint-every must be >= 0 (0 saves no resumable checkpoints), got {config.checkpoint_every}"
        )
    # None: not given (30 minutes, or nothing with --checkpoint-every 0), left as None so that the
    # caller's RunConfig, passed on to evaluate, does not turn up set
    _check_type(
        config, "checkpoint_minutes", lambda v: v is None or _is_number(v), "a number (minutes), e.g. 30"
    )
    if config.checkpoint_minutes is not None:
        _check_checkpoint_minutes(config, config.checkpoint_minutes)


def _check_checkpoint_minutes(config: RunConfig, given: float) -> None:
    """A given ``--checkpoint-minutes`` (``given``): a number >= 0, and 0 beside ``--checkpoint-every 0``."""
    config.checkpoint_minutes = float(given)  # an int or numpy float, as the CLI gives
    if not 0 <= config.checkpoint_minutes < math.inf:  # nan never came due: it saved on steps only
        raise GenbenchError(
            "--checkpoint-minutes must be a number of minutes >= 0 (0 saves on steps only), "
            f"got {config.checkpoint_minutes:g}"
        )
    # 0 has always meant no resumable state at all (no 570 MB writes): the minutes would be ignored.
    # Any minutes given, 30 too: compared with the default, an explicit 30 passed unsaid
    if config.checkpoint_every == 0 and config.checkpoint_minutes != 0:
        raise GenbenchError(
            f"--checkpoint-minutes {config.checkpoint_minutes:g} saves nothing with --checkpoint-every 0, "
            "which saves no resumable checkpoints; pass --checkpoint-every N to save on time too"
        )
