"""The ``clip`` features (CMMD's CLIP ViT-L/14@336px): the network against transformers'
``CLIPVisionModelWithProjection`` on the same random weights, its key names and shapes at the full
size, CMMD's preprocessing against a transcription of google-research's ``cmmd`` steps, the HF
checkpoint files (``pytorch_model.bin``, ``model.safetensors``) loading, and `genbench eval
--features clip --metrics cmmd` end to end.

Nothing downloads: every network is on random weights. The full-size test builds both networks
(304M parameters each); the others run a small one of the same structure (``TINY``), patched in
where the extractor builds its network.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cli_helpers import folder_and_samples  # tests/ is on the path
from PIL import Image
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModelWithProjection

import genbench.features.clip as clip
from genbench.data import download
from genbench.data.folder import load_image_folder, load_samples
from genbench.errors import GenbenchError
from genbench.features.clip import Clip
from genbench.features.clip_vit import ClipVision, clip_vit_large_14_336
from genbench.features.inception import to_uint8
from genbench.metrics.cmmd import cmmd

#: the structure at a small width and depth, at CMMD's 336 x 336 (24 x 24 patches of 14)
TINY = {
    "image_size": 336,
    "patch_size": 14,
    "width": 32,
    "layers": 2,
    "heads": 4,
    "mlp_width": 64,
    "projection_dim": 16,
}
N = 12  # images in the reference folder and in the samples (the batch size too)


def hf_vision_config(
    image_size: int, patch_size: int, width: int, layers: int, heads: int, mlp_width: int, projection_dim: int
) -> CLIPVisionConfig:
    """transformers' config of ``openai/clip-vit-large-patch14-336``'s image tower at other sizes."""
    return CLIPVisionConfig(
        hidden_size=width, intermediate_size=mlp_width, num_hidden_layers=layers, num_attention_heads=heads,
        image_size=image_size, patch_size=patch_size, projection_dim=projection_dim,
        hidden_act="quick_gelu", layer_norm_eps=1e-5,
    )  # fmt: skip


def random_state(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random weights for every entry of ``model``'s state dict, norms away from the identity."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(v.shape, generator=g) * (0.5 if v.dim() > 1 else 0.3)
        + (1.0 if "norm" in k and k.endswith("weight") else 0.0)
        for k, v in model.state_dict().items()
        if v.is_floating_point()
    }


def test_the_full_network_has_transformers_keys_and_shapes():
    """ViT-L/14@336 as ``openai/clip-vit-large-patch14-336`` configures it: the state dict of
    transformers' model, key for key and shape for shape (neither network is run)."""
    ours = {k: tuple(v.shape) for k, v in clip_vit_large_14_336().state_dict().items()}
    config = hf_vision_config(336, 14, 1024, 24, 16, 4096, 768)
    theirs = {k: tuple(v.shape) for k, v in CLIPVisionModelWithProjection(config).state_dict().items()}
    assert ours == theirs
    assert ours["vision_model.embeddings.position_embedding.weight"] == (577, 1024)
    assert ours["visual_projection.weight"] == (768, 1024)
    assert (
        "vision_model.pre_layrnorm.weight" in ours and "vision_model.encoder.layers.23.mlp.fc2.bias" in ours
    )


def test_the_network_is_transformers_clip_vision_model_with_projection():
    """The same random weights in both (a 2-layer, width-64 tower at 56 x 56): the same image_embeds."""
    sizes = {
        "image_size": 56,
        "patch_size": 14,
        "width": 64,
        "layers": 2,
        "heads": 4,
        "mlp_width": 256,
        "projection_dim": 32,
    }
    hf = CLIPVisionModelWithProjection(hf_vision_config(**sizes)).eval()
    ours = ClipVision(**sizes).eval()
    state = random_state(hf, seed=0)
    hf.load_state_dict(state, strict=False)  # position_ids is a non-persistent buffer
    ours.load_state_dict(state, strict=True)
    x = torch.randn(3, 3, 56, 56)
    with torch.no_grad():
        expected = hf(pixel_values=x).image_embeds
        torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
    assert expected.abs().max() > 1  # not a near-zero output that any network would match


def cmmd_steps(image: np.ndarray) -> torch.Tensor:
    """google-research's cmmd on one uint8 image, transcribed: io_util's ``_read_image`` (PIL centre
    crop of the shorter side, ``resize((336, 336), Image.BICUBIC)``, float32, grey tiled to three
    channels after), ``/ 255.0``, then embedding.py's bicubic resize to 336 (F.interpolate, as its
    PyTorch port) and CLIPImageProcessor's normalisation with CLIP's mean and std."""
    im = Image.fromarray(image)
    w, h = im.size
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    im = im.crop((left, top, left + side, top + side)).resize((336, 336), resample=Image.BICUBIC)
    x = np.asarray(im).astype(np.float32)
    if x.ndim == 2:
        x = np.tile(x[..., np.newaxis], (1, 1, 3))
    x = x / 255.0
    t = F.interpolate(torch.from_numpy(x[None].transpose(0, 3, 1, 2)), size=(336, 336), mode="bicubic")
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).reshape(1, 3, 1, 1)
    return ((t - mean) / std)[0]


@pytest.mark.parametrize(
    "shape",
    [(4, 1, 28, 28), (4, 3, 32, 32), (2, 3, 40, 30), (2, 3, 336, 336)],
    ids=["grey-28", "rgb-32", "rgb-40x30", "rgb-336"],
)
def test_preprocessing_is_cmmds_steps(shape):
    """uint8 images of other sizes (grey ones resized as PIL's "L" images, then tiled; a non-square one
    cropped to its centre) reach 336 x 336 as CMMD's code makes them, to float32 rounding."""
    u8 = torch.from_numpy(np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8))
    got = clip.preprocess(u8.repeat(1, 3, 1, 1) if shape[1] == 1 else u8)
    assert got.shape == (shape[0], 3, 336, 336) and got.dtype == torch.float32
    images = u8.permute(0, 2, 3, 1).numpy()
    expected = torch.stack([cmmd_steps(im[..., 0] if shape[1] == 1 else im) for im in images])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


class _Seen(torch.nn.Module):
    """A stand-in network that keeps what it was given and returns its per-channel means."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x)
        return x.mean(dim=(2, 3)) + 5


def test_the_network_gets_the_png_pixels_and_its_embeddings_are_l2_normalised(tmp_path):
    ext = Clip(dataset=None, cache_dir=tmp_path, weights=tmp_path / "unused.pth", batch_size=4)
    ext._model = _Seen()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    features, logits = ext._extract_batch(x)
    (seen,) = ext._model.seen
    torch.testing.assert_close(seen, clip.preprocess(to_uint8(x)), rtol=0, atol=0)
    raw = seen.mean(dim=(2, 3)) + 5
    torch.testing.assert_close(features, raw / raw.norm(dim=1, keepdim=True))
    assert logits is None and ext.feature_dim() == 768


def hf_clip_model(seed: int) -> CLIPModel:
    """A whole CLIPModel (both towers, as the HF checkpoint holds) whose image tower is ``TINY``."""
    vision = hf_vision_config(**TINY).to_dict()
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
        vision_config=vision, projection_dim=TINY["projection_dim"],
    )  # fmt: skip
    model = CLIPModel(config).eval()
    model.load_state_dict(random_state(model, seed), strict=False)
    return model


@pytest.fixture
def tiny_clip(tmp_path, monkeypatch) -> Path:
    """A CLIPModel checkpoint of ``TINY`` as HF's pytorch_model.bin holds it: both towers, the
    position_ids buffers older transformers saved; the extractor's builder patched to build ``TINY``."""
    monkeypatch.setattr(clip, "clip_vit_large_14_336", lambda: ClipVision(**TINY))
    monkeypatch.delenv(clip.ENV, raising=False)
    state = hf_clip_model(1).state_dict()
    state["vision_model.embeddings.position_ids"] = torch.arange(577)[None]
    state["text_model.embeddings.position_ids"] = torch.arange(77)[None]
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)
    return path


def test_the_hf_checkpoint_files_load_to_transformers_embeddings(tmp_path, tiny_clip):
    """pytorch_model.bin and model.safetensors (written by the safetensors package, read here without
    it) of a whole CLIPModel: the extractor's features are transformers' image_embeds of CMMD's input,
    L2-normalised. A cut-off safetensors file is one line naming it."""
    from safetensors.torch import save_file

    hf = hf_clip_model(1)
    x = torch.rand(3, 3, 20, 24) * 2 - 1
    with torch.no_grad():
        embeds = hf.get_image_features(pixel_values=clip.preprocess(to_uint8(x)))
    embeds = getattr(embeds, "pooler_output", embeds)  # transformers 5 returns an output object
    expected = embeds / embeds.norm(dim=1, keepdim=True)
    safetensors = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, safetensors)
    for path in (tiny_clip, safetensors):
        ext = Clip(dataset=None, cache_dir=tmp_path, weights=path, batch_size=3)
        with torch.no_grad():
            got, _ = ext._extract_batch(x)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(safetensors.read_bytes()[:-100])
    with pytest.raises(
        GenbenchError,
        match=r"cut.safetensors is not a readable safetensors file \(tensor .* buffer: a cut-off download\?\); ",
    ):
        _ = Clip(dataset=None, cache_dir=tmp_path, weights=cut).model


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """(reference folder of N 12 x 12 RGB PNGs, samples .npz unlike them)."""
    return folder_and_samples(tmp_path_factory.mktemp("clip"), N, 12, seed=0)[:2]


def _eval(cli, samples: Path, folder: Path, out: Path, *extra: object):
    return cli(
        "eval", "--samples", samples, "--dataset", folder, "--out", out, "--cache-dir", out.parent / "cache",
        "--batch-size", N, "--device", "cpu", "--no-figures", "--no-progress", "--metrics", "cmmd", *extra,
    )  # fmt: skip


def test_eval_under_clip_gives_cmmd_of_the_extractors_features(cli, tmp_path, images, tiny_clip):
    """`genbench eval --features clip --clip-weights FILE --metrics cmmd`: cmmd is the MMD of the
    extractor's features of the samples and the reference, the protocol names the extractor (the
    file by content) and says cmmd is CMMD under it; under another extractor a warning says it is not."""
    folder, samples = images
    out = tmp_path / "runs"
    r = _eval(cli, samples, folder, out, "--features", "clip", "--clip-weights", tiny_clip)
    assert r.exit_code == 0, r.output
    assert "not CMMD" not in r.output
    (path,) = out.glob("*/samples/seed0.json")
    res = json.loads(path.read_text())
    feats = res["protocol"]["features"]
    assert feats["name"] == "clip" and "cmmd under it is CMMD" in feats["description"]
    ext = Clip(dataset=None, cache_dir=tmp_path, weights=tiny_clip, batch_size=N)
    assert feats["fingerprint"] == ext.fingerprint()
    a = ext.extract(load_samples(samples)).features
    b = ext.extract(load_image_folder(folder)).features
    assert a.shape == (N, TINY["projection_dim"])
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, rtol=1e-6)
    assert res["metrics"]["cmmd"] == pytest.approx(cmmd(a, b), rel=1e-6) and res["metrics"]["cmmd"] > 0

    r = _eval(cli, samples, folder, tmp_path / "raw", "--features", "raw")
    assert r.exit_code == 0, r.output
    assert "under --features raw this is not CMMD but the MMD of CMMD's kernel" in r.stderr


def _offline(*a, **k):
    raise urllib.error.URLError("network is unreachable")


def test_the_checkpoint_in_the_hugging_face_hub_cache_is_used(tmp_path, tiny_clip, monkeypatch):
    """Where transformers' from_pretrained left the checkpoint (``$HF_HUB_CACHE/models--openai--clip-
    vit-large-patch14-336/snapshots/<revision>/``, links into blobs/), it is read, offline, rather
    than downloaded again: pytorch_model.bin (genbench's own download, so the same fingerprint), else
    model.safetensors. --clip-weights, $GENBENCH_CLIP_WEIGHTS and genbench's own cached file come first."""
    from safetensors.torch import save_file

    monkeypatch.setattr(download, "_open_url", _offline)
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    model = hub / "models--openai--clip-vit-large-patch14-336"
    revision = model / "snapshots" / "0123abcd"
    revision.mkdir(parents=True)
    (model / "refs").mkdir()
    (model / "refs" / "main").write_text("0123abcd")
    (model / "blobs").mkdir()
    safetensors = model / "blobs" / "safetensors-blob"
    save_file({k: v.contiguous() for k, v in hf_clip_model(1).state_dict().items()}, safetensors)
    (revision / "model.safetensors").symlink_to(safetensors)
    x = torch.rand(2, 3, 16, 16) * 2 - 1

    def extractor(**kwargs):
        return Clip(dataset=None, cache_dir=tmp_path / "genbench", batch_size=2, **kwargs)

    ext = extractor()
    with torch.no_grad():
        from_safetensors, _ = ext._extract_batch(x)
    assert ext._path() == revision / "model.safetensors"
    assert ext.fingerprint().startswith(f"clip-vit-l14-336-{clip._file_id(safetensors)}:")

    (model / "blobs" / "bin-blob").write_bytes(tiny_clip.read_bytes())
    (revision / "pytorch_model.bin").symlink_to(model / "blobs" / "bin-blob")
    ext = extractor()
    with torch.no_grad():
        from_bin, _ = ext._extract_batch(x)
    assert ext._path() == revision / "pytorch_model.bin"
    # genbench's own download of the same file: the same fingerprint, so the same cached features
    assert ext.fingerprint().startswith(f"clip-vit-l14-336-{clip._file_id(tiny_clip)}:")
    torch.testing.assert_close(from_bin, from_safetensors, rtol=1e-6, atol=1e-6)

    given = tmp_path / "given.bin"
    given.write_bytes(tiny_clip.read_bytes())
    assert extractor(weights=given)._path() == given
    monkeypatch.setenv(clip.ENV, str(given))
    assert extractor()._path() == given
    monkeypatch.delenv(clip.ENV)
    own = tmp_path / "genbench" / "weights" / clip.CACHE_FOLDER / clip.FILENAME
    own.parent.mkdir(parents=True)
    own.write_bytes(tiny_clip.read_bytes())
    assert extractor()._path() == own


def test_missing_weights_are_one_line_naming_the_fix(cli, tmp_path, images, monkeypatch):
    monkeypatch.delenv(clip.ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # no hub cache of the model either
    monkeypatch.setattr(download, "_open_url", _offline)
    folder, samples = images
    r = _eval(cli, samples, folder, tmp_path / "runs", "--features", "clip")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    for part in (clip.URL, "--clip-weights PATH", clip.ENV):
        assert part in line

    r = _eval(
        cli,
        samples,
        folder,
        tmp_path / "runs",
        "--features",
        "clip",
        "--clip-weights",
        tmp_path / "missing.bin",
    )
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert "CLIP weights" in line and "missing.bin not found" in line and "--clip-weights PATH" in line


def test_a_checkpoint_of_another_network_is_named_by_what_differs(cli, tmp_path, images, tiny_clip):
    """Another file (here the text tower alone): one line naming the image tower's keys it lacks."""
    folder, samples = images
    path = tmp_path / "text.bin"
    torch.save(
        {k: v for k, v in torch.load(tiny_clip, weights_only=True).items() if k.startswith("text_")}, path
    )
    r = _eval(cli, samples, folder, tmp_path / "runs", "--features", "clip", "--clip-weights", path)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert "is not openai/clip-vit-large-patch14-336 weights" in line and "missing: vision_model." in line, (
        line
    )


def test_eval_under_clip_without_metrics_scores_cmmd(cli, tmp_path, images, tiny_clip):
    """`genbench eval --features clip` without --metrics: the default set left cmmd out (opt-in), the
    metric those features are picked for; now it is in it, beside the others."""
    folder, samples = images
    out = tmp_path / "runs"
    r = cli(
        "eval", "--samples", samples, "--dataset", folder, "--out", out, "--cache-dir", tmp_path / "cache",
        "--batch-size", N, "--device", "cpu", "--no-figures", "--no-progress", "--features", "clip",
        "--clip-weights", tiny_clip,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (path,) = out.glob("*/samples/seed0.json")
    values = json.loads(path.read_text())["metrics"]
    assert values["cmmd"] > 0 and "fid" in values, values
