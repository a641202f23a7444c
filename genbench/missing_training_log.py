"""A run whose trained weights came with no training log, and what it costs the metrics that read one.

``gan_dynamics`` reads a run's training log (``Result.training_log``), not its samples. A GAN whose
weights were loaded from a checkpoint that carries no log (one an older genbench wrote, or a
plugin's own) had none to read: the metric did not apply, so the board marked that seed "no value
recorded", as though the value had been lost, and ``--metrics gan_dynamics`` said to use it "with GAN
models" of a GAN. Both now say why, in one line, with the fix (:func:`no_log_reason`). The run cannot
tell a GAN from another model by a log it lacks, so there the fix is a GAN's (a VAE loaded without
its log was told that --retrain would give it the GAN metric); the board knows, from the row's other
seeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genbench.results import Result

#: the metrics that read a run's training log, not its samples
TRAINING_LOG_METRICS = ("gan_dynamics",)


def no_training_log(r: Result) -> bool:
    """Whether ``r``'s trained weights were loaded from a checkpoint that carries no training log,
    so that a metric reading the log had none to read (a model that trains nothing has none to
    carry; a result that predates recording ``loaded`` is not known to)."""
    training = r.training or {}
    return training.get("loaded") is True and training.get("trainable") is not False and not r.training_log


def no_log_reason(metric: str, *, logs_it: bool = True) -> str:
    """Why ``metric`` (one of :data:`TRAINING_LOG_METRICS`) has no value for a seed whose weights
    came with no training log. ``logs_it``: the seed's model is known to log what ``metric`` reads
    (other seeds of its row have values); where it is not, the fix is said to be a GAN's."""
    fix = "rerun the seed with --retrain to log its training"
    if not logs_it:
        fix = f"if its model is a GAN, {fix} (it applies to GANs alone)"
    return (
        f"{metric}: the seed's weights were loaded from a checkpoint that carries no "
        f"training log (an older genbench's, or a plugin's), which {metric} reads; {fix}"
    )


__all__ = ["TRAINING_LOG_METRICS", "no_log_reason", "no_training_log"]
