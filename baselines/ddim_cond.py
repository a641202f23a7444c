"""DDIM over a trained class-conditional DDPM, with classifier-free guidance.

As :mod:`baselines.ddim` samples ddpm's weights, ddim-cond samples ddpm-cond's
(``weights_from = "ddpm-cond"``) and never trains: the same strided DDIM loop (``steps``, ``eta``,
``spacing``; Song et al. 2021) on the guided noise estimate of Ho & Salimans 2022, eq. 6,
``(1 + w) eps(x, c) - w eps(x, ∅)`` (:func:`baselines.ddpm_cond.guided_eps`), ``w = guidance``
(diffusers' ``guidance_scale`` is ``1 + w``). ``nfe`` counts network evaluations per sample, a
batched conditional/unconditional pair as two: ``steps`` at ``w = 0``, ``2 steps`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch

from baselines import configs
from baselines.ddim import DDIM, DDIMConfig
from baselines.ddpm_cond import DDPMCond, check_guidance
from genbench.api import DataSpec
from genbench.registry import register_model


@dataclass
class DDIMCondConfig(DDIMConfig):
    """ddim's sampling options plus the guidance weight."""

    # w of eps~ = (1 + w) eps(x, c) - w eps(x, null) (diffusers' guidance_scale = 1 + w); 0.1 as
    # ddpm-cond's default (Ho & Salimans 2022's best-FID w at ImageNet 64x64), not tuned on our data
    guidance: float = 0.1


@register_model("ddim-cond")
class DDIMCond(DDIM):
    """Strided DDIM sampler with classifier-free guidance over a trained ddpm-cond's denoiser."""

    Config = DDIMCondConfig
    weights_from = "ddpm-cond"
    owner_type = DDPMCond
    conditional = True

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        super().check_config(spec, config, owner_config)
        p_uncond = owner_config.p_uncond if owner_config is not None else None  # None: not known yet
        check_guidance(cls.registered_name, config.guidance, p_uncond)

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        return configs.dataset_defaults("ddim-cond", dataset)

    def _owner(self) -> DDPMCond:
        return cast(DDPMCond, super()._owner())  # DDIM's check, against owner_type

    @property
    def nfe(self) -> int:
        return self.config.steps * (1 if self.config.guidance == 0 else 2)

    # ignore[override]: a conditional model of an unconditional one's class, its sample needs the
    # labels the harness hands every conditional model (GenerativeModel.sample says so)
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        owner = self._owner()
        return self.strided(owner.guided(owner.sample_labels(n, labels), self.config.guidance), n, generator)
