"""A model reports its steps within one ``sample()`` call (GenerativeModel.sampling_progress), which
the harness binds while it samples (genbench.sampling_steps); the DDPM and DDIM baselines report
each denoising step, and what they sample is the same whether anyone listens or not."""

from __future__ import annotations

import pytest
import torch

from baselines.ddim import DDIM
from baselines.ddpm import DDPM
from genbench.api import DataSpec, GenerativeModel, TrainContext
from genbench.sampling_steps import reporting_steps

POINTS = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=64, num_modes=8)
IMAGES = DataSpec(name="tiny", kind="image", shape=(1, 8, 8), value_range=(-1.0, 1.0), num_train=32)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


def _trained(spec: DataSpec) -> DDPM:
    cfg = dict(timesteps=20, lr=1e-3, warmup=2, batch_size=8, train_steps=3, ema_decay=0.9)
    if spec.kind == "image":  # dropout on: a sampler that left it on would draw other numbers
        cfg.update(ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), dropout=0.1)
    else:
        cfg.update(mlp_hidden=16, mlp_depth=1)
    model = DDPM(spec, DDPM.Config(**cfg))
    data = torch.rand(32, *spec.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    model.fit(data, TrainContext(seed=0, device=torch.device("cpu")))
    return model


@pytest.mark.parametrize("spec", [POINTS, IMAGES], ids=["points", "images"])
def test_ddpm_and_ddim_report_every_denoising_step_and_sample_the_same_numbers(spec):
    """The sampling bar moved once a batch: a CIFAR-10 DDPM's batch on a CPU takes hours, with no
    time remaining. The baselines report each step; listening changes no sample, bit for bit."""
    ddpm = _trained(spec)
    for model, steps in ((ddpm, 20), (DDIM.from_trained(ddpm, DDIM.Config(steps=7, eta=0.5)), 7)):
        torch.manual_seed(3)  # what a sampler left in training mode would draw dropout from
        quiet = model.sample(5, generator=torch.Generator().manual_seed(0))
        heard: list[tuple[int, int]] = []
        torch.manual_seed(3)
        with reporting_steps(lambda step, total, heard=heard: heard.append((step, total))):
            listened = model.sample(5, generator=torch.Generator().manual_seed(0))
        assert heard == [(k, steps) for k in range(1, steps + 1)]
        assert torch.equal(quiet, listened)


class _Reporting(GenerativeModel):
    def sample(self, n, *, generator):
        for k in range(1, 4):
            self.sampling_progress(k, 3)
        return torch.zeros(n, 2)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_a_report_outside_the_harness_sampling_does_nothing():
    """Unbound (a model sampled in a notebook or a test of its own), reporting is a no-op; the
    receiver bound last hears it, and is unbound when its block ends."""
    model = _Reporting(POINTS)
    assert model.sample(2, generator=torch.Generator()).shape == (2, 2)
    outer: list[int] = []
    inner: list[int] = []
    with reporting_steps(lambda step, total: outer.append(step)):
        with reporting_steps(lambda step, total: inner.append(step)):
            model.sample(1, generator=torch.Generator())
        model.sample(1, generator=torch.Generator())
    model.sample(1, generator=torch.Generator())
    assert inner == [1, 2, 3] and outer == [1, 2, 3]
