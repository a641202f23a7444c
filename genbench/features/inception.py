"""Inception-v3 features through torch-fidelity (Obukhov et al. 2020), the standard FID/IS network.

torch-fidelity's ``inception-v3-compat`` reproduces the TensorFlow Inception of the original FID
(Heusel et al. 2017) and Inception Score (Salimans et al. 2016) code: the 2048-d pool3 features
(FID, KID, precision/recall) and the 1008-way ``logits_unbiased`` (IS). It takes uint8 images and
resizes them to 299 x 299 itself (TF1-compatible bilinear).

Images in [-1, 1] are quantised exactly as when they are saved to PNG
(``floor(127.5 (x + 1) + 0.5)``, torchvision's ``save_image``), so samples evaluated in memory get
the same features as the same samples written to disk; grey images are repeated to three channels.

Weights: the ``weights`` argument (``--inception-weights``), else ``$GENBENCH_INCEPTION_WEIGHTS``,
else torch-fidelity's file in torch.hub's cache (``<torch hub dir>/checkpoints/``, where
torch-fidelity's own download puts it), else pytorch-fid's copy of the same file there
(``pt_inception-2015-12-05-6726825d.pth``, where ``pytorch_fid``'s download puts it; used only when
its sha256 starts with the digits both names carry), downloaded there if missing by genbench's downloader
(:mod:`genbench.features.fetch_weights`: resumed after a cut-off, once per cache however many runs
start together, and checked against the sha256 prefix its name carries, which torch-fidelity's
``load_state_dict_from_url`` call does not check) and handed to torch-fidelity as
``feature_extractor_weights_path``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genbench.data.digest import matches, sha256_prefix
from genbench.errors import GenbenchError
from genbench.features.base import FeatureExtractor
from genbench.features.fetch_weights import given_weights, hub_checkpoint, hub_checkpoints_dir, missing
from genbench.io import file_sha256
from genbench.registry import register_features

if TYPE_CHECKING:
    from genbench.data.base import Dataset

ENV = "GENBENCH_INCEPTION_WEIGHTS"
#: torch-fidelity's weights URL (torch_fidelity.feature_extractor_inceptionv3.URL_INCEPTION_V3)
URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
FILENAME = URL.rsplit("/", 1)[-1]
#: the first digits of the file's sha256, which its name carries (torch.hub's convention)
DIGEST = sha256_prefix(FILENAME.rsplit("-", 1)[-1].split(".")[0])
#: pytorch-fid's name for the same file (``pytorch_fid.inception.FID_WEIGHTS_URL``), which its own
#: download puts in the same torch.hub folder; the name carries the same sha256 digits
PYTORCH_FID_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
#: the width of the pool3 features, at any input size
POOL3_DIM = 2048
#: the width of its ``logits_unbiased`` layer (torch-fidelity's fc, 2048 -> 1008, as the 2015 TF graph's)
LOGITS_DIM = 1008
LAYERS = (str(POOL3_DIM), "logits_unbiased")


def to_uint8(x: torch.Tensor, features: str | None = None) -> torch.Tensor:
    """[-1, 1] float -> uint8 as saving a PNG does; grey -> three equal channels. ``features``: the
    extractor's name, which the error names (dinov2 converts with it too, not Inception alone)."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        who = f"the {features} features" if features else "these features"
        raise GenbenchError(f"{who} need N x 1 x H x W or N x 3 x H x W images, got {tuple(x.shape)}")
    u = torch.floor(127.5 * (x.float() + 1.0) + 0.5).clamp_(0, 255).to(torch.uint8)
    return u.repeat(1, 3, 1, 1) if u.shape[1] == 1 else u


def offline_message(reason: str, dataset: Dataset | None = None, reference_stats: Path | None = None) -> str:
    return (
        f"cannot get the Inception-v3 weights ({reason}); download {FILENAME} from {URL} "
        f"(pytorch-fid ships the same network as {PYTORCH_FID_FILENAME}) and pass "
        f"--inception-weights PATH or set {ENV} ({without_inception(dataset, reference_stats)})"
    )


def without_inception(dataset: Dataset | None = None, reference_stats: Path | None = None) -> str:
    """What an offline user can score with instead, named in both Inceptions' offline errors: the
    classifier only where the dataset declares classes, since it trains on them (a folder or file of
    images has none, and `--features classifier` there only says to use Inception). With
    ``--reference-stats`` (``reference_stats``), statistics of Inception features, other features
    only without that file: the classifier's or raw features cannot compare with them."""
    without = "without it"
    if reference_stats is not None:
        without += f" and without --reference-stats {reference_stats.name}, statistics of Inception features"
    if dataset is not None and dataset.num_modes is None:
        return (
            f"or score {without}: --features raw ({dataset.name!r} has no classes for --features "
            "classifier), whose FIDs do not compare with published Inception ones"
        )
    return (
        f"or score {without}: --features classifier (a CNN trained here on the train split) or "
        "raw, whose FIDs do not compare with published Inception ones"
    )


def instead() -> str:
    """How to give the weights by hand: the end of every error about them."""
    return f"pass {FILENAME} ({URL}) with --inception-weights PATH or set {ENV}"


def _file_id(path: Path) -> str:
    return file_sha256(path)[:8]


def download_weights(dataset: Dataset | None = None, reference_stats: Path | None = None) -> Path:
    """torch-fidelity's weights file in torch.hub's cache, downloaded there and verified if missing
    (``torch.hub.load_state_dict_from_url``'s place and name, so either finds the other's file); where
    only pytorch-fid's copy is there, that copy, once its content is checked to be the same file.
    Offline, the error names what ``dataset`` can be scored with instead (``reference_stats``: the
    ``--reference-stats`` file, which only Inception features compare with)."""
    folder = hub_checkpoints_dir()
    pytorch_fid = folder / PYTORCH_FID_FILENAME
    if not (folder / FILENAME).exists() and pytorch_fid.is_file() and _is_the_file(pytorch_fid):
        return pytorch_fid
    offline = partial(offline_message, dataset=dataset, reference_stats=reference_stats)
    return hub_checkpoint(URL, DIGEST, offline, instead())


def _is_the_file(path: Path) -> bool:
    """Whether ``path``'s sha256 starts with the digits torch-fidelity's file name carries: pytorch-fid
    never checks the digits in its file's name, so a file under that name is not trusted by its name."""
    try:
        return matches(DIGEST, file_sha256(path))
    except OSError:  # unreadable: left to the download, which names the fix
        return False


def _refuse_code(path: Path) -> None:
    """Refuse a weights file the user gave that holds more than tensors and plain values:
    torch-fidelity unpickles the file it is handed in full (``weights_only=False`` in 0.4; torch's
    default in 0.3, False before torch 2.6), so a pickle someone sent ran whatever it names. Loaded
    here first with ``weights_only``, whose refusal names what it would have run; a file it loads
    holds nothing torch-fidelity's load could run. (The downloaded file is checked against its
    digest instead.)"""
    import pickle

    from genbench.checkpoint import _refused

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise GenbenchError(
            f"cannot read Inception weights {path} ({e.strerror or e}); {instead()}"
        ) from None
    except Exception as e:
        refused = _refused(e, path) if isinstance(e, pickle.UnpicklingError) else None
        if refused is not None:
            what = f"holds {refused}, which genbench does not load (unpickling it could run code)"
        else:
            what = f"is not torch-fidelity's Inception-v3 weights ({type(e).__name__})"
        raise GenbenchError(f"{path} {what}; {instead()}") from None


@register_features("inception")
class Inception(FeatureExtractor):
    """torch-fidelity's Inception-v3 (``inception-v3-compat``): pool3 features, unbiased logits."""

    description = "Inception-v3 pool3 (2048-d) and logits via torch-fidelity (FID/IS standard)"
    supported_kinds = ("image",)
    fingerprint_covers_weights = True  # its file's content digest
    gives_logits = True  # torch-fidelity's logits_unbiased layer, from every weights file it loads
    weights_env = ENV
    weights_url = URL
    weights_digest = DIGEST  # the sha256 prefix its name carries
    PREPROCESSING = "uint8-png-rounding;grey-to-rgb;torch-fidelity-resize-299"
    # 64 rows a call on the CPU: at the default --batch-size 500, a call of 500 299 x 299 images held
    # 7.7 GB and ran 9.4 images/s, in calls of 64 2.0 GB and 12.4 images/s (random weights, 2-core
    # AVX-512 EPYC, torch 2.14.1; benchmarks/feature_speed.py), to the same features bit for bit
    cpu_rows = 64

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._model: torch.nn.Module | None = None
        self._id: str | None = None

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...]:
        return (hub_checkpoints_dir(),)  # download_weights' folder

    def weights_path(self) -> Path | None:
        """The local weights file, if one was given (argument first, then the environment)."""
        return given_weights(self.weights, ENV)

    def _checked_path(self) -> Path | None:
        path = self.weights_path()
        if path is not None and not path.is_file():
            raise GenbenchError(f"Inception weights {path} {missing(path)}; {instead()}")
        return path

    def fingerprint(self) -> str:
        if self._id is None:
            path = self._checked_path()
            # local files are identified by content, so renaming a file does not invalidate caches
            self._id = _file_id(path) if path is not None else FILENAME.rsplit("-", 1)[-1].split(".")[0]
        return f"torch-fidelity-inception-v3-compat-{self._id}:{self.PREPROCESSING}"

    def feature_dim(self) -> int:
        return POOL3_DIM

    def logits_dim(self) -> int:
        return LOGITS_DIM

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            self._model = self._build().to(self.device)
        return self._model

    def _build(self) -> torch.nn.Module:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        given = self._checked_path()
        if given is not None:
            _refuse_code(given)
        path = given or download_weights(self.dataset, self.reference_stats)
        try:
            # eval(): torch-fidelity 0.3 leaves the network in training mode (its own metrics call
            # eval() on it), where BatchNorm normalises by each batch's statistics: features that
            # depended on the batch size and on the other images in the batch
            return FeatureExtractorInceptionV3(
                "inception-v3-compat",
                list(LAYERS),
                feature_extractor_weights_path=str(path),
            ).eval()
        except OSError as e:
            raise GenbenchError(f"cannot read Inception weights {path} ({e}); {instead()}") from None
        except Exception as e:
            raise GenbenchError(
                f"{path} is not torch-fidelity's Inception-v3 weights ({type(e).__name__}); "
                f"delete it or {instead()}"
            ) from None

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, logits = self.model(to_uint8(x, self.name))
        return features, logits

    def info(self) -> dict[str, Any]:
        path = self.weights_path()
        return {
            "name": self.name,
            "fingerprint": self.checked_fingerprint(),
            "backend": "torch-fidelity",
            "network": "inception-v3-compat",
            "layers": list(LAYERS),
            "weights": str(path) if path is not None else URL,
        }
