"""DDIM: denoising diffusion implicit models (Song et al. 2021), sampling a trained DDPM.

DDIM never trains: ``weights_from = "ddpm"``, so the runner trains or loads DDPM under DDPM's own
config and checkpoint, then calls :meth:`DDIM.from_trained`, which shares that DDPM's EMA denoiser
and noise schedule. Only the sampler differs: ``steps`` strided timesteps (``spacing``, see
:func:`baselines.schedule.ddim_timesteps`) and the stochasticity ``eta`` of eq. 16 (0 =
deterministic DDIM; 1 with ``steps = T`` is DDPM's ancestral sampler with the posterior variance).
``nfe = steps``. Changing any of these reuses the trained weights.

In diffusers' terms it is DDIMScheduler with ``set_alpha_to_one=True``, ``clip_sample=True`` and
``use_clipped_model_output=True`` (images; points are not clipped) and ``timestep_spacing`` as
``spacing`` says, except that each step goes to the next timestep visited, where diffusers' goes to
``t - T // steps`` (the same level only when every gap is ``T // steps``). Given the same
``eps``, timesteps and noise, the two then agree to float64 round-off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import torch

from baselines import configs
from baselines.ddpm import DDPM
from baselines.schedule import SPACINGS, NoiseSchedule, ddim_sample
from genbench.api import DataSpec, GenerativeModel
from genbench.errors import GenbenchError
from genbench.registry import register_model


@dataclass
class DDIMConfig:
    steps: int = 50  # sampling steps S (network evaluations per sample)
    eta: float = 0.0  # in [0, 1]: 0 = deterministic DDIM, 1 = DDPM-like ancestral noise (Song et al. eq. 16)
    # timesteps visited: "uniform" (the DDIM paper; diffusers' "leading" if steps divides T), "leading",
    # "trailing" (diffusers', steps_offset = 0)
    spacing: str = "uniform"
    # clip the predicted x_0 to the data range, eps recomputed from it (diffusers'
    # use_clipped_model_output=True; images only)
    clip_denoised: bool = True


@register_model("ddim")
class DDIM(GenerativeModel):
    """Deterministic (or eta-stochastic) strided sampler over a trained DDPM's denoiser."""

    Config = DDIMConfig
    weights_from = "ddpm"
    #: the class of the trained model it samples (ddim-cond's is DDPMCond)
    owner_type: ClassVar[type[DDPM]] = DDPM

    def __init__(self, spec: DataSpec, config: DDIMConfig | None = None):
        super().__init__(spec, config)
        self.owner: DDPM | None = None

    @classmethod
    def check_config(cls, spec: DataSpec, config: Any, owner_config: Any = None) -> None:
        m = cls.registered_name  # the --set prefix the messages name: ddim, or ddim-cond (a subclass)
        if config.spacing not in SPACINGS:
            raise GenbenchError(f"unknown {m}.spacing {config.spacing!r}; use one of {', '.join(SPACINGS)}")
        if not 0 <= config.eta <= 1:
            # Song et al.'s family spans eta in [0, 1] (1 = DDPM's posterior variance); above 1 the
            # noise can exceed what the forward process allows (1 - abar_prev - sigma^2 < 0)
            raise GenbenchError(f"{m}.eta must be in [0, 1], got {config.eta}; use e.g. {m}.eta=1")
        if config.steps < 1:
            raise GenbenchError(f"{m}.steps must be >= 1, got {config.steps}")
        if owner_config is not None and config.steps > owner_config.timesteps:
            raise GenbenchError(
                f"{m}.steps={config.steps} exceeds the {cls.weights_from}'s {owner_config.timesteps} "
                "timesteps; use fewer steps"
            )

    @classmethod
    def from_trained(cls, owner: GenerativeModel, config: Any) -> Self:
        if not isinstance(owner, cls.owner_type):
            raise GenbenchError(
                f"{cls.registered_name} samples a trained {cls.weights_from}, got {type(owner).__name__}"
            )
        model = cls(owner.spec, config)
        cls.check_config(owner.spec, model.config, owner.config)
        model.owner = owner
        model.device = owner.device
        return model

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        return configs.dataset_defaults("ddim", dataset)

    def _owner(self) -> DDPM:
        if not isinstance(self.owner, self.owner_type):
            m, cls = self.registered_name, type(self).__name__
            raise GenbenchError(
                f"{m} has no denoiser; build it with {cls}.from_trained(trained_{str(self.weights_from).replace('-', '_')}, config)"
            )
        return self.owner

    @property
    def denoiser(self) -> torch.nn.Module:
        """The owner's EMA network (the same object, not a copy)."""
        return self._owner().ema

    @property
    def schedule(self) -> NoiseSchedule:
        return self._owner().schedule

    @classmethod
    def unused_fields(cls, spec: DataSpec, config: Any) -> tuple[str, ...]:
        return () if spec.kind == "image" else ("clip_denoised",)  # points have no range to clip to

    def train_config(self) -> dict[str, Any]:
        return {}  # never trained: the checkpoint is the owner's

    def to(self, device: torch.device | str) -> Self:
        super().to(device)
        if self.owner is not None:
            self.owner.to(device)
        return self

    @property
    def nfe(self) -> int:
        return self.config.steps

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        return self.strided(self._owner().eps, n, generator)

    def strided(
        self, eps: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], n: int, generator: torch.Generator
    ) -> torch.Tensor:
        """``n`` samples by the DDIM loop with the noise estimate ``eps(x_t, t)`` (the owner's EMA
        denoiser, or ddim-cond's guided one), in the data range."""
        owner = self._owner()
        owner.ema.eval()
        x = ddim_sample(
            eps,
            owner.schedule,
            (n, *self.spec.shape),
            generator=generator,
            steps=self.config.steps,
            eta=self.config.eta,
            spacing=self.config.spacing,
            device=owner.device,
            clip=owner.clip if self.config.clip_denoised else None,
            on_step=self.sampling_progress,
        )
        return owner.finish(x)

    def state_dict(self) -> dict[str, Any]:
        return self._owner().state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._owner().load_state_dict(state)
