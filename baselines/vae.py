"""Variational autoencoder (Kingma & Welling 2014, "Auto-encoding variational Bayes").

Encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), prior p(z) = N(0, I), trained by maximising the
ELBO  E_q[log p(x|z)] - KL(q(z|x) || N(0, I))  with the reparameterisation z = mu + exp(logvar/2) * eps.

Decoder likelihood: p(x|z) = N(x; f(z), sigma^2 I) with ONE learned sigma shared by all dimensions
(the "calibrated decoder" of Rybkin et al. 2021, "Simple and effective VAE training with calibrated
decoders"). Why not the alternatives, for data in [-1, 1]:

- a Bernoulli on rescaled pixels is not a normalised density on continuous values (Loaiza-Ganem &
  Cunningham 2019, "The continuous Bernoulli"), and the digits datasets are grey-level;
- a fixed sigma sets an arbitrary balance between reconstruction and KL: sigma = 1 on data of
  range 2 lets the KL dominate (blurry samples, collapsed posterior), a tiny sigma turns the VAE
  into an autoencoder whose prior samples fall in holes of the latent space. Learning sigma by
  maximum likelihood sets the balance from the data (``decoder_sigma`` fixes it instead).

Images: f(z) = tanh(...) lies in [-1, 1]. Samples are the decoder mean f(z) for z ~ N(0, I), clamped
to the data range (the usual practice: adding the Gaussian pixel noise only adds noise); on 2D points
too, so a VAE's samples there are its decoder's means, not draws from N(f(z), sigma^2 I).

The training log's ``loss`` is the negative ELBO of one example in nats, summed over its pixels (or
coordinates) and latent dimensions, averaged over the batch (not per pixel, not bits per
dimension), with a single draw of z per example (Kingma & Welling's L = 1) and the KL in closed form
(their estimator B). It includes the Gaussian's constant, log sigma + 1/2 log(2 pi) per dimension:
a density's, so it can be negative (a dimension fitted exactly adds a negative term once sigma <
1/sqrt(2 pi) = 0.40). ``recon`` and ``kl`` are its two terms, on the step's batch before its update;
``sigma`` is the decoder's after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch
from torch import nn

from baselines.configs import WEIGHTS_DIR, key_config
from baselines.configs import dataset_defaults as _dataset_defaults
from baselines.gan_nets import autocast, seeded
from baselines.training import train_loop
from baselines.vae_nets import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from genbench.api import DataSpec, GenerativeModel, TrainContext
from genbench.errors import GenbenchError
from genbench.registry import register_model

LOG_2PI = math.log(2 * math.pi)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-example KL(N(mu, diag(exp(logvar))) || N(0, I)) = 1/2 sum(mu^2 + exp(logvar) - logvar - 1).

    Closed form from Kingma & Welling (2014), Appendix B.
    """
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).flatten(1).sum(1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Per-example -log N(x; mean, sigma^2 I), summed over dimensions (nats)."""
    x, mean, log_sigma = x.float(), mean.float(), log_sigma.float()
    nll = 0.5 * ((x - mean) / log_sigma.exp()).pow(2) + log_sigma + 0.5 * LOG_2PI
    return nll.flatten(1).sum(1)


def elbo_terms(
    x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example (reconstruction NLL, KL); the negative ELBO is their sum (Kingma & Welling 2014, Eq. 10)."""
    return gaussian_nll(x, mean, log_sigma), kl_to_standard_normal(mu, logvar)


@dataclass
class VAEConfig:
    steps: int = 3000  # optimisation steps
    batch_size: int = 128  # examples per step
    lr: float = 1e-3  # Adam learning rate
    latent_dim: int = 16  # dimension of z
    width: int = 64  # images: conv channels at full resolution, doubled per level down
    min_res: int = 4  # images: smallest feature-map side of the conv stacks
    hidden: int = 256  # points: MLP hidden units (encoder and decoder)
    layers: int = 3  # points: MLP hidden layers (encoder and decoder)
    decoder_sigma: float | None = None  # std of p(x|z); None = learned (calibrated decoder)
    min_log_sigma: float = -6.0  # floor on the learned log sigma (keeps the likelihood bounded)
    log_every: int = 10  # log training scalars every this many steps (the log, not the weights)


@register_model("vae")
class VAE(GenerativeModel):
    """Gaussian-encoder VAE trained on the ELBO (Kingma & Welling 2014), with a calibrated Gaussian
    decoder: one learned sigma (Rybkin et al. 2021); samples decode z ~ N(0, I)."""

    Config: ClassVar[type] = VAEConfig
    shipped_checkpoints = WEIGHTS_DIR  # the digits board's (baselines.ship_weights)

    def __init__(self, spec: DataSpec, config: VAEConfig | None = None):
        super().__init__(spec, config)
        self._build(0)

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        # log_every too: 0 logged as 1 did, under a checkpoint key of its own (it keys the log)
        for name in ("steps", "batch_size", "latent_dim", "width", "hidden", "layers", "log_every"):
            if getattr(config, name) < 1:
                raise GenbenchError(f"vae.{name} must be >= 1, got {getattr(config, name)}")
        if config.lr <= 0 or (config.decoder_sigma is not None and config.decoder_sigma <= 0):
            raise GenbenchError("vae.lr and vae.decoder_sigma must be positive")
        if spec.kind == "image" and config.min_res < 1:  # the same networks as 1, under a key of their own
            raise GenbenchError(f"vae.min_res must be >= 1, got {config.min_res}")

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        return _dataset_defaults("vae", dataset)

    @classmethod
    def unused_fields(cls, spec: DataSpec, config: Any) -> tuple[str, ...]:
        unused = ("hidden", "layers") if spec.kind == "image" else ("width", "min_res")
        # a fixed sigma is not floored
        return unused + ("min_log_sigma",) if config.decoder_sigma is not None else unused

    def train_config(self) -> dict[str, Any]:
        return key_config(self, unused=self.unused_fields(self.spec, self.config), logging=["log_every"])

    def _build(self, seed: int) -> None:
        cfg, spec = self.config, self.spec
        with seeded(seed):
            if spec.kind == "image":
                c, h, w = spec.shape
                self.encoder: nn.Module = ConvEncoder((c, h, w), cfg.latent_dim, cfg.width, cfg.min_res)
                self.decoder: nn.Module = ConvDecoder(cfg.latent_dim, (c, h, w), cfg.width, cfg.min_res)
            else:
                self.encoder = MLPEncoder(spec.shape[0], cfg.latent_dim, cfg.hidden, cfg.layers)
                self.decoder = MLPDecoder(cfg.latent_dim, spec.shape[0], cfg.hidden, cfg.layers)
        fixed = cfg.decoder_sigma is not None
        init = math.log(cfg.decoder_sigma) if fixed else 0.0
        self.log_sigma = nn.Parameter(torch.tensor(init), requires_grad=not fixed)
        self.to(self.device)

    def to(self, device: torch.device | str) -> Self:
        super().to(device)
        self.encoder.to(self.device)
        self.decoder.to(self.device)
        self.log_sigma.data = self.log_sigma.data.to(self.device)
        return self

    def decoder_log_sigma(self) -> torch.Tensor:
        """log sigma of p(x|z); a learned one is floored at ``min_log_sigma`` (a fixed one is as given)."""
        if not self.log_sigma.requires_grad:
            return self.log_sigma
        return self.log_sigma.clamp(min=self.config.min_log_sigma)

    def negative_elbo(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example (reconstruction NLL, KL) for noise ``eps`` ~ N(0, I) (reparameterisation)."""
        mu, logvar = self.encoder(x)
        z = mu + (0.5 * logvar).exp() * eps
        return elbo_terms(x, self.decoder(z), self.decoder_log_sigma(), mu, logvar)

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        cfg = self.config
        self.device = torch.device(ctx.device)
        self._build(ctx.seed)
        self.encoder.train()
        self.decoder.train()
        data = train.to(self.device, torch.float32)
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        if self.log_sigma.requires_grad:
            params.append(self.log_sigma)
        opt = torch.optim.Adam(params, lr=cfg.lr)
        # every random draw comes from these CPU generators, saved in the checkpoint
        rng_data = torch.Generator().manual_seed(ctx.seed)
        rng_noise = torch.Generator().manual_seed(ctx.seed + 1_000_003)
        n, bs = data.shape[0], cfg.batch_size

        last: list[torch.Tensor] = []  # the last step's batch and noise, for final_loss

        def step(i: int) -> dict[str, float]:
            x = data[torch.randint(0, n, (bs,), generator=rng_data).to(self.device)]
            eps = torch.randn(bs, cfg.latent_dim, generator=rng_noise).to(self.device)
            last[:] = [x, eps]
            with autocast(self.device, ctx.amp):
                recon, kl = self.negative_elbo(x, eps)
                loss = (recon + kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # sigma in torch: a diverging log sigma gives inf (then Diverged), not math.exp's OverflowError
            sigma = self.decoder_log_sigma().detach().float().exp()
            vals = torch.stack([loss.detach(), recon.detach().mean(), kl.detach().mean(), sigma]).tolist()
            return {"loss": vals[0], "recon": vals[1], "kl": vals[2], "sigma": vals[3]}

        def final_loss() -> dict[str, float]:
            """The loss after the last update, on its batch and noise (nothing drawn, nothing updated)."""
            if not last:
                return {}
            with autocast(self.device, ctx.amp):
                recon, kl = self.negative_elbo(*last)
                return {"loss": float((recon + kl).mean())}

        def state() -> dict[str, Any]:
            return {
                **self.state_dict(),
                "opt": opt.state_dict(),
                "rng_data": rng_data.get_state(),
                "rng_noise": rng_noise.get_state(),
            }

        def load(s: dict[str, Any]) -> None:
            self.load_state_dict(s)
            opt.load_state_dict(s["opt"])
            rng_data.set_state(s["rng_data"])
            rng_noise.set_state(s["rng_noise"])

        return train_loop(
            ctx,
            steps=cfg.steps,
            step=step,
            state=state,
            load=load,
            log_every=cfg.log_every,
            final_loss=final_loss,
        )

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        self.decoder.eval()
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=generator.device)
        x = self.decoder(z.to(self.device)).float()
        if self.spec.value_range is not None:
            x = x.clamp(*self.spec.value_range)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder.state_dict(),
            "decoder": self.decoder.state_dict(),
            "log_sigma": self.log_sigma.detach().clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.decoder.load_state_dict(state["decoder"])
        self.log_sigma.data.copy_(state["log_sigma"])
