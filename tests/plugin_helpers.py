"""What the plugin tests share: in-process plugins registered for one test only (a metric that
returns one value, a model with a config and nothing to train, a plugin's own BaseException), a
ring8 run of them, and a result JSON read as strict JSON. Imported by name: tests/ is on the path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.metrics.base import Metric
from genbench.runner import run


class _PluginStop(BaseException):
    """A plugin's own BaseException subclass."""


class _Metric(Metric):
    higher_is_better: ClassVar[dict[str, bool]] = {}

    def compute(self, ctx):
        return {self.name.replace("-", "_"): 1.0}


class _ConfiguredModel(GenerativeModel):
    @dataclass
    class Config:
        scale: float = 1.0

    trainable = False

    def sample(self, n, *, generator):
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def run_ring8(tmp_path, cache_dir, models=("copy", "gaussian"), metrics=None, **extra):
    """{model: its result} of a ring8 run (the last seed's), one for every model given: a test that
    loops over the results' values checked nothing when the run gave none."""
    config = RunConfig(
        **extra,
        models=list(models),
        dataset="ring8",
        samples=200,
        metrics=metrics,
        out=tmp_path / "runs",
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
    )
    results = {r.model: r for r in run(config)}
    assert sorted(results) == sorted(set(models)), (list(models), list(results))
    return results


def read_strict(path: Path) -> dict:
    """A result JSON parsed as strict JSON: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)
