"""docs/plugins.md's worked example of a sampler over DDPM's weights (``weights_from = "ddpm"``), as
written there: with ``order = 1`` it is DDIM with ``eta = 0``, and a run samples ddpm's checkpoint
with it, training nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest
import torch

from baselines.ddim import DDIM
from baselines.ddpm import DDPM
from genbench import registry
from genbench.api import DataSpec
from genbench.config import RunConfig
from genbench.runner import run

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
POINTS = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=64, num_modes=8)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


@pytest.fixture
def heun(tmp_path):
    """The class of the docs' example, its code block as the page shows it."""
    section = DOCS.read_text().split("## A sampler over DDPM's weights\n")[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "heun.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("docs_heun", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Heun


def trained_ddpm() -> DDPM:
    """A DDPM of random weights (no training: the samplers only need some denoiser)."""
    config = dataclasses.replace(DDPM.Config(), timesteps=100, mlp_hidden=16, mlp_depth=1)
    torch.manual_seed(0)
    ddpm = DDPM(POINTS, config)
    ddpm.shift, ddpm.scale = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 3.0])
    return ddpm


def draw(model, n=64):
    return model.sample(n, generator=torch.Generator().manual_seed(3))


def test_the_docs_euler_sampler_is_ddim_with_eta_0_and_heun_differs(heun):
    ddpm = trained_ddpm()
    ddim = DDIM.from_trained(ddpm, dataclasses.replace(DDIM.Config(), steps=10, eta=0.0))
    euler = heun.from_trained(ddpm, heun.Config(steps=10, order=1))
    second = heun.from_trained(ddpm, heun.Config(steps=10, order=2))
    heun.check_config(POINTS, euler.config, ddpm.config)
    reference = draw(ddim)
    assert torch.allclose(draw(euler), reference, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(draw(second), reference, atol=1e-2)
    assert (euler.nfe, second.nfe, ddim.nfe) == (10, 19, 10)


def test_a_run_samples_ddpms_checkpoint_with_the_docs_sampler(heun, register, tmp_path, cache_dir):
    register(registry.models, "test-heun", heun)
    config = RunConfig(
        models=["ddim", "test-heun"],
        dataset="ring8",
        samples=200,
        metrics=["fid", "throughput"],
        overrides=["ddpm.train_steps=2", "test-heun.steps=5,10"],
        out=tmp_path / "runs",
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
    )
    results = {r.label: r for r in run(config)}
    assert all(r.status == "ok" for r in results.values()), {k: r.error for k, r in results.items()}
    ddim = results["ddim[ddpm.train_steps=2]"]
    for label, nfe in (
        ("test-heun[steps=5,ddpm.train_steps=2]", 9),
        ("test-heun[ddpm.train_steps=2]", 19),
    ):
        row = results[label]
        assert row.metrics["nfe"] == nfe
        # ddpm's checkpoint, trained once: the same weights and training time as ddim's
        assert row.training["weights_from"] == "ddpm"
        assert row.training["weights_digest"] == ddim.training["weights_digest"]
        assert row.timings["train_s"] == ddim.timings["train_s"]
