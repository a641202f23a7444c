"""What a model's ``fit`` or a metric's ``compute`` changes of the process (torch's global settings,
its default device, cuDNN autotuning, deterministic mode, the working directory) is restored before
the next model or metric runs, and said (audit 31). What a plugin leaves changed at import, loading
data or outside ``compute`` is tested in test_plugin_state."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from plugin_helpers import (  # tests/ is on the path: pytest puts it there
    _ConfiguredModel,
    _Metric,
    run_ring8,
)

from genbench import registry
from genbench.config import RunConfig
from genbench.results import find_results
from genbench.runner import run


def test_torchs_global_settings_a_plugin_changes_are_restored_for_the_next(register, tmp_path, cache_dir):
    """A model that left ``torch.set_grad_enabled(False)`` behind was recorded "ok", and the next
    model's training failed, blamed on that model; grad mode stayed off after ``run`` returned."""

    class NoGrad(_ConfiguredModel):
        def fit(self, train, ctx):
            torch.set_grad_enabled(False)
            torch.set_default_dtype(torch.float64)
            return {}

    class NeedsGrad(_ConfiguredModel):
        def fit(self, train, ctx):
            w = torch.zeros(1, requires_grad=True)
            (w * 2).sum().backward()  # "element 0 of tensors does not require grad" with grad mode off
            return {}

    class NoGradMetric(_Metric):
        def compute(self, ctx):
            torch.set_grad_enabled(False)
            return {"no_grad_metric": 1.0}

    class NeedsGradMetric(_Metric):
        def compute(self, ctx):
            assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32
            return {"needs_grad_metric": 1.0}

    register(registry.models, "test-no-grad", NoGrad)
    register(registry.models, "test-needs-grad", NeedsGrad)
    register(registry.metrics, "test-no-grad-metric", NoGradMetric)
    register(registry.metrics, "test-needs-grad-metric", NeedsGradMetric)
    metrics = ["test-no-grad-metric", "test-needs-grad-metric", "fid"]
    results = run_ring8(tmp_path, cache_dir, models=("test-no-grad", "test-needs-grad"), metrics=metrics)
    for r in results.values():
        assert r.status == "ok" and not r.metric_errors, (r.error, r.metric_errors)
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def test_a_default_device_a_model_sets_is_restored_for_the_next(register, tmp_path, cache_dir, capsys):
    """A model whose fit called ``torch.set_default_device`` (``"cuda"`` in much research code; the
    meta device here, which the CPU has too) sent every later tensor there: the next models failed,
    each as its own bug ("Tensor.item() cannot be called on meta tensors"), and so did the metrics."""

    class MetaDevice(_ConfiguredModel):
        def fit(self, train, ctx):
            torch.set_default_device("meta")
            return {}

    from genbench.isolation import default_device

    register(registry.models, "test-meta-device", MetaDevice)
    try:
        results = run_ring8(tmp_path, cache_dir, models=("test-meta-device", "gaussian"), metrics=["fid"])
        # torch 2.5's own getter raises once the default is cleared: read it as the harness does
        assert default_device() == torch.device("cpu")
    finally:
        torch.set_default_device(None)
    _meta_device_restored_for_the_others(results, capsys)


def _meta_device_restored_for_the_others(results: dict, capsys) -> None:
    """Every model ran ok beside 'test-meta-device', which was warned of for its default device."""
    for r in results.values():
        assert r.status == "ok" and not r.metric_errors, (r.error, r.metric_errors)
    err = " ".join(capsys.readouterr().err.split())
    assert "model 'test-meta-device' changed torch's global settings: default device meta" in err


def _get_default_device_of_torch_2_5() -> torch.device:
    """torch 2.5's ``get_default_device`` (pyproject's floor), written out: it read ``.device`` of the
    context that ``set_default_device(None)`` leaves None."""
    context = torch._GLOBAL_DEVICE_CONTEXT
    if hasattr(context, "device_context"):
        device = context.device_context.device
        return device if device.index is not None else torch.tensor([]).device
    return torch.device("cpu")


def test_a_default_device_restored_or_cleared_is_read_on_torch_2_5(
    register, tmp_path, cache_dir, monkeypatch, capsys
):
    """On torch 2.5 ``get_default_device`` raised AttributeError once the default was cleared: once
    the harness had restored a model's default device to the CPU (``set_default_device(None)``), or a
    model cleared it itself, reading it before the next model stopped the run on a traceback."""

    class MetaDevice(_ConfiguredModel):
        def fit(self, train, ctx):
            torch.set_default_device("meta")
            return {}

    class ClearsDevice(_ConfiguredModel):
        def fit(self, train, ctx):
            torch.set_default_device(None)
            return {}

    register(registry.models, "test-meta-device", MetaDevice)
    register(registry.models, "test-clears-device", ClearsDevice)
    monkeypatch.setattr(torch, "get_default_device", _get_default_device_of_torch_2_5)
    try:
        results = run_ring8(
            tmp_path,
            cache_dir,
            models=("test-clears-device", "test-meta-device", "gaussian"),
            metrics=["fid"],
        )
    finally:
        torch.set_default_device(None)
    _meta_device_restored_for_the_others(results, capsys)


def test_a_working_directory_a_model_changes_is_restored_for_the_next(
    register, tmp_path, cache_dir, monkeypatch, capsys
):
    """A model whose fit did ``os.chdir`` (research code moving to its own folder to read its files)
    sent the results of every later model of a run with a relative ``--out`` (``runs`` by default),
    and its own, into that folder; the run's summary pointed at the one it asked for."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    class MovesAway(_ConfiguredModel):
        def fit(self, train, ctx):
            os.chdir(elsewhere)
            return {}

    register(registry.models, "test-chdir", MovesAway)
    monkeypatch.chdir(tmp_path)
    config = RunConfig(
        models=["test-chdir", "gaussian"],
        dataset="ring8",
        samples=200,
        metrics=["fid"],
        out=Path("runs"),
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
    )
    assert [r.status for r in run(config)] == ["ok", "ok"]
    assert Path.cwd() == tmp_path
    assert [p.parent.name for p in find_results(tmp_path / "runs")] == ["gaussian", "test-chdir"]
    assert not list(elsewhere.rglob("*.json"))
    err = " ".join(capsys.readouterr().err.split())
    assert f"model 'test-chdir' changed the working directory to {elsewhere} (restored to {tmp_path})" in err


def test_cuda_autotuning_a_plugin_turns_on_is_restored_and_its_tf32_is_said(
    register, tmp_path, cache_dir, capsys
):
    """A model that switched on cuDNN autotuning or TF32 matmuls left them on for every later model's
    sampling and features on CUDA (the reference features, extracted first, ran without), unsaid.
    Autotuning is restored; TF32, which torch keeps under two APIs, is named in a warning."""

    class Tuner(_ConfiguredModel):
        def fit(self, train, ctx):
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            return {}

    register(registry.models, "test-tuner", Tuner)
    assert not torch.backends.cudnn.benchmark and not torch.backends.cuda.matmul.allow_tf32
    try:
        results = run_ring8(tmp_path, cache_dir, models=("test-tuner",), metrics=["fid"])
        assert results["test-tuner"].status == "ok"
        assert not torch.backends.cudnn.benchmark
        err = " ".join(capsys.readouterr().err.split())
        assert (
            "model 'test-tuner' changed torch's global settings: cuDNN autotuning True (restored to False)"
            in err
        )
        assert "model 'test-tuner' changed TF32 matmuls True (was False): later models' sampling" in err
    finally:
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False


def test_a_callers_warn_only_deterministic_mode_is_restored_with_its_warn_only(register, tmp_path, cache_dir):
    """Restoring the flag alone after a plugin turned it off made an API caller's
    ``use_deterministic_algorithms(True, warn_only=True)`` strict: later ops raised, not warned."""

    class Nondeterministic(_Metric):
        def compute(self, ctx):
            torch.use_deterministic_algorithms(False)
            return {"nondeterministic": 1.0}

    register(registry.metrics, "test-nondeterministic", Nondeterministic)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["test-nondeterministic"])
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
