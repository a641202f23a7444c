"""DDPM: a denoising diffusion probabilistic model (Ho et al. 2020).

An epsilon-prediction denoiser (U-Net for images, MLP for 2D points; :mod:`baselines.unet`) is
trained with their ``L_simple = E ||eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t)||^2``
on a linear beta schedule (1e-4 to 0.02 over T = 1000), with Adam, gradient clipping at 1, a linear
learning-rate warm-up and an exponential moving average of the weights. Samples come from the EMA
network by ancestral sampling over all T steps (:func:`baselines.schedule.ddpm_sample`), so
``nfe = T``. The default reverse variance is ``beta_tilde`` (the true posterior variance; their
"fixedsmall"): it keeps the last steps sharp on low-dimensional data such as ring8, and it is the
variance for which DDIM with ``eta = 1`` is this very sampler; ``variance = "beta"`` is available.
In diffusers' terms the sampler is DDPMScheduler with ``variance_type="fixed_small"`` (or
``"fixed_large"`` for ``beta``) and, for images, ``clip_sample=True``; given the same ``eps`` and
noise the two agree to round-off (diffusers keeps the schedule in float32, genbench in float64).

Training is driven by :func:`baselines.training.train_loop`: every random draw (batch indices,
timesteps, noise, flips and the dropout seed) comes from one ``torch.Generator`` seeded by the run's
seed and saved in each checkpoint with the weights, the EMA and the optimizer, so a resumed run ends
with the same weights as an uninterrupted one on the CPU.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines import configs
from baselines.schedule import VARIANCES, NoiseSchedule, ddpm_sample, linear_betas
from baselines.training import train_loop
from baselines.unet import MLPDenoiser, UNet
from genbench.api import DataSpec, GenerativeModel, TrainContext
from genbench.errors import GenbenchError
from genbench.registry import register_model

#: Config fields that only change how samples are drawn; left out of the checkpoint key
SAMPLING_FIELDS = ("variance", "clip_denoised")


@dataclass
class DDPMConfig:
    """Defaults are Ho et al. 2020's CIFAR-10 setup except ``ema_warmup`` (on here, for short runs;
    off in their code), ``random_flip`` (off here; on in theirs) and ``variance`` (``beta_tilde`` here;
    their CIFAR-10 script samples with ``beta``); ``baselines/configs/cifar10/ddpm.toml`` sets all
    three as they did. The other per-dataset TOMLs shrink them for the CPU."""

    # diffusion (Ho et al. 2020, Sec. 4)
    timesteps: int = 1000  # T
    beta_start: float = 1e-4  # beta_1
    beta_end: float = 0.02  # beta_T
    # U-Net (images)
    ch: int = 128  # base channels
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)  # channel multiplier per resolution level
    num_res_blocks: int = 2  # residual blocks per level
    attn_resolutions: tuple[int, ...] = (16,)  # feature-map widths with self-attention (16x16 of 32x32)
    dropout: float = 0.1
    # MLP (points)
    mlp_hidden: int = 256  # width
    mlp_depth: int = 4  # residual blocks
    mlp_fourier_scale: float = 25.0  # scale of the coordinates' Fourier features (0 = raw coordinates)
    # optimisation
    lr: float = 2e-4  # Adam learning rate
    warmup: int = 5000  # linear learning-rate warm-up steps
    lr_schedule: str = "constant"  # after warm-up: "constant" (Ho et al.) or "cosine" decay to 0
    grad_clip: float = 1.0  # max gradient norm (0 = off)
    batch_size: int = 128
    train_steps: int = 800_000
    ema_decay: float = 0.9999  # EMA of the weights used for sampling
    ema_warmup: bool = True  # decay min(ema_decay, (1+n)/(10+n)) at update n, for short runs
    random_flip: bool = False  # random horizontal flips (Ho et al. on CIFAR-10; not for digits)
    # sampling (not part of the checkpoint key)
    variance: str = "beta_tilde"  # "beta_tilde" (posterior; diffusers' fixed_small) or "beta" (fixed_large)
    # clip the predicted x_0 to the data range (diffusers' clip_sample; images only)
    clip_denoised: bool = True


LR_SCHEDULES = ("constant", "cosine")


def lr_factor(i: int, c: DDPMConfig) -> float:
    """Learning-rate multiplier after ``i`` optimiser steps: linear warm-up over ``c.warmup`` steps,
    then constant (Ho et al. 2020) or a cosine decay to 0 at ``c.train_steps`` (Loshchilov & Hutter
    2017, without restarts), which helps the short CPU-sized runs."""
    if i < c.warmup:
        return (i + 1) / c.warmup
    if c.lr_schedule == "cosine":
        progress = (i - c.warmup) / max(1, c.train_steps - c.warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


@register_model("ddpm")
class DDPM(GenerativeModel):
    """Denoising diffusion probabilistic model with ancestral sampling (Ho et al. 2020)."""

    Config = DDPMConfig
    shipped_checkpoints: ClassVar[str | Path | None] = (
        configs.WEIGHTS_DIR
    )  # the digits board's (baselines.ship_weights); ddim's too
    #: config fields that only change how it samples, left out of the checkpoint key
    sampling_fields: ClassVar[tuple[str, ...]] = SAMPLING_FIELDS

    def __init__(self, spec: DataSpec, config: DDPMConfig | None = None):
        super().__init__(spec, config)
        c = self.config
        self.schedule = NoiseSchedule.linear(c.timesteps, c.beta_start, c.beta_end)
        self.net = self._build()
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        # points are standardised per coordinate (images are already in [-1, 1])
        dim = spec.shape[0] if spec.kind == "points" else 1
        self.shift = torch.zeros(dim)
        self.scale = torch.ones(dim)

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        c = config
        m = cls.registered_name  # the --set prefix the messages name: ddpm, or ddpm-cond (a subclass)
        if c.variance not in VARIANCES:
            raise GenbenchError(f"unknown {m}.variance {c.variance!r}; use one of {', '.join(VARIANCES)}")
        if c.lr_schedule not in LR_SCHEDULES:
            raise GenbenchError(
                f"unknown {m}.lr_schedule {c.lr_schedule!r}; use one of {', '.join(LR_SCHEDULES)}"
            )
        # each of these failed only inside fit(): a RuntimeError, "diverged at step 1" for an empty
        # batch, or an untrained model written as a result
        for name in (
            "timesteps",
            "ch",
            "num_res_blocks",
            "mlp_hidden",
            "mlp_depth",
            "batch_size",
            "train_steps",
        ):
            if getattr(c, name) < 1:
                raise GenbenchError(f"{m}.{name} must be >= 1, got {getattr(c, name)}")
        if c.warmup < 0 or c.grad_clip < 0:
            raise GenbenchError(f"{m}.warmup and {m}.grad_clip must be >= 0 (0 turns them off)")
        if c.lr <= 0:
            raise GenbenchError(f"{m}.lr must be positive, got {c.lr}")
        if not 0 < c.beta_start <= c.beta_end < 1:
            raise GenbenchError(
                f"{m} betas must satisfy 0 < beta_start <= beta_end < 1, got {c.beta_start} and {c.beta_end}"
            )
        if not 0 <= c.ema_decay < 1 or not 0 <= c.dropout < 1:
            raise GenbenchError(f"{m}.ema_decay and {m}.dropout must be in [0, 1)")
        # the samplers predict x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) in float32: below this
        # abar_T (1/sqrt(abar_T) within float32's largest value over 100) the samples came out NaN after
        # the whole training, and DDIM raised ZeroDivisionError where abar_T is 0 in float64
        abar_last = float(np.prod(1.0 - linear_betas(c.timesteps, c.beta_start, c.beta_end)))
        if abar_last < (100.0 / float(np.finfo(np.float32).max)) ** 2:
            raise GenbenchError(
                f"{m}'s noise schedule ends at abar_T = {abar_last:.1e} ({c.timesteps} steps, betas "
                f"{c.beta_start} to {c.beta_end}), too small for the float32 samplers to divide by; "
                f"use a smaller {m}.beta_end or fewer {m}.timesteps"
            )
        if spec.kind == "points" and c.mlp_fourier_scale < 0:  # < 0 dropped the features, as 0 does
            raise GenbenchError(
                f"{m}.mlp_fourier_scale must be >= 0 (0 = raw coordinates), got {c.mlp_fourier_scale}"
            )
        if spec.kind != "image":  # the rest configure the U-Net (points use the MLP denoiser)
            return
        if not c.ch_mult:
            raise GenbenchError(f"{m}.ch_mult needs at least one level, e.g. {m}.ch_mult=1:2")
        if any(k < 1 for k in c.ch_mult):
            raise GenbenchError(f"{m}.ch_mult items must be >= 1, got {':'.join(map(str, c.ch_mult))}")
        # the U-Net's sinusoidal time embedding has ch // 2 frequencies spaced over ch // 2 - 1 gaps
        if c.ch < 4:
            raise GenbenchError(f"{m}.ch must be >= 4 for images (its time embedding), got {c.ch}")
        # both sides: a plugin dataset's images may be non-square (the U-Net's convolutions allow it)
        if any(side % 2 ** (len(c.ch_mult) - 1) for side in spec.shape[-2:]):
            raise GenbenchError(
                f"{m} cannot downsample {spec.shape[-2]}x{spec.shape[-1]} images {len(c.ch_mult) - 1} times; "
                f"give {m}.ch_mult fewer levels"
            )
        widths = [spec.shape[-1] // 2**level for level in range(len(c.ch_mult))]
        unreached = [r for r in c.attn_resolutions if r not in widths]
        if unreached:  # a width the U-Net never has added no attention, yet trained a checkpoint of its own
            raise GenbenchError(
                f"{m}.attn_resolutions {':'.join(map(str, unreached))} is no feature-map width of this U-Net "
                f"on {spec.shape[-2]}x{spec.shape[-1]} images (its widths are {', '.join(map(str, widths))}); "
                f"use those, or {m}.attn_resolutions=: for none"
            )

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        return configs.dataset_defaults("ddpm", dataset)

    @classmethod
    def unused_fields(cls, spec: DataSpec, config: Any) -> tuple[str, ...]:
        if spec.kind == "image":
            return ("mlp_hidden", "mlp_depth", "mlp_fourier_scale")
        # the U-Net's, and the clip of x_0 to an image range that points do not have
        return tuple("ch ch_mult num_res_blocks attn_resolutions dropout random_flip clip_denoised".split())

    def train_config(self) -> dict[str, Any]:
        return configs.key_config(
            self, unused=self.unused_fields(self.spec, self.config), drop=self.sampling_fields
        )

    def _build(self) -> nn.Module:
        c, s = self.config, self.spec
        if s.kind == "points":
            return MLPDenoiser(
                s.shape[0],
                hidden=c.mlp_hidden,
                depth=c.mlp_depth,
                fourier_scale=c.mlp_fourier_scale,
                num_classes=self._num_classes(),
            )
        return UNet(
            s.shape[0],
            s.shape[-1],
            ch=c.ch,
            ch_mult=tuple(c.ch_mult),
            num_res_blocks=c.num_res_blocks,
            attn_resolutions=tuple(c.attn_resolutions),
            dropout=c.dropout,
            num_classes=self._num_classes(),
        )

    def to(self, device: torch.device | str) -> Self:
        super().to(device)
        self.net.to(self.device)
        self.ema.to(self.device)
        return self

    @property
    def nfe(self) -> int:
        return self.config.timesteps

    # -- data normalisation ---------------------------------------------------------------------
    def _view(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.to(x.device, x.dtype).view(1, -1) if self.spec.kind == "points" else v.to(x.device, x.dtype)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._view(self.shift, x)) / self._view(self.scale, x)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._view(self.scale, x) + self._view(self.shift, x)

    @property
    def clip(self) -> tuple[float, float] | None:
        """Range the predicted ``x_0`` is clipped to while sampling (normalised units), if any."""
        if self.spec.kind != "image" or self.spec.value_range is None:
            return None
        return self.spec.value_range

    def eps(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The EMA denoiser's noise prediction (what the samplers call)."""
        return self.ema(x, t)

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any]:
        c = self.config
        dev = ctx.device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed)  # initial weights depend on the seed only
            self.net = self._build()
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        if self.spec.kind == "points":
            self.shift = train.float().mean(0)
            self.scale = train.float().std(0).clamp_min(1e-8)
        self.to(dev)
        data = self.normalize(train.float()).to(dev)
        n, shape = data.shape[0], tuple(data.shape[1:])
        labels = self._train_labels(ctx, n)  # None: unconditional
        gen = torch.Generator().manual_seed(ctx.seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, c))
        use_amp = ctx.amp and dev.type == "cuda"
        fork_devices = [dev] if dev.type == "cuda" else []
        ema_updates = [0]
        last: list[Any] = []  # the last step's noisy batch, timesteps, noise and classes, for final_loss

        def step(i: int) -> dict[str, float]:
            idx = torch.randint(n, (c.batch_size,), generator=gen)
            t = torch.randint(c.timesteps, (c.batch_size,), generator=gen)
            noise = torch.randn((c.batch_size, *shape), generator=gen)
            flip = torch.rand(c.batch_size, generator=gen) < 0.5
            y = self._batch_labels(labels, idx, gen)  # draws nothing for an unconditional model
            dropout_seed = int(torch.randint(2**62, (1,), generator=gen))
            x0 = data[idx.to(dev)]
            if c.random_flip and self.spec.kind == "image":
                x0 = torch.where(flip.to(dev)[:, None, None, None], x0.flip(-1), x0)
            t, noise = t.to(dev), noise.to(dev)
            x_t = self.schedule.q_sample(x0, t, noise)
            last[:] = [x_t, t, noise, y]
            self.net.train()
            with torch.random.fork_rng(devices=fork_devices):
                torch.manual_seed(dropout_seed)  # dropout masks drawn from our generator, not global
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    pred = self._denoise(self.net, x_t, t, y)
            loss = F.mse_loss(pred.float(), noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if c.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.net.parameters(), c.grad_clip)
            lr = opt.param_groups[0]["lr"]  # this step's rate (after sched.step() it is the next one's)
            opt.step()
            sched.step()
            self._update_ema(ema_updates[0])
            ema_updates[0] += 1
            return {"loss": float(loss.detach()), "lr": lr}

        def final_loss() -> dict[str, float]:
            """The loss of the EMA denoiser, which is what is cached and samples, after the last update
            on its batch (in eval mode, as it samples: no dropout, so nothing is drawn)."""
            if not last:
                return {}
            x_t, t, noise, y = last
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                pred = self._denoise(self.ema, x_t, t, y)
            return {"loss": float(F.mse_loss(pred.float(), noise))}

        def state() -> dict[str, Any]:
            return {
                **self.state_dict(),
                "net": self.net.state_dict(),
                "opt": opt.state_dict(),
                "lr_sched": sched.state_dict(),
                "generator": gen.get_state(),
                "ema_updates": ema_updates[0],
            }

        def load(saved: dict[str, Any]) -> None:
            self.load_state_dict(saved)  # EMA, normalisation and the raw weights ("net")
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["lr_sched"])
            gen.set_state(saved["generator"])
            ema_updates[0] = int(saved["ema_updates"])

        summary = train_loop(
            ctx, steps=c.train_steps, step=step, state=state, load=load, final_loss=final_loss
        )
        self.net.eval()
        return {**summary, "parameters": sum(p.numel() for p in self.net.parameters())}

    # hooks for the class-conditional subclass (baselines.ddpm_cond); an unconditional model draws
    # nothing in them, so its random stream, and every checkpoint it trained, stay as they were
    def _num_classes(self) -> int | None:
        """The classes the denoiser's class embedding holds (besides the null class); None builds
        no embedding: ddpm's modules and state-dict keys, so every checkpoint it wrote still loads."""
        return None

    def _train_labels(self, ctx: TrainContext, n: int) -> torch.Tensor | None:
        """The ``n`` train examples' classes on the training device, or None (unconditional)."""
        return None

    def _batch_labels(
        self, labels: torch.Tensor | None, idx: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor | None:
        """The classes the denoiser is given for the batch ``idx``, drawing any randomness from
        ``gen`` (the training generator, saved in checkpoints); None for an unconditional model."""
        return None

    @staticmethod
    def _denoise(net: nn.Module, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return net(x, t) if y is None else net(x, t, y)

    @torch.no_grad()
    def _update_ema(self, n: int) -> None:
        """``ema <- d * ema + (1 - d) * net`` (buffers copied), ``d`` warmed up as in TensorFlow's
        ExponentialMovingAverage(num_updates) when ``ema_warmup``."""
        d = self.config.ema_decay
        if self.config.ema_warmup:
            d = min(d, (1 + n) / (10 + n))
        ema_p: list[torch.Tensor] = list(self.ema.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in self.net.parameters()], 1.0 - d)
        for eb, b in zip(self.ema.buffers(), self.net.buffers(), strict=True):
            eb.copy_(b)

    # -- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        return self.ancestral(self.eps, n, generator)

    def ancestral(
        self, eps: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], n: int, generator: torch.Generator
    ) -> torch.Tensor:
        """``n`` samples by ancestral sampling with the noise estimate ``eps(x_t, t)`` (the EMA
        denoiser's, or ddpm-cond's guided one), in the data range."""
        self.ema.eval()
        x = ddpm_sample(
            eps,
            self.schedule,
            (n, *self.spec.shape),
            generator=generator,
            device=self.device,
            variance=self.config.variance,
            clip=self.clip if self.config.clip_denoised else None,
            on_step=self.sampling_progress,
        )
        return self.finish(x)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """Map sampler output back to the data range (images clamped to it)."""
        x = self.denormalize(x)
        if self.spec.value_range is not None:
            x = x.clamp(*self.spec.value_range)
        return x

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"ema": self.ema.state_dict(), "shift": self.shift.cpu(), "scale": self.scale.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ema.load_state_dict(state["ema"])
        if "net" in state:
            self.net.load_state_dict(state["net"])
        self.shift = state["shift"].clone()
        self.scale = state["scale"].clone()
