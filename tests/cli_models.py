"""The model plugins the CLI tests register in-process (``test-points-only``, ``test-nan``,
``test-unit-range``, ``test-flaky``, ``test-tiny-trained``, ``test-broken-last-step``,
``test-checked``, ``test-stepping``): importing this module registers them. Imported by name: tests/ is on the path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genbench import GenbenchError, GenerativeModel, register_model
from genbench.data.base import Dataset
from genbench.errors import Diverged


@register_model("test-points-only")
class PointsOnly(GenerativeModel):
    """Zeros [n, 2] of ``points``."""

    supported_kinds = ("points",)

    def sample(self, n, *, generator):
        return torch.zeros(n, *self.spec.shape)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@register_model("test-nan")
class EmitsNaN(PointsOnly):
    supported_kinds = ("image", "points")

    def sample(self, n, *, generator):
        return torch.full((n, *self.spec.shape), float("nan"))


@register_model("test-unit-range")
class UnitRange(PointsOnly):
    """Images in [0, 1], as torchvision's ToTensor makes them: in range batch by batch, wrong as a set."""

    supported_kinds = ("image",)

    def sample(self, n, *, generator):
        return torch.rand(n, *self.spec.shape, generator=generator, device=generator.device)


@register_model("test-flaky")
class Flaky(PointsOnly):
    """Samples, or raises as a run that fails at run time does (CUDA out of memory), or diverges, or
    exits as research code's argparse does when called without its arguments."""

    outcome = "ok"

    def sample(self, n, *, generator):
        if self.outcome == "raise":
            raise RuntimeError("CUDA out of memory")
        if self.outcome == "exit":
            raise SystemExit(2)
        if self.outcome == "diverge":
            raise Diverged(step=3, loss=float("nan"))
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)


@register_model("test-tiny-trained")
class TinyTrained(GenerativeModel):
    """Learns the data mean by SGD: a trainable model that trains in milliseconds."""

    @dataclass
    class Config:
        steps: int = 20  # SGD steps
        lr: float = 0.5  # learning rate

    def __init__(self, spec, config=None):
        super().__init__(spec, config)
        self.mean = torch.zeros(spec.shape)

    def fit(self, train, ctx):
        from baselines.training import train_loop

        mean = self.mean.to(train.device).clone().requires_grad_(True)  # train arrives on ctx.device
        opt = torch.optim.SGD([mean], lr=self.config.lr)

        def step(i):
            opt.zero_grad()
            loss = ((train - mean) ** 2).mean()
            loss.backward()
            opt.step()
            return {"loss": float(loss.detach())}

        def state():
            return {"mean": mean.detach().clone(), "opt": opt.state_dict()}

        def load(s):
            with torch.no_grad():
                mean.copy_(s["mean"])
            opt.load_state_dict(s["opt"])

        out = train_loop(ctx, steps=self.config.steps, step=step, state=state, load=load)
        self.mean = mean.detach().cpu().clone()
        return out

    def sample(self, n, *, generator):
        noise = 0.1 * torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)
        x = self.mean.to(noise.device) + noise
        return x.clamp(-1, 1) if self.spec.value_range else x

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, state):
        self.mean = state["mean"]


@register_model("test-broken-last-step")
class BrokenLastStep(TinyTrained):
    """Its last update breaks the weights after its loss was checked: finite losses, NaN weights."""

    def fit(self, train, ctx):
        out = super().fit(train, ctx)
        self.mean = torch.full_like(self.mean, float("nan"))
        return out

    def state_dict(self):  # nested, as the baselines' ({"G": G.state_dict(), "D": ...})
        return {"net": {"mean": self.mean}, "steps": 3}

    def load_state_dict(self, state):
        self.mean = state["net"]["mean"]


@register_model("test-checked")
class Checked(PointsOnly):
    """Checks its config as docs/plugins.md shows, with the two-argument ``check_config``."""

    @dataclass
    class Config:
        steps: int = 1

    @classmethod
    def check_config(cls, spec, config):
        if config.steps < 1:
            raise GenbenchError(f"test-checked.steps must be >= 1, got {config.steps}")


@register_model("test-stepping")
class Stepping(PointsOnly):
    """Reports ``steps`` steps within each sample() call, as a diffusion sampler does."""

    steps = 4

    def sample(self, n, *, generator):
        for k in range(1, self.steps + 1):
            self.sampling_progress(k, self.steps)
        return torch.zeros(n, *self.spec.shape)


class NormalPoints(Dataset):
    """200 standard-normal 2-D points a split, train and test drawn apart: the smallest dataset
    plugin, which a test subclasses and registers under the name it needs (not registered here)."""

    kind, default_features = "points", "raw"

    def _load(self, split):
        rng = np.random.default_rng(0 if split == "train" else 1)
        return torch.from_numpy(rng.standard_normal((200, 2)).astype(np.float32)), None


class Counting(TinyTrained):
    """:class:`TinyTrained` counting its ``fit`` and ``sample`` calls on the class a test subclasses
    it as (not registered here): trained again, or loaded; sampled again, or skipped."""

    fits = samples = 0

    def fit(self, train, ctx):
        type(self).fits += 1
        return super().fit(train, ctx)

    def sample(self, n, *, generator):
        type(self).samples += 1
        return super().sample(n, generator=generator)
