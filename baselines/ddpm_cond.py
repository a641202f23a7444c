"""Class-conditional DDPM with classifier-free guidance (Ho & Salimans 2022).

One denoiser ``eps_theta(x_t, t, c)`` learns both the conditional and the unconditional model: its
class ``c`` is a learned embedding of ``K + 1`` rows (``K = spec.num_modes``, the last row the null
class ``∅``) added to the timestep embedding (:mod:`baselines.unet`), and in training each example's
class is replaced by ``∅`` with probability ``p_uncond`` (their Algorithm 1; the draw comes from the
training generator, so a resumed run ends with an uninterrupted one's weights). Otherwise training is
:class:`baselines.ddpm.DDPM`'s ``L_simple`` with the same schedule, optimiser and EMA.

Sampling is DDPM's ancestral sampler with the guided noise estimate of their eq. 6,
``eps~ = (1 + w) eps(x, c) - w eps(x, ∅)`` (:func:`guided_eps`), ``w = guidance``: 0 samples the
conditional model alone, larger ``w`` trades diversity for class fidelity. diffusers writes the same
estimate with ``guidance_scale = 1 + w``. ``guidance`` is a sampling option (out of the checkpoint
key), so a guidance sweep reuses the trained weights. The conditional and unconditional passes run
as one forward of ``2n`` rows; with ``w = 0`` the unconditional pass is skipped.

``nfe`` counts network evaluations per sample, a batched pair as two: ``T`` at ``w = 0``, ``2 T``
otherwise: the compute per sample, which the batching does not reduce, and what a comparison of
samplers at equal cost must count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from baselines import configs
from baselines.ddpm import DDPM, DDPMConfig
from genbench.api import DataSpec, TrainContext
from genbench.errors import GenbenchError
from genbench.registry import register_model

#: Config fields that only change how samples are drawn; left out of the checkpoint key
SAMPLING_FIELDS = ("variance", "clip_denoised", "guidance")

#: ``net(x, t, y) -> eps`` for a class-conditional denoiser
CondEps = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DDPMCondConfig(DDPMConfig):
    """DDPM's fields (and defaults) plus the two of classifier-free guidance."""

    # classifier-free guidance (Ho & Salimans 2022)
    p_uncond: float = (
        0.1  # chance a training example's class is replaced by the null class, in [0, 1) (theirs: 0.1 or 0.2)
    )
    # sampling (not part of the checkpoint key): w of eps~ = (1 + w) eps(x, c) - w eps(x, null);
    # diffusers' guidance_scale is 1 + w. 0.1 is their best-FID w on ImageNet 64x64 (Table 1; 0.3 at
    # 128x128, Table 2); larger w raises IS / classifier accuracy and worsens FID. Not tuned on our data.
    guidance: float = 0.1


def guided_eps(
    net: CondEps, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, w: float, null: int
) -> torch.Tensor:
    """Ho & Salimans 2022, eq. 6: ``(1 + w) net(x, t, y) - w net(x, t, null)``. ``w = 0`` makes one
    call (the conditional estimate); otherwise one call on ``2n`` rows, the conditional half first."""
    if w == 0:
        return net(x, t, y)
    both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null)]))
    cond, uncond = both.chunk(2)
    return (1.0 + w) * cond - w * uncond


def check_labels(labels: torch.Tensor, n: int, num_classes: int, what: str) -> None:
    """One int64 class in ``[0, num_classes)`` per row, or a one-line error naming ``what``."""
    if labels.dtype != torch.int64 or labels.shape != (n,):
        raise GenbenchError(
            f"{what} must be an int64 tensor of shape ({n},), got {labels.dtype} {tuple(labels.shape)}"
        )
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise GenbenchError(
            f"{what} must lie in [0, {num_classes}), got {int(labels.min())} to {int(labels.max())}"
        )


def fit_labels(model: str, ctx: TrainContext, n: int, num_classes: int, device: torch.device) -> torch.Tensor:
    """A conditional baseline's train labels (``ctx.labels``) checked and on ``device``; their absence
    (a harness or caller that gave none) is a one-line error naming ``model``. ddpm-cond's and
    gan-cond's ``_train_labels``."""
    if ctx.labels is None:
        raise GenbenchError(f"{model} trains on class labels, and none were given (TrainContext.labels)")
    labels = torch.as_tensor(ctx.labels)
    check_labels(labels, n, num_classes, "the train labels")
    return labels.to(device)


@register_model("ddpm-cond")
class DDPMCond(DDPM):
    """Class-conditional DDPM with classifier-free guidance (Ho & Salimans 2022), ancestral sampling."""

    Config = DDPMCondConfig
    conditional = True
    sampling_fields = SAMPLING_FIELDS
    shipped_checkpoints = None  # nothing ships (ddpm's folder holds ddpm's weights)

    def __init__(self, spec: DataSpec, config: DDPMCondConfig | None = None):
        if not spec.num_modes:  # before DDPM builds the net, whose class table needs the count
            raise GenbenchError(
                f"{self.registered_name} draws samples for classes, and dataset {spec.name!r} has none "
                "(no num_modes); use ddpm"
            )
        super().__init__(spec, config)

    @property
    def null_class(self) -> int:
        """The null class's index: the last row of the class embedding."""
        return int(self.spec.num_modes or 0)

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        super().check_config(spec, config, owner_config)
        m = cls.registered_name
        if not 0 <= config.p_uncond < 1:
            # 1 drops every label: only the null row of the class embedding trains, and the samples
            # "for class c" read a row no example ever reached (Ho & Salimans' p_uncond is 0.1 or 0.2)
            raise GenbenchError(
                f"{m}.p_uncond must be in [0, 1) (1 drops every label, so no class is trained), got "
                f"{config.p_uncond}; use e.g. {m}.p_uncond=0.1"
            )
        check_guidance(m, config.guidance, config.p_uncond)

    @classmethod
    def weights_owner_config(cls, config: Any) -> Any:
        # ddim-cond samples these weights with its own guidance, checked against this p_uncond; the
        # default guidance (0.1) refused p_uncond=0 here, and no --set could reach it
        return config if config.p_uncond > 0 else replace(config, guidance=0.0)

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        return configs.dataset_defaults("ddpm-cond", dataset)

    def _num_classes(self) -> int | None:
        return self.spec.num_modes

    @property
    def nfe(self) -> int:
        return self.config.timesteps * (1 if self.config.guidance == 0 else 2)

    # -- training (DDPM.fit, with these hooks) ----------------------------------------------------
    def _train_labels(self, ctx: TrainContext, n: int) -> torch.Tensor | None:
        return fit_labels(self.registered_name, ctx, n, self.null_class, ctx.device)

    def _batch_labels(
        self, labels: torch.Tensor | None, idx: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor | None:
        assert labels is not None  # _train_labels gave them
        drop = torch.rand(idx.shape[0], generator=gen) < self.config.p_uncond
        y = labels[idx.to(labels.device)]
        return torch.where(drop.to(y.device), torch.full_like(y, self.null_class), y)

    # -- sampling -------------------------------------------------------------------------------
    def guided(self, labels: torch.Tensor, w: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The samplers' ``eps_model(x_t, t)``: the EMA denoiser's guided estimate for ``labels``."""
        return lambda x, t: guided_eps(self.ema, x, t, labels, w, self.null_class)

    def sample_labels(self, n: int, labels: torch.Tensor) -> torch.Tensor:
        """``labels`` checked and moved to the model's device."""
        check_labels(labels, n, self.null_class, f"{self.registered_name}'s sample labels")
        return labels.to(self.device)

    # ignore[override]: a conditional model of an unconditional one's class, its sample needs the
    # labels the harness hands every conditional model (GenerativeModel.sample says so)
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.ancestral(self.guided(self.sample_labels(n, labels), self.config.guidance), n, generator)


def check_guidance(model: str, guidance: float, p_uncond: float | None) -> None:
    """``w >= 0``, and a guided sampler needs the unconditional model that ``p_uncond > 0`` trains
    (``p_uncond`` None: the trained model's is not known yet)."""
    if not (math.isfinite(guidance) and guidance >= 0):  # NaN passed `guidance < 0`: NaN samples
        raise GenbenchError(
            f"{model}.guidance must be >= 0 and finite (0 = the conditional model alone), got {guidance}"
        )
    if guidance != 0 and p_uncond == 0:
        raise GenbenchError(
            f"{model}.guidance={guidance} needs the unconditional model, and ddpm-cond.p_uncond=0 "
            f"trained none; set {model}.guidance=0 or train with ddpm-cond.p_uncond=0.1"
        )
