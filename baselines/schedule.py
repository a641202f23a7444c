"""The Gaussian diffusion noise schedule and its two samplers, kept apart from the network.

As in diffusers, where schedulers are separate from the UNet, this module knows nothing about the
denoiser: the samplers take any ``eps_model(x_t, t) -> predicted noise``.

Notation (Ho et al. 2020, "Denoising Diffusion Probabilistic Models", eqs. 4, 6, 7, 11):
``alpha_t = 1 - beta_t``, ``abar_t = prod_{s<=t} alpha_s``; the forward process
``q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)``; the posterior
``q(x_{t-1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, beta_tilde_t I)`` with
``c1_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t)``, ``c2_t = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t)``
and ``beta_tilde_t = (1 - abar_{t-1}) beta_t / (1 - abar_t)``. Time is 0-based: ``t = 0 .. T-1``,
``abar_{-1} = 1``.

The schedule is computed in float64. The samplers apply every coefficient as a Python float (so
float32 sampling only rounds the tensor arithmetic); training's :meth:`NoiseSchedule.q_sample`
rounds ``abar_t`` to the data's dtype before taking its roots (in float32, ``sqrt(1 - abar_0)``
is off by 8e-5 relative, 8e-7 absolute; kept, as the shipped checkpoints were trained with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Variance = Literal["beta_tilde", "beta"]
Spacing = Literal["uniform", "leading", "trailing"]
VARIANCES = ("beta_tilde", "beta")
SPACINGS = ("uniform", "leading", "trailing")


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Linearly spaced betas (Ho et al. 2020, Sec. 4: 1e-4 to 0.02 over T = 1000), float64."""
    return np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)


def ddim_timesteps(timesteps: int, steps: int, spacing: Spacing = "uniform") -> list[int]:
    """The ``steps`` timesteps a strided sampler visits, in sampling (descending) order.

    - ``uniform``: ``tau_i = floor(i * T / S)`` for ``i = 0 .. S-1`` (Song et al. 2021, App. D.2:
      ``[0, 20, ..., 980]`` for S = 50 of T = 1000). The last step lands on t = 0. Their released
      code uses ``range(0, T, T // S)``, which yields more than S steps when S does not divide T;
      the floor form always gives exactly S. When S divides T it is diffusers' "leading" with
      ``steps_offset = 0`` (as it is whenever ``(S - 1) (T mod S) < S``, e.g. S = 3 of 1000);
      otherwise no diffusers ``timestep_spacing`` gives it (its "linspace",
      ``round(i (T - 1) / (S - 1))``, starts at T-1).
    - ``leading``: ``tau_i = i * (T // S)`` (diffusers' "leading" with ``steps_offset = 0``; Stable
      Diffusion's configs use 1): an integer stride, so when S does not divide T the first step
      falls short of T-1.
    - ``trailing``: ``tau_i = round((i + 1) * T / S) - 1`` (Lin et al. 2024, "Common Diffusion Noise
      Schedules and Sample Steps are Flawed"; diffusers' "trailing"): the first step is t = T-1,
      the last is ``round(T / S) - 1``. A half-integer ``(i + 1) T / S`` rounds to even. diffusers
      computes it as ``np.round(np.arange(T, 0, -T / S)) - 1``, whose float steps break such ties
      by round-off (T = 1000, S = 48: its 936 for our 937) and for some S give S + 1 timesteps,
      the last -1 (S = 61, 103, ... of T = 1000); elsewhere the two are equal.

    With S = T every spacing visits every timestep.
    """
    if not 1 <= steps <= timesteps:
        raise ValueError(f"steps must be in 1..{timesteps}, got {steps}")
    i = np.arange(steps)
    if spacing == "uniform":
        taus = (i * timesteps) // steps
    elif spacing == "leading":
        taus = i * (timesteps // steps)
    elif spacing == "trailing":
        taus = np.round((i + 1) * timesteps / steps).astype(np.int64) - 1
    else:
        raise ValueError(f"unknown spacing {spacing!r}; use one of {', '.join(SPACINGS)}")
    return [int(t) for t in taus[::-1]]


class NoiseSchedule:
    """Precomputed float64 quantities of a discrete-time Gaussian diffusion."""

    def __init__(self, betas: np.ndarray):
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or not ((betas > 0) & (betas < 1)).all():
            raise ValueError("betas must be a 1-D array in (0, 1)")
        self.betas = betas
        self.timesteps = len(betas)
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(self.alphas)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        # q(x_{t-1} | x_t, x_0): Ho et al. 2020, eq. 7
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef1 = betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (
            (1.0 - self.alphas_cumprod_prev) * np.sqrt(self.alphas) / (1.0 - self.alphas_cumprod)
        )

    @classmethod
    def linear(cls, timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        return cls(linear_betas(timesteps, beta_start, beta_end))

    def abar(self, t: int) -> float:
        """``abar_t``, with ``abar_{-1} = 1``."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    # -- training -----------------------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Draw ``x_t ~ q(x_t | x_0)`` for a batch of (per-example) timesteps ``t``."""
        abar = torch.as_tensor(self.alphas_cumprod, device=x0.device)[t].to(x0.dtype)
        abar = abar.view(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise

    # -- one reverse step ---------------------------------------------------------------------
    def predict_x0(self, x_t: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        """``x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`` (Ho et al. 2020, eq. 4 inverted)."""
        a = self.abar(t)
        return (x_t - math.sqrt(1.0 - a) * eps) / math.sqrt(a)

    def ddpm_step(
        self,
        x_t: torch.Tensor,
        t: int,
        eps: torch.Tensor,
        noise: torch.Tensor | None,
        *,
        variance: Variance = "beta_tilde",
        clip: tuple[float, float] | None = None,
    ) -> torch.Tensor:
        """Ancestral step ``x_t -> x_{t-1}``: posterior mean at the predicted (optionally clipped)
        ``x_0``, plus ``sigma_t z`` for ``t > 0`` (Ho et al. 2020, Alg. 2 / eq. 11).

        ``variance="beta_tilde"`` uses ``sigma_t^2 = beta_tilde_t`` (the posterior variance, their
        "fixedsmall"); ``"beta"`` uses ``sigma_t^2 = beta_t`` ("fixedlarge"). Ho et al. report both
        give similar sample quality on images. This is diffusers' DDPMScheduler step with
        ``variance_type="fixed_small"`` or ``"fixed_large"`` and ``clip_sample`` (range 1) for
        ``clip=(-1, 1)``: the same ``x_{t-1}`` for the same ``eps`` and ``z``, up to round-off
        (its schedule buffers are float32, ours float64).
        """
        x0 = self.predict_x0(x_t, t, eps)
        if clip is not None:
            x0 = x0.clamp(*clip)
        mean = float(self.posterior_mean_coef1[t]) * x0 + float(self.posterior_mean_coef2[t]) * x_t
        if t == 0 or noise is None:
            return mean
        var = self.posterior_variance[t] if variance == "beta_tilde" else self.betas[t]
        return mean + math.sqrt(float(var)) * noise

    def ddim_step(
        self,
        x_t: torch.Tensor,
        t: int,
        t_prev: int,
        eps: torch.Tensor,
        noise: torch.Tensor | None,
        *,
        eta: float = 0.0,
        clip: tuple[float, float] | None = None,
    ) -> torch.Tensor:
        """Generalised step ``x_t -> x_{t_prev}`` (Song et al. 2021, "Denoising Diffusion Implicit
        Models", eq. 12, with ``sigma`` from eq. 16 scaled by ``eta``)::

            x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps + sigma z
            sigma  = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)

        When ``x0_hat`` is clipped, ``eps`` is recomputed from the clipped ``x0_hat`` (diffusers'
        DDIMScheduler with ``use_clipped_model_output=True``; its default keeps the network's ``eps``,
        and Song et al.'s code does not clip); with ``eta = 1`` and ``t_prev = t - 1`` the step then
        equals :meth:`ddpm_step` with ``variance="beta_tilde"`` exactly (algebraically).
        ``t_prev = -1`` uses ``abar = 1`` (diffusers' ``set_alpha_to_one=True``, its default).
        :func:`ddim_sample` steps to the next timestep it visits; diffusers' DDIMScheduler steps to
        ``t - T // S`` whatever it visits next, which is the same level only where every gap is
        ``T // S`` (uniform or trailing spacing with S dividing T).
        """
        a_t, a_prev = self.abar(t), self.abar(t_prev)
        x0 = self.predict_x0(x_t, t, eps)
        if clip is not None:
            x0 = x0.clamp(*clip)
            eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1.0 - a_t)
        sigma = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t)) * math.sqrt(1.0 - a_t / a_prev)
        out = math.sqrt(a_prev) * x0 + math.sqrt(max(0.0, 1.0 - a_prev - sigma**2)) * eps
        if sigma > 0 and noise is not None:
            out = out + sigma * noise
        return out


def _randn(
    shape: tuple[int, ...], generator: torch.Generator, device: torch.device | str, dtype: torch.dtype
) -> torch.Tensor:
    """Noise drawn on the generator's device, then moved to ``device``: a CPU generator gives the same
    noise on every device, a CUDA generator its own (the runner samples with one on the run's device,
    so a seed's samples differ between the CPU and CUDA)."""
    z = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return z.to(device)


@torch.no_grad()
def ddpm_sample(
    eps_model: EpsModel,
    schedule: NoiseSchedule,
    shape: tuple[int, ...],
    *,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    variance: Variance = "beta_tilde",
    clip: tuple[float, float] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Ancestral sampling over all T steps (Ho et al. 2020, Alg. 2): T network evaluations.

    Noise order: ``x_T`` first, then one ``z`` per step with ``t > 0``. ``on_step(k, T)`` is called
    after the k-th step (a progress bar).
    """
    x = _randn(shape, generator, device, dtype)
    total = schedule.timesteps
    for k, t in enumerate(range(total - 1, -1, -1), 1):
        tt = torch.full((shape[0],), t, device=device, dtype=torch.long)
        eps = eps_model(x, tt).to(dtype)
        z = _randn(shape, generator, device, dtype) if t > 0 else None
        x = schedule.ddpm_step(x, t, eps, z, variance=variance, clip=clip)
        if on_step is not None:
            on_step(k, total)
    return x


@torch.no_grad()
def ddim_sample(
    eps_model: EpsModel,
    schedule: NoiseSchedule,
    shape: tuple[int, ...],
    *,
    generator: torch.Generator,
    steps: int = 50,
    eta: float = 0.0,
    spacing: Spacing = "uniform",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    clip: tuple[float, float] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Strided DDIM sampling (Song et al. 2021): ``steps`` network evaluations.

    Noise order as in :func:`ddpm_sample`: ``x_T`` first, then one ``z`` per step whose
    ``t_prev >= 0`` when ``eta > 0`` (none when ``eta = 0``). ``on_step(k, steps)`` is called after
    the k-th step.
    """
    taus = ddim_timesteps(schedule.timesteps, steps, spacing)
    x = _randn(shape, generator, device, dtype)
    for k, t in enumerate(taus):
        t_prev = taus[k + 1] if k + 1 < len(taus) else -1
        tt = torch.full((shape[0],), t, device=device, dtype=torch.long)
        eps = eps_model(x, tt).to(dtype)
        z = _randn(shape, generator, device, dtype) if eta > 0 and t_prev >= 0 else None
        x = schedule.ddim_step(x, t, t_prev, eps, z, eta=eta, clip=clip)
        if on_step is not None:
            on_step(k + 1, len(taus))
    return x
