"""A sweep of the weights that a ``weights_from`` model samples: ``--models ddpm,ddim --set
ddpm.train_steps=A,B`` runs a ddim row over each ddpm checkpoint (as diffusers users swap schedulers
over each), under ddim's own sweep as a grid, each ddpm value trained once for both models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest
import torch
from cli_helpers import run_args  # tests/ is on the path: pytest puts it there
from cli_models import PointsOnly, TinyTrained

from genbench import RunConfig, registry, run
from genbench.errors import Diverged
from genbench.results import find_results


def sweep(tmp_path, **kw) -> RunConfig:
    return RunConfig(
        models=["ddpm", "ddim"],
        dataset="ring8",
        samples=100,
        seeds=[0],
        metrics=["modes"],
        overrides=["ddpm.train_steps=2,3", "ddim.steps=5,50"],
        out=tmp_path / "runs",
        cache_dir=tmp_path / "cache",  # its own: what this run trains is counted
        device="cpu",
        figures=False,
        progress=False,
        **kw,
    )


def test_ddim_samples_each_ddpm_checkpoint_of_a_training_sweep(tmp_path, cli):
    results = {r.label: r for r in run(sweep(tmp_path))}
    assert all(r.status == "ok" for r in results.values()), {k: r.error for k, r in results.items()}
    assert sorted(results) == [
        "ddim[ddpm.train_steps=2]",
        "ddim[ddpm.train_steps=3]",
        "ddim[steps=5,ddpm.train_steps=2]",
        "ddim[steps=5,ddpm.train_steps=3]",
        "ddpm[train_steps=2]",
        "ddpm[train_steps=3]",
    ]
    digests = {r.training["weights_digest"] for r in results.values()}
    assert len(digests) == 2  # two checkpoints, not one sampled under both labels
    for steps in (2, 3):
        ddpm = results[f"ddpm[train_steps={steps}]"]
        assert ddpm.training["loaded"] is False  # trained here, once
        for label in (f"ddim[ddpm.train_steps={steps}]", f"ddim[steps=5,ddpm.train_steps={steps}]"):
            ddim = results[label]
            assert ddim.training["weights_from"] == "ddpm"
            assert ddim.config["weights_from"]["overrides"] == {"train_steps": str(steps)}
            assert ddim.config["weights_from"]["config"]["train_steps"] == steps
            # ddpm's own checkpoint of that value, loaded, not trained again for ddim
            assert ddim.training["weights_digest"] == ddpm.training["weights_digest"]
            assert ddim.training["checkpoint"] == ddpm.training["checkpoint"]
            assert ddim.training["loaded"] is True
    checkpoints = {p.parent for p in (tmp_path / "cache").rglob("*.pt")}
    assert len(checkpoints) == 2, sorted(checkpoints)

    # --skip-done over the same sweep keeps every row, trains and writes nothing
    written = {p: p.read_bytes() for p in find_results(tmp_path / "runs")}
    assert len(written) == 6
    args = ["--models", "ddpm,ddim", "--dataset", "ring8", "--samples", "100", "--seeds", "0"]
    args += ["--metrics", "modes", "--device", "cpu", "--set", "ddpm.train_steps=2,3", "--set"]
    args += ["ddim.steps=5,50", "--skip-done"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args))
    assert r.exit_code == 0, r.output
    assert r.output.count("skipped (--skip-done)") == 6, r.output
    assert {p: p.read_bytes() for p in find_results(tmp_path / "runs")} == written
    labels = {json.loads(p.read_text())["variant"] for p in written if "ddim" in p.parent.name}
    assert labels == {"ddpm.train_steps=2", "ddpm.train_steps=3", "steps=5,ddpm.train_steps=2"} | {
        "steps=5,ddpm.train_steps=3"
    }


class RefusesSeven(TinyTrained):
    """A weights owner whose check_config refuses steps=7 with a ValueError, where its API asks for
    a GenbenchError: the plugin's own bug, for one value."""

    @classmethod
    def check_config(cls, spec, config, owner_config=None):
        if config.steps == 7:
            raise ValueError("steps=7 is unlucky")


class ConfigRefusesSeven(TinyTrained):
    """A weights owner whose Config itself raises a ValueError for steps=7."""

    @dataclass
    class Config:
        steps: int = 20
        lr: float = 0.5

        def __post_init__(self):
            if self.steps == 7:
                raise ValueError("steps=7 is unlucky")


class DefaultsRaise(TinyTrained):
    """A weights owner whose per-dataset defaults raise: no config of it resolves."""

    @classmethod
    def dataset_defaults(cls, dataset):
        raise KeyError("no defaults file")


class Sampler(PointsOnly):
    """Samples the weights of test-owner, as ddim samples ddpm's."""

    weights_from = "test-owner"

    @classmethod
    def from_trained(cls, owner, config):
        return cls(owner.spec, config)


class UnusedFieldsRaise(Sampler):
    """Its unused_fields raises: every row of it fails, whatever owner it samples."""

    @classmethod
    def unused_fields(cls, spec, config):
        raise RuntimeError("unused_fields broke")


def plugin_sweep(tmp_path, models: list[str], *overrides: str) -> RunConfig:
    return RunConfig(
        models=models,
        dataset="ring8",
        samples=100,
        seeds=[0],
        metrics=["modes"],
        overrides=list(overrides),
        out=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        device="cpu",
        figures=False,
        progress=False,
    )


@pytest.mark.parametrize(
    ("owner", "doing"), [(RefusesSeven, "checking its config"), (ConfigRefusesSeven, "resolving its config")]
)
@pytest.mark.parametrize("models", [["test-sampler"], ["test-owner", "test-sampler"]])
def test_an_owner_value_its_plugin_refuses_fails_the_rows_of_that_value_alone(
    register, tmp_path, models, owner, doing
):
    """An owner's check_config (or Config) raising a ValueError for steps=7 failed every row of the
    sampler, the steps=3 one too, under a plain row named after neither value, and said the sampler
    raised it."""
    register(registry.models, "test-owner", owner)
    register(registry.models, "test-sampler", Sampler)
    config = plugin_sweep(tmp_path, models, "test-owner.steps=7,3")
    results = {r.label: r for r in run(config)}
    expected = {"test-sampler[test-owner.steps=3]": "ok", "test-sampler[test-owner.steps=7]": "failed"}
    if "test-owner" in models:
        expected |= {"test-owner[steps=3]": "ok", "test-owner[steps=7]": "failed"}
    assert {k: r.status for k, r in results.items()} == expected, {k: r.error for k, r in results.items()}
    # --skip-done: the ok rows are kept as written, the failed ones fail again
    written = {p: p.read_bytes() for p in find_results(tmp_path / "runs")}
    again = {r.label: r.status for r in run(replace(config, skip_done=True))}
    assert again == expected
    assert {p: p.read_bytes() for p in written if "steps=3" in p.parent.name} == {
        p: b for p, b in written.items() if "steps=3" in p.parent.name
    }
    failed = results["test-sampler[test-owner.steps=7]"]
    assert failed.error_kind == "plugin"
    assert failed.error == (
        f"model 'test-owner' raised ValueError {doing} as test-sampler's weights owner: steps=7 is unlucky"
    )
    assert "" not in {json.loads(b)["variant"] for b in written.values()}  # no plain row: none asked


def test_an_owner_value_at_its_default_is_no_sign_that_the_field_leaves_the_weights_alone(register, tmp_path):
    """A value at the default keys the checkpoint as the default does, whatever the field: with the
    refused value left out of the comparison, 20 alone would have had steps, a training field,
    refused as changing nothing test-sampler samples (it was a plain row failed for both values)."""
    register(registry.models, "test-owner", RefusesSeven)
    register(registry.models, "test-sampler", Sampler)
    results = run(plugin_sweep(tmp_path, ["test-sampler"], "test-owner.steps=20,7"))
    assert sorted((r.label, r.status) for r in results) == [
        ("test-sampler", "ok"),
        ("test-sampler[test-owner.steps=7]", "failed"),
    ]


def test_an_owner_whose_defaults_raise_fails_each_row_asked_for_naming_the_owner(register, tmp_path):
    """It failed one plain row, which nobody asked for, saying the sampler raised."""
    register(registry.models, "test-owner", DefaultsRaise)
    register(registry.models, "test-sampler", Sampler)
    results = run(plugin_sweep(tmp_path, ["test-sampler", "gaussian"], "test-owner.steps=3,4"))
    assert sorted((r.label, r.status) for r in results) == [
        ("gaussian", "ok"),
        ("test-sampler[test-owner.steps=3]", "failed"),
        ("test-sampler[test-owner.steps=4]", "failed"),
    ]
    assert {r.error for r in results if r.status == "failed"} == {
        "model 'test-owner' raised KeyError resolving its config as test-sampler's weights owner: "
        "'no defaults file'"
    }


@pytest.mark.parametrize("typed", ["200,2e2", "2e2,200"])
def test_the_failed_rows_of_an_owner_sweep_are_named_as_its_planned_rows_are(register, tmp_path, typed):
    """A sampler whose every row failed at planning was filed under each owner value as typed past
    the first: 200 and 2e2, one checkpoint and one row when planning succeeds, were two failed rows."""
    register(registry.models, "test-owner", RefusesSeven)
    register(registry.models, "test-sampler", UnusedFieldsRaise)
    results = run(plugin_sweep(tmp_path, ["test-sampler"], f"test-owner.steps={typed}"))
    assert [(r.label, r.status) for r in results] == [("test-sampler[test-owner.steps=200]", "failed")]
    assert "model 'test-sampler' raised RuntimeError resolving its config: unused_fields broke" in (
        results[0].error
    )


class InitRaisesSeven(TinyTrained):
    """A weights owner whose own __init__ raises for steps=7, which its check_config passes: its bug
    shows when the runner builds it to train."""

    def __init__(self, spec, config=None):
        super().__init__(spec, config)
        if self.config.steps == 7:
            raise RuntimeError("steps=7 is unlucky")


class KeyRaisesSeven(TinyTrained):
    """A weights owner whose train_config, which keys its checkpoint, raises for steps=7."""

    def train_config(self):
        if self.config.steps == 7:
            raise RuntimeError("steps=7 is unlucky")
        return super().train_config()


class FitRaisesSeven(TinyTrained):
    """A weights owner whose fit, for steps=7, draws noise on another device than its generator's."""

    def fit(self, train, ctx):
        if self.config.steps == 7:
            raise RuntimeError("Expected a 'cuda' device type for generator but found 'cpu'")
        return super().fit(train, ctx)


class DivergesAtSeven(TinyTrained):
    """A weights owner whose training diverges for steps=7."""

    def fit(self, train, ctx):
        if self.config.steps == 7:
            raise Diverged(3, float("nan"))
        return super().fit(train, ctx)


@pytest.mark.parametrize(
    ("owner", "said"),
    [
        (InitRaisesSeven, "steps=7 is unlucky"),
        (KeyRaisesSeven, "steps=7 is unlucky"),
        # with the fix, as a model's own bug is given it
        (FitRaisesSeven, "Expected a 'cuda' device type for generator but found 'cpu'; draw the noise"),
    ],
)
@pytest.mark.parametrize("models", [["test-sampler"], ["test-owner", "test-sampler"]])
def test_an_owner_raising_at_run_time_fails_the_rows_of_that_value_naming_the_owner(
    register, tmp_path, models, owner, said
):
    """The owner's __init__, train_config or fit raising in a row of the sampler said "model
    'test-sampler' raised RuntimeError", whose code never ran."""
    register(registry.models, "test-owner", owner)
    register(registry.models, "test-sampler", Sampler)
    results = {r.label: r for r in run(plugin_sweep(tmp_path, models, "test-owner.steps=7,3"))}
    assert results["test-sampler[test-owner.steps=3]"].status == "ok"
    failed = results["test-sampler[test-owner.steps=7]"]
    assert (failed.status, failed.error_kind) == ("failed", "plugin")
    assert failed.error.startswith(
        f"model 'test-owner' raised RuntimeError as test-sampler's weights owner: {said}"
    ), failed.error
    if "test-owner" in models:  # its own row: its own bug, as any model's
        assert results["test-owner[steps=7]"].error.startswith(
            f"model 'test-owner' raised RuntimeError: {said}"
        )


@pytest.mark.parametrize("models", [["test-sampler"], ["test-owner", "test-sampler"]])
def test_an_owner_diverging_is_named_in_the_rows_that_sample_it(register, tmp_path, models):
    """A sampler's row said "diverged at step 3", though it trains nothing: the owner's training
    diverged (trained for that row, or for the owner's own row before it)."""
    register(registry.models, "test-owner", DivergesAtSeven)
    register(registry.models, "test-sampler", Sampler)
    results = {r.label: r for r in run(plugin_sweep(tmp_path, models, "test-owner.steps=7,3"))}
    assert results["test-sampler[test-owner.steps=3]"].status == "ok"
    diverged = results["test-sampler[test-owner.steps=7]"]
    assert (diverged.status, diverged.error_kind, diverged.flags) == ("diverged", "diverged", ["diverged"])
    assert diverged.error == (
        "model 'test-owner' diverged at step 3 (loss=nan) training as test-sampler's weights owner"
    )
    if "test-owner" in models:
        assert results["test-owner[steps=7]"].error == "diverged at step 3 (loss=nan)"


class SamplesHot(RefusesSeven):
    """RefusesSeven with a field of how it samples, no part of its training config."""

    @dataclass
    class Config:
        steps: int = 20
        lr: float = 0.5
        temperature: float = 1.0

    def train_config(self):
        return {"steps": self.config.steps, "lr": self.config.lr}


class SamplerRefusesAll(Sampler):
    """Its check_config refuses every config with a ValueError: every row of it fails at planning."""

    @classmethod
    def check_config(cls, spec, config, owner_config=None):
        raise ValueError("nothing suits me")


@pytest.mark.parametrize(
    ("sampler", "steps"),
    [
        (Sampler, "7"),  # the owner's plugin fails its every value
        (Sampler, "7,3"),  # one value planned: refused before too
        (SamplerRefusesAll, "3"),  # the sampler's plugin fails its every row
        (UnusedFieldsRaise, "3"),
    ],
)
def test_an_owner_field_that_changes_nothing_is_refused_though_every_row_fails_at_planning(
    register, tmp_path, cli, sampler, steps
):
    """With every row of test-sampler failed at planning by a plugin's bug, test-owner.temperature,
    which changes nothing test-sampler samples, passed, named nowhere (the rows are named by the
    owner's training fields), and the run recorded the failed rows; with one row planned it was
    refused, as it is now either way: the user's input, fixed before the plugin's bug shows."""
    register(registry.models, "test-owner", SamplesHot)
    register(registry.models, "test-sampler", sampler)
    args = ["--models", "test-sampler", "--dataset", "ring8", "--samples", "100", "--seeds", "0"]
    args += ["--metrics", "modes", "--device", "cpu", "--no-figures"]
    args += ["--set", f"test-owner.steps={steps}", "--set", "test-owner.temperature=2"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args))
    assert r.exit_code == 2, r.output
    assert (
        "--set test-owner.temperature=2 does not change the test-owner weights that test-sampler samples"
        in (r.output)
    )
    assert "Traceback" not in r.output
    assert not list(find_results(tmp_path / "runs"))  # refused before any row, failed ones too


class SamplerWithK(Sampler):
    """A sampler with a field of its own, whose default is 1."""

    @dataclass
    class Config:
        k: float = 1.0


def test_the_rows_an_owner_value_fails_name_the_samplers_fields_as_its_planned_rows_do(register, tmp_path):
    """The rows over a value the owner's plugin refused were named by the sampler's fields as typed:
    k=1 (the default) and k=2.0 beside k=2 were three failed rows of steps=7, where steps=3 planned
    two, so a rerun once the plugin is fixed wrote other files than the failures it replaces."""
    register(registry.models, "test-owner", RefusesSeven)
    register(registry.models, "test-sampler", SamplerWithK)
    config = plugin_sweep(tmp_path, ["test-sampler"], "test-sampler.k=1,2.0,2", "test-owner.steps=7,3")
    assert sorted((r.label, r.status) for r in run(config)) == [
        ("test-sampler[k=2,test-owner.steps=3]", "ok"),
        ("test-sampler[k=2,test-owner.steps=7]", "failed"),
        ("test-sampler[test-owner.steps=3]", "ok"),
        ("test-sampler[test-owner.steps=7]", "failed"),
    ]


class ResolvesOnlyUntilTrained(TinyTrained):
    """A weights owner whose dataset_defaults or weights_owner_config (``hook``) raises once it has
    trained: planning resolves it before, the sampler's row at run time after."""

    hook = ""
    trained: list[bool] = []

    def fit(self, train, ctx):
        type(self).trained.append(True)
        return super().fit(train, ctx)

    @classmethod
    def dataset_defaults(cls, dataset):
        if cls.hook == "dataset_defaults" and cls.trained:
            raise RuntimeError("defaults gone")
        return super().dataset_defaults(dataset)

    @classmethod
    def weights_owner_config(cls, config):
        if cls.hook == "weights_owner_config" and cls.trained:
            raise RuntimeError("defaults gone")
        return super().weights_owner_config(config)


@pytest.mark.parametrize("hook", ["dataset_defaults", "weights_owner_config"])
def test_an_owner_config_raising_at_run_time_fails_the_sampler_row_naming_the_owner(
    register, tmp_path, monkeypatch, hook
):
    """Planning resolved the owner's config; its dataset_defaults or weights_owner_config raising when
    the sampler's row resolved it again said "model 'test-sampler' raised RuntimeError"."""
    monkeypatch.setattr(ResolvesOnlyUntilTrained, "hook", hook)
    monkeypatch.setattr(ResolvesOnlyUntilTrained, "trained", [])
    register(registry.models, "test-owner", ResolvesOnlyUntilTrained)
    register(registry.models, "test-sampler", Sampler)
    results = {r.label: r for r in run(plugin_sweep(tmp_path, ["test-owner", "test-sampler"]))}
    assert results["test-owner"].status == "ok", results["test-owner"].error
    failed = results["test-sampler"]
    assert (failed.status, failed.error_kind) == ("failed", "plugin")
    assert failed.error.startswith(
        "model 'test-owner' raised RuntimeError as test-sampler's weights owner: defaults gone"
    ), failed.error


class GradOffOwner(TinyTrained):
    """A weights owner whose fit turns grad mode off and leaves it so."""

    def fit(self, train, ctx):
        log = super().fit(train, ctx)
        torch.set_grad_enabled(False)
        return log


def test_torch_state_an_owner_changes_training_for_a_sampler_is_warned_of_as_the_owners(
    register, tmp_path, capsys
):
    """The owner's fit turning grad mode off in the sampler's row was warned of as "model
    'test-sampler' changed torch's global settings", whose code changed nothing."""
    register(registry.models, "test-owner", GradOffOwner)
    register(registry.models, "test-sampler", Sampler)
    results = run(plugin_sweep(tmp_path, ["test-sampler"]))
    assert [r.status for r in results] == ["ok"], [r.error for r in results]
    assert torch.is_grad_enabled()
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "test-sampler seed 0: model 'test-owner' as test-sampler's weights owner changed torch's global "
        "settings: grad mode False (restored to True)"
    ) in err, err
    assert "model 'test-sampler' changed" not in err
