"""CLIP's image tower (Radford et al. 2021) with its projection, the network of the ``clip`` features.

An inference re-writing of Hugging Face transformers' ``CLIPVisionModelWithProjection``
(``models/clip/modeling_clip.py``: ``CLIPVisionEmbeddings``, ``CLIPAttention``, ``CLIPMLP``,
``CLIPEncoderLayer``, ``CLIPVisionTransformer``) as ``openai/clip-vit-large-patch14-336`` configures
it: a class token and 24 x 24 patches of 14 pixels at 336 x 336 with learned position embeddings,
``pre_layrnorm`` (sic, the checkpoint's name) before the encoder, 24 pre-norm layers of width 1024
(16 heads, a 4096-wide MLP with OpenAI's ``quick_gelu``, LayerNorm eps 1e-5), ``post_layernorm`` on
the class token alone, and ``visual_projection`` (no bias) to the 768-d joint embedding space. Its
modules and parameters carry transformers' names, so the HF checkpoint's image tower loads with
``load_state_dict(strict=True)`` as it is (:func:`vision_state` sets the text tower aside).

Why written here: torchvision has no CLIP, and a run-time dependency on transformers (hundreds of
modules, its own version floor on torch) for one forward pass is more than genbench takes on; the
tests check this network against transformers' on the same random weights. Attention is
:func:`torch.nn.functional.scaled_dot_product_attention`, whose default scale ``head_dim ** -0.5``
is CLIP's: the same softmax(q k^T / sqrt(d)) v, to rounding. Dropout (0 in the config) is left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: ``openai/clip-vit-large-patch14-336``'s vision config and projection width
LARGE_336 = {
    "image_size": 336,
    "patch_size": 14,
    "width": 1024,
    "layers": 24,
    "heads": 16,
    "mlp_width": 4096,
    "projection_dim": 768,
}
#: its ``layer_norm_eps``
LAYER_NORM_EPS = 1e-5
#: the keys of a full CLIPModel checkpoint that are not the image tower's: the text tower, its
#: projection and the contrastive temperature
TEXT_PREFIXES = ("text_model.", "text_projection.", "logit_scale")
#: a buffer that transformers wrote into checkpoints before it made it non-persistent (the position
#: indices 0..576, not a weight): ignored on load, as transformers ignores it
POSITION_IDS = "vision_model.embeddings.position_ids"


class QuickGELU(nn.Module):
    """OpenAI CLIP's activation, ``x * sigmoid(1.702 x)`` (transformers' ``quick_gelu``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Embeddings(nn.Module):
    """The class token and the (bias-free) patch projection, plus learned position embeddings."""

    def __init__(self, image_size: int, patch_size: int, width: int):
        super().__init__()
        self.image_size, self.patch_size = image_size, patch_size
        self.class_embedding = nn.Parameter(torch.randn(width))
        self.patch_embedding = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.position_embedding = nn.Embedding((image_size // patch_size) ** 2 + 1, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            # transformers too refuses other sizes unless asked to interpolate, which CMMD does not
            raise ValueError(f"input {tuple(x.shape[-2:])} is not {self.image_size} x {self.image_size}")
        patches = self.patch_embedding(x.to(self.patch_embedding.weight.dtype)).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(len(x), 1, -1)
        return torch.cat((cls, patches), dim=1) + self.position_embedding.weight


class Attention(nn.Module):
    """Multi-head self-attention with separate biased ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.q_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:  # B x N x C -> B x heads x N x head_dim
            return t.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, n, c))


class MLP(nn.Module):
    """``fc1``, quick GELU, ``fc2``."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.activation_fn = QuickGELU()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(x)))


class EncoderLayer(nn.Module):
    """Pre-norm: ``x + self_attn(layer_norm1(x))``, then ``x + mlp(layer_norm2(x))``."""

    def __init__(self, width: int, heads: int, mlp_width: int):
        super().__init__()
        self.self_attn = Attention(width, heads)
        self.layer_norm1 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.mlp = MLP(width, mlp_width)
        self.layer_norm2 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_width: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(width, heads, mlp_width) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class VisionTransformer(nn.Module):
    """transformers' ``CLIPVisionTransformer``: the post-LayerNorm class token (its ``pooler_output``)."""

    def __init__(self, image_size: int, patch_size: int, width: int, layers: int, heads: int, mlp_width: int):
        super().__init__()
        self.embeddings = Embeddings(image_size, patch_size, width)
        self.pre_layrnorm = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.encoder = Encoder(width, layers, heads, mlp_width)
        self.post_layernorm = nn.LayerNorm(width, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(self.pre_layrnorm(self.embeddings(x)))
        return self.post_layernorm(tokens[:, 0])


class ClipVision(nn.Module):
    """transformers' ``CLIPVisionModelWithProjection`` at inference: N x 3 x S x S normalised pixels ->
    its ``image_embeds`` (N x ``projection_dim``), not normalised (:mod:`genbench.features.clip` does)."""

    def __init__(
        self,
        *,
        image_size: int = LARGE_336["image_size"],
        patch_size: int = LARGE_336["patch_size"],
        width: int = LARGE_336["width"],
        layers: int = LARGE_336["layers"],
        heads: int = LARGE_336["heads"],
        mlp_width: int = LARGE_336["mlp_width"],
        projection_dim: int = LARGE_336["projection_dim"],
    ):
        super().__init__()
        self.image_size = image_size
        self.projection_dim = projection_dim
        self.vision_model = VisionTransformer(image_size, patch_size, width, layers, heads, mlp_width)
        self.visual_projection = nn.Linear(width, projection_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(self.vision_model(x))


def clip_vit_large_14_336() -> ClipVision:
    """``openai/clip-vit-large-patch14-336``'s image tower and projection (303M parameters)."""
    return ClipVision(**LARGE_336)


def vision_state(state: dict) -> dict:
    """The image tower's part of a CLIP checkpoint: ``state`` without the text tower's keys
    (:data:`TEXT_PREFIXES`: a ``CLIPModel`` checkpoint holds both towers) and the stale
    ``position_ids`` buffer; every other key stays, so an unexpected one is still named."""
    return {k: v for k, v in state.items() if not (str(k).startswith(TEXT_PREFIXES) or k == POSITION_IDS)}
