"""DINOv2's Vision Transformer (Oquab et al. 2023), the network of the ``dinov2`` features.

A re-writing of facebookresearch/dinov2's ``DinoVisionTransformer`` (``dinov2/models/
vision_transformer.py``) and its layers (``dinov2/layers``: ``PatchEmbed``, ``Attention``, ``Mlp``,
``LayerScale``, ``Block``) for inference, as its torch.hub entry ``dinov2_vitl14`` builds it
(``dinov2/hub/backbones.py``: ``img_size=518``, ``patch_size=14``, ``init_values=1.0``, an MLP
feed-forward, ``block_chunks=0``, no register tokens, ``interpolate_offset=0.1``,
``interpolate_antialias=False``). Its modules and parameters carry the official names, so the
released ``dinov2_vitl14_pretrain.pth`` loads with ``load_state_dict(strict=True)`` as it is.

Why written here: torchvision has no DINOv2, and torch.hub fetches the repository's code at run time
(what EDM2 and dgm-eval do), which genbench does not do. timm has the network, but resamples the
position embeddings otherwise (``resample_abs_pos_embed``: bicubic to a target ``size``, antialiased),
while the hub model that EDM2 and dgm-eval run interpolates by a ``scale_factor`` of
``(16 + 0.1) / 37`` without antialiasing (:meth:`VisionTransformer.interpolate_pos_encoding`): at the
224 x 224 input FD_DINOv2 uses, the 37 x 37 embeddings trained at 518 reach the 16 x 16 grid by other
numbers. Training-only parts (stochastic depth, dropout, xFormers' nested tensors, the masked-token
path) are left out; ``mask_token`` is kept as a parameter because the checkpoint holds it. Attention
is :func:`torch.nn.functional.scaled_dot_product_attention`, whose default scale is the official
``head_dim ** -0.5``: the same softmax(q k^T / sqrt(d)) v, to rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: DINOv2 ViT-L/14 as its hub entry builds it
LARGE = {"embed_dim": 1024, "depth": 24, "num_heads": 16}
IMG_SIZE = 518  # the training resolution: 37 x 37 patches of 14 pixels
PATCH_SIZE = 14
#: the official ``interpolate_offset``: added to the target grid before dividing by the trained one
INTERPOLATE_OFFSET = 0.1


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` patches, each projected to ``embed_dim`` (``proj``)."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"input {h} x {w} is not a multiple of the patch size {self.patch_size}")
        return self.proj(x).flatten(2).transpose(1, 2)  # N x (H/p * W/p) x D


class Attention(nn.Module):
    """Multi-head self-attention with one ``qkv`` projection (biased) and an output ``proj``."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        # as the official reshape: B x N x 3 x heads x head_dim, then 3 x B x heads x N x head_dim
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """``fc1``, exact GELU, ``fc2`` (the official ``Mlp`` with ``act_layer=nn.GELU``)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """A learned per-channel scale of a residual branch (``gamma``)."""

    def __init__(self, dim: int, init_values: float = 1.0):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """DINOv2's ``DinoVisionTransformer`` at inference: the final-norm CLS token of N x 3 x H x W inputs
    (H and W multiples of the patch size), ``embed_dim`` wide."""

    def __init__(
        self,
        *,
        img_size: int = IMG_SIZE,
        patch_size: int = PATCH_SIZE,
        in_chans: int = 3,
        embed_dim: int = LARGE["embed_dim"],
        depth: int = LARGE["depth"],
        num_heads: int = LARGE["num_heads"],
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        # unused at inference; the checkpoint holds it (the masked-image-modelling token)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        # the official initialisation, for random weights of the right scale (tests); a checkpoint
        # replaces them all
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def interpolate_pos_encoding(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The position embeddings for ``x``'s tokens (CLS first) of an ``h`` x ``w`` input: as trained
        where the grid is the trained one, else the patch embeddings resized bicubically (no
        antialiasing) by a ``scale_factor`` of ``(grid + 0.1) / trained grid``, as the official
        ``interpolate_pos_encoding`` does (the offset changes where the bicubic kernel samples, not
        the output size)."""
        npatch, n = x.shape[1] - 1, self.pos_embed.shape[1] - 1
        if npatch == n and h == w:
            return self.pos_embed
        pos_embed = self.pos_embed.float()
        class_pos, patch_pos = pos_embed[:, :1], pos_embed[:, 1:]
        m = int(math.sqrt(n))
        h0, w0 = h // self.patch_size, w // self.patch_size
        scale = (float(h0 + INTERPOLATE_OFFSET) / m, float(w0 + INTERPOLATE_OFFSET) / m)
        grid = patch_pos.reshape(1, m, m, -1).permute(0, 3, 1, 2)
        resized = F.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=False)
        if tuple(resized.shape[-2:]) != (h0, w0):
            raise AssertionError(
                f"position embeddings resized to {tuple(resized.shape[-2:])}, not {(h0, w0)}"
            )
        patch_pos = resized.permute(0, 2, 3, 1).reshape(1, -1, pos_embed.shape[-1])
        return torch.cat((class_pos, patch_pos), dim=1).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        tokens = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(len(tokens), -1, -1), tokens), dim=1)
        tokens = tokens + self.interpolate_pos_encoding(tokens, h, w)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]  # the official forward's x_norm_clstoken (its head is Identity)


def vit_large_14() -> VisionTransformer:
    """DINOv2 ViT-L/14 (``dinov2_vitl14``): 24 blocks of width 1024, 16 heads, trained at 518 x 518."""
    return VisionTransformer(**LARGE)
