"""The ``dinov2`` features (FD_DINOv2): DINOv2 ViT-L/14 written with the official layout, its forward and
position-embedding interpolation against the official code's operations, EDM2's preprocessing, and
`genbench eval --features dinov2` end to end.

Nothing downloads: every network is on random weights. Only the first test builds the full ViT-L/14
(304M parameters, 1.2 GB); the others run a small one of the same structure (``TINY``), patched in
where the extractor builds its network.
"""

from __future__ import annotations

import json
import math
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cli_helpers import folder_and_samples  # tests/ is on the path

import genbench.features.dinov2 as dinov2
from genbench.config import RunConfig
from genbench.data import download
from genbench.data.folder import load_image_folder, load_samples
from genbench.errors import GenbenchError
from genbench.features.dinov2 import Dinov2
from genbench.features.inception import to_uint8
from genbench.features.vit import VisionTransformer, vit_large_14
from genbench.metrics.fid import frechet_distance, gaussian_statistics
from genbench.resolve import build_dataset

#: the official structure at a small width and depth; trained at 518 as the real one (37 x 37 patches)
TINY = {"img_size": 518, "patch_size": 14, "embed_dim": 32, "depth": 2, "num_heads": 4}
N = 16  # images in the reference folder and in the samples (the batch size too)


def official_keys(depth: int, dim: int, grid: int, patch: int = 14) -> dict[str, tuple[int, ...]]:
    """The state dict of facebookresearch/dinov2's ``DinoVisionTransformer`` as ``dinov2_vitl14`` builds
    it (``block_chunks=0``, layer scale, MLP feed-forward, no registers), by key: its parameters
    ``cls_token``, ``pos_embed``, ``mask_token``, then ``patch_embed.proj``, each ``blocks.N``'s
    ``norm1``, ``attn.qkv``, ``attn.proj``, ``ls1.gamma``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``,
    ``ls2.gamma``, and the final ``norm`` (its ``head`` is an Identity)."""
    keys: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, dim),
        "pos_embed": (1, grid * grid + 1, dim),
        "mask_token": (1, dim),
        "patch_embed.proj.weight": (dim, 3, patch, patch),
        "patch_embed.proj.bias": (dim,),
    }
    for i in range(depth):
        b = f"blocks.{i}"
        keys |= {
            f"{b}.norm1.weight": (dim,), f"{b}.norm1.bias": (dim,),
            f"{b}.attn.qkv.weight": (3 * dim, dim), f"{b}.attn.qkv.bias": (3 * dim,),
            f"{b}.attn.proj.weight": (dim, dim), f"{b}.attn.proj.bias": (dim,),
            f"{b}.ls1.gamma": (dim,),
            f"{b}.norm2.weight": (dim,), f"{b}.norm2.bias": (dim,),
            f"{b}.mlp.fc1.weight": (4 * dim, dim), f"{b}.mlp.fc1.bias": (4 * dim,),
            f"{b}.mlp.fc2.weight": (dim, 4 * dim), f"{b}.mlp.fc2.bias": (dim,),
            f"{b}.ls2.gamma": (dim,),
        }  # fmt: skip
    return keys | {"norm.weight": (dim,), "norm.bias": (dim,)}


def test_vit_large_14_has_the_official_checkpoints_keys_and_shapes(tmp_path):
    """The full network (the one test that builds it): 24 blocks of width 1024, 16 heads, a 37 x 37 grid
    of 14-pixel patches; a state dict of the official keys and shapes loads with strict=True, and the
    output is the 1024-d CLS token."""
    model = vit_large_14()
    expected = official_keys(depth=24, dim=1024, grid=37)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == expected
    assert sum(math.prod(s) for s in expected.values()) == sum(p.numel() for p in model.parameters())
    assert 304e6 < sum(p.numel() for p in model.parameters()) < 305e6  # "ViT-L/14, 304M"
    assert model.blocks[0].attn.num_heads == 16
    checkpoint = {k: torch.randn(s) for k, s in expected.items()}  # as dinov2_vitl14_pretrain.pth
    model.load_state_dict(checkpoint, strict=True)
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1024)
    # the width that fid_inf's min_size is checked against before any training
    extractor = Dinov2(build_dataset("digits", RunConfig()), cache_dir=tmp_path)
    assert extractor.feature_dim() == 1024


def official_forward(model: VisionTransformer, x: torch.Tensor) -> torch.Tensor:
    """``DinoVisionTransformer.forward`` at inference, step by step as the official code writes it
    (``prepare_tokens_with_masks``, ``Block.forward``, ``Attention.forward``), on ``model``'s weights."""
    b, _, h, w = x.shape
    t = model.patch_embed.proj(x).flatten(2).transpose(1, 2)
    t = torch.cat((model.cls_token.expand(b, -1, -1), t), dim=1)
    t = t + model.interpolate_pos_encoding(t, h, w)
    for blk in model.blocks:
        a = blk.norm1(t)
        n, c = a.shape[1:]
        heads = blk.attn.num_heads
        qkv = blk.attn.qkv(a).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (c // heads) ** -0.5, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        a = blk.attn.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        t = t + a * blk.ls1.gamma
        m = blk.mlp.fc2(F.gelu(blk.mlp.fc1(blk.norm2(t))))
        t = t + m * blk.ls2.gamma
    return F.layer_norm(t, (t.shape[-1],), model.norm.weight, model.norm.bias, eps=1e-6)[:, 0]


def tiny(seed: int = 0) -> VisionTransformer:
    torch.manual_seed(seed)
    model = VisionTransformer(**TINY).eval()
    with torch.no_grad():  # layer scales other than 1 and norms other than the identity, as trained
        for name, p in model.named_parameters():
            if "gamma" in name or "norm" in name:
                p.normal_(1.0 if name.endswith(("gamma", "weight")) else 0.0, 0.3)
    return model


def test_forward_is_the_official_final_norm_cls_token():
    model = tiny()
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (3, TINY["embed_dim"])
        torch.testing.assert_close(out, official_forward(model, x), rtol=1e-4, atol=1e-5)
        # 518 x 518, the trained grid: the embeddings as they are
        torch.testing.assert_close(
            model(torch.zeros(1, 3, 518, 518))[0], official_forward(model, torch.zeros(1, 3, 518, 518))[0]
        )


def test_position_embeddings_are_interpolated_as_the_official_code_does():
    """At 518 (37 x 37 patches, as trained) the embeddings themselves; at 224 (16 x 16) the patch
    embeddings resized bicubically by a scale factor of (16 + 0.1) / 37, no antialiasing, the CLS one
    kept: which is not the resize to size 16 x 16 (timm's way), so the offset is checked too."""
    model = tiny()
    pe = model.pos_embed.detach()
    dim = pe.shape[-1]
    tokens = torch.zeros(1, 37 * 37 + 1, dim)
    assert model.interpolate_pos_encoding(tokens, 518, 518) is model.pos_embed

    got = model.interpolate_pos_encoding(torch.zeros(1, 16 * 16 + 1, dim), 224, 224).detach()
    grid = pe[:, 1:].reshape(1, 37, 37, dim).permute(0, 3, 1, 2)
    scale = 16.1 / 37
    by_hand = F.interpolate(grid, scale_factor=(scale, scale), mode="bicubic", antialias=False)
    assert by_hand.shape[-2:] == (16, 16)
    expected = torch.cat((pe[:, :1], by_hand.permute(0, 2, 3, 1).reshape(1, 256, dim)), dim=1)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    timm_way = F.interpolate(grid, size=(16, 16), mode="bicubic", antialias=True)
    assert not torch.allclose(got[:, 1:], timm_way.permute(0, 2, 3, 1).reshape(1, 256, dim), atol=1e-4)


def edm2(x: torch.Tensor) -> torch.Tensor:
    """EDM2's ``DINOv2Detector.__call__`` (``resize_mode='torch'``) before ``self.model``, as written
    there: uint8 NCHW -> float32 bicubic antialiased resize to 224 -> / 255 -> ImageNet mean, std."""
    x = torch.nn.functional.interpolate(x.to(torch.float32), size=(224, 224), mode="bicubic", antialias=True)
    x = x.to(torch.float32) / 255
    x = x - torch.tensor([0.485, 0.456, 0.406]).reshape(1, -1, 1, 1)
    return x / torch.tensor([0.229, 0.224, 0.225]).reshape(1, -1, 1, 1)


class _Seen(torch.nn.Module):
    """A stand-in network that keeps what it was given and returns its per-channel means."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x)
        return x.mean(dim=(2, 3))


@pytest.mark.parametrize("channels", [3, 1])
def test_the_network_gets_edm2s_preprocessing_of_the_png_pixels(tmp_path, channels):
    """Images in [-1, 1] (grey ones too) reach the network as EDM2 preprocesses their uint8 pixels."""
    ext = Dinov2(dataset=None, cache_dir=tmp_path, weights=tmp_path / "unused.pth", batch_size=4)
    ext._model = _Seen()
    x = torch.rand(4, channels, 28, 28) * 2 - 1
    features, logits = ext._extract_batch(x)
    (seen,) = ext._model.seen
    u8 = to_uint8(x)
    assert u8.dtype == torch.uint8 and u8.shape[1] == 3
    torch.testing.assert_close(seen, edm2(u8), rtol=0, atol=0)
    assert logits is None and features.shape == (4, 3)


@pytest.fixture
def tiny_dinov2(tmp_path, monkeypatch) -> Path:
    """A random-weights checkpoint of ``TINY`` (the extractor's builder patched to build that size)."""
    monkeypatch.setattr(dinov2, "vit_large_14", lambda: VisionTransformer(**TINY))
    monkeypatch.delenv(dinov2.ENV, raising=False)
    path = tmp_path / "tiny_dinov2.pth"
    torch.save(tiny(1).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """(reference folder of N 12 x 12 RGB PNGs, samples .npz unlike them)."""
    return folder_and_samples(tmp_path_factory.mktemp("dinov2"), N, 12, seed=0)[:2]


def _eval(cli, samples: Path, folder: Path, out: Path, *extra: object):
    return cli(
        "eval", "--samples", samples, "--dataset", folder, "--out", out, "--cache-dir", out.parent / "cache",
        "--features", "dinov2", "--batch-size", N, "--device", "cpu", "--no-figures", "--no-progress", *extra,
    )  # fmt: skip


@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_eval_under_dinov2_gives_fd_dinov2_of_the_extractors_features(cli, tmp_path, images, tiny_dinov2):
    """`genbench eval --features dinov2 --dinov2-weights FILE`: fid is the Fréchet distance of the
    extractor's features of the samples and the reference, the protocol names the extractor (and the
    file by content), the board's caption says fid is FD_DINOv2, and IS is not computed (no logits)."""
    folder, samples = images
    out = tmp_path / "runs"
    r = _eval(cli, samples, folder, out, "--dinov2-weights", tiny_dinov2)
    assert r.exit_code == 0, r.output
    (path,) = out.glob("*/samples/seed0.json")
    res = json.loads(path.read_text())
    assert "is" not in res["metrics"]
    feats = res["protocol"]["features"]
    assert feats["name"] == "dinov2" and "FD_DINOv2" in feats["description"]
    ext = Dinov2(dataset=None, cache_dir=tmp_path, weights=tiny_dinov2, batch_size=N)
    assert feats["fingerprint"] == ext.fingerprint()

    a = ext.extract(load_samples(samples)).features
    b = ext.extract(load_image_folder(folder)).features
    assert a.shape == (N, TINY["embed_dim"])
    fd = frechet_distance(*gaussian_statistics(a), *gaussian_statistics(b))
    assert res["metrics"]["fid"] == pytest.approx(fd, rel=1e-6)

    # `genbench stats` takes the flag too: the reference's statistics in the same features
    r = cli("stats", "--out", tmp_path / "ref.npz", "--dataset", folder, "--features", "dinov2",
            "--dinov2-weights", tiny_dinov2, "--batch-size", N, "--device", "cpu",
            "--cache-dir", tmp_path / "cache", "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(np.load(tmp_path / "ref.npz")["mu"], b.mean(0), rtol=1e-6, atol=1e-9)

    r = cli("report", "--out", out)
    assert r.exit_code == 0, r.output
    (board,) = (out / "leaderboards").glob("*.md")
    assert "`dinov2` (DINOv2 ViT-L/14" in board.read_text() and "FD_DINOv2" in board.read_text()
    assert r"FD\_DINOv2" in next((out / "leaderboards").glob("*.tex")).read_text()

    # asked for, IS is refused before any work, as under raw (the other extractor without logits): it
    # was "not computed" once every feature had been extracted (hours of ViT-L on a CPU)
    r = _eval(cli, samples, folder, tmp_path / "is", "--dinov2-weights", tiny_dinov2, "--metrics", "fid,is")
    assert r.exit_code == 2, r.output
    assert "error: metric is needs logits, which --features dinov2 does not give" in r.stderr
    assert "drop it (--metrics fid)" in r.stderr and not list((tmp_path / "is").rglob("*.json"))


def test_images_of_other_channels_are_refused_naming_the_dinov2_features(tmp_path, tiny_dinov2):
    """The uint8 conversion it shares with the Inceptions said "Inception features need ..."."""
    ext = Dinov2(dataset=None, cache_dir=tmp_path, weights=tiny_dinov2, batch_size=N)
    with pytest.raises(GenbenchError, match=r"^the dinov2 features need N x 1 x H x W or N x 3 x H x W"):
        ext._extract_batch(torch.zeros(2, 2, 12, 12))


def test_a_missing_checkpoint_offline_is_one_line_naming_the_fix(cli, tmp_path, images, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.delenv(dinov2.ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torch.hub's cache: nothing there
    monkeypatch.setattr(download, "_open_url", offline)
    folder, samples = images
    r = _eval(cli, samples, folder, tmp_path / "runs")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    for part in (dinov2.FILENAME, dinov2.URL, "--dinov2-weights PATH", dinov2.ENV):
        assert part in line

    r = _eval(cli, samples, folder, tmp_path / "runs", "--dinov2-weights", tmp_path / "missing.pth")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "DINOv2 weights" in r.output and "not found" in r.output


def test_the_other_networks_weights_flag_is_named_unused(cli, tmp_path, images, tiny_dinov2):
    """--inception-weights under --features dinov2 (and --dinov2-weights under another) is no file of
    the network that runs: a warning says which flag that network reads."""
    folder, samples = images
    r = _eval(cli, samples, folder, tmp_path / "runs", "--dinov2-weights", tiny_dinov2,
              "--inception-weights", tmp_path / "x.pth", "--metrics", "kid")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "--inception-weights" in r.stderr and "the dinov2 features read --dinov2-weights" in r.stderr
    r = cli("eval", "--samples", samples, "--dataset", folder, "--out", tmp_path / "raw", "--features", "raw",
            "--dinov2-weights", tiny_dinov2, "--metrics", "kid", "--no-figures", "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"--dinov2-weights {tiny_dinov2} is not used: the raw features take no weights file" in r.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda sd: sd | {"register_tokens": torch.zeros(1, 4, TINY["embed_dim"])},
            "1 unexpected: register_tokens",
        ),
        (lambda sd: {k: v for k, v in sd.items() if k != "mask_token"}, "1 missing: mask_token"),
        (lambda sd: {"teacher": sd}, "unexpected: teacher"),
        (lambda sd: sd | {"norm.weight": torch.ones(7)}, f"norm.weight (7,) (not ({TINY['embed_dim']},))"),
    ],
    ids=["with-registers", "timm-no-mask-token", "training-checkpoint", "another-width"],
)
def test_a_checkpoint_of_another_layout_is_named_by_what_differs(
    cli, tmp_path, images, tiny_dinov2, change, named
):
    """A checkpoint that is not dinov2_vitl14's (the with-registers one, timm's conversion, a training
    checkpoint's nesting, another width) fails in one line naming the keys that differ: torch's own
    first line ("Error(s) in loading state_dict for VisionTransformer:") named none."""
    folder, samples = images
    path = tmp_path / "other.pth"
    torch.save(change(torch.load(tiny_dinov2, weights_only=True)), path)
    r = _eval(cli, samples, folder, tmp_path / "runs", "--dinov2-weights", path)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert "is not DINOv2 ViT-L/14 weights" in line and named in line, line
    assert "--dinov2-weights PATH" in line
