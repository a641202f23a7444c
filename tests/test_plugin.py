"""A third-party plugin package, installed with pip, runs through the CLI; a broken one is isolated."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pytest
import torch

import genbench
from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.features.base import FeatureExtractor
from genbench.leaderboard import aggregate, results_frame
from genbench.metrics.base import Metric
from genbench.registry import Entry
from genbench.results import RESERVED_METRIC_KEYS, Result, find_results, load_result
from genbench.runner import run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "genbench-example-plugin"

BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genbench-broken-plugin"
version = "0.0.1"

[project.entry-points."genbench.models"]
broken-model = "genbench_broken_plugin:Model"
"""


def pip_install(package: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(package),
        ],
        check=True,
        capture_output=True,
    )


def test_installed_plugin_runs_and_broken_plugin_does_not_take_others_down(
    tmp_path, cache_dir, genbench_process
):
    broken = tmp_path / "broken"
    (broken / "genbench_broken_plugin").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "genbench_broken_plugin" / "__init__.py").write_text("import a_module_that_is_not_installed\n")
    site = tmp_path / "site"
    pip_install(EXAMPLE, site)
    pip_install(broken, site)
    assert list(site.glob("genbench_example_plugin-*.dist-info"))

    out = tmp_path / "runs"
    proc = genbench_process(
        "run",
        "--models",
        "independent-pixels,broken-model,gaussian",
        "--set",  # an option for the broken plugin does not stop the others either
        "broken-model.steps=3",
        "--dataset",
        "ring8",
        "--samples",
        "500",
        "--out",
        out,
        "--cache-dir",
        cache_dir,
        "--no-progress",
        site=site,
    )
    assert proc.returncode == 1, proc.stderr  # a requested model could not run
    assert "Traceback" not in proc.stderr
    mentions = [
        ln for ln in proc.stderr.splitlines() if "broken-model" in ln and "genbench-broken-plugin" in ln
    ]
    assert len(mentions) == 1, proc.stderr  # reported once, naming its distribution

    plugin = json.loads((out / "ring8/independent-pixels/seed0.json").read_text())
    assert plugin["status"] == "ok" and plugin["metrics"]["fid"] > 0
    assert json.loads((out / "ring8/gaussian/seed0.json").read_text())["status"] == "ok"
    assert json.loads((out / "ring8/broken-model/seed0.json").read_text())["status"] == "failed"

    listing = genbench_process("list", "models", site=site)
    assert listing.returncode == 0
    assert "independent-pixels" in listing.stdout and "genbench-example-plugin" in listing.stdout


def test_the_readme_installs_the_example_plugin_from_a_path_that_exists_and_shows_its_code():
    """The README said `pip install ./genbench-example-plugin`, which is no path from the clone's root
    (the package is under examples/), after showing the files as that package's."""
    import re

    root = EXAMPLE.parent.parent
    readme = (root / "README.md").read_text()
    installs = re.findall(r"`pip install (\S+)`", readme)
    assert installs
    for path in installs:
        assert (root / path / "pyproject.toml").is_file(), f"`pip install {path}` from the repository root"
    model = (EXAMPLE / "genbench_example_plugin" / "model.py").read_text()
    shown = readme.split("`genbench_example_plugin/model.py`:")[1].split("```python\n")[1].split("```")[0]
    assert shown in model


def test_the_readme_names_the_class_each_plugin_kind_subclasses():
    """The README's "datasets, metrics and feature extractors register the same way" named no class
    to subclass; registration refuses any other (a third party learnt the base class from that error)."""
    readme = (EXAMPLE.parent.parent / "README.md").read_text()
    for reg in (registry.datasets, registry.metrics, registry.features):
        assert f"`{reg.group}`" in readme
        assert f"`{reg.base.__module__}.{reg.base.__qualname__}`" in readme, reg.group


# -- a plugin's bug is that plugin's failure: in-process plugins, registered for one test only ------


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
    return {r.model: r for r in run(config)}


def read_strict(path: Path) -> dict:
    """A result JSON parsed as strict JSON: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_metric_whose_applies_to_raises_is_that_metrics_error_not_the_models(register, tmp_path, cache_dir):
    class AppliesRaises(_Metric):
        def applies_to(self, ctx):
            raise RuntimeError("applies_to is broken")

    register(registry.metrics, "test-applies-raises", AppliesRaises)
    results = run_ring8(tmp_path, cache_dir, metrics=["test-applies-raises", "fid"])
    for r in results.values():
        assert r.status == "ok", r.error
        assert r.metrics["fid"] > 0
        assert "applies_to is broken" in r.metric_errors["test-applies-raises"]


def test_a_metric_that_calls_sys_exit_is_that_metrics_error(register, tmp_path, cache_dir):
    """sys.exit in a metric's compute or applies_to ended the whole run, every model's result unwritten."""

    class Exits(_Metric):
        def compute(self, ctx):
            raise SystemExit("metric gave up")

    class AppliesExits(_Metric):
        def applies_to(self, ctx):
            raise SystemExit(3)

    register(registry.metrics, "test-exits", Exits)
    register(registry.metrics, "test-applies-exits", AppliesExits)
    results = run_ring8(tmp_path, cache_dir, metrics=["test-exits", "test-applies-exits", "fid"])
    for r in results.values():
        assert r.status == "ok" and r.metrics["fid"] > 0, r.error
        assert "metric gave up" in r.metric_errors["test-exits"]
        assert set(r.metric_error_kinds.values()) == {"plugin"}
        assert "SystemExit" in r.metric_errors["test-applies-exits"]


@pytest.mark.parametrize("error", [RuntimeError, SystemExit, _PluginStop])  # the last two ended the run
def test_a_metric_whose_init_raises_is_skipped_with_one_warning_when_not_named(
    register, tmp_path, cache_dir, capsys, error
):
    class InitRaises(_Metric):
        def __init__(self):
            raise error("cannot start")

    register(registry.metrics, "test-init-raises", InitRaises)
    results = run_ring8(tmp_path, cache_dir)
    assert all(r.status == "ok" and "fid" in r.metrics for r in results.values())
    assert all("test-init-raises" not in r.metric_errors for r in results.values())
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "test-init-raises" in ln]
    assert len(warned) == 1 and "cannot start" in warned[0] and "genbench-test-plugin" in warned[0]


def test_a_metric_whose_check_options_raises_fails_in_one_line(register, cli, tmp_path, cache_dir):
    class CheckRaises(_Metric):
        options: ClassVar[dict[str, object]] = {"k": 3}

        def check_options(self, options):
            raise KeyError("bug")

    register(registry.metrics, "test-check-raises", CheckRaises)
    args = [
        "--models",
        "copy",
        "--dataset",
        "ring8",
        "--samples",
        "200",
        "--metrics",
        "fid,test-check-raises",
    ]
    args += ["--metric-option", "test-check-raises.k=4"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "raised KeyError checking its options" in errors[0], r.stderr
    assert not (tmp_path / "runs" / "ring8").exists()  # failed before any work


def test_a_metric_whose_init_raises_fails_in_one_line_when_named(register, cli, tmp_path, cache_dir):
    class InitRaises(_Metric):
        def __init__(self):
            raise RuntimeError("cannot start")

    register(registry.metrics, "test-init-raises", InitRaises)
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "200", "--metrics", "fid,test-init-raises"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress", *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and not isinstance(r.exception, RuntimeError)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert (
        len(errors) == 1
        and "test-init-raises" in errors[0]
        and "drop test-init-raises from --metrics" in errors[0]
    )
    assert not (tmp_path / "runs" / "ring8").exists()  # failed before any work


def _points_dataset(load):
    from genbench.data.base import Dataset

    return type("PluginData", (Dataset,), {"kind": "points", "default_features": "raw", "_load": load})


def _image_dataset(load):
    from genbench.data.base import Dataset

    return type("PluginImages", (Dataset,), {"kind": "image", "default_features": "raw", "_load": load})


def _points(n=300):
    return torch.from_numpy(np.random.default_rng(0).standard_normal((n, 2)).astype(np.float32))


@pytest.mark.parametrize(
    "cls, expected",
    [
        # numpy arrays: an AttributeError traceback from the dataset's fingerprint
        (_points_dataset(lambda self, split: (_points().numpy(), None)), "returned x of type ndarray"),
        (_points_dataset(lambda self, split: _points()), "returned Tensor from _load('train')"),
        (
            _points_dataset(lambda self, split: (_points().double(), None)),
            "returned x of dtype torch.float64",
        ),
        (
            _points_dataset(lambda self, split: (_points()[:, :, None], None)),
            "returned x of shape (300, 2, 1)",
        ),
        (_points_dataset(lambda self, split: (_points(), [0] * 300)), "returned labels of type list"),
        (
            _points_dataset(lambda self, split: (_points().fill_(float("nan")), None)),
            "returned x holding NaN or inf",
        ),
        # images in [0, 255] were accepted, and every model trained and was scored on them
        (
            _image_dataset(lambda self, split: (torch.rand(300, 1, 4, 4) * 255, None)),
            "returned images in [",
        ),
    ],
)
def test_a_dataset_plugin_returning_the_wrong_data_fails_in_one_line_naming_it(
    register, cli, tmp_path, cache_dir, cls, expected
):
    register(registry.datasets, "test-bad-data", cls)
    args = ["--models", "copy", "--dataset", "test-bad-data", "--samples", "100", "--metrics", "fid"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert "dataset 'test-bad-data' " in error and expected in error, error
    assert not (tmp_path / "runs" / "test-bad-data").exists()  # failed before any work


class _NoiseOnTheCPU(_ConfiguredModel):
    """Draws its noise where torch puts it by default, not on the generator's device."""

    def sample(self, n, *, generator):
        return torch.randn(n, *self.spec.shape, generator=generator)


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))],
)
def test_a_plugin_drawing_noise_off_the_generators_device_fails_alone_naming_the_fix(
    register, tmp_path, cache_dir, device
):
    """On a GPU machine the run's generator is a CUDA one, and a plugin that draws
    torch.randn(n, generator=generator), which runs on the CPU, failed with torch's words alone. The
    error now names the fix; the other models run."""
    register(registry.models, "test-cpu-noise", _NoiseOnTheCPU)
    config = RunConfig(
        models=["test-cpu-noise", "gaussian"],
        dataset="ring8",
        samples=200,
        metrics=["fid"],
        out=tmp_path / "runs",
        cache_dir=cache_dir,
        device=device,
        figures=False,
        progress=False,
    )
    results = {r.model: r for r in run(config)}
    assert results["gaussian"].status == "ok"
    if device == "cpu":
        assert results["test-cpu-noise"].status == "ok"
    else:
        error = results["test-cpu-noise"].error
        assert results["test-cpu-noise"].status == "failed", error
        assert "Expected a 'cpu' device type for generator but found 'cuda'" in error, error
        assert error.endswith("device=generator.device)"), error


def test_the_fix_for_a_generator_on_another_device_is_named_from_torchs_words():
    """torch's message, as torch 2.11 words it on an H200 (the test above makes it where there is a
    GPU); any other error gets no fix."""
    from genbench.errors import plugin_fix

    words = "Expected a 'cpu' device type for generator but found 'cuda'"
    assert "device=generator.device" in plugin_fix(RuntimeError(words))
    assert "device=generator.device" in plugin_fix(RuntimeError(words.replace("cpu", "mps")))
    assert plugin_fix(RuntimeError("CUDA out of memory")) == ""
    assert plugin_fix(SystemExit(2)) == ""


def _the_one_error_line(cli, tmp_path, cache_dir, *args: str) -> str:
    """`genbench run` with ``args`` fails with exit 2 and one `error:` line, no traceback: that line."""
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def _extractor(extract):
    from genbench.features.base import FeatureExtractor

    body = {"supported_kinds": ("points",), "fingerprint": lambda self: "test", "_extract_batch": extract}
    return type("PluginFeatures", (FeatureExtractor,), body)


@pytest.mark.parametrize(
    "cls, expected",
    [
        # numpy features: an AttributeError traceback ('numpy.ndarray' object has no attribute 'double')
        (_extractor(lambda self, x: (x.cpu().numpy(), None)), "returned features of type ndarray"),
        (_extractor(lambda self, x: x), "returned Tensor from _extract_batch"),
        (_extractor(lambda self, x: (x[:, 0], None)), "returned features of shape"),
        # N x 0 features: FID 0 and PRDC 0 (the metrics now refuse them too, blaming no one)
        (_extractor(lambda self, x: (x[:, :0], None)), "returned features of shape (500, 0) for 500 inputs"),
        (_extractor(lambda self, x: (x, x.cpu().numpy())), "returned logits of type ndarray"),
    ],
)
def test_a_feature_extractor_plugin_returning_the_wrong_values_fails_in_one_line_naming_it(
    register, cli, tmp_path, cache_dir, cls, expected
):
    register(registry.features, "test-bad-features", cls)
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--features", "test-bad-features"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert "feature extractor 'test-bad-features' " in error and expected in error, error


class _LoadRaises(Dataset):
    kind = "points"
    default_features = "raw"

    def _load(self, split):
        raise RuntimeError("a bug in _load")


class _InitRaises(_LoadRaises):
    def __init__(self, data_dir=None, cache_dir=None):
        raise RuntimeError("a bug in __init__")


def _raises(self, *a, **k):
    raise RuntimeError("a bug in the extractor")


def _exits(self, *a, **k):
    raise SystemExit(3)


def _stops(self, *a, **k):
    raise _PluginStop("the plugin's own stop")


@pytest.mark.parametrize(
    "kind, cls, expected",
    [
        (
            "dataset",
            _LoadRaises,
            "dataset plugin 'test-buggy' from genbench-test-plugin raised RuntimeError "
            "loading its train split: a bug in _load; fix or uninstall genbench-test-plugin",
        ),
        (
            "dataset",
            _InitRaises,
            "dataset plugin 'test-buggy' from genbench-test-plugin failed to start: "
            "RuntimeError: a bug in __init__; fix or uninstall genbench-test-plugin",
        ),
        (
            "features",
            type("F", (_extractor(_raises),), {"__init__": _raises}),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin failed to start: RuntimeError: "
            "a bug in the extractor; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
        (
            "features",
            _extractor(_raises),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin raised RuntimeError extracting "
            "features: a bug in the extractor; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
        (
            "features",
            type("F", (_extractor(lambda self, x: (x, None)),), {"fingerprint": _raises}),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin raised RuntimeError computing "
            "its fingerprint: a bug in the extractor; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
        # sys.exit and a plugin's own BaseException escaped: the run ended silently (exit 3) or in a traceback
        (
            "dataset",
            type("D", (_LoadRaises,), {"_load": _exits}),
            "dataset plugin 'test-buggy' from genbench-test-plugin raised SystemExit "
            "loading its train split: 3; fix or uninstall genbench-test-plugin",
        ),
        (
            "features",
            _extractor(_stops),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin raised _PluginStop extracting "
            "features: the plugin's own stop; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
    ],
    ids=[
        "dataset-load",
        "dataset-init",
        "features-init",
        "features-extract",
        "features-fingerprint",
        "dataset-load-exits",
        "features-extract-stops",
    ],
)
def test_a_dataset_or_feature_extractor_plugin_bug_is_one_line_naming_it(
    register, cli, tmp_path, cache_dir, kind, cls, expected
):
    """Their bugs were tracebacks (exit 1) that named no plugin; the run stands on both, so it stops."""
    register(getattr(registry, "datasets" if kind == "dataset" else "features"), "test-buggy", cls)
    where = (
        ["--dataset", "test-buggy"]
        if kind == "dataset"
        else ["--dataset", "ring8", "--features", "test-buggy"]
    )
    error = _the_one_error_line(cli, tmp_path, cache_dir, "--models", "copy", "--samples", "100", *where)
    assert error == f"error: {expected}", error


def test_a_bug_in_a_built_in_is_reported_as_genbench_s_not_a_plugin_s(cli, tmp_path, cache_dir, monkeypatch):
    """An unexpected raise in genbench's own dataset (the digits loader here) said "dataset plugin
    'digits' from genbench ...; fix or uninstall genbench", a fix no user can make."""
    from genbench.data.toy2d import Ring8

    monkeypatch.setattr(Ring8, "_load", _LoadRaises._load)
    error = _the_one_error_line(
        cli, tmp_path, cache_dir, "--models", "copy", "--samples", "100", "--dataset", "ring8"
    )
    assert error == (
        "error: genbench's dataset 'ring8' raised RuntimeError loading its train split: a bug in _load; "
        "a genbench bug: please report it with `genbench --version`'s output"
    ), error


class DefaultsRaise(_ConfiguredModel):
    @classmethod
    def dataset_defaults(cls, dataset):
        raise KeyError("no defaults file")


class DefaultsRaiseAfterPlan(_ConfiguredModel):
    calls = 0

    @classmethod
    def dataset_defaults(cls, dataset):
        cls.calls += 1
        if cls.calls > 1:  # the plan resolved it; the run resolves it again
            raise OSError("defaults file vanished")
        return {}


class DefaultsExit(_ConfiguredModel):
    @classmethod
    def dataset_defaults(cls, dataset):  # argparse in wrapped research code, at planning time
        raise SystemExit("usage: defaults.py --dataset NAME")


class ConfigRejects(_ConfiguredModel):
    @dataclass
    class Config:
        scale: float = 1.0

        def __post_init__(self):
            raise ValueError("scale is never right")


class ConfigWithoutDefault(_ConfiguredModel):
    @dataclass
    class Config:
        width: int


def test_a_run_of_broken_model_plugins_alone_extracts_no_reference_features(register, tmp_path, monkeypatch):
    """Nothing is scored, yet the reference split's features were extracted (hours of Inception on
    CIFAR-10 on a CPU) before the failure was written."""
    from genbench.features.base import FeatureExtractor

    extracted: list[int] = []
    real = FeatureExtractor.extract

    def counted(self, x):
        extracted.append(len(x))
        return real(self, x)

    monkeypatch.setattr(FeatureExtractor, "extract", counted)
    register(registry.models, "test-bad-config", ConfigRejects)
    cache_dir = tmp_path / "cache"  # of its own: no other test's reference features in it
    results = run_ring8(tmp_path, cache_dir, models=("test-bad-config",), metrics=["fid"])
    assert results["test-bad-config"].status == "failed"
    assert extracted == []
    assert not list(cache_dir.glob("features/*.npz"))
    run_ring8(tmp_path, cache_dir, models=("test-bad-config", "gaussian"), metrics=["fid"])
    assert list(cache_dir.glob("features/*.npz"))  # a working model beside it: extracted, as before


@pytest.mark.parametrize(
    ("cls", "why"),
    [
        (DefaultsRaise, "no defaults file"),
        (ConfigRejects, "never right"),
        (
            ConfigWithoutDefault,
            "missing 1 required positional argument: 'width'; give every field of its Config a default",
        ),
        (DefaultsRaiseAfterPlan, "vanished"),
        (DefaultsExit, "usage: defaults.py"),
    ],
)
def test_a_model_whose_config_raises_is_recorded_as_failed_and_the_others_run(
    register, tmp_path, cache_dir, cls, why
):
    register(registry.models, "test-bad-config", cls)
    results = run_ring8(tmp_path, cache_dir, models=("copy", "test-bad-config", "gaussian"), metrics=["fid"])
    assert results["copy"].status == results["gaussian"].status == "ok"
    bad = results["test-bad-config"]
    assert (bad.status, bad.error_kind) == ("failed", "plugin")
    assert "test-bad-config" in bad.error and why in bad.error
    written = read_strict(tmp_path / "runs/ring8/test-bad-config/seed0.json")
    assert written["status"] == "failed" and written["error"] == bad.error


def test_a_model_whose_weights_owner_fails_to_import_is_recorded_as_failed(
    register, monkeypatch, tmp_path, cache_dir
):
    class Dependent(_ConfiguredModel):
        weights_from = "test-broken-owner"

    register(registry.models, "test-dependent", Dependent)
    why = "model plugin 'test-broken-owner' from genbench-test-plugin failed to import"
    broken = Entry(name="test-broken-owner", source="genbench-test-plugin", error=why)
    monkeypatch.setitem(registry.models._entries, "test-broken-owner", broken)
    results = run_ring8(tmp_path, cache_dir, models=("test-dependent", "gaussian"), metrics=["fid"])
    assert results["gaussian"].status == "ok"
    assert (results["test-dependent"].status, results["test-dependent"].error) == ("failed", why)


def test_a_metric_that_changes_the_shared_features_fails_alone(register, tmp_path, cache_dir):
    """Every metric of every model reads the same reference features: one that centred them in place
    shifted the FID of every model after it. The arrays are read-only, so that metric fails alone."""

    class Centres(_Metric):
        def compute(self, ctx):
            ctx.reference_features.features -= ctx.reference_features.features.mean(0)
            return {"centres": 1.0}

    register(registry.metrics, "test-centres", Centres)
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["fid"])
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-centres", "fid"])
    for model in ("copy", "gaussian"):
        assert "read-only" in dirty[model].metric_errors["test-centres"]
        assert dirty[model].metrics["fid"] == clean[model].metrics["fid"]


@pytest.mark.parametrize("which", ["reference", "sample"])
def test_a_metric_that_changes_the_shared_features_through_torch_fails_alone(
    register, tmp_path, cache_dir, which
):
    """``torch.as_tensor`` shares the read-only arrays (torch warns once a process, then writes): a
    metric that normalised them in place moved the FID of every metric and model after it, all "ok"."""

    class Normalises(_Metric):
        def compute(self, ctx):
            x = torch.as_tensor(getattr(ctx, f"{which}_features").features)
            x /= x.norm(dim=1, keepdim=True)
            return {"normalises": 1.0}

    register(registry.metrics, "test-normalises", Normalises)
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["fid"])
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-normalises", "fid"])
    for model in ("copy", "gaussian"):
        assert dirty[model].metric_errors["test-normalises"] == (
            f"test-normalises: changed the {which} features in place, which the metrics after it read too "
            "(a tensor from torch.from_numpy or torch.as_tensor shares their read-only memory); compute on "
            "a copy, e.g. torch.tensor(x) or x.copy()"
        )
        assert dirty[model].metric_error_kinds["test-normalises"] == "plugin"
        assert "normalises" not in dirty[model].metrics  # computed on what it changed
        assert dirty[model].metrics["fid"] == clean[model].metrics["fid"]


class _NormedFeatures(FeatureExtractor):
    """A plugin extractor whose network has BatchNorm: in training mode it normalises each batch by
    its own statistics and updates its running ones."""

    supported_kinds = ("points",)
    takes_weights = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8)).eval()
        self.net[1].running_mean.fill_(0.5)  # statistics as if trained: not the identity's
        self.net[1].running_var.fill_(4.0)

    def fingerprint(self):
        return "test-normed"

    def _extract_batch(self, x):
        return self.net(x), None


def _doubled(module, inputs, output):
    return 2 * output


def _writes_in_place(net):
    with torch.no_grad():
        net[0].weight.mul_(2)


#: what a metric plugin did to the network of the extractor it is handed, and what that is called
NETWORK_CHANGES = {
    "train": (lambda net: net.train(), "train/eval mode"),
    "hook": (lambda net: net[0].register_forward_hook(_doubled), "hooks"),
    "in place": (_writes_in_place, "weights written in place"),
    "double": (lambda net: net.double(), "modules, parameters or buffers"),
    "swap": (lambda net: net.__setitem__(1, torch.nn.Identity()), "modules, parameters or buffers"),
}
#: the in-tree metrics that read the features, memorization extracting with the extractor itself
FEATURE_METRICS = ["fid", "kid", "prdc", "memorization", "modes"]


def _network_message(metric: str, what: str) -> str:
    return (
        f"{metric}: changed the feature extractor's network ({what}), which every metric and model "
        "after it extracts with; leave ctx.extractor as it is (ctx.extractor.extract(x) gives features), "
        "or change a copy.deepcopy of its network"
    )


@pytest.mark.parametrize("change", list(NETWORK_CHANGES))
def test_a_metric_that_changes_the_feature_extractors_network_fails_alone(
    register, tmp_path, cache_dir, change
):
    """Every metric is handed the extractor (memorization extracts with it): one that put its
    network in training mode, hooked it or wrote a weight moved the values of every metric and model
    after it, all "ok"; a .double() failed every later model's extraction."""
    act, what = NETWORK_CHANGES[change]

    class Changes(_Metric):
        def compute(self, ctx):
            act(ctx.extractor.net)
            return {"changes": 1.0}

    register(registry.features, "test-normed", _NormedFeatures)
    register(registry.metrics, "test-changes", Changes)
    options = ["memorization.space=features"]
    extra = {"features": "test-normed", "metric_options": options}
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=FEATURE_METRICS, **extra)
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-changes", *FEATURE_METRICS], **extra)
    for model in ("copy", "gaussian"):
        assert dirty[model].status == "ok"
        assert {k: dirty[model].metrics.get(k) for k in clean[model].metrics} == clean[model].metrics
        assert "changes" not in dirty[model].metrics  # computed on the network it changed
        # the in-tree metrics after it, memorization's own extraction too, trip nothing
        assert dirty[model].metric_errors == {"test-changes": _network_message("test-changes", what)}
        assert dirty[model].metric_error_kinds == {"test-changes": "plugin"}


def test_a_metric_that_hooks_the_classifiers_network_fails_alone(register, tmp_path, cache_dir):
    """The digits classifier's network is one object per process (the mode labels use it too): a
    metric's forward hook moved gaussian's FID from 223 to 909, and every later run's in the process."""

    class Hooks(_Metric):
        def compute(self, ctx):
            ctx.extractor.model.body.register_forward_hook(_doubled)
            return {"hooks": 1.0}

    register(registry.metrics, "test-hooks", Hooks)

    def run_digits(out, metrics):
        config = RunConfig(
            models=["copy", "gaussian"],
            dataset="digits",
            samples=200,
            metrics=metrics,
            metric_options=["memorization.space=features"],
            out=out,
            cache_dir=cache_dir,
            device="cpu",
            figures=False,
            progress=False,
        )
        return {r.model: r for r in run(config)}

    metrics = [*FEATURE_METRICS, "is"]
    clean = run_digits(tmp_path / "clean", metrics)
    dirty = run_digits(tmp_path / "dirty", ["test-hooks", *metrics])
    after = run_digits(tmp_path / "after", metrics)
    for model in ("copy", "gaussian"):
        assert {k: dirty[model].metrics.get(k) for k in clean[model].metrics} == clean[model].metrics
        assert after[model].metrics == clean[model].metrics
        assert "hooks" not in dirty[model].metrics
        assert dirty[model].metric_errors == {"test-hooks": _network_message("test-hooks", "hooks")}


def _labels_zero(module, inputs, output):
    """Every example's logits put on class 0: a hook that moves the mode labels, not only features."""
    return torch.zeros_like(output).index_fill_(1, torch.tensor([0]), 1.0)


def test_the_mode_labels_a_metric_reads_through_a_network_it_changed_are_read_again(
    register, tmp_path, cache_dir
):
    """On the CPU the digits classifier's network labels the modes too: a metric that hooked it and
    then read ``ctx.sample_modes()`` failed, the network was put back, but "modes" after it counted
    the labels kept from the hooked network (copy's 10 modes covered became 1), all "ok"."""

    class HooksThenReadsModes(_Metric):
        def compute(self, ctx):
            ctx.extractor.model.head.register_forward_hook(_labels_zero)
            ctx.sample_modes()
            return {"hooks": 1.0}

    register(registry.metrics, "test-hooks-modes", HooksThenReadsModes)

    def run_digits(out, metrics):
        config = RunConfig(
            models=["copy", "gaussian"],
            dataset="digits",
            samples=200,
            metrics=metrics,
            out=out,
            cache_dir=cache_dir,
            device="cpu",
            figures=False,
            progress=False,
        )
        return {r.model: r for r in run(config)}

    clean = run_digits(tmp_path / "clean", ["modes"])
    dirty = run_digits(tmp_path / "dirty", ["test-hooks-modes", "modes"])
    for model in ("copy", "gaussian"):
        assert dirty[model].metrics == clean[model].metrics
        assert dirty[model].flags == clean[model].flags
        assert list(dirty[model].metric_errors) == ["test-hooks-modes"]


def test_a_metric_that_changes_the_reference_stats_fails_alone(register, tmp_path, cache_dir):
    """--reference-stats are one (mu, sigma) for every metric of every model: a metric regularising
    sigma in place (``sigma += I``) moved every later FID (copy's from 4.6 to 198), all "ok"."""
    from genbench.features.reference import save_reference_stats

    class Regularises(_Metric):
        reference = "stats"

        def compute(self, ctx):
            mu, sigma = ctx.reference_stats
            sigma[np.diag_indices_from(sigma)] += 1.0
            return {"regularises": 1.0}

    register(registry.metrics, "test-regularises", Regularises)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 2))
    save_reference_stats(tmp_path / "stats.npz", points.mean(0), np.cov(points, rowvar=False))
    stats = {"reference_stats": tmp_path / "stats.npz"}
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["fid"], **stats)
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-regularises", "fid"], **stats)
    for model in ("copy", "gaussian"):
        assert "read-only" in dirty[model].metric_errors["test-regularises"]
        assert dirty[model].metrics["fid"] == clean[model].metrics["fid"]


def test_metric_options_hold_the_defaults_and_are_each_metrics_own(register, tmp_path, cache_dir):
    """``ctx.options`` lacked the declared defaults that Metric.options documents (a plugin reading
    ``ctx.options[name]["p"]`` failed with KeyError unless --metric-option gave p), and it was one
    dict for every metric of every model: a metric's ``ctx.options["prdc"]["k_pr"] = 15`` changed the
    next metrics' precision, which still recorded k_pr=3."""

    class Reads(_Metric):
        options: ClassVar[dict[str, object]] = {"p": 2.0}

        def compute(self, ctx):
            ctx.options["prdc"]["k_pr"] = 15
            return {"reads": ctx.options[self.name]["p"]}

    register(registry.metrics, "test-reads", Reads)
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["prdc"])
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-reads", "prdc"])
    for model in ("copy", "gaussian"):
        assert dirty[model].metrics["reads"] == 2.0 and not dirty[model].metric_errors
        assert dirty[model].metrics["precision"] == clean[model].metrics["precision"]
        assert dirty[model].protocol["metric_options"]["prdc"] == {"k_pr": 3, "k_dc": 5}
    assert clean["gaussian"].metrics["precision"] < 1  # k_pr = 15 would have called it 1


def test_a_model_whose_weights_owner_is_not_installed_is_recorded_as_failed(register, tmp_path, cache_dir):
    """It ended the whole run with "unknown model 'test-not-installed'", a name the user never typed."""

    class Dependent(_ConfiguredModel):
        weights_from = "test-not-installed"

    register(registry.models, "test-dependent", Dependent)
    results = run_ring8(tmp_path, cache_dir, models=("test-dependent", "gaussian"), metrics=["fid"])
    assert results["gaussian"].status == "ok"
    bad = results["test-dependent"]
    assert (
        bad.status == "failed"
        and "'test-not-installed' (its weights_from), which is not installed" in bad.error
    )


@pytest.mark.parametrize("declared", [False, True])
def test_a_metric_key_taken_by_another_metric_or_a_result_column_is_that_metrics_error(
    register, tmp_path, cache_dir, declared
):
    class Clobber(_Metric):
        higher_is_better: ClassVar[dict[str, bool]] = {"fid": False, "seed": True} if declared else {}

        def compute(self, ctx):
            return {"fid": 0.0, "seed": 99.0, "clobber_own": 1.0}

    register(registry.metrics, "test-clobber", Clobber)
    # listed first: the built-in's value wins whatever the order the metrics run in
    results = run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["test-clobber", "fid"])
    r = results["gaussian"]
    assert r.status == "ok" and r.metrics["fid"] > 0
    assert "seed" not in r.metrics and r.metrics["clobber_own"] == 1.0  # its other values are kept
    why = r.metric_errors["test-clobber"]
    assert "'fid'" in why and "'seed'" in why and "rename" in why
    assert "fid" not in r.metric_errors
    frame = results_frame([load_result(tmp_path / "runs/ring8/gaussian/seed0.json")])
    assert frame["seed"].tolist() == [0] and frame["fid"].iloc[0] > 0


def test_a_metric_value_not_declared_in_higher_is_better_is_kept_and_said_once(
    register, tmp_path, cache_dir, capsys
):
    """It was kept without a word, and the board showed it unranked, its missing cells unexplained:
    a plugin author who forgot to declare it did not learn why."""

    class Undeclared(_Metric):
        higher_is_better: ClassVar[dict[str, bool]] = {"declared_value": False}

        def compute(self, ctx):
            return {"declared_value": 1.0, "forgotten_value": 2.0}

    register(registry.metrics, "test-undeclared", Undeclared)
    results = run_ring8(tmp_path, cache_dir, models=("copy", "gaussian"), metrics=["test-undeclared", "fid"])
    assert all(r.status == "ok" and r.metrics["forgotten_value"] == 2.0 for r in results.values())
    said = [ln for ln in capsys.readouterr().err.splitlines() if "higher_is_better" in ln]
    assert len(said) == 1, said  # two models: once a run
    assert "'test-undeclared' returned 'forgotten_value' without declaring" in said[0]
    assert "declared_value" not in said[0]


def test_reserved_metric_keys_cover_every_column_the_leaderboard_adds():
    """A new identity column in results_frame must be reserved too, or a metric could overwrite it."""
    r = Result(model="m", dataset="d", seed=0, variant="v", protocol={"features": {"name": "raw"}})
    r.timings["train_s"] = 1.0  # a metric key (throughput's): not an identity column
    r.metrics["fid"] = 1.0  # so that aggregate ranks
    frame = results_frame([r])
    identity = set(frame.columns) - {"train_s", "fid"}
    assert identity <= RESERVED_METRIC_KEYS
    board = set(aggregate(frame).columns) - {"train_s", "fid", "train_s_std", "fid_std"}
    assert board <= RESERVED_METRIC_KEYS


def test_a_metric_returning_nan_writes_valid_json_that_reports(register, tmp_path, cache_dir):
    class ReturnsNaN(_Metric):
        def compute(self, ctx):
            return {
                "nan_value": float("nan"),
                "inf_value": float("inf"),
                # float() of these raised past the check, and the metric's good values were lost with
                # them; a string or a bool was kept as a number
                "huge_value": 10**400,
                "meta_value": torch.tensor(1.0, device="meta"),
                "text_value": "1.5",
                "bool_value": True,
                "finite_value": 2.0,
                "tensor_value": torch.tensor(3.0),
            }

    register(registry.metrics, "test-nan", ReturnsNaN)
    results = run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["test-nan", "fid"])
    path = tmp_path / "runs/ring8/gaussian/seed0.json"
    written = read_strict(path)
    assert written["status"] == "ok" and written["metrics"]["finite_value"] == 2.0
    assert written["metrics"]["tensor_value"] == 3.0
    bad = ("nan_value", "inf_value", "huge_value", "meta_value", "text_value", "bool_value")
    assert not set(bad) & set(written["metrics"])
    for key in bad:
        assert f"returned {key!r}" not in written["metric_errors"]["test-nan"]  # not a column's name
        assert f"for {key!r}, not a finite number" in written["metric_errors"]["test-nan"], key
    assert load_result(path).metric_errors == results["gaussian"].metric_errors
    boards = genbench.report(tmp_path / "runs", tmp_path / "boards")
    assert "gaussian" in boards["ring8"]


def test_a_plugin_metric_has_a_table_on_the_board_with_the_arrows_it_declares(register, tmp_path, cache_dir):
    class Errors(_Metric):
        higher_is_better: ClassVar[dict[str, bool | None]] = {"test_error": False, "test_temperature": None}

        def compute(self, ctx):
            return {"test_error": 0.25, "test_temperature": 2.0}

    register(registry.metrics, "test-errors", Errors)
    run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["fid", "test-errors"])
    board = genbench.report(tmp_path / "runs", tmp_path / "boards")["ring8"]
    table = board.split("## Other metrics", 1)[1]  # it was only in the CSV
    header = next(line for line in table.splitlines() if "test_error" in line)
    assert "test_error ↓" in header  # lower is better: no longer shown as ↑
    assert "test_temperature |" in header.replace("  ", " ")  # no direction: no arrow
    assert "0.25" in table


@pytest.mark.parametrize("declared", [{"x": "lower"}, {"x": 1}, {"": True}, ["x"]])
def test_a_metric_whose_directions_are_not_true_false_or_none_fails_at_registration(declared):
    from genbench.errors import RegistrationError

    class Declared(_Metric):
        higher_is_better = declared  # type: ignore[assignment]

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError, match="map each value name to True"):
        fresh.add("test-declared", Declared)


@pytest.mark.parametrize("declared", [["k"], None, "k", {1: 3}, {"": 3}])
def test_a_metric_whose_options_are_not_a_dict_of_names_fails_at_registration(declared):
    """Options declared as a list passed registration, then every model failed with an error that
    blamed the model."""
    from genbench.errors import RegistrationError

    class Declared(_Metric):
        options = declared  # type: ignore[assignment]

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(
        RegistrationError, match=r"metric 'test-options' declares options = .*map each option name"
    ):
        fresh.add("test-options", Declared)
    assert "test-options" not in fresh


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"kind": "pointz"}, r"declares kind = 'pointz'; use 'image' or 'points'; did you mean 'points'\?"),
        ({"kind": ("points",)}, "declares kind = "),
        ({"default_features": ("raw",)}, r"declares default_features = \('raw',\); name a registered"),
        ({"default_features": ""}, "declares default_features = ''"),
    ],
)
def test_a_dataset_declaring_an_unknown_kind_or_features_fails_at_registration(declared, message):
    """A dataset plugin of kind "pointz" registered, then failed in every run far from its cause."""
    from genbench.data.base import Dataset
    from genbench.errors import RegistrationError

    Declared = type(
        "Declared", (Dataset,), {"_load": lambda self, split: (torch.zeros(4, 2), None), **declared}
    )
    fresh = registry.Registry("dataset", "genbench.test-none", registry._dataset_base, "datasets")
    with pytest.raises(RegistrationError, match=f"dataset 'test-declared' {message}"):
        fresh.add("test-declared", Declared)
    assert "test-declared" not in fresh
    fresh.add("test-fine", type("Fine", (Declared,), {"kind": "points", "default_features": "raw"}))


def test_result_json_is_strict_json_whatever_a_plugin_put_in_it(tmp_path):
    r = Result(model="m", dataset="d", seed=0)
    r.config = {"lr": float("nan"), "betas": (0.5, np.float32("inf"))}
    r.training_log = [{"step": 1.0, "loss": float("-inf")}]
    written = read_strict(r.write(tmp_path))
    assert written["config"] == {"lr": None, "betas": [0.5, None]}
    assert written["training_log"] == [{"step": 1.0, "loss": None}]


class Mode(enum.Enum):
    fast = "fast"


class ExoticConfig(_ConfiguredModel):
    """A config with values json cannot write itself, as config_hash can (with default=str)."""

    @dataclass
    class Config:
        mode: Mode = Mode.fast
        dtype: torch.dtype = torch.float16
        tags: frozenset[str] = frozenset({"b", "c", "a"})
        where: Path = Path("x")
        kept: dict[str, set[float]] = field(default_factory=lambda: {"s": {2.0, float("nan")}})


class UnwritableConfig(_ConfiguredModel):
    """A config that no JSON writer takes: a dict keyed by tuples."""

    @dataclass
    class Config:
        table: dict[tuple[int, int], float] = field(default_factory=lambda: {(0, 1): 0.5})


def test_a_model_config_of_enums_dtypes_and_sets_is_written_and_an_unwritable_one_fails_alone(
    register, tmp_path, cache_dir
):
    """An Enum in a plugin's Config raised TypeError from the result write after its training: a
    traceback, and every later model skipped."""
    register(registry.models, "test-exotic-config", ExoticConfig)
    register(registry.models, "test-unwritable-config", UnwritableConfig)
    models = ("test-exotic-config", "test-unwritable-config", "gaussian")
    results = run_ring8(tmp_path, cache_dir, models=models, metrics=["fid"])
    assert results["gaussian"].status == results["test-exotic-config"].status == "ok"
    written = read_strict(tmp_path / "runs/ring8/test-exotic-config/seed0.json")
    assert written["config"] == {
        "mode": "fast",
        "dtype": "torch.float16",
        "tags": ["a", "b", "c"],
        "where": "x",
        "kept": {"s": [2.0, None]},
    }
    assert written["status"] == "ok" and "fid" in written["metrics"]
    bad = results["test-unwritable-config"]
    assert (bad.status, bad.error_kind) == ("failed", "plugin")
    assert "could not be written" in bad.error and "keys must be str" in bad.error
    recorded = read_strict(tmp_path / "runs/ring8/test-unwritable-config/seed0.json")
    assert (recorded["status"], recorded["error"]) == ("failed", bad.error)


class Speed(enum.Enum):
    fast = "f"
    slow = "s"


class ChoicesConfig(_ConfiguredModel):
    """Fields of types that --set used to leave as the typed text."""

    @dataclass
    class Config:
        speed: Speed = Speed.fast
        where: Path = Path("a")
        kind: Literal["x", "y"] = "x"
        n: Literal[1, 2] = 1
        dtype: torch.dtype = torch.float16


def test_set_converts_enum_literal_and_path_fields_and_their_label_reads_back(register, tmp_path, cache_dir):
    """--set gave an Enum field 'slow' (not Speed.slow), a Literal["x", "y"] field 'z', a Literal[1, 2]
    field '2' and a Path field a str, and setting a field to its default named a variant."""
    from genbench.config import resolve_model_config
    from genbench.planning import plan

    register(registry.models, "test-choices", ChoicesConfig)

    def variants(*overrides: str) -> list[dict[str, str]]:
        sets = [f"test-choices.{o}" for o in overrides]
        config = RunConfig(
            models=["test-choices"], dataset="ring8", overrides=sets, out=tmp_path, cache_dir=cache_dir
        )
        return plan(config).models[0][2]

    cfg = resolve_model_config(ChoicesConfig, "ring8", {"speed": "slow", "where": "b", "kind": "y", "n": "2"})
    assert (cfg.speed, cfg.where, cfg.kind, cfg.n) == (Speed.slow, Path("b"), "y", 2)
    assert resolve_model_config(ChoicesConfig, "ring8", {"speed": "s"}).speed is Speed.slow  # by value
    assert variants("speed=fast", "n=1", "where=a") == [{}]
    (label,) = variants("speed=s", "n=2", "where=b")
    assert label == {"n": "2", "speed": "slow", "where": "b"}
    assert variants(*(f"{k}={v}" for k, v in label.items())) == [label]  # typed back, the same variant
    for typed, message in [
        ("kind=z", "bad value 'z' for test-choices.kind; expected one of x, y"),
        ("n=3", "bad value '3' for test-choices.n; expected one of 1, 2"),
        ("speed=medium", "bad value 'medium' for test-choices.speed; expected one of fast, slow"),
        ("dtype=float32", "cannot set test-choices.dtype of type torch.dtype with --set"),
    ]:
        with pytest.raises(genbench.GenbenchError) as e:
            variants(typed)
        assert str(e.value) == message


def test_a_plugin_metrics_tuple_and_none_default_options_are_read_as_set_reads_values():
    """A tuple default's option stayed the text ``"1:2"``, a None default's ``"0500"`` (not 500)."""
    from genbench.config import resolve_metric_options

    declared = {"ks": (1, 2), "weights": [0.5], "mixed": (1, "a"), "size": None, "name": None}
    given = {"ks": "3:05", "weights": "1:2.5", "mixed": "4:b", "size": "0500", "name": "abc"}
    assert resolve_metric_options("test-m", declared, given) == {
        "ks": (3, 5),
        "weights": [1.0, 2.5],
        "mixed": (4, "b"),
        "size": 500,
        "name": "abc",
    }
    assert resolve_metric_options("test-m", {"ks": ()}, {"ks": ":"}) == {"ks": ()}
    with pytest.raises(genbench.GenbenchError, match="bad value 'x' for test-m.ks; expected int"):
        resolve_metric_options("test-m", declared, {"ks": "1:x"})


BUGGY_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genbench-buggy-plugin"
version = "0.0.1"

[project.entry-points."genbench.models"]
buggy-model = "genbench_buggy_plugin:BuggyModel"

[project.entry-points."genbench.metrics"]
buggy-applies = "genbench_buggy_plugin:AppliesRaises"
buggy-init = "genbench_buggy_plugin:InitRaises"
buggy-clobber = "genbench_buggy_plugin:Clobber"
buggy-nan = "genbench_buggy_plugin:ReturnsNaN"
"""

BUGGY_MODULE = """
import torch

from genbench.api import GenerativeModel
from genbench.metrics.base import Metric


class BuggyModel(GenerativeModel):
    trainable = False

    @classmethod
    def dataset_defaults(cls, dataset):
        raise RuntimeError("defaults are broken")

    def sample(self, n, *, generator):
        return torch.zeros(n, *self.spec.shape)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class AppliesRaises(Metric):
    def applies_to(self, ctx):
        raise RuntimeError("applies_to is broken")

    def compute(self, ctx):
        return {"applies_value": 1.0}


class InitRaises(Metric):
    def __init__(self):
        raise RuntimeError("init is broken")

    def compute(self, ctx):
        return {}


class Clobber(Metric):
    def compute(self, ctx):
        return {"fid": 0.0, "seed": 99.0}


class ReturnsNaN(Metric):
    def compute(self, ctx):
        return {"nan_value": float("nan")}
"""


def test_an_installed_plugin_with_buggy_metrics_and_model_takes_nothing_down(
    tmp_path, cache_dir, genbench_process
):
    """Every broken hook of an installed package, through entry points and the CLI, then a report."""
    package = tmp_path / "buggy"
    (package / "genbench_buggy_plugin").mkdir(parents=True)
    (package / "pyproject.toml").write_text(BUGGY_PYPROJECT)
    (package / "genbench_buggy_plugin" / "__init__.py").write_text(BUGGY_MODULE)
    site = tmp_path / "site"
    pip_install(package, site)
    out = tmp_path / "runs"
    common = ["--dataset", "ring8", "--samples", "200", "--out", str(out), "--cache-dir", str(cache_dir)]

    def genbench_cli(*args):
        return genbench_process(*args, site=site)

    proc = genbench_cli(
        "run", "--models", "copy,buggy-model,gaussian", *common, "--no-progress", "--no-figures"
    )
    # every failure is a plugin's own bug, none the user's: exit 1, and no "error:" line to fix
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "error:" not in proc.stderr, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if "init is broken" in ln]) == 1, proc.stderr
    for model in ("copy", "gaussian"):
        res = read_strict(out / f"ring8/{model}/seed0.json")
        assert res["status"] == "ok" and res["metrics"]["fid"] > 0 and res["seed"] == 0
        assert "seed" not in res["metrics"] and "nan_value" not in res["metrics"]
        assert set(res["metric_errors"]) == {"buggy-applies", "buggy-clobber", "buggy-nan"}
        assert set(res["metric_error_kinds"].values()) == {"plugin"}
    buggy = read_strict(out / "ring8/buggy-model/seed0.json")
    assert buggy["status"] == "failed" and "defaults are broken" in buggy["error"]

    report = genbench_cli("report", "--out", str(out), "--leaderboards", str(tmp_path / "boards"))
    assert report.returncode == 0, report.stderr

    named = genbench_cli("run", "--models", "copy", "--metrics", "fid,buggy-init", *common, "--no-progress")
    assert named.returncode == 2 and "Traceback" not in named.stderr
    assert named.stderr.count("error:") == 1 and "genbench-buggy-plugin" in named.stderr, named.stderr


def test_a_set_in_a_plugins_train_config_hashes_alike_in_every_process():
    """``str`` of a set of strings follows the hash seed, so each process gave the same config
    another checkpoint key, and every run retrained the model."""
    code = (
        "from genbench.api import config_hash\n"
        "print(config_hash('m', 'd', {'layers': {'conv', 'attn', 'norm', 'mlp', 'skip'}}, 0))\n"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            check=True,
        ).stdout
        for hash_seed in range(6)
    }
    assert len(keys) == 1, keys


def test_a_dataset_whose_default_features_is_not_registered_fails_naming_it_when_used(
    register, cli, tmp_path, cache_dir
):
    """A dataset plugin's ``default_features = "rawz"`` was "unknown feature extractor 'rawz'", naming
    neither the dataset plugin that declared it nor the fix. It registers (its extractor may be
    another plugin's, registered later) and fails when its extractor is looked up."""
    from genbench.errors import UnknownNameError

    load = _points_dataset(lambda self, split: (_points(), None))
    register(registry.datasets, "test-typo-features", type("Typo", (load,), {"default_features": "rawz"}))
    args = ["--models", "copy", "--dataset", "test-typo-features", "--samples", "100", "--metrics", "fid"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert error == (
        "error: dataset plugin 'test-typo-features' from genbench-test-plugin declares default_features = "
        "'rawz', which is no registered feature extractor (did you mean 'raw'?); fix or uninstall "
        "genbench-test-plugin, or pass --features raw (see `genbench list features`)"
    )
    assert not (tmp_path / "runs" / "test-typo-features").exists()  # failed before any work
    ok = cli(
        "run",
        "--out",
        tmp_path / "runs",
        "--cache-dir",
        cache_dir,
        "--no-progress",
        *args,
        "--features",
        "raw",
    )
    assert ok.exit_code == 0, ok.output
    with pytest.raises(UnknownNameError, match="^unknown feature extractor 'rawzz'"):  # declared by none
        registry.features.get("rawzz")

    # an extractor registered after the dataset that names it (another plugin's module) is found
    register(
        registry.datasets, "test-late-features", type("Late", (load,), {"default_features": "test-late"})
    )
    raw = registry.features.get("raw")
    register(registry.features, "test-late", type("LateRaw", (raw,), {}))
    assert (
        registry.features.get(registry.datasets.get("test-late-features").default_features).__name__
        == "LateRaw"
    )


# -- what one plugin does cannot change another's numbers (audit 31) --------------------------------


def test_a_model_writing_into_its_data_changes_no_other_models_numbers(register, tmp_path, cache_dir):
    """``train.mul_(10)`` in ``fit`` (or later, in ``sample``, through a reference it kept) wrote into
    the dataset's one copy of the train split: every later model trained on scaled data and was
    compared with features of the unscaled data (gaussian's FID 0.02 -> 65), all recorded "ok"."""

    class Scales(_ConfiguredModel):
        def fit(self, train, ctx):
            train.mul_(10)
            self.kept = train
            return {}

        def sample(self, n, *, generator):
            self.kept[:5].mul_(100)
            return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    register(registry.models, "test-scales", Scales)
    clean = run_ring8(tmp_path / "clean", cache_dir, models=("gaussian", "copy"), metrics=["fid", "kid"])
    after = run_ring8(
        tmp_path / "after", cache_dir, models=("test-scales", "gaussian", "copy"), metrics=["fid", "kid"]
    )
    for model in ("gaussian", "copy"):
        assert after[model].metrics == clean[model].metrics


def test_a_metric_writing_into_its_inputs_changes_no_other_metrics_numbers(register, tmp_path, cache_dir):
    """A metric's ``ctx.samples.mul_(50)`` turned copy's memorized samples "collapsed" for the metrics
    after it; its ``ctx.train_data().add_(5)`` moved the next model's FID; its
    ``ctx.timings["samples_per_s"] = 1e12`` was reported as the throughput."""

    class Writes(_Metric):
        def compute(self, ctx):
            ctx.samples.mul_(50)
            ctx.train_data().add_(5)
            ctx.timings["samples_per_s"] = 1e12
            ctx.training_log.append({"step": -1.0})
            return {"writes": 1.0}

    register(registry.metrics, "test-writes", Writes)
    metrics = ["fid", "memorization", "modes"]
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=metrics)
    after = run_ring8(tmp_path / "after", cache_dir, metrics=["test-writes", *metrics, "throughput"])
    for model in ("copy", "gaussian"):
        assert {k: after[model].metrics[k] for k in clean[model].metrics} == clean[model].metrics
        assert after[model].flags == clean[model].flags
        assert after[model].metrics["samples_per_s"] != 1e12 and after[model].timings["samples_per_s"] != 1e12
        assert after[model].training_log == clean[model].training_log


def test_a_metric_copies_the_samples_only_when_it_reads_them(tmp_path, clones):
    """Every metric was handed its own copy of the samples, also those that read only features (FID,
    KID, PRDC, IS): 614 MB and half a second each at 50000 CIFAR-10-sized samples."""
    from genbench.data.toy2d import Ring8
    from genbench.features.base import Features
    from genbench.metrics.base import EvalContext
    from genbench.scoring import _own_copies

    samples = torch.randn(300, 2)
    kept = samples.clone()
    ctx = EvalContext(
        dataset=Ring8(cache_dir=tmp_path),
        samples=samples,
        sample_features=Features(samples.double().numpy().copy()),
        reference_features=Features(np.zeros((2, 2))),
        extractor=None,
        seed=0,
    )
    cloned = clones()
    own = _own_copies(ctx, _Metric())
    assert own.num_samples == 300 and own.sample_features.features.shape == (300, 2)
    assert cloned == []  # a features-only metric: no copy
    mine = own.samples
    assert cloned == [(300, 2)] and own.samples is mine  # copied once, on the first read
    mine.mul_(50)
    assert torch.equal(ctx.samples, kept) and torch.equal(own.samples, kept * 50)
    assert torch.equal(_own_copies(ctx, _Metric()).samples, kept)  # the next metric's copy is clean


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


class _Unprintable(Exception):
    """A plugin's exception class whose ``__str__`` reads an attribute its ``__init__`` never set."""

    def __str__(self):
        return self.detail


def test_a_plugins_exception_that_cannot_be_printed_fails_that_plugin_alone(register, tmp_path, cache_dir):
    """Formatting the error of a model or metric whose exception's ``__str__`` raised raised in turn,
    inside the handler that records the failure: a traceback ended the run, the other models
    unscored and nothing written for any of them."""

    class RaisesModel(_ConfiguredModel):
        def fit(self, train, ctx):
            raise _Unprintable()

    class RaisesMetric(_Metric):
        def compute(self, ctx):
            raise _Unprintable()

    register(registry.models, "test-unprintable", RaisesModel)
    register(registry.metrics, "test-unprintable-metric", RaisesMetric)
    results = run_ring8(
        tmp_path,
        cache_dir,
        models=("test-unprintable", "gaussian"),
        metrics=["test-unprintable-metric", "fid"],
    )
    bad, good = results["test-unprintable"], results["gaussian"]
    assert (bad.status, bad.error_kind) == ("failed", "plugin")
    assert "raised _Unprintable: (its message cannot be shown" in bad.error, bad.error
    assert good.status == "ok" and "fid" in good.metrics
    assert good.metric_errors["test-unprintable-metric"].startswith("_Unprintable: (its message cannot")
    assert load_result(tmp_path / "runs/ring8/test-unprintable/seed0.json").status == "failed"


def test_a_plugins_own_base_exception_or_a_non_dict_fails_that_plugin_alone(register, tmp_path, cache_dir):
    """A ``BaseException`` subclass raised in ``fit``, or ``GeneratorExit`` in a metric, was a
    traceback that ended the run; a metric returning None was "'NoneType' object has no attribute
    'items'"."""

    class Stop(BaseException):
        pass

    class Stops(_ConfiguredModel):
        def fit(self, train, ctx):
            raise Stop("the plugin's own stop")

    class ExitsGenerator(_Metric):
        def compute(self, ctx):
            raise GeneratorExit("closed")

    class ReturnsNone(_Metric):
        def compute(self, ctx):
            return None

    register(registry.models, "test-stops", Stops)
    register(registry.metrics, "test-generator-exit", ExitsGenerator)
    register(registry.metrics, "test-returns-none", ReturnsNone)
    metrics = ["test-generator-exit", "test-returns-none", "fid"]
    results = run_ring8(tmp_path, cache_dir, models=("test-stops", "gaussian"), metrics=metrics)
    stopped = results["test-stops"]
    assert (stopped.status, stopped.error_kind) == ("failed", "plugin")
    assert stopped.error == "model 'test-stops' raised Stop: the plugin's own stop"
    gaussian = results["gaussian"]
    assert gaussian.status == "ok" and gaussian.metrics["fid"] > 0
    assert gaussian.metric_errors["test-generator-exit"] == "GeneratorExit: closed"
    assert gaussian.metric_errors["test-returns-none"] == (
        "test-returns-none: compute returned NoneType, not a dict of values"
    )
    assert set(gaussian.metric_error_kinds.values()) == {"plugin"}


def _poison(value):
    """Scale every tensor ``value`` holds (a dict, a tuple, or a tensor) in place."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        value.mul_(7)
    elif isinstance(value, dict):
        for v in value.values():
            _poison(v)
    elif isinstance(value, tuple):
        for v in value:
            _poison(v)


def test_a_metric_writing_into_the_data_modes_and_caches_it_reads_changes_no_other_numbers(
    register, tmp_path, cache_dir
):
    """Three doors beside the ones above: ``ctx.dataset.load(split)`` handed a metric the dataset's one
    copy of each split (``x.add_(5)`` moved every later model's FID and memorization); the mode
    labels of ``ctx.sample_modes()`` were the array that "modes" then read; and the reference
    features' cache held the k-NN radii and distances that prdc and memorization reuse for every
    later model, where another metric could scale them."""

    class Writes(_Metric):
        def compute(self, ctx):
            for split in ("train", "test"):
                ctx.dataset.load(split)[0].add_(5)
            _poison(ctx.reference_features.cache)
            _poison(ctx.sample_features.cache)
            ctx.sample_modes()[:] = 0  # read-only now: this metric fails, alone
            return {"writes": 1.0}

    register(registry.metrics, "test-writes-shared", Writes)
    metrics = ["fid", "prdc", "memorization", "modes"]
    models = ("copy", "gaussian", "collapse")  # the later ones scored after the caches were filled
    clean = run_ring8(tmp_path / "clean", cache_dir, models=models, metrics=metrics)
    after = run_ring8(tmp_path / "after", cache_dir, models=models, metrics=["test-writes-shared", *metrics])
    for model in models:
        assert {k: after[model].metrics[k] for k in clean[model].metrics} == clean[model].metrics, model
        assert after[model].flags == clean[model].flags
        assert list(after[model].metric_errors) == ["test-writes-shared"]
