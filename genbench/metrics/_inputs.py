"""Input checks shared by the metrics: each failure is one line that names the fix."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from genbench.errors import MetricInputError

#: the fix for too few sample rows: metrics run under `genbench run` (where --samples is a count) and
#: `genbench eval` (where it is a file), so it names both
MORE_SAMPLES = (
    "use more samples (genbench run --samples N; genbench eval: more samples in the .npz or folder)"
)


def logits_features(dataset: Any) -> list[str]:
    """The built-in ``--features`` that give logits of ``dataset``'s examples: ``inception``, and the
    ``classifier`` where the dataset has classes for it to learn (``num_modes`` known; None, a
    dataset not given). An image folder has none: naming the classifier sent the user to its error,
    "needs class labels and the folder has none; use --features inception"."""
    knows_classes = dataset is None or getattr(dataset, "num_modes", None) is not None
    return ["inception", "classifier"] if knows_classes else ["inception"]


def no_logits(metric: str, dataset: Any) -> str:
    """Why ``metric``, of logits (``needs_logits``), is not computed under features without them:
    what is, is_inf and a plugin's metric of logits all say."""
    return (
        f"{metric}: the feature extractor gives no logits; use one with a classifier head "
        f"({', '.join(logits_features(dataset))})"
    )


def split_fix(split: str) -> str:
    """The fix for too few rows of a dataset split (the reference, train or test set): more samples
    leave it as small as it was, which is what :data:`MORE_SAMPLES` told the user to change."""
    return f"use a dataset whose {split} split has more examples"


def check_features(
    x: Any, what: str, metric: str, min_rows: int = 2, why: str = "", fix: str = MORE_SAMPLES
) -> np.ndarray:
    """``x`` as an N x D float64 array with ``N >= min_rows``, ``D >= 1`` and only finite values;
    ``fix`` is what the error for too few rows tells the user to do (``x`` is of the samples unless
    said: :func:`split_fix` for a dataset split)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise MetricInputError(
            f"{metric}: {what} features must be N x D, got shape {a.shape}; "
            f"check the feature extractor's output"
        )
    if len(a) < min_rows:
        need = f" ({why})" if why else ""
        raise MetricInputError(
            f"{metric}: {what} has {len(a)} rows but needs at least {min_rows}{need}; {fix}"
        )
    if a.shape[1] == 0:  # a plugin extractor's N x 0 features: FID 0 and PRDC 0, silently
        raise MetricInputError(
            f"{metric}: {what} features have no dimensions (shape {a.shape}); "
            f"check the feature extractor's output"
        )
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).any(axis=1).sum())
        raise MetricInputError(
            f"{metric}: {bad} of {len(a)} {what} feature rows hold NaN or inf; "
            f"check the model's samples and the feature extractor"
        )
    return a


def reference_rows(ctx: Any, metric: str, why: str, min_rows: int = 2, lower: str = "") -> np.ndarray:
    """:func:`check_features` of ``ctx``'s reference features; none (statistics alone) names
    ``--reference-stats``, too few rows the reference split to grow (more samples leave it as it
    was), after ``lower`` (the options to lower first), if any."""
    if len(ctx.reference_features) == 0 and ctx.reference_stats is not None:  # (mu, sigma) alone
        raise MetricInputError(
            f"{metric}: needs reference features, not (mu, sigma) statistics; drop --reference-stats for {metric}"
        )
    grow = split_fix(ctx.reference_split)
    fix = f"lower --metric-option {lower}, or {grow}" if lower else grow
    return check_features(ctx.reference_features.features, "reference", metric, min_rows, why, fix)


def check_same_dim(a: np.ndarray, b: np.ndarray, metric: str, what: str = "sample and reference") -> None:
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(
            f"{metric}: {what} features have different dimensions ({a.shape[1]} vs {b.shape[1]}); "
            f"extract both with the same feature extractor (--features)"
        )


def option(ctx: Any, metric: str, key: str, default: Any) -> Any:
    """``ctx.options[metric][key]``, else ``default``; a declared default of None ("computed from the
    inputs", as KID's subset_size) gives ``default`` too."""
    value = (ctx.options.get(metric) or {}).get(key)
    return default if value is None else value


def int_option(ctx: Any, metric: str, key: str, default: int, minimum: int = 1) -> int:
    return check_int(option(ctx, metric, key, default), metric, key, minimum)


def check_int(value: Any, metric: str, key: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``, else MetricInputError naming ``metric.key``."""
    try:  # ints, or strings of ints as --set style options give them
        v = int(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    except ValueError:
        v = None
    if v is None or v < minimum:
        raise MetricInputError(f"{metric}: option {key}={value!r} must be an integer >= {minimum}")
    return v


def shared_tensor(a: np.ndarray) -> torch.Tensor:
    """``a`` as a tensor that shares its memory, for code that only reads it (torch-fidelity's KID,
    IS's shuffle). Features are read-only arrays (:class:`genbench.features.base.Features`), which
    ``torch.from_numpy`` takes with a warning that torch cannot enforce it; copying instead would
    double the 800 MB of CIFAR-10's 50k x 2048 reference features."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(a)
