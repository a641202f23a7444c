"""DINOv2 ViT-L/14 features (Oquab et al. 2023), for FD_DINOv2 (Stein et al. 2023, "Exposing flaws of
generative model evaluation metrics"; reported beside FID by EDM2, Karras et al. 2024).

The features are the network's final-norm CLS token (1024-d); there is no classifier head, so no
logits: IS does not apply under them. ``fid`` under ``--features dinov2`` is the Fréchet distance of
these features, FD_DINOv2, on a scale of its own (not comparable with Inception FIDs).

Preprocessing follows EDM2's ``calculate_metrics.py`` (``DINOv2Detector``, its default
``resize_mode='torch'``): uint8 images, as float32, resized to 224 x 224 by
``F.interpolate(mode="bicubic", antialias=True)``, divided by 255, normalised with ImageNet's mean
``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)``, then ``model(x)``. Images in [-1, 1] are
first quantised to uint8 as when saved to PNG (:func:`genbench.features.inception.to_uint8`); grey
images are repeated to three channels. dgm-eval (the metric's reference code) resizes with PIL's
bicubic filter on the uint8 images instead, which EDM2 keeps as ``resize_mode='pil'`` and calls
"almost the same results"; genbench follows EDM2's torch ops, which are defined on any device.

The network is :mod:`genbench.features.vit`, written here with the official module names (why: see
there). Weights: the ``weights`` argument (``--dinov2-weights``), else ``$GENBENCH_DINOV2_WEIGHTS``,
else the official ``dinov2_vitl14_pretrain.pth`` in torch.hub's cache (``<torch hub
dir>/checkpoints/``, where ``torch.hub.load('facebookresearch/dinov2', 'dinov2_vitl14')`` puts it),
downloaded there if missing by genbench's downloader. No digest of the file is published, so none is
checked: the download is whole (its Content-Length), and the file must load into the network with
``strict=True``. The fingerprint is the file's content digest, so the features of two files never mix.

What was checked here: on random weights (the machines genbench is tested on are offline), the
network's state-dict layout against the official one, the position-embedding interpolation against
``F.interpolate`` as the official code calls it, and the preprocessing against EDM2's formula. The
real checkpoint's numbers were not compared with the hub model's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genbench.features.base import FeatureExtractor
from genbench.features.fetch_weights import given_weights, hub_checkpoint, hub_checkpoints_dir
from genbench.features.inception import _file_id, to_uint8
from genbench.features.vit import LARGE, VisionTransformer, vit_large_14
from genbench.features.weights_file import given_or_fetched, load_strict
from genbench.registry import register_features

ENV = "GENBENCH_DINOV2_WEIGHTS"
#: the official checkpoint (dinov2/hub/backbones.py: _DINOV2_BASE_URL/<name>/<name>_pretrain.pth)
URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth"
FILENAME = URL.rsplit("/", 1)[-1]
#: EDM2's DINOv2Detector: the input size and ImageNet's normalisation
SIZE = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def instead() -> str:
    """How to give the weights by hand: the end of every error about them."""
    return f"pass {FILENAME} ({URL}) with --dinov2-weights PATH or set {ENV}"


def offline_message(reason: str) -> str:
    return (
        f"cannot get the DINOv2 ViT-L/14 weights ({reason}); download {FILENAME} from {URL} and pass "
        f"--dinov2-weights PATH or set {ENV}"
    )


def preprocess(x: torch.Tensor) -> torch.Tensor:
    """EDM2's DINOv2 input: N x 3 x H x W uint8 -> float32 -> bicubic antialiased resize to 224 x 224
    -> / 255 -> ImageNet mean/std normalisation."""
    x = F.interpolate(x.to(torch.float32), size=(SIZE, SIZE), mode="bicubic", antialias=True)
    x = x.to(torch.float32) / 255
    x = x - torch.tensor(MEAN, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
    return x / torch.tensor(STD, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)


def download_weights() -> Path:
    """The official checkpoint in torch.hub's cache, downloaded there if missing (the place and name
    ``torch.hub.load_state_dict_from_url`` uses, so either finds the other's file)."""
    return hub_checkpoint(URL, None, offline_message, instead())  # no digest is published (see above)


@register_features("dinov2")
class Dinov2(FeatureExtractor):
    """DINOv2 ViT-L/14: the final-norm CLS token (1024-d), EDM2's preprocessing; no logits."""

    description = "DINOv2 ViT-L/14 CLS token (1024-d), EDM2's preprocessing: fid under it is FD_DINOv2; no IS"
    supported_kinds = ("image",)
    weights_option = "dinov2_weights"
    gives_logits = False  # the CLS token alone: the pretrained backbone has no classifier head
    fingerprint_covers_weights = True  # its file's content digest
    weights_env = ENV
    weights_url = URL  # no digest is published (weights_digest None)
    PREPROCESSING = (
        "uint8-png-rounding;grey-to-rgb;edm2-torch-bicubic-antialias-224;imagenet-mean-std;cls-token"
    )
    # 64 rows a call on the CPU: ViT-L/14 at 224 is ~60 GFLOPs an image, and a call of 500 held its
    # 500 x 16 x 257 x 257 attention weights (0.5 GB) beside 2 GB of 4096-wide MLP activations for
    # no speed; 64 rows keep a call near 0.4 GB
    cpu_rows = 64

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._model: VisionTransformer | None = None
        self._id: str | None = None

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...]:
        return (hub_checkpoints_dir(),)  # download_weights' folder

    def weights_path(self) -> Path | None:
        """The local weights file, if one was given (argument first, then the environment)."""
        return given_weights(self.weights, ENV)

    def feature_dim(self) -> int:
        return LARGE["embed_dim"]  # the CLS token's width, known without loading the 1.2 GB file

    def _path(self) -> Path:
        """The weights file: the one given (which must exist), else the cached or downloaded one."""
        return given_or_fetched(self.weights_path(), download_weights, "DINOv2", instead())

    def fingerprint(self) -> str:
        if self._id is None:
            # by content: no digest is published to name the downloaded file by
            self._id = _file_id(self._path())
        return f"dinov2-vitl14-{self._id}:{self.PREPROCESSING}"

    @property
    def model(self) -> VisionTransformer:
        if self._model is None:
            self._model = self._build().to(self.device)
        return self._model

    def _build(self) -> VisionTransformer:
        def read(path: Path) -> object:
            return torch.load(path, map_location="cpu", weights_only=True)

        given = self.weights_path() is not None
        return load_strict(
            vit_large_14(),
            self._path(),
            read,
            what="DINOv2",
            network="DINOv2 ViT-L/14",
            instead=instead(),
            given=given,
        )

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        model = self.model
        return model(preprocess(to_uint8(x, self.name))), None

    def info(self) -> dict[str, Any]:
        path = self.weights_path()
        return {
            "name": self.name,
            "fingerprint": self.checked_fingerprint(),
            "description": self.description,
            "network": "dinov2_vitl14",
            "preprocessing": "EDM2 DINOv2Detector (resize_mode='torch')",
            "weights": str(path) if path is not None else URL,
        }
