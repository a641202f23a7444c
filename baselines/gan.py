"""Generative adversarial networks (Goodfellow et al. 2014) with DCGAN networks (Radford et al. 2016).

Two registered models share networks, optimiser and schedule and differ only in the generator's loss:

- ``gan-sat``: the saturating minimax loss of Goodfellow et al. (2014), Eq. 1: the generator
  *minimises* ``log(1 - D(G(z)))``. Computed from the discriminator's logit ``l`` as
  ``log(1 - sigmoid(l)) = -softplus(l)``; its gradient ``d/dl = -sigmoid(l)`` vanishes when D
  confidently rejects the fakes (``l -> -inf``), as Goodfellow et al. expect early in training.
- ``gan-ns`` (alias ``gan``): the non-saturating heuristic of the same paper (Sec. 3): the generator
  *maximises* ``log D(G(z))``, i.e. minimises ``-log sigmoid(l) = softplus(-l)``, whose gradient
  ``-(1 - sigmoid(l))`` is largest exactly there.

Several libraries call the non-saturating loss "minimax"; ours is the true saturating one, so the
comparison of Lucic et al. (2018, "Are GANs created equal?", NS vs MM) can be reproduced.

Training alternates ``d_steps`` (k) discriminator steps and one generator step (Goodfellow et al.
2014, Algorithm 1), with Adam(lr 2e-4, betas (0.5, 0.999)) as in DCGAN; each of the k + 1 steps
draws a minibatch of noise of its own (and each discriminator step a minibatch of data), and D
judges the real and the fake minibatch in two passes, so its batchnorm normalises each by its own
statistics (as PyTorch's DCGAN example does). The training log (step 1, every ``log_every``-th step
and the last) holds ``d_real`` (mean D(x)), ``d_fake`` (mean D(G(z))), ``loss_d``, ``loss_g`` and
``grad_norm_g`` (L2 norm of the generator's parameter gradients, before its update), which the
``gan_dynamics`` metric reads. ``d_real``, ``d_fake`` and ``loss_d`` are the last discriminator
step's, on its minibatches and before its update; ``loss_g`` and ``grad_norm_g`` are the generator
step's, on fresh noise against the discriminator just updated, so its D(G(z)), which sets the
gradient, is not the logged ``d_fake``.

Sampling runs the generator in eval mode: its batchnorm uses the running statistics (PyTorch's
default momentum 0.1) that training's forward passes of G kept, so a sample depends on its own z
alone, not on the harness's batch size (PyTorch's DCGAN example samples in training mode, with each
batch's statistics). On the shipped digits checkpoints the two modes differ by 0.006 to 0.007 per
pixel on average and by 0.01 to 0.32 in FID (classifier features, seeds 0-2, both losses, 1437
samples from the same z, training mode in batches of 500), well within the spread over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
import torch.nn.functional as F
from torch import nn

from baselines.configs import WEIGHTS_DIR, key_config
from baselines.configs import dataset_defaults as _dataset_defaults
from baselines.gan_nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    autocast,
    dcgan_init,
    seeded,
)
from baselines.training import buffers_kept, train_loop
from genbench.api import DataSpec, GenerativeModel, TrainContext
from genbench.errors import GenbenchError
from genbench.registry import register_model


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Per-example ``-log D(x) - log(1 - D(G(z)))`` = ``softplus(-l_real) + softplus(l_fake)``."""
    return F.softplus(-real_logits.float()) + F.softplus(fake_logits.float())


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Per-example ``log(1 - D(G(z))) = -softplus(l)``, to be minimised (Goodfellow et al. 2014, Eq. 1)."""
    return -F.softplus(fake_logits.float())


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Per-example ``-log D(G(z)) = softplus(-l)``, to be minimised (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-fake_logits.float())


@dataclass
class GanConfig:
    steps: int = 2000  # generator steps; each follows d_steps discriminator steps
    d_steps: int = 1  # k, discriminator steps per generator step (Goodfellow et al. 2014, Alg. 1)
    batch_size: int = 64  # real and fake examples per discriminator / generator step
    z_dim: int = 64  # latent dimension, z ~ N(0, I)
    lr_g: float = 2e-4  # Adam learning rate of the generator (DCGAN)
    lr_d: float = 2e-4  # Adam learning rate of the discriminator (DCGAN)
    beta1: float = 0.5  # Adam beta1 (DCGAN)
    beta2: float = 0.999  # Adam beta2
    g_width: int = 64  # images: generator channels at full resolution, doubled per level down
    d_width: int = 64  # images: discriminator channels at full resolution, doubled per level down
    min_res: int = 4  # images: smallest feature-map side of the conv stacks
    hidden: int = 128  # points: MLP hidden units (G and D)
    layers: int = 3  # points: MLP hidden layers (G and D)
    log_every: int = 10  # log training scalars every this many steps (the log, not the weights)


#: the fields that must be >= 1; log_every too: 0 logged as 1 did, under a checkpoint key of its own
_AT_LEAST_ONE = "steps d_steps batch_size z_dim g_width d_width hidden layers log_every".split()


class _GAN(GenerativeModel):
    """Shared implementation; subclasses set ``saturating``."""

    Config: ClassVar[type] = GanConfig
    saturating: ClassVar[bool] = False
    shipped_checkpoints: ClassVar[str | Path | None] = (
        WEIGHTS_DIR  # the digits board's (baselines.ship_weights)
    )

    def __init__(self, spec: DataSpec, config: GanConfig | None = None):
        super().__init__(spec, config)
        self._build(0)

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        name = cls.registered_name or "gan"  # set by @register_model: gan-ns or gan-sat
        for field in _AT_LEAST_ONE:
            if getattr(config, field) < 1:
                raise GenbenchError(f"{name}.{field} must be >= 1, got {getattr(config, field)}")
        if config.lr_g <= 0 or config.lr_d <= 0:
            raise GenbenchError(f"{name}.lr_g and {name}.lr_d must be positive")
        # Adam refuses them only inside fit(), after the models before this one trained
        if not (0 <= config.beta1 < 1 and 0 <= config.beta2 < 1):
            raise GenbenchError(
                f"{name}.beta1 and {name}.beta2 must be in [0, 1), got {config.beta1} and {config.beta2}"
            )
        if spec.kind == "image" and config.min_res < 1:  # the same networks as 1, under a key of their own
            raise GenbenchError(f"{name}.min_res must be >= 1, got {config.min_res}")

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        # one file for both losses, gan-ns.toml: they share every hyperparameter and differ only in
        # the generator loss, so a gan-sat copy could only drift from it
        return _dataset_defaults("gan-ns", dataset)

    @classmethod
    def unused_fields(cls, spec: DataSpec, config: Any) -> tuple[str, ...]:
        return ("hidden", "layers") if spec.kind == "image" else ("g_width", "d_width", "min_res")

    def train_config(self) -> dict[str, Any]:
        return key_config(self, unused=self.unused_fields(self.spec, self.config), logging=["log_every"])

    def _build(self, seed: int) -> None:
        with seeded(seed):
            self.G, self.D = self._networks(self.config.z_dim)
        self.G.to(self.device)
        self.D.to(self.device)

    def _networks(self, g_inputs: int) -> tuple[nn.Module, nn.Module]:
        """The generator (of ``g_inputs`` inputs: ``z_dim``, or gan-cond's ``z_dim + K``) and the
        discriminator for the data, initialised from the global generator (the caller seeds it)."""
        cfg, spec = self.config, self.spec
        if spec.kind == "image":
            c, h, w = spec.shape
            g: nn.Module = DCGANGenerator(g_inputs, (c, h, w), cfg.g_width, cfg.min_res)
            d: nn.Module = DCGANDiscriminator((c, h, w), cfg.d_width, cfg.min_res)
            dcgan_init(g)
            dcgan_init(d)
            return g, d
        return MLPGenerator(g_inputs, spec.shape[0], cfg.hidden, cfg.layers), MLPDiscriminator(
            spec.shape[0], cfg.hidden, cfg.layers
        )

    def to(self, device: torch.device | str) -> Self:
        super().to(device)
        self.G.to(self.device)
        self.D.to(self.device)
        return self

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.saturating:
            return generator_loss_saturating(fake_logits)
        return generator_loss_nonsaturating(fake_logits)

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        cfg = self.config
        self.device = torch.device(ctx.device)
        self._build(ctx.seed)
        G, D = self.G, self.D
        G.train()
        D.train()
        data = train.to(self.device, torch.float32)
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        # every random draw comes from these CPU generators, saved in the checkpoint
        rng_data = torch.Generator().manual_seed(ctx.seed)
        rng_noise = torch.Generator().manual_seed(ctx.seed + 1_000_003)
        n, bs = data.shape[0], cfg.batch_size
        labels = self._train_labels(ctx, n)  # None: unconditional

        def real_batch() -> tuple[torch.Tensor, torch.Tensor | None]:
            idx = torch.randint(0, n, (bs,), generator=rng_data).to(self.device)
            return data[idx], None if labels is None else labels[idx]

        def noise() -> torch.Tensor:
            return torch.randn(bs, cfg.z_dim, generator=rng_noise).to(self.device)

        def fake_labels() -> torch.Tensor | None:  # draws nothing for an unconditional model
            return self._fake_labels(labels, bs, rng_noise)

        d, g = self._d, self._g

        last: dict[str, torch.Tensor] = {}  # the last step's batches and noise, for final_loss
        last_y: dict[str, torch.Tensor | None] = {}  # and its classes (None: unconditional)

        def step(i: int) -> dict[str, float]:
            D.requires_grad_(True)
            for _ in range(cfg.d_steps):
                (x, y), z = real_batch(), noise()
                y_fake = fake_labels()
                last.update(x=x, z_d=z)
                last_y.update(y=y, y_d=y_fake)
                with autocast(self.device, ctx.amp):
                    with torch.no_grad():
                        fake = g(G, z, y_fake)
                    l_real, l_fake = d(D, x, y), d(D, fake, y_fake)
                    loss_d = discriminator_loss(l_real, l_fake).mean()
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            D.requires_grad_(False)
            z = noise()
            y_fake = fake_labels()
            last.update(z_g=z)
            last_y.update(y_g=y_fake)
            with autocast(self.device, ctx.amp):
                loss_g = self.generator_loss(d(D, g(G, z, y_fake), y_fake)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            grads = [p.grad.detach().float().norm() for p in G.parameters() if p.grad is not None]
            grad_norm = torch.linalg.vector_norm(torch.stack(grads)) if grads else torch.zeros(())
            opt_g.step()
            vals = torch.stack(
                [
                    torch.sigmoid(l_real.detach().float()).mean(),
                    torch.sigmoid(l_fake.detach().float()).mean(),
                    loss_d.detach(),
                    loss_g.detach(),
                    grad_norm,
                ]
            ).tolist()
            return dict(zip(("d_real", "d_fake", "loss_d", "loss_g", "grad_norm_g"), vals, strict=True))

        def final_loss() -> dict[str, float]:
            """Both losses after the last update, on its batches and noise, in training mode as a step
            computes them (the batchnorm statistics this updates are put back)."""
            if not last:
                return {}
            with buffers_kept(G, D), autocast(self.device, ctx.amp):
                fake_d = g(G, last["z_d"], last_y["y_d"])
                loss_d = discriminator_loss(d(D, last["x"], last_y["y"]), d(D, fake_d, last_y["y_d"])).mean()
                loss_g = self.generator_loss(d(D, g(G, last["z_g"], last_y["y_g"]), last_y["y_g"])).mean()
                return {"loss_d": float(loss_d), "loss_g": float(loss_g)}

        def state() -> dict[str, Any]:
            return {
                "G": G.state_dict(),
                "D": D.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "rng_data": rng_data.get_state(),
                "rng_noise": rng_noise.get_state(),
            }

        def load(s: dict[str, Any]) -> None:
            G.load_state_dict(s["G"])
            D.load_state_dict(s["D"])
            opt_g.load_state_dict(s["opt_g"])
            opt_d.load_state_dict(s["opt_d"])
            rng_data.set_state(s["rng_data"])
            rng_noise.set_state(s["rng_noise"])

        try:
            summary = train_loop(
                ctx,
                steps=cfg.steps,
                step=step,
                state=state,
                load=load,
                loss_keys=("loss_d", "loss_g"),
                log_every=cfg.log_every,
                final_loss=final_loss,
            )
        finally:
            D.requires_grad_(True)
        return summary

    # hooks for the class-conditional subclass (baselines.gan_cond); an unconditional model draws
    # nothing in them, so its random streams, and every checkpoint it trained, stay as they were
    def _train_labels(self, ctx: TrainContext, n: int) -> torch.Tensor | None:
        """The ``n`` train examples' classes on the training device, or None (unconditional)."""
        return None

    def _fake_labels(self, labels: torch.Tensor | None, n: int, gen: torch.Generator) -> torch.Tensor | None:
        """The classes ``n`` fakes are generated for, drawing any randomness from ``gen`` (the noise
        generator, saved in checkpoints); None for an unconditional model."""
        return None

    @staticmethod
    def _g(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return G(z) if y is None else G(z, y)

    @staticmethod
    def _d(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return D(x) if y is None else D(x, y)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        return self._generate(n, generator, None)

    def _generate(self, n: int, generator: torch.Generator, labels: torch.Tensor | None) -> torch.Tensor:
        """``n`` samples from ``z`` drawn by ``generator`` (for ``labels``: gan-cond's), in the data range."""
        self.G.eval()
        z = torch.randn(n, self.config.z_dim, generator=generator, device=generator.device)
        y = None if labels is None else labels.to(self.device)
        x = self._g(self.G, z.to(self.device), y).float()
        if self.spec.value_range is not None:
            x = x.clamp(*self.spec.value_range)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {"G": self.G.state_dict(), "D": self.D.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])


@register_model("gan-ns", aliases=("gan",))
class GanNS(_GAN):
    """GAN with the non-saturating generator loss: maximise log D(G(z)) (Goodfellow et al. 2014)."""

    saturating = False


@register_model("gan-sat")
class GanSat(_GAN):
    """GAN with the true saturating minimax generator loss: minimise log(1 - D(G(z)))."""

    saturating = True


__all__ = [
    "GanConfig",
    "GanNS",
    "GanSat",
    "discriminator_loss",
    "generator_loss_nonsaturating",
    "generator_loss_saturating",
]
