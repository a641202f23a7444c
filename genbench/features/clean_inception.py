"""Inception-v3 features with clean-fid's "clean" preprocessing (Parmar et al. 2022, "On Aliased
Resizing and Surprising Subtleties in GAN Evaluation").

clean-fid resizes every image to 299 x 299 with PIL's antialiased bicubic filter on float values
(``cleanfid.resize.make_resizer("PIL", False, "bicubic", (299, 299))``, what its ``clean`` mode
builds) before the network, instead of the network's own aliasing bilinear resize, and runs the
TorchScript Inception of StyleGAN2-ADA (``inception-2015-12-05.pt``), normalising ``(x - 128) / 128``
and taking its 2048-d pool features, exactly as ``cleanfid.inception_torchscript.InceptionV3W``.

Images in [-1, 1] are first quantised to uint8 as when saved to PNG (see
:func:`genbench.features.inception.to_uint8`), so that features match clean-fid's on the PNG
files of the same samples. Logits (for IS) are ``features @ output.weight.T`` when the TorchScript
module exposes its ``output`` layer (the unbiased logits, as torch-fidelity's IS uses), else None.

Weights: ``$GENBENCH_CLEAN_INCEPTION_WEIGHTS``, else the ``weights`` argument, else clean-fid's
own cached copy (``/tmp/inception-2015-12-05.pt``), else ``cache_dir/weights``, downloaded there if
missing by genbench's downloader (:mod:`genbench.features.fetch_weights`: resumed after a cut-off,
once per cache however many runs start together). Neither clean-fid nor StyleGAN2-ADA (whose file
it is) publishes a digest of it, so what is checked is what can be: the download is whole (its
Content-Length) and no web page, and the file loads as TorchScript with clean-fid's ``layers``; a
downloaded file that does not is named to be deleted, so that the next run downloads it again.
The tests check the preprocessing against clean-fid's functions and run the pipeline through a
stand-in TorchScript module; a pass through the real network needs the 95 MB TorchScript file,
which the offline test machines do not have.
"""

from __future__ import annotations

import functools
import os
import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from genbench.errors import GenbenchError
from genbench.features.base import FeatureExtractor
from genbench.features.fetch_weights import fetch_weights, missing
from genbench.features.inception import POOL3_DIM, _file_id, to_uint8, without_inception
from genbench.registry import register_features

if TYPE_CHECKING:
    from genbench.data.base import Dataset

ENV = "GENBENCH_CLEAN_INCEPTION_WEIGHTS"
#: clean-fid's URL (cleanfid.downloads_helper.inception_url)
URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
FILENAME = "inception-2015-12-05.pt"
#: where clean-fid itself caches the file (cleanfid.features.feature_extractor); tests monkeypatch it
CLEANFID_CACHE_DIRS = [Path("/tmp")]


def instead() -> str:
    """The fix every error names: a local copy of the file."""
    return f"pass {FILENAME} ({URL}) with --inception-weights PATH or set {ENV}"


def offline_message(reason: str, dataset: Dataset | None = None, reference_stats: Path | None = None) -> str:
    return (
        f"cannot get clean-fid's Inception TorchScript ({reason}); download {FILENAME} from {URL} and "
        f"pass --inception-weights PATH or set {ENV} ({without_inception(dataset, reference_stats)})"
    )


def _trusted(path: Path) -> bool:
    """Whether clean-fid's cached file at ``path`` is the user's to load: /tmp is every user's, and
    a file there that another user owns (root aside), or that anyone may write, is no one's cache to
    trust (TorchScript is code; no digest is published to check it by). Said, with the fix."""
    if os.name != "posix":
        return True
    try:
        st = path.stat()
    except OSError:
        return False
    owner_ok = st.st_uid in (os.geteuid(), 0)
    if owner_ok and not st.st_mode & 0o002:
        return True
    _passed_over(path, "another user's" if not owner_ok else "writable by every user")
    return False


@functools.cache
def _passed_over(path: Path, why: str) -> None:
    """Warn that clean-fid's cached file at ``path`` is not loaded, once a process: the weights are
    looked for by the fingerprint, then by the network, and the same line came twice."""
    warnings.warn(
        f"{path} is {why}, in a folder every user of the machine writes: not loaded as clean-fid's "
        "Inception (genbench's copy under --cache-dir is, downloaded if missing); pass it with "
        "--inception-weights PATH if you trust it",
        stacklevel=4,
    )


def clean_resize(x: torch.Tensor) -> torch.Tensor:
    """clean-fid's ``clean`` preprocessing: uint8 (as PNG) -> PIL bicubic to 299 -> float N x 3 x 299 x 299 in [0, 255]."""
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    u = (
        to_uint8(x.cpu(), "clean-inception").permute(0, 2, 3, 1).numpy()
    )  # N x H x W x 3, what clean-fid reads from PNGs
    out = np.stack([resize(img) for img in u])  # N x 299 x 299 x 3 float32
    return torch.from_numpy(out.transpose(0, 3, 1, 2).copy())


@register_features("clean-inception")
class CleanInception(FeatureExtractor):
    """clean-fid's Inception-v3 TorchScript with its antialiased (PIL bicubic) resizing."""

    description = "Inception-v3 (StyleGAN2 TorchScript) with clean-fid's PIL-bicubic 'clean' resizing"
    supported_kinds = ("image",)
    fingerprint_covers_weights = True  # its file's content digest
    # unknown until the TorchScript file is loaded: its logits are those of its `output` layer, which
    # a file given by --inception-weights may lack (the metrics of logits then find out late)
    gives_logits = None
    weights_env = ENV
    weights_url = URL  # no digest is published (weights_digest None)
    PREPROCESSING = "uint8-png-rounding;grey-to-rgb;cleanfid-clean-pil-bicubic-299"
    # 64 rows a call on the CPU: at the default --batch-size 500, a call of 500 299 x 299 images held
    # 7.7 GB and ran 9.4 images/s, in calls of 64 2.0 GB and 12.4 images/s (random weights, 2-core
    # AVX-512 EPYC, torch 2.14.1; benchmarks/feature_speed.py), to the same features bit for bit
    cpu_rows = 64

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._model: torch.jit.ScriptModule | None = None
        self._id: str | None = None

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...]:
        # weights_path's order: clean-fid's own cache, then genbench's (where it downloads)
        return (*CLEANFID_CACHE_DIRS, cache_dir / "weights")

    def weights_path(self) -> Path:
        """Local TorchScript file (environment, argument, clean-fid's cache), downloading if none.

        ``$GENBENCH_CLEAN_INCEPTION_WEIGHTS`` wins over the argument because the runner passes
        ``--inception-weights`` (usually torch-fidelity's file) to every extractor.
        """
        from_env = bool(os.environ.get(ENV))
        given = Path(os.environ[ENV]).expanduser() if from_env else self.weights
        if given is not None:
            if not given.is_file():
                # the variable wins over the flag: naming the flag as the fix could never work
                how = (
                    f"fix or unset ${ENV} (it wins over --inception-weights)"
                    if from_env
                    else f"pass it with --inception-weights PATH or ${ENV}"
                )
                raise GenbenchError(
                    f"clean-fid Inception file {given} {missing(given)}; {how}: {FILENAME} ({URL})"
                )
            return given
        # the folders genbench list features names, in that order: the last is where it downloads
        *found_in, download_to = self.weights_folders(self.cache_dir)
        for d in found_in:
            if (d / FILENAME).is_file() and _trusted(d / FILENAME):
                return d / FILENAME
        # no digest to check it against: none is published (see the module's docstring)
        writable = f"choose a writable directory with --cache-dir, or {instead()}"
        offline = partial(offline_message, dataset=self.dataset, reference_stats=self.reference_stats)
        return fetch_weights(URL, download_to, None, offline, instead(), writable)

    def _given(self) -> bool:
        """Whether the weights file is the user's (variable or argument), not one found or downloaded."""
        return bool(os.environ.get(ENV)) or self.weights is not None

    def fingerprint(self) -> str:
        if self._id is None:
            self._id = _file_id(self.weights_path())
        return f"clean-fid-inception-torchscript-{self._id}:{self.PREPROCESSING}"

    def feature_dim(self) -> int:
        return POOL3_DIM  # clean-fid's pool features, the same layer as torch-fidelity's

    @property
    def model(self) -> torch.jit.ScriptModule:
        if self._model is None:
            path = self.weights_path()
            try:
                with warnings.catch_warnings():  # clean-fid's network exists only as TorchScript
                    warnings.filterwarnings("ignore", message=".*jit.*deprecated", category=FutureWarning)
                    self._model = torch.jit.load(str(path), map_location=self.device).eval()
            except Exception as e:
                raise GenbenchError(
                    f"{path} is not clean-fid's Inception TorchScript ({type(e).__name__}); {self._fix()}"
                ) from None
            if not hasattr(self._model, "layers"):
                self._model = None
                raise GenbenchError(
                    f"{path} has no 'layers' module: not clean-fid's {FILENAME}; {self._fix()}"
                )
        return self._model

    def _fix(self) -> str:
        # a cached or downloaded file (no digest to check it by) is deleted so that a rerun
        # downloads it: without that, the file of the final name was never downloaded again
        return instead() if self._given() else f"delete it to download it again, or {instead()}"

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        model = self.model
        resized = clean_resize(x).to(self.device)
        # as cleanfid.inception_torchscript.InceptionV3W.forward with resize_inside=False
        features = model.layers.forward((resized - 128) / 128).view(len(x), POOL3_DIM)
        output = getattr(model, "output", None)
        logits = features @ output.weight.T if output is not None and hasattr(output, "weight") else None
        return features, logits

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": self.checked_fingerprint(),
            "backend": "clean-fid",
            "network": FILENAME,
            "resize": "clean (PIL bicubic, 299)",
        }
