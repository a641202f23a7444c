"""What a dataset, feature extractor or metric plugin leaves changed of torch's global settings and the
working directory is restored, with a warning naming it: the models and metrics after it, and the
Python API's caller, run as they would without it (the models' own guard, and a metric's in its
compute, are tested in test_plugin_run_state)."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import pytest
import torch
from plugin_helpers import _Metric  # tests/ is on the path: pytest puts it there
from test_registry import fake_distribution

from genbench import registry
from genbench.config import RunConfig
from genbench.data.toy2d import Ring8
from genbench.errors import PluginLoadError
from genbench.features.base import FeatureExtractor
from genbench.isolation import default_device
from genbench.results import Result
from genbench.runner import run


def _run(tmp_path: Path, cache_dir: Path, **fields) -> list[Result]:
    """``fields`` (gaussian and copy on ring8, scored with FID, by default) in a run of the Python API."""
    config = RunConfig(
        **{"dataset": "ring8", "metrics": ["fid"], "models": ["gaussian", "copy"], **fields},
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


def _installed(site: Path, monkeypatch, group: str, module: str, text: str, attr: str) -> None:
    """Module ``module`` (``text``) installed under ``site`` as a distribution declaring ``test-stateful``
    in entry-point ``group``; the real registry of that group reads it afresh and forgets it after the test."""
    site.mkdir()
    (site / f"{module}.py").write_text(text)
    fake_distribution(site, "stateful-dist", {group: {"test-stateful": f"{module}:{attr}"}})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, module, raising=False)
    reg = next(r for r in (registry.models, registry.metrics) if r.group == group)
    reg.discover()
    for field in ("_entries", "_discovered", "_path_state"):  # read again with the site, restored after
        monkeypatch.setattr(reg, field, copy.copy(getattr(reg, field)))
    reg._discovered = False


#: what research code runs at import, at a module's top level
_AT_IMPORT = (
    "import os, torch\n"
    "torch.set_default_device('meta')\n"
    "torch.set_default_dtype(torch.float64)\n"
    "os.chdir({elsewhere!r})\n"
)


def test_what_a_model_plugin_leaves_changed_at_import_is_restored(
    tmp_path, cache_dir, elsewhere, capsys, monkeypatch
):
    """Calls into plugins were guarded, their import was not: a model plugin's module that set a meta
    default device at its top level failed every later model as its own bug ("check the model"), and the
    caller of ``genbench.run`` was left in the plugin's directory with float64 tensors."""
    text = _AT_IMPORT.format(elsewhere=str(elsewhere)) + (
        "from baselines.controls import Gaussian\nclass Stateful(Gaussian):\n    pass\n"
    )
    _installed(tmp_path / "site", monkeypatch, "genbench.models", "stateful_model_xyz", text, "Stateful")
    results = _run(tmp_path, cache_dir, models=["test-stateful", "gaussian"])
    assert [r.model for r in results] == ["test-stateful", "gaussian"]
    for r in results:
        assert r.status == "ok" and not r.metric_errors, (r.error, r.metric_errors)
    assert registry.models.get("test-stateful").__module__ == "stateful_model_xyz"  # registered as before
    assert Path.cwd() == tmp_path
    assert torch.get_default_dtype() == torch.float32 and default_device() == torch.device("cpu")
    err = " ".join(capsys.readouterr().err.split())
    who = "model plugin 'test-stateful' from stateful-dist (importing stateful_model_xyz)"
    assert (
        f"{who} changed torch's global settings: default dtype torch.float64 (restored to torch.float32), "
        "default device meta (restored to cpu)"
    ) in err
    assert f"{who} changed the working directory to {elsewhere} (restored to {tmp_path})" in err


def test_what_a_plugin_that_fails_to_import_leaves_changed_is_restored(tmp_path, elsewhere, monkeypatch):
    """Its failure is one error line, and the other metrics run under the state they would have had."""
    text = _AT_IMPORT.format(elsewhere=str(elsewhere)) + "raise ImportError('no such backend')\n"
    _installed(tmp_path / "site", monkeypatch, "genbench.metrics", "stateful_metric_xyz", text, "Broken")
    with pytest.warns(RuntimeWarning) as caught:  # no command's console: Python warnings
        with pytest.raises(PluginLoadError, match="failed to import .*no such backend; fix or uninstall"):
            registry.metrics.get("test-stateful")
    who = "metric plugin 'test-stateful' from stateful-dist (importing stateful_metric_xyz) changed"
    said = sorted(str(w.message) for w in caught)
    assert len(said) == 2 and said[0].startswith(f"{who} the working directory to {elsewhere}")
    assert said[1].startswith(f"{who} torch's global settings: default dtype torch.float64")
    assert Path.cwd() == tmp_path
    assert torch.get_default_dtype() == torch.float32 and default_device() == torch.device("cpu")
