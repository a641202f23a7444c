"""DDPM / DDIM: schedule and sampler golden values, sampler equivalence, checkpoint sharing,
resumable training, divergence, and mode recovery on the 2D ring."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import baselines.ddpm as ddpm_module
from baselines.ddim import DDIM
from baselines.ddpm import DDPM
from baselines.schedule import NoiseSchedule, ddim_sample, ddim_timesteps, ddpm_sample
from genbench.api import DataSpec, SampleCheck, TrainContext
from genbench.errors import Diverged, GenbenchError
from genbench.model_config import resolve_model_config

T = 1000
POINTS = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=64, num_modes=8)
IMAGES = DataSpec(name="tiny", kind="image", shape=(1, 8, 8), value_range=(-1.0, 1.0), num_train=32)


def closed_form(t_max: int = T) -> dict[str, np.ndarray]:
    """The schedule from its definitions in plain Python floats (Ho et al. 2020, eqs. 4, 6, 7), the
    posterior derived independently as the product of two Gaussians in x_{t-1}."""
    betas = [1e-4 + (0.02 - 1e-4) * t / (t_max - 1) for t in range(t_max)]
    abar, prod = [], 1.0
    for b in betas:
        prod *= 1.0 - b
        abar.append(prod)
    var, c1, c2 = [], [], []
    for t, b in enumerate(betas):
        if t == 0:  # q(x_{-1} | x_0, x_0) is a point mass at x_0
            var.append(0.0), c1.append(1.0), c2.append(0.0)
            continue
        # N(x_t; sqrt(alpha_t) x_{t-1}, beta_t) * N(x_{t-1}; sqrt(abar_{t-1}) x_0, 1 - abar_{t-1})
        precision = (1.0 - b) / b + 1.0 / (1.0 - abar[t - 1])
        v = 1.0 / precision
        var.append(v)
        c1.append(v * math.sqrt(abar[t - 1]) / (1.0 - abar[t - 1]))
        c2.append(v * math.sqrt(1.0 - b) / b)
    return {k: np.array(v) for k, v in dict(betas=betas, abar=abar, var=var, c1=c1, c2=c2).items()}


def test_schedule_matches_closed_forms():
    s, ref = NoiseSchedule.linear(T), closed_form()
    np.testing.assert_allclose(s.betas, ref["betas"], rtol=1e-12)
    np.testing.assert_allclose(s.alphas_cumprod, ref["abar"], rtol=1e-10)
    np.testing.assert_allclose(s.posterior_variance, ref["var"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(s.posterior_mean_coef1, ref["c1"], rtol=1e-9)
    np.testing.assert_allclose(s.posterior_mean_coef2, ref["c2"], rtol=1e-9, atol=1e-15)
    assert s.alphas_cumprod[-1] == pytest.approx(4.0358e-5, rel=1e-3)  # sqrt(abar_T) ~ 0.006: x_T ~ noise


def test_q_sample():
    s = NoiseSchedule.linear(T)
    x0, noise = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 999])
    a = torch.tensor(closed_form()["abar"])[t][:, None]
    torch.testing.assert_close(s.q_sample(x0, t, noise), a.sqrt() * x0 + (1 - a).sqrt() * noise)


@pytest.mark.parametrize("eta", [0.0, 1.0, 0.5])
def test_ddim_step_matches_eq12(eta):
    """Song et al. 2021, eq. 12 with sigma from eq. 16, written out from the closed-form abar."""
    s, abar = NoiseSchedule.linear(T), closed_form()["abar"]
    g = torch.Generator().manual_seed(0)
    x, eps, z = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(3))
    t, tp = 500, 480
    a, ap = abar[t], abar[tp]
    x0 = (x - math.sqrt(1 - a) * eps) / math.sqrt(a)
    sigma = eta * math.sqrt((1 - ap) / (1 - a) * (1 - a / ap))
    want = math.sqrt(ap) * x0 + math.sqrt(1 - ap - sigma**2) * eps + sigma * z
    torch.testing.assert_close(s.ddim_step(x, t, tp, eps, z, eta=eta), want, rtol=1e-12, atol=1e-12)
    # the final step (t_prev = -1, abar = 1) returns the predicted x_0
    torch.testing.assert_close(s.ddim_step(x, 3, -1, eps, z, eta=eta), s.predict_x0(x, 3, eps))


def test_ddim_eta0_stays_on_the_trajectory_of_exact_noise():
    """With the true noise, deterministic DDIM maps x_t of a point x_0 to x_{t'} of the same x_0."""
    s = NoiseSchedule.linear(T)
    x0, eps = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    a, ap = s.abar(700), s.abar(300)
    x_t = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
    torch.testing.assert_close(
        s.ddim_step(x_t, 700, 300, eps, None), math.sqrt(ap) * x0 + math.sqrt(1 - ap) * eps
    )


def test_ddim_eta1_single_step_is_the_ddpm_posterior_step():
    s = NoiseSchedule.linear(T)
    g = torch.Generator().manual_seed(1)
    x, eps, z = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for t in (1, 37, 999):
        ref = closed_form()
        x0 = s.predict_x0(x, t, eps)
        want = ref["c1"][t] * x0 + ref["c2"][t] * x + math.sqrt(ref["var"][t]) * z
        torch.testing.assert_close(s.ddpm_step(x, t, eps, z), want)
        torch.testing.assert_close(s.ddim_step(x, t, t - 1, eps, z, eta=1.0), want)


def point_mass_eps(c: torch.Tensor, seen: list[int]):
    """The exact noise prediction for data that is the single point ``c``: x_t = sqrt(abar_t) c +
    sqrt(1 - abar_t) eps gives eps = (x_t - sqrt(abar_t) c) / sqrt(1 - abar_t), with abar_t from the
    closed form at the 0-based timestep the network is trained on (``q_sample``'s t). Records each t."""
    abar = closed_form()["abar"]

    def eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert (t == t[0]).all()
        seen.append(int(t[0]))
        a = float(abar[int(t[0])])  # IndexError for a t past T - 1
        return (x - math.sqrt(a) * c) / math.sqrt(1.0 - a)

    return eps


@pytest.mark.parametrize(
    "sampler",
    [
        lambda eps, s, g: ddpm_sample(eps, s, (6, 2), generator=g, dtype=torch.float64),
        lambda eps, s, g: ddim_sample(eps, s, (6, 2), generator=g, steps=50, dtype=torch.float64),
        lambda eps, s, g: ddim_sample(eps, s, (6, 2), generator=g, steps=7, eta=0.5, dtype=torch.float64),
        lambda eps, s, g: ddim_sample(
            eps, s, (6, 2), generator=g, steps=30, spacing="trailing", dtype=torch.float64
        ),
    ],
    ids=["ddpm", "ddim-50", "ddim-7-eta0.5", "ddim-30-trailing"],
)
def test_samplers_given_the_exact_noise_of_a_point_mass_return_the_point(sampler):
    """With the true eps of a one-point data set every predicted x_0 is that point, so every sampler
    ends on it, whatever its noise. This pins the timestep the samplers hand the network to the one
    training noised at: a sampler that conditioned on t + 1 (1-based time) everywhere passed the
    sampler-vs-sampler tests, as both sides shifted alike, and drew samples off the data."""
    s, c = NoiseSchedule.linear(T), torch.tensor([0.7, -1.3], dtype=torch.float64)
    seen: list[int] = []
    out = sampler(point_mass_eps(c, seen), s, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, c.expand_as(out), rtol=0, atol=1e-9)
    assert 0 <= min(seen) and max(seen) <= T - 1  # the timesteps training draws


def _toy_eps(dtype: torch.dtype):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(2, 2, generator=g, dtype=dtype) * 0.5

    def eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w + (t.to(dtype) / 1000.0)[:, None])

    return eps


@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddim_eta1_1000_steps_is_the_ddpm_sampler(clip):
    """Same noise, same network: the two samplers agree to float64 round-off over all 1000 steps."""
    s, eps = NoiseSchedule.linear(T), _toy_eps(torch.float64)
    kw = dict(dtype=torch.float64, clip=clip)
    a = ddpm_sample(eps, s, (64, 2), generator=torch.Generator().manual_seed(7), **kw)
    b = ddim_sample(eps, s, (64, 2), generator=torch.Generator().manual_seed(7), steps=T, eta=1.0, **kw)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    c = ddim_sample(eps, s, (64, 2), generator=torch.Generator().manual_seed(7), steps=T, eta=0.0, **kw)
    assert (a - c).abs().max() > 1e-2  # eta matters: the comparison can fail


@pytest.mark.parametrize(
    ("sampler", "draws"),
    [
        (lambda eps, s, g: ddpm_sample(eps, s, (4, 2), generator=g), 10),  # x_T, then t = 9 .. 1
        (lambda eps, s, g: ddim_sample(eps, s, (4, 2), generator=g, steps=5, eta=0.0), 1),  # x_T only
        (lambda eps, s, g: ddim_sample(eps, s, (4, 2), generator=g, steps=5, eta=0.5), 5),  # + 4 z
    ],
    ids=["ddpm", "ddim-eta0", "ddim-eta0.5"],
)
def test_samplers_draw_exactly_the_documented_noise(sampler, draws):
    """The harness samples batch after batch from one generator, so a sampler that drew one noise
    more than its docstring says (a z at t = 0, which the step ignores) would change every later
    batch, and DDIM with eta = 1 would no longer reproduce DDPM past the first batch."""
    s, eps = NoiseSchedule.linear(10), _toy_eps(torch.float32)
    g = torch.Generator().manual_seed(3)
    sampler(eps, s, g)
    expected = torch.Generator().manual_seed(3)
    for _ in range(draws):
        torch.randn((4, 2), generator=expected)
    assert torch.equal(g.get_state(), expected.get_state())


def test_spacing_formulas():
    assert ddim_timesteps(T, 50, "uniform") == list(range(980, -1, -20))  # Song et al.: [0, 20, ..., 980]
    for spacing in ("uniform", "leading", "trailing"):
        for steps in (1, 7, 10, 30, 50, 100, 999):
            taus = ddim_timesteps(T, steps, spacing)
            assert len(taus) == steps == len(set(taus))
            assert taus == sorted(taus, reverse=True)  # first step on the largest t
            assert 0 <= taus[-1] and taus[0] <= T - 1
        assert ddim_timesteps(T, T, spacing) == list(range(T - 1, -1, -1))
    for steps in (7, 30, 50, 100):
        assert ddim_timesteps(T, steps, "uniform")[-1] == 0
        assert ddim_timesteps(T, steps, "uniform") == [math.floor(i * T / steps) for i in range(steps)][::-1]
        assert ddim_timesteps(T, steps, "leading") == [i * (T // steps) for i in range(steps)][::-1]
        # diffusers' trailing: np.round(np.arange(T, 0, -T / S)) - 1
        trailing = (np.round(np.arange(T, 0, -T / steps)) - 1).astype(int).tolist()
        assert ddim_timesteps(T, steps, "trailing") == trailing and trailing[0] == T - 1
    assert ddim_timesteps(T, 30, "leading")[0] == 29 * 33  # integer stride stops short of T-1
    with pytest.raises(ValueError, match=r"steps must be in 1\.\.1000, got 1001"):
        ddim_timesteps(T, 1001)


def test_spacings_where_the_docs_say_they_meet_or_leave_diffusers():
    """ddim_timesteps' docstring: uniform is leading (diffusers' with steps_offset 0) when S divides T,
    or (S - 1) (T mod S) < S as for S = 3, and only then; trailing rounds an exact half-integer to even, and gives S steps for every S (diffusers'
    float np.arange breaks the tie at S = 48 by round-off and gives 62 timesteps for S = 61)."""
    for steps in range(1, T + 1):
        same = ddim_timesteps(T, steps, "uniform") == ddim_timesteps(T, steps, "leading")
        assert same == ((steps - 1) * (T % steps) < steps), steps
    assert ddim_timesteps(T, 3, "uniform") == [666, 333, 0] and ddim_timesteps(T, 7, "uniform")[0] == 857
    # 45 * 1000 / 48 = 937.5 rounds to 938, so 937 is visited (936 is not); 20 * 1000 / 48 = 416.67
    trailing48 = ddim_timesteps(T, 48, "trailing")
    assert 937 in trailing48 and 936 not in trailing48 and 416 in trailing48
    trailing61 = ddim_timesteps(T, 61, "trailing")
    assert len(trailing61) == 61 and trailing61[0] == 999 and trailing61[-1] == 15  # round(1000 / 61) - 1


def tiny_points(**kw) -> DDPM:
    cfg = dict(mlp_hidden=32, mlp_depth=1, lr=1e-3, warmup=2, batch_size=16, train_steps=6, ema_decay=0.9)
    return DDPM(POINTS, DDPM.Config(**{**cfg, **kw}))


def tiny_images(**kw) -> DDPM:
    cfg = dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), dropout=0.1, lr=1e-3, warmup=2)
    cfg.update(batch_size=8, train_steps=6, ema_decay=0.9)
    return DDPM(IMAGES, DDPM.Config(**{**cfg, **kw}))


def ctx(path: Path | None = None, every: int = 0, seed: int = 0, **kw) -> TrainContext:
    return TrainContext(
        seed=seed, device=torch.device("cpu"), checkpoint_path=path, checkpoint_every=every, **kw
    )


def test_model_level_ddim_equals_ddpm_and_shares_the_denoiser():
    data = torch.randn(64, 2) * 0.3 + 1.0
    ddpm = tiny_points()
    ddpm.fit(data, ctx())
    ddim = DDIM.from_trained(ddpm, DDIM.Config(steps=T, eta=1.0))
    assert ddim.denoiser is ddpm.ema and ddim.schedule is ddpm.schedule
    assert ddim.train_config() == {} and ddim.nfe == T and ddpm.nfe == T
    assert DDIM.from_trained(ddpm, DDIM.Config(steps=10)).nfe == 10
    a = ddpm.sample(32, generator=torch.Generator().manual_seed(5))
    b = ddim.sample(32, generator=torch.Generator().manual_seed(5))
    # float32 round-off of two algebraically equal updates accumulates over 1000 steps (the float64
    # sampler test above agrees to 1e-9); eta = 0 differs by far more
    torch.testing.assert_close(a, b, rtol=5e-4, atol=5e-4)
    c = DDIM.from_trained(ddpm, DDIM.Config(steps=T, eta=0.0)).sample(
        32, generator=torch.Generator().manual_seed(5)
    )
    assert (a - c).abs().max() > 1e-2
    # loading new weights into the owner changes what DDIM samples: the weights are shared
    before = DDIM.from_trained(ddpm, DDIM.Config(steps=20)).sample(
        8, generator=torch.Generator().manual_seed(0)
    )
    other = tiny_points()
    other.fit(data, ctx(seed=1))
    ddpm.load_state_dict(other.state_dict())
    after = DDIM.from_trained(ddpm, DDIM.Config(steps=20)).sample(
        8, generator=torch.Generator().manual_seed(0)
    )
    assert not torch.allclose(before, after)
    assert ddim.state_dict()["ema"].keys() == ddpm.state_dict()["ema"].keys()
    with pytest.raises(GenbenchError, match="from_trained"):
        DDIM(POINTS).sample(2, generator=torch.Generator())
    with pytest.raises(GenbenchError, match="exceeds"):
        DDIM.from_trained(tiny_points(timesteps=100), DDIM.Config(steps=200))


def test_ddpm_step_with_variance_beta_adds_sqrt_beta_noise():
    """Ho et al.'s "fixedlarge": the same posterior mean, plus sqrt(beta_t) z instead of sqrt(beta_tilde_t) z."""
    s, ref = NoiseSchedule.linear(T), closed_form()
    g = torch.Generator().manual_seed(2)
    x, eps, z = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for t in (1, 37, 999):
        x0 = s.predict_x0(x, t, eps)
        mean = ref["c1"][t] * x0 + ref["c2"][t] * x
        torch.testing.assert_close(
            s.ddpm_step(x, t, eps, z, variance="beta"), mean + math.sqrt(ref["betas"][t]) * z
        )
    # at t = 1 the two variances differ by a factor of about 2: the comparison can fail
    assert ref["betas"][1] > 1.5 * ref["var"][1]


def test_the_last_ddpm_step_adds_no_noise_whatever_the_variance():
    """Ho et al. 2020, Alg. 2: z = 0 at t = 0, so x_0 is the posterior mean, which at t = 0 is the
    (clipped) predicted x_0 (c1 = 1, c2 = 0). With ``variance="beta"`` beta_0 = 1e-4 > 0, so a step
    that added sigma_0 z there would move x_0 by 0.01 z."""
    s = NoiseSchedule.linear(T)
    g = torch.Generator().manual_seed(4)
    x, eps, z = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for variance in ("beta_tilde", "beta"):
        for clip in (None, (-1.0, 1.0)):
            x0 = s.predict_x0(x, 0, eps)
            want = x0 if clip is None else x0.clamp(*clip)
            got = s.ddpm_step(x, 0, eps, z, variance=variance, clip=clip)
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_models_sample_with_their_configured_sampler_options(one_thread):
    """DDPM's variance and DDIM's steps, eta, spacing and clipping reach the samplers: each model's
    samples are those of the sampler called with its options, and each option changes them."""
    ddpm = tiny_images(timesteps=10)
    with (
        torch.no_grad()
    ):  # an untrained U-Net predicts eps = 0 (zero-initialised output), which clipping ignores
        g = torch.Generator().manual_seed(5)
        for p in ddpm.ema.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    shape = (3, *IMAGES.shape)

    def draw(model) -> torch.Tensor:
        return model.sample(3, generator=torch.Generator().manual_seed(4))

    seen = []
    for variance in ("beta_tilde", "beta"):
        model = tiny_images(timesteps=10, variance=variance)
        model.load_state_dict(ddpm.state_dict())
        want = ddpm_sample(
            model.eps,
            model.schedule,
            shape,
            generator=torch.Generator().manual_seed(4),
            variance=variance,
            clip=(-1.0, 1.0),
        )
        got = draw(model)
        torch.testing.assert_close(got, want.clamp(-1, 1), rtol=0, atol=0)
        assert variance == "beta_tilde" or not torch.equal(got, seen[0])
        seen.append(got)
    options = [
        dict(steps=5, eta=0.0, spacing="uniform", clip_denoised=True),
        dict(steps=5, eta=0.0, spacing="trailing", clip_denoised=True),
        dict(steps=5, eta=0.7, spacing="uniform", clip_denoised=True),
        dict(steps=5, eta=0.0, spacing="uniform", clip_denoised=False),
        dict(steps=4, eta=0.0, spacing="uniform", clip_denoised=True),
    ]
    seen = []
    for o in options:
        ddim = DDIM.from_trained(ddpm, DDIM.Config(**o))
        want = ddim_sample(
            ddpm.eps,
            ddpm.schedule,
            shape,
            generator=torch.Generator().manual_seed(4),
            steps=o["steps"],
            eta=o["eta"],
            spacing=o["spacing"],
            clip=(-1.0, 1.0) if o["clip_denoised"] else None,
        )
        got = draw(ddim)
        torch.testing.assert_close(got, want.clamp(-1, 1), rtol=0, atol=0)
        assert all(not torch.equal(got, other) for other in seen), o  # every option changes the samples
        seen.append(got)


def test_ema_update_is_the_warmed_up_exponential_average():
    """ema <- d ema + (1 - d) net with d = min(decay, (1 + n) / (10 + n)) at update n (TensorFlow's
    ExponentialMovingAverage with num_updates), or d = decay without the warm-up."""
    for warmup, decay, n, d in [
        (True, 0.999, 0, 0.1),
        (True, 0.999, 90, 0.91),
        (True, 0.5, 90, 0.5),
        (False, 0.9, 0, 0.9),
    ]:
        model = tiny_points(ema_decay=decay, ema_warmup=warmup)
        with torch.no_grad():
            for p in model.net.parameters():
                p.copy_(torch.randn_like(p))
        before = [p.clone() for p in model.ema.parameters()]
        model._update_ema(n)
        for e, b, p in zip(model.ema.parameters(), before, model.net.parameters(), strict=True):
            torch.testing.assert_close(e, d * b + (1 - d) * p)


@pytest.mark.parametrize("warmup", [True, False])
def test_training_averages_the_weights_after_each_update(monkeypatch, warmup):
    """The EMA that samples is the recursion ``e <- d_n e + (1 - d_n) theta_n`` over the weights after
    each optimiser step n = 0, 1, ..., from the initial weights: averaging the weights before the
    step lags one update behind, and an update count stuck at 0 keeps d = 0.1 for ever."""
    model = tiny_points(train_steps=6, ema_decay=0.95, ema_warmup=warmup, lr=1e-2)
    first: list[list[torch.Tensor]] = []
    update_ema = DDPM._update_ema

    def spy(self, n):
        if not first:
            first.append([p.clone() for p in self.ema.parameters()])
        update_ema(self, n)

    monkeypatch.setattr(DDPM, "_update_ema", spy)
    after: list[list[torch.Tensor]] = []  # the raw weights after each step

    def snapshot(step: int, total: int, values: dict) -> None:  # the loop calls it after each step
        after.append([p.detach().clone() for p in model.net.parameters()])

    model.fit(torch.randn(64, 2), ctx(progress=snapshot))
    ema = first[0]
    for n, weights in enumerate(after):
        d = min(0.95, (1 + n) / (10 + n)) if warmup else 0.95
        ema = [d * e + (1 - d) * w for e, w in zip(ema, weights, strict=True)]
    for got, want in zip(model.ema.parameters(), ema, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_each_step_minimises_l_simple_on_its_own_draws(monkeypatch, adam_gradients):
    """Ho et al. 2020, Alg. 1 and eq. 14, written out on a step's own draws (x_0, t, eps) and the
    weights before its update: the loss is ``||eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,
    t)||^2`` averaged over the batch and the dimensions (their ``mean_flat``), with the closed-form
    abar at the t the batch was noised at, and the update follows its gradient. A loss against x_0,
    or summed over the dimensions, trained as well and was seen by a number recorded from this code."""
    import copy

    model = tiny_points(grad_clip=0.0, train_steps=1)
    seen = []
    q_sample = NoiseSchedule.q_sample

    def spy(self, x0, t, noise):
        seen.append((copy.deepcopy(model.net), x0.clone(), t.clone(), noise.clone()))
        return q_sample(self, x0, t, noise)

    grads = adam_gradients
    monkeypatch.setattr(NoiseSchedule, "q_sample", spy)
    c = ctx()
    model.fit(torch.randn(64, 2), c)
    ((net, x0, t, noise),) = seen
    a = torch.tensor(closed_form()["abar"])[t][:, None]
    pred = net((a.sqrt() * x0 + (1 - a).sqrt() * noise).float(), t)
    loss = ((noise - pred) ** 2).mean()
    assert c.history[0]["loss"] == pytest.approx(float(loss.detach()), rel=1e-4)
    want = torch.autograd.grad(loss, list(net.parameters()))
    assert len(grads) == 1
    for got, w in zip(grads[0], want, strict=True):
        torch.testing.assert_close(got, w, rtol=1e-3, atol=1e-6)


def test_the_denoiser_trains_with_dropout_and_the_ema_samples_without(monkeypatch):
    """Ho et al. 2020 (App. B) train the U-Net with dropout (0.1 on CIFAR-10) and sample without: every
    training step's forward pass is the raw network's in training mode, final_loss's and the
    samplers' the EMA's in eval mode. A step in eval mode trained without dropout and passed every
    other test (the recorded losses of a tiny U-Net, whose last convolutions start at zero, stayed
    within their tolerance); final_loss on the raw weights checked weights that are not cached."""
    from baselines.unet import UNet

    modes: list[tuple[bool, bool]] = []  # (is the raw network, in training mode)
    forward = UNet.forward

    def spy(self, x, t, y=None):
        modes.append((self is model.net, self.training))
        return forward(self, x, t, y)

    model = tiny_images(train_steps=3, dropout=0.5)
    monkeypatch.setattr(UNet, "forward", spy)
    model.fit(torch.rand(32, 1, 8, 8) * 2 - 1, ctx())
    assert modes == [(True, True)] * 3 + [(False, False)]  # three steps, then final_loss on the EMA
    modes.clear()
    model.sample(2, generator=torch.Generator().manual_seed(0))
    assert modes and all(m == (False, False) for m in modes)


def test_training_draws_every_timestep_uniformly(monkeypatch):
    """L_simple takes t uniform over all T timesteps (Ho et al. 2020, Alg. 1; 0-based here): a range
    off by one (t = 1 .. T-1) would never train the last denoising step, and nothing else noticed."""
    seen = []
    q_sample = NoiseSchedule.q_sample

    def spy(self, x0, t, noise):
        seen.append(t.clone())
        return q_sample(self, x0, t, noise)

    monkeypatch.setattr(NoiseSchedule, "q_sample", spy)
    tiny_points(timesteps=4, batch_size=64, train_steps=10).fit(torch.randn(64, 2), ctx())
    counts = torch.bincount(torch.cat(seen), minlength=4)
    assert len(counts) == 4 and counts.sum() == 640
    assert (counts > 100).all(), counts  # 160 expected per timestep


def test_points_are_standardised_per_coordinate_and_mapped_back():
    """Points train in standardised units, (x - mean) / std per coordinate, and samples are mapped
    back by the inverse: a wrong sign or a variance for the std went unseen on ring8, which is
    centred at 0 with a spread near 1."""
    data = torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([3.0, 0.5])
    data = data + torch.tensor([5.0, -2.0])
    model = tiny_points(train_steps=1)
    model.fit(data, ctx())
    z = model.normalize(data)
    torch.testing.assert_close(z.mean(0), torch.zeros(2), rtol=0, atol=1e-5)
    torch.testing.assert_close(z.std(0), torch.ones(2), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.denormalize(z), data, rtol=1e-6, atol=1e-5)


def test_learning_rate_warm_up_then_constant_or_cosine_to_zero():
    """(i + 1) / warmup during the warm-up, then 1 (Ho et al.) or 0.5 (1 + cos(pi progress))."""
    from baselines.ddpm import lr_factor

    const = DDPM.Config(warmup=10, train_steps=110)
    cos = DDPM.Config(warmup=10, train_steps=110, lr_schedule="cosine")
    for c in (const, cos):
        assert [lr_factor(i, c) for i in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert [lr_factor(i, const) for i in (10, 60, 109, 500)] == [1.0] * 4
    want = [0.5 * (1 + math.cos(math.pi * (i - 10) / 100)) for i in (10, 35, 60, 85, 110)]
    assert [lr_factor(i, cos) for i in (10, 35, 60, 85, 110)] == pytest.approx(want, abs=1e-12)
    assert want[2] == pytest.approx(0.5) and want[-1] == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(500, cos) == pytest.approx(0.0, abs=1e-12)  # past the end it stays at 0


def test_train_config_leaves_out_sampling_options():
    keys = tiny_points().train_config()
    assert "variance" not in keys and "clip_denoised" not in keys and "lr" in keys and "train_steps" in keys


def test_image_samples_pass_the_harness_check():
    model = tiny_images(timesteps=20)
    model.fit(torch.rand(32, 1, 8, 8) * 2 - 1, ctx())
    check = SampleCheck("ddpm", IMAGES)
    check(model.sample(3, generator=torch.Generator().manual_seed(0)), 3)
    ddim = DDIM.from_trained(model, DDIM.Config(steps=5))
    check(ddim.sample(3, generator=torch.Generator().manual_seed(0)), 3)


def cosine_in_warm_up(**kw) -> DDPM:
    """Points, a cosine schedule, and a warm-up that the checkpoint at step 3 falls inside."""
    return tiny_points(lr_schedule="cosine", warmup=5, train_steps=8, **kw)


@pytest.mark.parametrize(
    "make", [tiny_images, tiny_points, cosine_in_warm_up], ids=["unet-dropout", "mlp", "cosine-warm-up"]
)
def test_resume_equals_uninterrupted(tmp_path, make):
    data = torch.rand(32, 1, 8, 8) * 2 - 1 if make is tiny_images else torch.randn(64, 2)
    straight = make()
    straight.fit(data, ctx(tmp_path / "a.pt"))

    def interrupt(step: int, total: int, values: dict) -> None:
        if step == 4:
            raise KeyboardInterrupt

    first = make()
    with pytest.raises(KeyboardInterrupt):  # stopped after the checkpoint at step 3
        first.fit(data, ctx(tmp_path / "b.pt", every=3, progress=interrupt))
    resumed = make()
    summary = resumed.fit(data, ctx(tmp_path / "b.pt", every=3))
    assert summary["resumed_from"] == 3
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # and the seed matters
    other = make()
    other.fit(data, ctx(seed=1))
    assert not torch.equal(
        next(iter(other.ema.state_dict().values())), next(iter(straight.ema.state_dict().values()))
    )


def test_nan_loss_raises_diverged_with_the_step(monkeypatch):
    calls = []
    real = torch.nn.functional.mse_loss

    def mse_loss(a, b):
        calls.append(1)
        return real(a, b) * (float("nan") if len(calls) >= 3 else 1.0)

    monkeypatch.setattr(ddpm_module, "F", SimpleNamespace(mse_loss=mse_loss))
    with pytest.raises(Diverged) as info:
        tiny_points().fit(torch.randn(64, 2), ctx())
    assert info.value.step == 3


def test_huge_learning_rate_diverges():
    with pytest.raises(Diverged):
        tiny_points(lr=1e30, grad_clip=0.0, warmup=1, train_steps=50).fit(torch.randn(64, 2) * 10, ctx())


@pytest.mark.parametrize(
    "dataset", ["digits", "stacked-digits", "ring8", "grid25", "mnist", "fashion-mnist", "cifar10"]
)
def test_dataset_configs_resolve(dataset):
    for cls in (DDPM, DDIM):
        assert cls.dataset_defaults(dataset), (
            f"missing baselines/configs/{dataset}/{cls.registered_name}.toml"
        )
        resolve_model_config(cls, dataset, {})


def test_cifar10_unet_has_the_paper_size():
    """Ho et al. 2020 report 35.7M parameters for their CIFAR-10 model."""
    spec = DataSpec(name="cifar10", kind="image", shape=(3, 32, 32), value_range=(-1.0, 1.0), num_train=50000)
    model = DDPM(spec, resolve_model_config(DDPM, "cifar10", {}))
    n = sum(p.numel() for p in model.net.parameters())
    assert abs(n - 35.7e6) <= 0.1e6, n
    c = model.config
    assert (c.ch, c.ch_mult, c.num_res_blocks, c.attn_resolutions, c.dropout) == (
        128,
        (1, 2, 2, 2),
        2,
        (16,),
        0.1,
    )
    assert (c.lr, c.batch_size, c.train_steps, c.ema_decay) == (2e-4, 128, 800_000, 0.9999)
    # the rest of their scripts/run_cifar.py: schedule, warm-up, clipping, flips, constant lr, plain EMA
    assert (c.timesteps, c.beta_start, c.beta_end) == (1000, 1e-4, 0.02)
    assert (c.warmup, c.lr_schedule, c.grad_clip, c.random_flip, c.ema_warmup) == (
        5000,
        "constant",
        1.0,
        True,
        False,
    )
    assert c.variance == "beta"  # their model_var_type "fixedlarge"


def test_bad_config_values_are_user_errors():
    with pytest.raises(GenbenchError, match="variance"):
        DDPM(POINTS, DDPM.Config(variance="large"))
    with pytest.raises(GenbenchError, match="spacing"):
        DDIM(POINTS, DDIM.Config(spacing="linear"))
    with pytest.raises(GenbenchError, match="ch_mult"):
        DDPM(IMAGES, DDPM.Config(ch_mult=(1, 2, 2, 2, 2)))
    # a plugin dataset's 10 x 8 images: the width halves twice, the height does not (it passed the
    # check, which read only the width, then fit crashed inside the U-Net)
    tall = dataclasses.replace(IMAGES, shape=(1, 10, 8))
    with pytest.raises(GenbenchError, match="cannot downsample 10x8 images 2 times"):
        DDPM(tall, DDPM.Config(ch_mult=(1, 2, 2)))
    DDPM(tall, DDPM.Config(ch_mult=(1, 2), attn_resolutions=(4,)))  # halved once: fine
    # the default attention at width 16 (CIFAR-10's) is never reached on maps 8 and 4 wide
    with pytest.raises(GenbenchError, match=r"attn_resolutions 16 is no feature-map width .* 10x8 images"):
        DDPM(tall, DDPM.Config(ch_mult=(1, 2)))


def test_the_logged_learning_rate_is_the_one_the_step_used(monkeypatch):
    used = []
    step = torch.optim.Adam.step

    def spy(self, *a, **kw):
        used.append(self.param_groups[0]["lr"])
        return step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    c = ctx()
    tiny_points(lr=1.0, warmup=4, train_steps=3).fit(torch.randn(64, 2), c)
    assert used == [0.25, 0.5, 0.75]  # linear warm-up over 4 steps
    assert [(row["step"], row["lr"]) for row in c.history] == [(1.0, 0.25), (3.0, 0.75)]


def test_the_beta_range_sets_the_noise_schedule():
    betas = tiny_points(timesteps=10, beta_start=1e-3, beta_end=0.05).schedule.betas
    np.testing.assert_allclose(np.asarray(betas, dtype=np.float64), np.linspace(1e-3, 0.05, 10), rtol=1e-6)


def test_a_schedule_whose_abar_underflows_the_samplers_is_a_user_error():
    """``0 < beta_start <= beta_end < 1`` admitted schedules whose abar_T the samplers cannot divide by
    in float32 (``x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)``): ``ddpm.beta_end=0.9999``
    trained DDPM for its full budget, then its samples were NaN ("check the model") and DDIM raised
    ZeroDivisionError (abar_T is 0 in float64). They are refused before training now."""
    eps = _toy_eps(torch.float32)
    kept, refused = NoiseSchedule.linear(T, 1e-4, 0.3), NoiseSchedule.linear(T, 1e-4, 0.35)
    for s, finite in ((kept, True), (refused, False)):  # the line the check draws is where sampling breaks
        x = ddim_sample(eps, s, (64, 2), generator=torch.Generator().manual_seed(0), steps=50)
        assert bool(torch.isfinite(x).all()) is finite
    for make in (tiny_points, tiny_images):
        make(beta_end=0.3)
        for bad in (dict(beta_end=0.35), dict(beta_end=0.9999), dict(timesteps=20_000)):
            with pytest.raises(
                GenbenchError, match=r"abar_T .* use a smaller ddpm\.beta_end or fewer ddpm\.timesteps"
            ):
                make(**bad)


def test_a_negative_fourier_scale_is_a_user_error():
    """A negative scale silently dropped the Fourier features (as 0 does) under a checkpoint key of its own."""
    with pytest.raises(GenbenchError, match="mlp_fourier_scale must be >= 0"):
        tiny_points(mlp_fourier_scale=-25.0)


def test_the_config_docstring_names_where_the_defaults_depart_from_ho_et_al_s_cifar10():
    """DDPMConfig's defaults are said to be Ho et al.'s CIFAR-10 setup, which the cifar10 TOML (checked
    against their scripts/run_cifar.py above) encodes; every field where the two differ is named."""
    from baselines.ddpm import DDPMConfig

    cifar = resolve_model_config(DDPM, "cifar10", {})
    differ = [
        f.name
        for f in dataclasses.fields(DDPMConfig)
        if f.name in DDPM.dataset_defaults("cifar10")
        and getattr(DDPMConfig(), f.name) != getattr(cifar, f.name)
    ]
    assert differ  # the comparison can fail
    doc = DDPMConfig.__doc__ or ""
    assert all(f"``{name}``" in doc for name in differ), (differ, doc)


def test_the_fourier_scale_reaches_the_mlp():
    """``mlp_fourier_scale`` scales the coordinates before their Fourier features; 0 feeds them raw."""
    x, t = torch.randn(5, 2), torch.full((5,), 3)
    out = {}
    for scale in (25.0, 5.0, 0.0):
        torch.manual_seed(0)
        model = tiny_points(mlp_fourier_scale=scale)
        out[scale] = model.net(x, t)
    assert tiny_points(mlp_fourier_scale=0.0).net.inp.in_features == 2
    assert tiny_points(mlp_fourier_scale=5.0).net.inp.in_features == 2 * (1 + 64)
    assert not torch.allclose(out[25.0], out[5.0])  # the same weights, another scale


@pytest.mark.parametrize("clip", [0.5, 0.0])
def test_gradients_are_clipped_to_grad_clip(monkeypatch, clip):
    norms = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **kw):
        norms.append(max_norm)
        return real(params, max_norm, *a, **kw)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    tiny_points(grad_clip=clip, train_steps=3).fit(torch.randn(64, 2), ctx())
    assert norms == ([clip] * 3 if clip else [])


@pytest.mark.parametrize("flip", [True, False])
def test_random_flip_trains_on_mirrored_images(monkeypatch, flip):
    """With ``random_flip`` about half of each batch is mirrored left-right (Ho et al. on CIFAR-10);
    without it every training image is one of the data's, as is."""
    data = torch.rand(32, 1, 8, 8) * 2 - 1
    model = tiny_images(random_flip=flip, train_steps=4)
    seen = []
    real = model.schedule.q_sample

    def spy(x0, t, noise):
        seen.append(x0.detach().clone())
        return real(x0, t, noise)

    monkeypatch.setattr(model.schedule, "q_sample", spy)
    model.fit(data, ctx())
    x0 = torch.cat(seen)
    as_is = (x0[:, None] == data[None]).flatten(2).all(-1).any(1)
    mirrored = (x0[:, None] == data.flip(-1)[None]).flatten(2).all(-1).any(1)
    assert bool((as_is | mirrored).all())
    if flip:
        assert 0.25 < float(mirrored.float().mean()) < 0.75
    else:
        assert bool(as_is.all())


def ring_modes(samples: torch.Tensor, means: np.ndarray, radius: float) -> np.ndarray:
    """Share of samples within ``radius`` of each mean."""
    d = torch.cdist(samples.double(), torch.as_tensor(means))
    near = d.min(1).values < radius
    return np.array([float(((d.argmin(1) == k) & near).float().mean()) for k in range(len(means))])


def test_short_ring8_run_recovers_the_modes():
    from genbench.data.toy2d import Ring8

    ring = Ring8()
    train, _ = ring.load("train")
    cfg = dataclasses.replace(
        resolve_model_config(DDPM, "ring8", {}), train_steps=800, mlp_hidden=64, mlp_depth=2, batch_size=128
    )
    model = DDPM(ring.spec, cfg)
    model.fit(train, ctx())
    x = model.sample(800, generator=torch.Generator().manual_seed(0))
    share = ring_modes(x, ring.means, radius=0.1)  # 10 standard deviations
    assert (share > 0.05).all(), share  # every mode holds samples near its mean (1/8 = 0.125 each)
    assert share.sum() > 0.8, share
