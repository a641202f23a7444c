"""Encoder and decoder networks of the VAE: convolutional for images, MLPs for points.

The conv stacks follow the DCGAN plan of baselines/gan_nets.py (4x4 stride-2 convolutions, channels
doubling per level down), without batchnorm so that each example's ELBO depends on that example
alone and training and evaluation behave the same, and with PyTorch's default initialisation (not
DCGAN's N(0, 0.02)).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.gan_nets import level_channels, mlp, num_levels


class ConvEncoder(nn.Module):
    """x -> [Conv 4x4/2, LeakyReLU]* -> linear -> (mu, logvar) of q(z|x)."""

    def __init__(self, shape: tuple[int, int, int], latent_dim: int, width: int = 64, min_res: int = 4):
        super().__init__()
        c, h, w = shape
        k = num_levels(h, w, min_res)
        chans = list(reversed(level_channels(width, k)))
        layers: list[nn.Module] = []
        prev = c
        for j in range(max(k, 1)):
            layers += [
                nn.Conv2d(prev, chans[j], 4, 2, 1) if k else nn.Conv2d(prev, chans[j], 3, 1, 1),
                nn.LeakyReLU(0.2, True),
            ]
            prev = chans[j]
        layers += [nn.Flatten(), nn.Linear(chans[-1] * (h >> k) * (w >> k), 2 * latent_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """z -> linear -> [ConvT 4x4/2, ReLU]* -> ConvT 4x4/2 -> tanh: the mean of p(x|z) in [-1, 1]."""

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int = 64, min_res: int = 4):
        super().__init__()
        c, h, w = shape
        k = num_levels(h, w, min_res)
        chans = level_channels(width, k)
        sh, sw = h >> k, w >> k
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, chans[0] * sh * sw),
            nn.Unflatten(1, (chans[0], sh, sw)),
            nn.ReLU(True),
        ]
        for j in range(1, k):
            layers += [nn.ConvTranspose2d(chans[j - 1], chans[j], 4, 2, 1), nn.ReLU(True)]
        last = nn.ConvTranspose2d(chans[-1], c, 4, 2, 1) if k else nn.Conv2d(chans[-1], c, 3, 1, 1)
        layers += [last, nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPEncoder(nn.Module):
    """Points: ReLU MLP -> (mu, logvar)."""

    def __init__(self, dim: int, latent_dim: int, hidden: int = 128, layers: int = 2):
        super().__init__()
        self.net = mlp(dim, 2 * latent_dim, hidden, layers, nn.ReLU)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(nn.Module):
    """Points: ReLU MLP with a linear output, the (unbounded) mean of p(x|z)."""

    def __init__(self, latent_dim: int, dim: int, hidden: int = 128, layers: int = 2):
        super().__init__()
        self.net = mlp(latent_dim, dim, hidden, layers, nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
