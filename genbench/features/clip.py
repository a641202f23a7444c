"""CLIP ViT-L/14@336px image embeddings (Radford et al. 2021), the features of CMMD (Jayasumana et al.
2024, "Rethinking FID: Towards a Better Evaluation Metric for Image Generation").

The features are the 768-d projected image embedding of ``openai/clip-vit-large-patch14-336``
(transformers' ``CLIPVisionModelWithProjection(...).image_embeds``), L2-normalised as CMMD's code
does; there is no classifier head, so no logits: IS does not apply under them. ``cmmd`` under
``--features clip`` is CMMD; ``fid`` under it is a Fréchet distance of CLIP embeddings (FD_CLIP, on
a scale of its own).

Preprocessing follows google-research's ``cmmd`` code end to end: ``io_util.py`` reads each image
with PIL, crops the centred square of its shorter side and resizes it to 336 x 336 with PIL's
bicubic filter (antialiased when shrinking, on the uint8 pixels, so the result is uint8), grey
images then repeated to three channels, and divides by 255; ``embedding.py`` then resizes to the
model's 336 (a no-op at that size) and normalises with CLIP's mean ``(0.48145466, 0.4578275,
0.40821073)`` and std ``(0.26862954, 0.26130258, 0.27577711)`` (the PyTorch port through
``CLIPImageProcessor(do_resize=False, do_center_crop=False, do_rescale=False, do_normalize=True)``).
The same PIL calls run here, on the CPU, so the pixels are the reference code's to the bit; torch's
own bicubic resize differed from PIL's on random-noise images by up to 2 levels on uint8 tensors,
up to 20 on float ones (PIL rounds and clips between its two passes). Images in [-1, 1] are first
quantised to uint8 as when saved to PNG (:func:`genbench.features.inception.to_uint8`), the files
CMMD reads.

The network is :mod:`genbench.features.clip_vit`, written here with transformers' key names (why:
see there). Weights: the ``weights`` argument (``--clip-weights``), else ``$GENBENCH_CLIP_WEIGHTS``,
else the HF checkpoint's ``pytorch_model.bin`` in genbench's cache (``<cache
dir>/weights/openai--clip-vit-large-patch14-336/``), else the checkpoint transformers'
``from_pretrained`` left in the Hugging Face hub cache (:mod:`genbench.features.hf_hub_cache`;
``pytorch_model.bin``, else ``model.safetensors``), else downloaded into genbench's cache by its
downloader. Either of the HF repository's files loads: ``pytorch_model.bin`` (``torch.load`` with
``weights_only=True``) or ``model.safetensors`` (:mod:`genbench.features.safetensors_file`), of the
whole CLIPModel (the text tower is set aside) or of ``CLIPVisionModelWithProjection``; the image
tower must load with ``strict=True``. The fingerprint is the file's content digest, so the features
of two files never mix.

What was checked here: on random weights (the machines genbench is tested on are offline), the
network against transformers' ``CLIPVisionModelWithProjection`` and its state-dict keys and shapes
against transformers' at the full size, and the preprocessing against CMMD's steps. The real
checkpoint's embeddings, and CMMD values, were not compared with published ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench.features.base import FeatureExtractor
from genbench.features.clip_vit import LARGE_336, ClipVision, clip_vit_large_14_336, vision_state
from genbench.features.fetch_weights import fetch_weights, given_weights
from genbench.features.hf_hub_cache import hub_cache_dir, hub_cached_file
from genbench.features.inception import _file_id, to_uint8
from genbench.features.safetensors_file import NotSafetensors, is_safetensors, load_safetensors
from genbench.features.weights_file import UnreadableWeights, given_or_fetched, load_strict
from genbench.registry import register_features

ENV = "GENBENCH_CLIP_WEIGHTS"
REPO = "openai/clip-vit-large-patch14-336"
#: the HF checkpoint (CMMD's ``_CLIP_MODEL_NAME``); no digest is published beside it
URL = f"https://huggingface.co/{REPO}/resolve/main/pytorch_model.bin"
FILENAME = URL.rsplit("/", 1)[-1]
#: the folder of genbench's cache it is downloaded into (its file name is every HF model's)
CACHE_FOLDER = REPO.replace("/", "--")
#: CMMD's input size and CLIP's normalisation (OpenAI's clip.py, the HF preprocessor_config.json)
SIZE = LARGE_336["image_size"]
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def instead() -> str:
    """How to give the weights by hand: the end of every error about them."""
    return f"pass {FILENAME} or model.safetensors of {REPO} ({URL}) with --clip-weights PATH or set {ENV}"


def offline_message(reason: str) -> str:
    return (
        f"cannot get the CLIP ViT-L/14@336px weights ({reason}); download {FILENAME} from {URL} and pass it "
        f"with --clip-weights PATH or set {ENV}"
    )


def resized(image: np.ndarray) -> np.ndarray:
    """CMMD's ``io_util._center_crop_and_resize`` of one H x W x 3 uint8 image: the centred square of
    its shorter side, resized to 336 x 336 by PIL's bicubic filter (uint8)."""
    from PIL import Image

    im = Image.fromarray(image)
    w, h = im.size
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    im = im.crop((left, top, left + side, top + side))
    return np.asarray(im.resize((SIZE, SIZE), resample=Image.Resampling.BICUBIC))


def preprocess(x: torch.Tensor) -> torch.Tensor:
    """CMMD's input: N x 3 x H x W uint8 -> PIL centre crop and bicubic resize to 336 x 336 (on the
    CPU) -> float32 / 255 -> CLIP mean/std normalisation; on ``x``'s device."""
    pixels = x.permute(0, 2, 3, 1).cpu().numpy()
    out = torch.from_numpy(np.stack([resized(image) for image in pixels])).permute(0, 3, 1, 2)
    out = out.to(device=x.device, dtype=torch.float32) / 255
    out = out - torch.tensor(MEAN, device=x.device).reshape(1, -1, 1, 1)
    return out / torch.tensor(STD, device=x.device).reshape(1, -1, 1, 1)


def read_state(path: Path) -> object:
    """The tensors of a weights file: safetensors by its header, else ``torch.load``'s weights-only
    unpickling (a zip or legacy ``torch.save`` file); of a whole CLIPModel, the image tower's alone
    (:func:`vision_state`). A malformed safetensors file raises :class:`UnreadableWeights`, the
    rest what ``torch.load`` raises."""
    if is_safetensors(path):
        try:
            state = load_safetensors(path)
        except NotSafetensors as e:
            raise UnreadableWeights(f"is not a readable safetensors file ({e})") from None
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    return vision_state(state) if isinstance(state, dict) else state


@register_features("clip")
class Clip(FeatureExtractor):
    """CLIP ViT-L/14@336px: the L2-normalised projected image embedding (768-d), CMMD's preprocessing."""

    description = (
        "CLIP ViT-L/14@336px image embedding (768-d, L2-normalised), CMMD's preprocessing: cmmd under it "
        "is CMMD (Jayasumana et al. 2024); no IS"
    )
    supported_kinds = ("image",)
    weights_option = "clip_weights"
    gives_logits = False  # the image embedding alone: CLIP has no classifier head
    fingerprint_covers_weights = True  # its file's content digest
    weights_env = ENV
    weights_url = URL  # no digest is published (weights_digest None)
    PREPROCESSING = (
        "uint8-png-rounding;grey-to-rgb;cmmd-pil-center-crop-bicubic-336;clip-mean-std;l2-normalised"
    )
    # 64 rows a call on the CPU, as dinov2: ViT-L/14 at 336 is 577 tokens, ~190 GFLOPs an image, and a
    # larger call only holds more 16 x 577 x 577 attention weights
    cpu_rows = 64

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._model: ClipVision | None = None
        self._id: str | None = None

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...]:
        # download_weights' order: genbench's cache (where it downloads), then the hub cache's snapshots
        return (
            cache_dir / "weights" / CACHE_FOLDER,
            hub_cache_dir() / f"models--{CACHE_FOLDER}" / "snapshots",
        )

    def weights_path(self) -> Path | None:
        """The local weights file, if one was given (argument first, then the environment)."""
        return given_weights(self.weights, ENV)

    def feature_dim(self) -> int:
        return LARGE_336["projection_dim"]  # known without loading the 1.7 GB file

    def download_weights(self) -> Path:
        """The HF checkpoint in genbench's cache; else the one in the Hugging Face hub cache (where
        transformers' ``from_pretrained`` put it); else downloaded into genbench's cache."""
        fix = f"pass --cache-dir a writable folder, or {instead()}"
        folder = self.weights_folders(self.cache_dir)[0]
        if not (folder / FILENAME).exists():
            # pytorch_model.bin first: the very file genbench downloads, so the same content digest
            # (the fingerprint) whichever way it came; model.safetensors holds the same weights
            found = hub_cached_file(REPO, (FILENAME, "model.safetensors"))
            if found is not None:
                return found
        # no digest is published: checked whole (its Content-Length) and by loading with strict keys
        return fetch_weights(URL, folder, None, offline_message, instead(), fix)

    def _path(self) -> Path:
        """The weights file: the one given (which must exist), else the cached or downloaded one."""
        return given_or_fetched(self.weights_path(), self.download_weights, "CLIP", instead())

    def fingerprint(self) -> str:
        if self._id is None:
            self._id = _file_id(self._path())  # by content: no digest is published to name it by
        return f"clip-vit-l14-336-{self._id}:{self.PREPROCESSING}"

    @property
    def model(self) -> ClipVision:
        if self._model is None:
            self._model = self._build().to(self.device)
        return self._model

    def _build(self) -> ClipVision:
        given = self.weights_path() is not None
        return load_strict(
            clip_vit_large_14_336(),
            self._path(),
            read_state,
            what="CLIP",
            network=REPO,
            instead=instead(),
            given=given,
        )

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        model = self.model
        embeds = model(preprocess(to_uint8(x, self.name)))
        return embeds / torch.linalg.vector_norm(embeds, dim=-1, keepdim=True), None

    def info(self) -> dict[str, Any]:
        path = self.weights_path()
        return {
            "name": self.name,
            "fingerprint": self.checked_fingerprint(),
            "description": self.description,
            "network": REPO,
            "preprocessing": "CMMD io_util + embedding (PIL centre crop, bicubic 336, CLIP mean/std), L2-normalised",
            "weights": str(path) if path is not None else URL,
        }
