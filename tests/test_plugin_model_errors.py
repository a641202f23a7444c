"""A model plugin's bug (its config, its defaults, its weights' owner, its noise on another device,
an exception it raises) is that model's failure, recorded, while the other models run. In-process
plugins, registered for one test only."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import torch
from cli_helpers import run_args  # tests/ is on the path: pytest puts it there
from plugin_helpers import (
    _ConfiguredModel,
    _Metric,
    read_strict,
    run_ring8,
)

from genbench import registry
from genbench.config import RunConfig
from genbench.registry import Entry
from genbench.results import load_result
from genbench.runner import run


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


@pytest.mark.parametrize(
    ("weights_from", "why"),
    [
        # a typo read as a missing package, with no hint of the name meant
        ("gaussiann", "'gaussiann' (its weights_from), which is not installed; did you mean 'gaussian'"),
        # itself, or a model that samples another's weights: the harness built the dependent as its
        # own owner and never called from_trained, so the row failed with the plugin's AttributeError
        ("test-dependent", "'test-dependent' (its weights_from), itself; set weights_from to"),
        ("ddim", "'ddim' (its weights_from), which trains none of its own: it samples the weights of 'ddpm'"),
    ],
)
def test_a_weights_from_that_names_no_weights_owner_fails_that_model_in_one_line(
    register, tmp_path, cache_dir, weights_from, why
):
    class Dependent(_ConfiguredModel):
        def to(self, device):
            self.owner.to(device)  # as a sampler over its owner's network does: never reached

    Dependent.weights_from = weights_from
    register(registry.models, "test-dependent", Dependent)
    results = run_ring8(tmp_path, cache_dir, models=("test-dependent", "gaussian"), metrics=["fid"])
    assert results["gaussian"].status == "ok"
    bad = results["test-dependent"]
    assert bad.status == "failed" and why in bad.error, bad.error


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


class CheckRefuses(_ConfiguredModel):
    """Refuses k=-1 in check_config, with a ValueError where its API asks for a GenbenchError."""

    @dataclass
    class Config:
        k: int = 1

    @classmethod
    def check_config(cls, spec, config, owner_config=None):
        if config.k < 0:
            raise ValueError(f"k must be >= 0, got {config.k}")


class DefaultRefused(CheckRefuses):
    """Its own default is one its check_config refuses."""

    @dataclass
    class Config:
        k: int = -1


class SampleRaises(_ConfiguredModel):
    def sample(self, n, *, generator):
        raise RuntimeError("sampling broke")


class InitRaises(_ConfiguredModel):
    def __init__(self, spec, config=None):
        raise RuntimeError("init broke")


def ring8_cli(cli, out, cache_dir, *extra):
    return cli(
        *run_args(out, cache_dir, "--dataset", "ring8", "--samples", "200", "--metrics", "fid", *extra)
    )


def result_lines(output: str, label: str) -> list[str]:
    """The lines of a run's console that say ``label``'s outcome (printed whole: soft-wrapped)."""
    return [
        ln for ln in output.splitlines() if re.match(rf"(ok|failed|diverged) {re.escape(label)} seed", ln)
    ]


def test_every_kind_of_model_failure_is_said_on_one_failed_line(register, cli, tmp_path, cache_dir):
    """A model whose Config has a field with no default, or whose check_config raises a ValueError,
    printed a warning alone, and no "failed <model> seed 0" line as a plugin whose __init__ or sample
    raises does, though the summary counted it as a failed run."""
    register(registry.models, "test-no-default", ConfigWithoutDefault)
    register(registry.models, "test-check-raises", DefaultRefused)
    register(registry.models, "test-sample-raises", SampleRaises)
    register(registry.models, "test-init-raises", InitRaises)
    broken = ["test-no-default", "test-check-raises", "test-sample-raises", "test-init-raises"]
    out = tmp_path / "runs"
    r = ring8_cli(cli, out, cache_dir, "--models", ",".join([*broken, "gaussian"]))
    assert r.exit_code == 1, r.output  # plugins' bugs: no user error, none taking the others down
    assert "1 of 5 runs ok" in r.output
    assert len(result_lines(r.output, "gaussian")) == 1
    for name in broken:
        path = out / "ring8" / name / "seed0.json"
        (line,) = result_lines(r.output, name)  # was none for the first two: a warning alone
        assert line.startswith(f"failed {name} seed 0: model {name!r} raised "), line
        assert line.endswith(f"-> {path}"), line
        assert not any(ln.startswith("warning:") and name in ln for ln in r.output.splitlines()), r.output
        written = read_strict(path)
        assert (written["status"], written["error_kind"]) == ("failed", "plugin")
        assert written["error"] in line
    assert "give every field of its Config a default" in result_lines(r.output, "test-no-default")[0]


def test_a_variant_whose_config_check_raises_fails_under_its_own_row(register, cli, tmp_path, cache_dir):
    """With --set test-k.k=-1 the failure was filed under plain test-k: in a fresh --out as its
    seed0.json (the board showed plain test-k, never run, as failed), beside plain test-k's ok result
    as seed0.failed.json; and the sweep's good point, k=2, was never run."""
    register(registry.models, "test-k", CheckRefuses)
    out = tmp_path / "runs"
    plain, refused, good = (
        out / "ring8" / folder / "seed0.json" for folder in ("test-k", "test-k_k=-1", "test-k_k=2")
    )

    r = ring8_cli(cli, out, cache_dir, "--models", "test-k", "--set", "test-k.k=-1,2")
    assert r.exit_code == 1, r.output
    assert not plain.parent.exists()
    (line,) = result_lines(r.output, "test-k[k=-1]")
    assert line == (
        "failed test-k[k=-1] seed 0: model 'test-k' raised ValueError checking its config: "
        f"k must be >= 0, got -1  -> {refused}"
    )
    assert read_strict(refused)["variant"] == "k=-1" and read_strict(refused)["status"] == "failed"
    assert read_strict(good)["status"] == "ok"  # the sweep's other point runs

    assert ring8_cli(cli, out, cache_dir, "--models", "test-k").exit_code == 0
    kept = plain.read_bytes()
    r = ring8_cli(cli, out, cache_dir, "--models", "test-k", "--set", "test-k.k=-1")
    assert r.exit_code == 1, r.output
    assert plain.read_bytes() == kept and not (plain.parent / "seed0.failed.json").exists()
    assert "is kept" not in r.output  # no failure of the plain row to keep its result from

    board = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert board.exit_code == 0, board.output
    rows = {ln.split("|")[2].strip(): ln for ln in board.stdout.splitlines() if ln.startswith("|")}
    assert "**failed**" in rows["test-k[k=-1]"] and "**failed**" not in rows["test-k"]


def test_a_model_whose_config_cannot_be_built_fails_under_each_row_asked_for(register, tmp_path, cache_dir):
    """No canonical variant without a config: the rows are named by the fields as typed, sorted."""
    register(registry.models, "test-no-default", ConfigWithoutDefault)
    config = RunConfig(
        models=["test-no-default"],
        dataset="ring8",
        samples=200,
        metrics=["fid"],
        out=tmp_path / "runs",
        cache_dir=cache_dir,
        overrides=["test-no-default.width=3,4"],
        figures=False,
        progress=False,
    )
    results = run(config)
    assert sorted(r.variant for r in results) == ["width=3", "width=4"]  # was one row, plain ""
    assert {r.status for r in results} == {"failed"}
    assert not (tmp_path / "runs/ring8/test-no-default").exists()
