"""A minimal genbench model plugin: every pixel drawn independently from a fitted Gaussian."""

from dataclasses import dataclass

import torch

from genbench import GenerativeModel


class IndependentPixels(GenerativeModel):
    """Samples each dimension independently from a Gaussian fitted to the training data."""

    trainable = False  # fitting is two averages: no checkpoint needed

    @dataclass
    class Config:
        scale: float = 1.0  # multiplies the fitted standard deviation

    def fit(self, train, ctx):
        flat = train.flatten(1).double()
        self.mean, self.std = flat.mean(0), flat.std(0)
        return {}

    def sample(self, n, *, generator):
        z = torch.randn(
            n, self.mean.numel(), generator=generator, device=generator.device, dtype=torch.float64
        )
        x = (self.mean.to(z.device) + self.config.scale * self.std.to(z.device) * z).float()
        x = x.reshape(n, *self.spec.shape)
        return x.clamp(*self.spec.value_range) if self.spec.value_range else x

    def state_dict(self):
        return {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state):
        self.mean, self.std = state["mean"], state["std"]
