"""What a dataset, feature extractor or metric plugin leaves changed of torch's global settings and the
working directory is restored, with a warning naming it: the models and metrics after it, and the
Python API's caller, run as they would without it (the models' own guard is tested in test_plugin)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from test_plugin import _Metric  # tests/ is on the path: pytest imports test modules by their name

from genbench import registry
from genbench.config import RunConfig
from genbench.data.toy2d import Ring8
from genbench.features.base import FeatureExtractor
from genbench.isolation import default_device
from genbench.results import Result
from genbench.runner import run


def _run(tmp_path: Path, cache_dir: Path, **fields) -> list[Result]:
    """gaussian and copy, scored with ``fields`` (ring8 and FID by default) in a run of the Python API."""
    config = RunConfig(
        **{"dataset": "ring8", "metrics": ["fid"], **fields},
        models=["gaussian", "copy"],
        samples=200,
        out=tmp_path / "runs",
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
    )
    return run(config)


def _leave_changed(elsewhere: Path) -> None:
    """What research code leaves behind: a default device (``"cuda"`` in the wild; the meta device
    here, which the CPU has too), a default dtype and a working directory of its own."""
    torch.set_default_device("meta")
    torch.set_default_dtype(torch.float64)
    os.chdir(elsewhere)


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A directory for the plugin to move to; torch's settings are put back whatever the test did."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    yield tmp_path / "elsewhere"
    torch.set_default_device(None)
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("kind", ["dataset", "feature extractor"])
def test_what_a_dataset_or_feature_extractor_plugin_leaves_changed_is_restored(
    register, tmp_path, cache_dir, elsewhere, capsys, kind
):
    """A dataset's ``_load`` or an extractor's batch that left a meta default device behind failed every
    later model, each as its own bug ("model 'copy' returned NaN/inf values from sample(); check the
    model"), and the caller of ``genbench.run`` was left in the plugin's directory with float64 tensors."""

    class MovingData(Ring8):
        def _load(self, split):
            loaded = super()._load(split)
            _leave_changed(elsewhere)
            return loaded

    class MovingFeatures(FeatureExtractor):
        supported_kinds = ("points",)

        def fingerprint(self):
            return "moving-v1"

        def _extract_batch(self, x):
            _leave_changed(elsewhere)
            return x, None

    if kind == "dataset":
        register(registry.datasets, "test-moving", MovingData)
        where = {"dataset": "test-moving"}
    else:
        register(registry.features, "test-moving", MovingFeatures)
        where = {"features": "test-moving"}
    for r in _run(tmp_path, cache_dir, **where):
        assert r.status == "ok" and not r.metric_errors, (r.error, r.metric_errors)
    assert Path.cwd() == tmp_path
    assert torch.get_default_dtype() == torch.float32 and default_device() == torch.device("cpu")
    err = " ".join(capsys.readouterr().err.split())
    assert f"{kind} 'test-moving' changed torch's global settings: default dtype torch.float64" in err
    assert (
        f"{kind} 'test-moving' changed the working directory to {elsewhere} (restored to {tmp_path})" in err
    )


def test_stats_to_a_relative_path_is_written_there_when_the_dataset_plugin_changes_directory(
    register, cli, tmp_path, cache_dir, elsewhere
):
    """`genbench stats --out ring.npz` of a dataset whose ``_load`` did ``os.chdir`` wrote the file into the
    plugin's directory and said it had written ./ring.npz."""

    class MovingData(Ring8):
        def _load(self, split):
            os.chdir(elsewhere)
            return super()._load(split)

    register(registry.datasets, "test-moving", MovingData)
    r = cli(
        "stats", "--out", "ring.npz", "--dataset", "test-moving", "--cache-dir", cache_dir, "--no-progress"
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ring.npz").is_file() and not (elsewhere / "ring.npz").exists()


@pytest.mark.parametrize("where", ["__init__", "applies_to", "compute when it does not apply"])
def test_what_a_metric_leaves_changed_outside_compute_is_restored(
    register, tmp_path, cache_dir, elsewhere, capsys, where
):
    """Only ``compute`` was guarded: a metric whose ``__init__`` or ``applies_to`` left a meta default
    device behind (or ``compute``, called to say why a metric named with --metrics does not apply)
    failed the next models as their own bug."""

    class Moving(_Metric):
        supported_kinds = ("points",)

        def __init__(self):
            if where == "__init__":
                _leave_changed(elsewhere)

        def applies_to(self, ctx):
            if where == "applies_to":
                _leave_changed(elsewhere)
            return where != "compute when it does not apply"

        def compute(self, ctx):
            _leave_changed(elsewhere)
            return {"moving": 1.0}

    register(registry.metrics, "test-moving", Moving)
    for r in _run(tmp_path, cache_dir, metrics=["test-moving", "fid"]):
        assert r.status == "ok" and "fid" in r.metrics, (r.error, r.metric_errors)
    assert Path.cwd() == tmp_path
    assert torch.get_default_dtype() == torch.float32 and default_device() == torch.device("cpu")
    assert "metric 'test-moving' changed torch's global settings: default dtype" in capsys.readouterr().err
