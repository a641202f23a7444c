"""Calling one metric and what comes of it: whether it applies (and, named with ``--metrics``, why
not), its ``compute`` with the values it returns checked before they are kept, and its error
recorded in the result, as the user's or as the metric's own bug. A metric that raises, or returns
a value it may not write, fails alone: the model and the other metrics are untouched
(:func:`genbench.scoring.evaluate_into` calls each metric through these).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from genbench.api import plugin_number
from genbench.errors import GenbenchError, PluginOutputError, said
from genbench.isolation import ctrl_c_kept
from genbench.metrics._inputs import no_logits
from genbench.metrics.base import EvalContext, Metric
from genbench.missing_training_log import TRAINING_LOG_METRICS, no_log_reason, no_training_log
from genbench.progress import Progress
from genbench.results import RESERVED_METRIC_KEYS, Result


def applies(metric: Metric, ctx: EvalContext, result: Result, console: Progress) -> bool:
    """``metric.applies_to(ctx)`` (``ctx`` the metric's own copies); when it raises, that is the
    metric's error, not the model's."""
    try:
        return bool(metric.applies_to(ctx))
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        record_metric_error(result, metric, e, console)
        return False


def not_applicable(metric: Metric, ctx: EvalContext, result: Result) -> str:
    """Why a metric named with --metrics does not apply here: the input error its ``compute`` raises
    (the built-in ones say what to change, e.g. "the feature extractor gives no logits"), else that
    it does not apply. First, for a metric of the training log, that the checkpoint carried none
    (gan_dynamics' own message told a GAN loaded without one to use it "with GAN models")."""
    if metric.name in TRAINING_LOG_METRICS and no_training_log(result):
        return no_log_reason(metric.name, logs_it=False)  # a VAE has none to log: unknown here
    try:  # compute's contract: a MetricInputError naming the fix when its inputs do not fit
        with ctrl_c_kept():
            metric.compute(ctx)
    except GenbenchError as e:
        if not isinstance(e, PluginOutputError):
            return said(e)
    except KeyboardInterrupt:
        raise
    except BaseException:  # a plugin's bug here is no reason to stop the run
        pass
    if metric.needs_logits and ctx.sample_features.logits is None:  # as is says it (its compute does)
        return no_logits(metric.name, ctx.dataset)
    return f"{metric.name}: does not apply to {result.label} on {ctx.dataset.name}"


def compute_metric(
    metric: Metric, ctx: EvalContext, result: Result, owners: dict[str, str], console: Progress
) -> None:
    """Compute ``metric`` into ``result``; raises when it fails or returns values it may not write."""
    # a compute that caught Ctrl-C returned values of a part of its work: the run stops, as for fit
    with warnings.catch_warnings(record=True) as caught, ctrl_c_kept():
        warnings.simplefilter("always")
        values = metric.compute(ctx)
    for w in caught:
        console.warn(f"{result.label} seed {ctx.seed}: {metric_message(metric.name, str(w.message))}")
    if not isinstance(values, Mapping):  # else "'NoneType' object has no attribute 'items'"
        raise PluginOutputError(
            f"{metric.name}: compute returned {type(values).__name__}, not a dict of values"
        )
    kept, problems = checked_values(metric.name, values, owners)
    result.metrics.update(kept)  # its good values are kept even when others are refused
    undeclared = [k for k in kept if k not in metric.higher_is_better]
    if undeclared:  # kept, as lm-evaluation-harness does, and said once a run (the text is the same)
        console.warn(
            f"metric {metric.name!r} returned {', '.join(map(repr, undeclared))} without declaring "
            "it in higher_is_better: the leaderboard shows it unranked and cannot say why a cell is "
            "missing; declare each value's direction there (True, False, or None for a diagnostic)"
        )
    if problems:
        raise PluginOutputError(f"{metric.name}: {'; '.join(problems)}")
    result.flags.extend(f for f in metric.flags(values) if f not in result.flags)


def record_metric_error(
    result: Result, metric: Metric, e: BaseException, console: Progress, announced: str | None = None
) -> None:
    """Record ``metric``'s error in ``result`` and warn, unless the user's error is ``announced``
    (said already, once for the run)."""
    where, text = f"{result.label} seed {result.seed}", said(e)
    if isinstance(e, GenbenchError) and not isinstance(e, PluginOutputError):
        result.metric_errors[metric.name] = text
        result.metric_error_kinds[metric.name] = "user"
        if text != announced:
            console.warn(f"{where}: {metric_message(metric.name, text)}")
        return
    # the metric's own bug (a raise, or values it may not write): exit 1, as a failed model plugin
    result.metric_error_kinds[metric.name] = "plugin"
    if isinstance(e, PluginOutputError):
        result.metric_errors[metric.name] = text
        console.warn(f"{where}: {metric_message(metric.name, text)}")
    else:  # named by its exception type
        result.metric_errors[metric.name] = f"{type(e).__name__}: {text}"
        console.warn(f"{where}: metric {metric.name!r} raised {type(e).__name__}: {text}")


def key_owners(metrics: list[Metric]) -> dict[str, str]:
    """Value name -> the metric that declares it in ``higher_is_better``. In-tree metrics claim
    first, so a plugin declaring ``fid`` can never replace the built-in FID, in any order."""
    owners: dict[str, str] = {}
    for m in sorted(metrics, key=lambda m: not type(m).__module__.startswith("genbench.")):
        for key in m.higher_is_better:
            owners.setdefault(key, m.name)
    return owners


def checked_values(
    metric: str, values: dict[str, Any], owners: dict[str, str]
) -> tuple[dict[str, float], list[str]]:
    """The values ``metric`` may write, and why each other one is refused: a result column's name
    (a leaderboard would show "seeds 99"), another metric's value (it would replace it silently),
    or not a finite number (strict JSON has no NaN; a board would average it)."""
    kept: dict[str, float] = {}
    problems = []
    for key, value in values.items():
        number = plugin_number(value)  # one that float() cannot read lost the metric's good values
        if key in RESERVED_METRIC_KEYS:
            problems.append(f"returned {key!r}, the name of a result column; rename the key")
        elif owners.setdefault(key, metric) != metric:  # the first metric to write a key owns it
            problems.append(f"returned {key!r}, which metric {owners[key]!r} writes; rename the key")
        elif number is None or not math.isfinite(number):
            problems.append(f"returned {value!r} for {key!r}, not a finite number")
        else:
            kept[key] = number
    return kept, problems


def metric_message(metric: str, message: str) -> str:
    """``"prdc: <message>"``, without doubling the prefix that most metric messages carry already."""
    return message if message.startswith(f"{metric}:") else f"{metric}: {message}"
