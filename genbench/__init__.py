"""genbench: a benchmark and evaluation harness for image generative models.

The Python API does everything the CLI does::

    from genbench import RunConfig, run, evaluate
    results = run(RunConfig(models=["ddpm", "gan"], dataset="digits", seeds=[0, 1, 2]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genbench.config import RunConfig
from genbench.errors import GenbenchError
from genbench.registry import register_dataset, register_features, register_metric, register_model

__version__ = "0.1.0"

if TYPE_CHECKING:
    from genbench.api import DataSpec, GenerativeModel, TrainContext
    from genbench.results import Result

#: imported on first use (PEP 562): they need torch, whose import takes seconds, so that `genbench
#: --help` and `genbench list` start at once and a Ctrl-C while torch loads is the CLI's to handle
_LAZY = {"DataSpec": "genbench.api", "GenerativeModel": "genbench.api", "TrainContext": "genbench.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genbench' has no attribute {name!r}")


def run(config: RunConfig) -> list[Result]:
    """Train or load, sample, and evaluate every model of ``config``; writes and returns results."""
    from genbench.runner import run as _run

    return _run(config)


def evaluate(samples: Any, config: RunConfig, *, name: str | None = None) -> Result:
    """Evaluate samples against ``config.dataset``, as `genbench eval` does; writes and returns the result.

    ``samples``: the path of an ``.npz`` or an image folder, a numpy array (uint8 N x H x W x C, or
    float in [-1, 1]) or a torch tensor (uint8 N x C x H x W, or float N x *shape in [-1, 1]).
    ``name``: the leaderboard row [default: the file's name, "samples" for an array].
    """
    from genbench.evaluation import evaluate as _evaluate

    return _evaluate(samples, config, name=name)


def stats(path: Any, config: RunConfig) -> dict[str, Any]:
    """Write the FID reference statistics (mu, sigma) of ``config.dataset``'s
    ``config.reference_split`` in ``config.features`` to the ``.npz`` at ``path``, as `genbench
    stats` does; returns what the file records about how they were made."""
    from genbench.statistics import stats as _stats

    return _stats(path, config)


def report(out: Any = "runs", leaderboards: Any = None) -> dict[str, str]:
    """Aggregate results under ``out`` into leaderboards (``out/leaderboards`` unless given);
    returns {dataset: markdown}."""
    from pathlib import Path

    from genbench.reporting import default_leaderboards, write_report

    return write_report(
        Path(out), Path(leaderboards) if leaderboards is not None else default_leaderboards(out)
    )


__all__ = [
    "DataSpec",
    "GenbenchError",
    "GenerativeModel",
    "RunConfig",
    "TrainContext",
    "evaluate",
    "register_dataset",
    "register_features",
    "register_metric",
    "register_model",
    "report",
    "run",
    "stats",
]
