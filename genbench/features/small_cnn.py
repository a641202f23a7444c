"""The network of ``--features classifier`` and of the ``cas`` metric, and its training: a small CNN
(:class:`SmallCNN`) trained by :func:`train_classifier` on one CPU thread, seeded, with deterministic
operations only (no BatchNorm, no adaptive pooling), so that one machine trains the same weights
every time, in seconds. :class:`ClassifierConfig` is its architecture and training recipe.
Which weights the feature extractor uses, ships and caches is :mod:`genbench.features.classifier`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and training of the classifier; every field enters the cache key."""

    width: int = 16  # channels of the first conv block (the second has twice as many)
    feature_dim: int = 128  # penultimate layer: the features
    examples: int = 60_000  # training examples seen: epochs = max(1, round(examples / N))
    batch_size: int = 64
    lr: float = 3e-3  # Adam, decayed linearly to 0
    shift: int = 1  # random translations of up to this many pixels (augmentation)
    seed: int = 0
    version: int = 1  # bump when the training code changes


class SmallCNN(nn.Module):
    """Two conv blocks (3x3 conv, ReLU, 3x3 conv, ReLU, 2x2 max-pool while larger than 7 px), two linear layers."""

    def __init__(self, channels: int, size: tuple[int, int], num_classes: int, width: int, feature_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c, (h, w) = channels, size
        for out in (width, 2 * width):
            layers += [
                nn.Conv2d(c, out, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(out, out, 3, padding=1),
                nn.ReLU(),
            ]
            c = out
            if min(h, w) > 7:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * h * w, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


def _shift(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    """Translate each image by a random (dy, dx) in [-s, s]^2, padding with the border values."""
    n, _, h, w = x.shape
    pad = F.pad(x, (s, s, s, s), mode="replicate")
    offs = torch.randint(0, 2 * s + 1, (n, 2), generator=g)
    out = torch.empty_like(x)
    for dy in range(2 * s + 1):
        for dx in range(2 * s + 1):
            m = (offs[:, 0] == dy) & (offs[:, 1] == dx)
            if m.any():
                out[m] = pad[m, :, dy : dy + h, dx : dx + w]
    return out


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run on one CPU thread: the same weights bit for bit whatever the machine's core count, and
    faster too (the layers are so small that thread synchronisation costs more than it saves:
    10x on a busy 2-core machine). The caller's thread setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: ClassifierConfig) -> SmallCNN:
    """Train deterministically on the CPU (seeded init, shuffling and augmentation, one thread).

    Grad is enabled explicitly: training happens lazily, on first use, which is often inside the
    ``torch.no_grad()`` of a feature extraction.
    """
    with one_thread(), torch.enable_grad():
        return _train(x.float().cpu(), y.long().cpu(), num_classes, cfg)


def _train(x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: ClassifierConfig) -> SmallCNN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = SmallCNN(x.shape[1], (x.shape[-2], x.shape[-1]), num_classes, cfg.width, cfg.feature_dim)
    g = torch.Generator().manual_seed(cfg.seed)
    n = len(x)
    epochs = max(1, round(cfg.examples / n))
    steps_per_epoch = -(-n // cfg.batch_size)
    total = epochs * steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 - step / total)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            xb = _shift(x[idx], cfg.shift, g) if cfg.shift else x[idx]
            loss = F.cross_entropy(net(xb)[1], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return net.eval().requires_grad_(False)


@torch.no_grad()
def accuracy(net: SmallCNN, x: torch.Tensor, y: torch.Tensor, batch: int = 1024) -> float:
    pred = torch.cat([net(x[i : i + batch].float())[1].argmax(1) for i in range(0, len(x), batch)])
    return float((pred == y).double().mean())
