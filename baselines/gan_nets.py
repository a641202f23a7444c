"""DCGAN-style networks (Radford et al. 2016, "Unsupervised representation learning with deep
convolutional generative adversarial networks"), sized for any C x H x W, plus MLPs for 2D points.

DCGAN's guidelines, followed here: strided (transposed) convolutions instead of pooling, batchnorm in
every generator layer but the output and in every discriminator layer but the first, ReLU in the
generator with tanh on its output, LeakyReLU(0.2) in the discriminator, weights drawn from
N(0, 0.02). The discriminator ends in a linear logit, its sigmoid left to the losses (as softplus).

The convolutional stacks halve (discriminator, encoder) or double (generator, decoder) the spatial
size with 4x4 stride-2 convolutions; :func:`num_levels` picks how many times from the resolution:
8x8 digits -> 4x4 (one level at ``min_res=4``), 28x28 MNIST -> 14 -> 7, 32x32 CIFAR-10 -> 16 -> 8 -> 4.
With one level, as on digits, the discriminator's only convolution is its first, so it has no
batchnorm at all, and the generator one (after its projection of z). The VAE's encoder and decoder
(baselines/vae_nets.py) reuse the same plan.

The MLPs of the 2D points keep DCGAN's activations (ReLU in G, LeakyReLU(0.2) in D; linear outputs,
the points being unbounded) but have no batchnorm and keep ``nn.Linear``'s default initialisation
(uniform, scaled by the fan-in), not N(0, 0.02).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn


def num_levels(height: int, width: int, min_res: int) -> int:
    """Number of stride-2 levels: halve while both sides stay even and at least ``min_res``."""
    k = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= min_res and width // 2 >= min_res:
        height, width, k = height // 2, width // 2, k + 1
    return k


def level_channels(width: int, k: int) -> list[int]:
    """Channels at levels 0 (coarsest) .. k-1: ``width`` at the finest, doubling per level down."""
    return [width * 2 ** (k - 1 - j) for j in range(k)] if k else [width]


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights ~ N(0, 0.02), batchnorm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Build networks under a seeded CPU RNG without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when ``enabled`` (no loss scaling needed); a no-op on the CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class DCGANGenerator(nn.Module):
    """z -> project and reshape -> [ConvT 4x4/2, BN, ReLU]* -> ConvT 4x4/2 -> tanh."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64, min_res: int = 4):
        super().__init__()
        c, h, w = shape
        k = num_levels(h, w, min_res)
        chans = level_channels(width, k)
        sh, sw = h >> k, w >> k
        layers: list[nn.Module] = [
            nn.Linear(z_dim, chans[0] * sh * sw, bias=False),
            nn.Unflatten(1, (chans[0], sh, sw)),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(True),
        ]
        for j in range(1, k):
            layers += [
                nn.ConvTranspose2d(chans[j - 1], chans[j], 4, 2, 1, bias=False),
                nn.BatchNorm2d(chans[j]),
                nn.ReLU(True),
            ]
        last = nn.ConvTranspose2d(chans[-1], c, 4, 2, 1) if k else nn.Conv2d(chans[-1], c, 3, 1, 1)
        layers += [last, nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """x -> Conv 4x4/2, LReLU -> [Conv 4x4/2, BN, LReLU]* -> linear logit (one per example)."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64, min_res: int = 4):
        super().__init__()
        c, h, w = shape
        k = num_levels(h, w, min_res)
        chans = list(reversed(level_channels(width, k)))  # finest first
        layers: list[nn.Module] = [
            nn.Conv2d(c, chans[0], 4, 2, 1) if k else nn.Conv2d(c, chans[0], 3, 1, 1),
            nn.LeakyReLU(0.2, True),
        ]
        for j in range(1, k):
            layers += [
                nn.Conv2d(chans[j - 1], chans[j], 4, 2, 1, bias=False),
                nn.BatchNorm2d(chans[j]),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Flatten(), nn.Linear(chans[-1] * (h >> k) * (w >> k), 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def mlp(d_in: int, d_out: int, hidden: int, layers: int, act: Callable[[], nn.Module]) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with activation ``act``, linear output."""
    mods: list[nn.Module] = []
    d = d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), act()]
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


class MLPGenerator(nn.Module):
    """Generator for point data: ReLU MLP with a linear output (points are unbounded)."""

    def __init__(self, z_dim: int, dim: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.net = mlp(z_dim, dim, hidden, layers, nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Discriminator for point data: LeakyReLU(0.2) MLP, one logit per example."""

    def __init__(self, dim: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.net = mlp(dim, 1, hidden, layers, lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
