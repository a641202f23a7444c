"""The DDPM U-Net's building blocks against Ho et al. 2020's equations (their diffusion_tf/nn.py and
models/unet.py), written out here independently in float64: the sinusoidal timestep embedding, the
residual block, the self-attention block, and where the attention sits. A change to any of them
keeps every parameter shape, so the shipped checkpoints would load and silently sample differently;
the paper-size parameter count and the sampler tests do not see it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from baselines.unet import AttnBlock, MLPDenoiser, ResBlock, UNet, timestep_embedding

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


def randomise(module: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere: the zero-initialised output layers would hide the block's body."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def group_norm64(x: torch.Tensor, groups: int, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """GroupNorm as tf.contrib.layers.group_norm computes it (biased variance, epsilon 1e-6)."""
    b, c = x.shape[:2]
    g = x.reshape(b, groups, -1)
    g = (g - g.mean(-1, keepdim=True)) / torch.sqrt(g.var(-1, unbiased=False, keepdim=True) + 1e-6)
    return g.reshape(x.shape) * weight[None, :, None, None] + bias[None, :, None, None]


@pytest.mark.parametrize("dim", [8, 9, 128])
def test_timestep_embedding_is_ho_et_al_s(dim):
    """``[sin(t w_k), cos(t w_k)]``, ``w_k = 10000^(-k / (dim/2 - 1))``, zero-padded to an odd dim:
    the frequencies run from 1 down to exactly 1/10000 (Vaswani et al.'s ``k / (dim/2)`` stops short)."""
    t = torch.tensor([0, 1, 17, 500, 999])
    half = dim // 2
    want = torch.zeros(len(t), dim, dtype=torch.float64)
    for i, ti in enumerate(t.tolist()):
        for k in range(half):
            w = 10000.0 ** (-k / (half - 1))
            want[i, k], want[i, half + k] = math.sin(ti * w), math.cos(ti * w)
    got = timestep_embedding(t, dim).double()
    torch.testing.assert_close(got, want, rtol=0, atol=2e-4)  # float32 arguments up to 999 rad


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_residual_block_is_ho_et_al_s(train):
    """h = conv1(silu(GN(x))) + dense(silu(temb)); h = conv2(dropout(silu(GN(h)))); out = nin(x) + h,
    with 32 groups at 128+ channels and GroupNorm's epsilon 1e-6 as in their TensorFlow code."""
    block = ResBlock(128, 256, 64, dropout=0.5).double().train(train)
    randomise(block, 0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 128, 4, 4, generator=g, dtype=torch.float64)
    temb = torch.randn(2, 64, generator=g, dtype=torch.float64)
    n1, n2 = block.norm1, block.norm2
    assert n1.num_groups == n2.num_groups == 32
    h = F.conv2d(
        F.silu(group_norm64(x, 32, n1.weight, n1.bias)), block.conv1.weight, block.conv1.bias, padding=1
    )
    h = h + F.linear(F.silu(temb), block.temb_proj.weight, block.temb_proj.bias)[:, :, None, None]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)  # the block's one dropout mask, drawn here as it draws it
        h = F.dropout(F.silu(group_norm64(h, 32, n2.weight, n2.bias)), 0.5, training=train)
    h = F.conv2d(h, block.conv2.weight, block.conv2.bias, padding=1)
    want = F.conv2d(x, block.skip.weight, block.skip.bias) + h  # 1x1 "nin" shortcut: 128 != 256
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        got = block(x, temb)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_attention_block_is_ho_et_al_s():
    """Single-head attention over the H*W positions: softmax(q k^T / sqrt(C)) v, q, k, v and the output
    projection 1x1 convolutions of GN(x), added to x."""
    block = AttnBlock(128).double()
    randomise(block, 2)
    x = torch.randn(2, 128, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    b, c = x.shape[:2]
    h = group_norm64(x, 32, block.norm.weight, block.norm.bias)
    q, k, v = F.conv2d(h, block.qkv.weight, block.qkv.bias).reshape(b, 3, c, -1).unbind(1)  # b, c, hw
    w = torch.softmax(torch.einsum("bci,bcj->bij", q, k) * c**-0.5, dim=-1)
    out = torch.einsum("bij,bcj->bci", w, v).reshape(x.shape)
    want = x + F.conv2d(out, block.proj_out.weight, block.proj_out.bias)
    with torch.no_grad():
        torch.testing.assert_close(block(x), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("attn", "sides"),
    [
        # down: 2 blocks at 16x16; middle at 4x4; up: 3 blocks at 16x16 (num_res_blocks + 1)
        ((16,), [16, 16, 4, 16, 16, 16]),
        ((8,), [8, 8, 4, 8, 8, 8]),
        ((), [4]),
    ],
)
def test_attention_runs_at_the_configured_resolutions(attn, sides):
    """Ho et al.'s CIFAR-10 U-Net attends at 16x16 on the way down and up, and in the middle block.
    At 16 and at 8 the attention blocks have the same 256 channels, so a resolution off by one level
    keeps the 35.7M parameters; this watches the feature maps each block sees."""
    net = UNet(3, 32, ch=32, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=attn, dropout=0.0)
    seen: list[int] = []
    for m in net.modules():
        if isinstance(m, AttnBlock):
            m.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[-1]))
    with torch.no_grad():
        net(torch.randn(1, 3, 32, 32), torch.tensor([10]))
    assert seen == sides


def test_the_output_head_is_silu_of_groupnorm_then_conv():
    """``eps = conv_out(silu(GN(h)))`` on the last up block's features (Ho et al.'s unet.py)."""
    net = UNet(1, 8, ch=128, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), dropout=0.0)
    randomise(net, 5)
    feats: list[torch.Tensor] = []
    net.norm_out.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].double()))
    with torch.no_grad():  # float32: the timestep embedding is computed in float32
        got = net(torch.randn(2, 1, 8, 8), torch.tensor([3, 700])).double()
    norm, conv = net.norm_out.double(), net.conv_out.double()
    want = F.conv2d(
        F.silu(group_norm64(feats[0], 32, norm.weight, norm.bias)), conv.weight, conv.bias, padding=1
    )
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def sinusoids64(v: torch.Tensor, dim: int) -> torch.Tensor:
    """``[sin(v w_k), cos(v w_k)]``, ``w_k = 10000^(-k / (dim/2 - 1))``, in float64 (even ``dim``)."""
    half = dim // 2
    w = 10000.0 ** (-torch.arange(half, dtype=torch.float64) / (half - 1))
    return torch.cat([torch.sin(v[:, None] * w), torch.cos(v[:, None] * w)], dim=1)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_the_mlp_denoiser_is_a_film_residual_mlp_on_fourier_features(num_classes):
    """The points' ``eps_theta(x_t, t[, y])`` as baselines/unet.py documents it, written out in float64:
    the input ``[x, sin(s x_d w_k), cos(s x_d w_k)]`` for each coordinate d (Tancik et al. 2020), the
    embedding ``silu(temb(te(t)) + E[y])`` (the class row added, as in the U-Net), blocks
    ``h + fc2(silu(fc1(silu(h)) (1 + scale) + shift))`` with ``(scale, shift) = film(emb)`` (FiLM,
    Perez et al. 2018, around the identity), and ``out(silu(h))``. The ring8 boards are trained by
    it; a coordinate's features taken twice, FiLM's scale without its 1, or a block without its
    residual keep every parameter shape, and the short ring8 runs still found the modes."""
    net = MLPDenoiser(2, hidden=16, depth=2, temb=8, fourier_scale=25.0, num_classes=num_classes)
    randomise(net, 6)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(7))
    t = torch.tensor([0, 3, 250, 500, 999])
    y = None if num_classes is None else torch.tensor([0, 1, 2, 3, 1])  # 3: the null class

    def lin(layer: torch.nn.Linear, v: torch.Tensor) -> torch.Tensor:
        return F.linear(v, layer.weight.double(), layer.bias.double())

    x64 = x.double()
    feats = torch.cat([x64] + [sinusoids64(25.0 * x64[:, d], 64) for d in range(2)], dim=1)
    emb = lin(net.temb[2], F.silu(lin(net.temb[0], sinusoids64(t.double(), 8))))
    if y is not None:
        emb = emb + net.class_emb.weight.double()[y]
    emb = F.silu(emb)
    h = lin(net.inp, feats)
    for block in net.blocks:
        scale, shift = lin(block["film"], emb).chunk(2, dim=1)
        h = h + lin(block["fc2"], F.silu(lin(block["fc1"], F.silu(h)) * (1 + scale) + shift))
    want = lin(net.out[1], F.silu(h))
    with torch.no_grad():
        got = net(x, t, y).double()
    # float32 inside (sinusoids of arguments up to 25 |x| and 999 rad): measured 2e-6 off
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-5)
    # the comparison can fail: the second coordinate's features matter
    with torch.no_grad():
        moved = net(torch.stack([x[:, 0], x[:, 1] + 0.01], dim=1), t, y).double()
    assert (moved - got).abs().max() > 1e-2


def test_the_unet_adds_the_class_row_to_the_timestep_embedding():
    """Dhariwal & Nichol 2021 (guided-diffusion's ``emb = emb + self.label_emb(y)``): the class-
    conditional U-Net's blocks see ``temb(te(t)) + E[y]``, row ``K`` the null class."""
    net = UNet(1, 8, ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), dropout=0.0, num_classes=3)
    randomise(net, 8)
    seen: list[torch.Tensor] = []
    net.mid[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[1]))
    t, y = torch.tensor([5, 600]), torch.tensor([2, 3])
    with torch.no_grad():
        net(torch.randn(2, 1, 8, 8), t, y)
        want = net.temb(timestep_embedding(t, 16)) + net.class_emb.weight[y]
    torch.testing.assert_close(seen[0], want, rtol=0, atol=1e-6)
