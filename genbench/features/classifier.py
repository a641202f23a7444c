"""A small CNN classifier trained on the dataset itself: features and logits for small images.

Inception-v3 features mean little on 8 x 8 digits, so, as is usual for MNIST-like data (e.g. the
Stacked-MNIST mode counts of VEEGAN and PacGAN, or the "FID with a domain classifier" of Lucic et
al. 2018), the embedded datasets use a classifier trained on their own train split. Features are
its penultimate layer, logits its last layer (for the Inception Score and the mode labels).

Training is seeded and runs on the CPU with deterministic operations only (no BatchNorm, no
adaptive pooling), so one machine trains the same weights every time, in seconds. Another CPU may
still train other weights (its float kernels round differently: the digits classifier reached 98.3%,
98.6% and 99.2% test accuracy on three 2-core VMs, from one config), and a feature extractor that
differs per machine makes FIDs incomparable across machines. So, like torch-fidelity's fixed
Inception weights, the weights for the embedded ``digits`` ship with genbench
(``weights/<weights key>.pt``, remade by ``python -m genbench.features.ship_classifier``) and are
used wherever the config matches. Other datasets (mnist, fashion-mnist) and other configs train on
first use and are cached in ``cache_dir / "classifiers" / <weights key>.pt``. The weights key hashes
the train data and the training config, so any change retrains; the fingerprint that results record
also hashes the weights in use: numbers from different classifiers never share a protocol.

For a dataset whose channels are each an example of another dataset (``stacked-digits`` exposes
``channel_dataset()``), the per-channel classifier is applied to each channel: features are the
three channels' features concatenated, logits the 1000-way log joint probability
``log p(a) + log p(b) + log p(c)`` of label ``100 a + 10 b + c``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import warnings
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from genbench.errors import GenbenchError
from genbench.features.base import FeatureExtractor, Features
from genbench.features.small_cnn import ClassifierConfig, SmallCNN, accuracy, one_thread, train_classifier
from genbench.io import FIX_CACHE, alone, atomic_write, took_over
from genbench.registry import register_features

if TYPE_CHECKING:
    from genbench.data.base import Dataset


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _load(path: Path, net: SmallCNN) -> dict[str, Any]:
    """Load ``path``'s weights into ``net``; return its metadata (held-out accuracy, examples, ...)."""
    from genbench.checkpoint import failed_crc

    payload = torch.load(path, map_location="cpu", weights_only=True)
    damaged = failed_crc(path)  # torch.load checks none: a flipped byte loaded other weights
    if damaged is not None:
        raise ValueError(f"{path} is corrupt ({damaged})")
    net.load_state_dict(payload["state_dict"])
    return dict(payload["meta"])


def made_on() -> dict[str, str | None]:
    """What trained weights depend on besides the config: the CPU's model, the instruction set that
    torch's CPU kernels use on it (``AVX2``, ``AVX512``...: they round differently, and one model
    name, "AMD EPYC" for one, covers CPUs with and without AVX-512) and torch's version (a ``str``,
    not torch's ``TorchVersion``, so that ``weights_only`` loading accepts it)."""
    from genbench.environment import machine

    facts = machine("cpu")
    return {"cpu": facts["cpu"], "cpu_capability": facts["cpu_capability"], "torch": str(torch.__version__)}


def fingerprint_of(weights_key: str, weights_sha256: str) -> str:
    """``classifier-<weights key>-<first 8 hex digits of the weights' sha256>``."""
    return f"classifier-{weights_key}-{weights_sha256[:8]}"


#: weights that ship with genbench, one file per weights key (see ``ship_classifier``)
SHIPPED_DIR = Path(__file__).parent / "weights"
#: the datasets whose default classifier ships: those embedded in a package (nothing to download);
#: ``stacked-digits`` applies the digits classifier to each channel, so it ships with it
SHIPPED_DATASETS = ("digits",)

#: trained nets by cache file, so repeated use (mode labels per result) costs nothing
_TRAINED: dict[str, tuple[SmallCNN, dict[str, Any]]] = {}
#: the attribute of a dataset object that holds its Classifier for Classifier.for_dataset
_FOR_DATASET = "_genbench_mode_classifier"


@register_features("classifier")
class Classifier(FeatureExtractor):
    """Penultimate-layer features and logits of a small CNN trained on the dataset's train split."""

    description = (
        "small CNN trained on the dataset's train split (weights shipped for digits and stacked-digits; "
        "trained on first use for other labelled datasets: mnist, fashion-mnist, cifar10)"
    )
    supported_kinds = ("image",)
    takes_weights = False  # shipped or trained here, never a file given by --inception-weights
    gives_logits = True  # its own classifier head

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...]:
        # its own weights, never a file given: the shipped ones (_source), else those trained here
        return (SHIPPED_DIR, cache_dir / "classifiers")

    def __init__(
        self,
        dataset: Dataset,
        *,
        cache_dir: Path,
        device: torch.device | str = "cpu",
        weights: Path | None = None,  # unused: the classifier ships or is trained, never downloaded
        batch_size: int = 256,
        config: ClassifierConfig | None = None,
        shipped: bool = True,  # use the weights shipped for this key; False trains (or loads) locally
    ):
        super().__init__(dataset, cache_dir=cache_dir, device=device, weights=None, batch_size=batch_size)
        self.config = config or ClassifierConfig()
        if dataset.kind != "image":
            raise GenbenchError(
                f"the classifier extractor handles images, not {dataset.kind} ({dataset.name!r}); use --features raw"
            )
        channel = getattr(dataset, "channel_dataset", None)
        #: the dataset the CNN is trained on (the per-channel dataset for stacked data)
        self.train_dataset: Dataset = channel() if callable(channel) else dataset
        self.stacked = callable(channel)
        self.shipped = shipped
        self._model: SmallCNN | None = None
        self._weights_key: str | None = None
        self._joint_accuracy: float | None = None

    @classmethod
    def for_dataset(cls, dataset: Dataset) -> Classifier:
        """The classifier of ``dataset`` (trained or loaded once; cached in memory) for mode labels.

        Kept on the dataset object, so that it goes with it: kept in a ``WeakKeyDictionary`` by
        dataset, it held its dataset (``self.dataset``) and so kept every one alive, with the splits
        it had loaded, and each Python API call that counted modes (a sweep's dozens) left its
        dataset in memory: half a MiB for digits, CIFAR-10's train split 154 MB."""
        clf = vars(dataset).get(_FOR_DATASET)
        if not isinstance(clf, cls):
            clf = cls(dataset, cache_dir=dataset.cache_dir)
            setattr(dataset, _FOR_DATASET, clf)
        return clf

    # -- cache key and training ---------------------------------------------------------------
    def weights_key(self) -> str:
        """Hash of the train data and the training config: names the cached weights."""
        if self._weights_key is None:
            blob = json.dumps(
                {
                    "arch": "small-cnn",
                    "config": dataclasses.asdict(self.config),
                    "data": self.train_dataset.name,
                    "data_fingerprint": self.train_dataset.fingerprint(),
                },
                sort_keys=True,
            )
            self._weights_key = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return self._weights_key

    def fingerprint(self) -> str:
        """``classifier-<weights key>-<hash of the trained weights>`` (trains or loads them)."""
        digest = self._trained()[1]["weights_sha256"]
        return fingerprint_of(self.weights_key(), digest) + ("-per-channel" if self.stacked else "")

    def feature_dim(self) -> int:
        # known from the config, without training: stacked data's channels each give their own
        channels = self.dataset.shape_spec().shape[0] if self.stacked else 1
        return self.config.feature_dim * channels

    def logits_dim(self) -> int | None:
        # the head's width as training sizes it (the train split's largest label + 1), from the labels
        # alone, without training: is_inf's default min_size (2 K) is then checked before any model
        # trains. Stacked data's logits are the joint over its channels' classes (K ** channels)
        y = self.train_dataset.load_labels("train")
        if y is None or not len(y):
            return None  # no classes: extraction itself names the fix
        k = int(y.max()) + 1
        return k ** self.dataset.shape_spec().shape[0] if self.stacked else k

    @property
    def path(self) -> Path:
        """Where weights trained on this machine are cached."""
        return self.weights_folders(self.cache_dir)[1] / f"{self.weights_key()}.pt"

    @property
    def shipped_path(self) -> Path:
        """Where genbench's own weights for this key would be (they exist for the default digits)."""
        return SHIPPED_DIR / f"{self.weights_key()}.pt"

    @cached_property
    def _source(self) -> Path:
        """The shipped weights when there are some for this key (even if the cache holds weights this
        machine trained from the same config: those are another feature extractor), else the cache.
        Looked up once per instance: every feature extraction asks."""
        return self.shipped_path if self.shipped and self.shipped_path.exists() else self.path

    def _ships(self) -> bool:
        """Whether genbench's own weights are this classifier's: the default config of a dataset
        whose classifier ships, not asked to train locally."""
        return (
            self.shipped and self.config == ClassifierConfig() and self.train_dataset.name in SHIPPED_DATASETS
        )

    def _train_split(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The train split, its labels and the number of classes (the dataset keeps its splits loaded)."""
        x, y = self.train_dataset.load("train")
        if y is None:
            raise GenbenchError(
                f"the classifier extractor needs class labels and {self.train_dataset.name!r} has none; "
                f"use --features inception"
            )
        return x, y, int(y.max()) + 1

    def train_to(self, path: Path, *, fix: str = FIX_CACHE) -> tuple[SmallCNN, dict[str, Any]]:
        """Train this config on the train split (seeded, one CPU thread) and write the weights with
        their metadata (held-out accuracy, examples, classes, where trained) to ``path`` atomically;
        ``fix`` names the remedy when it cannot be written; the cache (:attr:`path`) that cannot be
        written (a full disk) is warned about, and the net used uncached. Returns the net and the
        metadata."""
        x, y, num_classes = self._train_split()
        net = train_classifier(x, y, num_classes, self.config)
        # a dataset of one split has no held-out accuracy (it was a run's error, against the train split)
        xt, yt = self.train_dataset.load("test") if self.train_dataset.has_test_split else (None, None)
        meta = {
            "test_accuracy": accuracy(net, xt, yt) if xt is not None and yt is not None else float("nan"),
            "train_examples": int(len(x)),
            "num_classes": num_classes,
            "made_on": made_on(),
        }
        buf = io.BytesIO()
        torch.save({"state_dict": net.state_dict(), "meta": meta}, buf)
        try:
            atomic_write(path, lambda fh: fh.write(buf.getvalue()), fix=fix)
        except GenbenchError as e:
            if path != self.path:  # weights to ship: their write is the point
                raise
            # a full disk in the cache: the weights just trained were thrown away, and the run too
            _warn(f"the {self.train_dataset.name} classifier is used but not cached: {e}")
        return net, meta

    def _trained(self) -> tuple[SmallCNN, dict[str, Any]]:
        source = self._source
        key = str(source)
        if key in _TRAINED:
            return _TRAINED[key]
        x, _, num_classes = self._train_split()
        net = SmallCNN(
            x.shape[1], (x.shape[-2], x.shape[-1]), num_classes, self.config.width, self.config.feature_dim
        )
        meta: dict[str, Any] | None = None
        if source == self.path and self._ships():
            # an install without its weights file (or digits data that differ here) trained a
            # classifier per machine without a word: numbers no published digits board shares
            _warn(
                f"no classifier weights ship with this genbench for the {self.train_dataset.name} data "
                f"({self.shipped_path} is missing): using ones trained on this machine, so its FID, KID, "
                f"IS and mode counts are not comparable with the published boards; reinstall genbench"
            )
        if source != self.path:
            try:
                meta = _load(source, net)
            except Exception as e:  # never train a stand-in: it would be another feature extractor
                raise GenbenchError(
                    f"the classifier weights shipped with genbench are unreadable ({source}: "
                    f"{type(e).__name__}); reinstall genbench"
                ) from None
        else:
            meta = self._cached(net, quiet=True)  # unlocked: a read-only shared cache is read as it is
            if meta is None:
                # trained by one process at a time: two jobs sharing a cache each trained it, and on
                # two machines (whose kernels round differently) the last writer's weights replaced the
                # first's, so their results landed in two protocol rows; the others now wait and load
                who = f"the {self.train_dataset.name} classifier"
                with alone(
                    self.path.with_name(self.path.name + ".lock"), who, "training it", _warn
                ) as waited:
                    meta = self._cached(net, quiet=False)
                    if meta is None:
                        if waited:
                            took_over(who, "saving it", "training it", _warn)
                        net, meta = self.train_to(self.path)
        meta["weights"] = "shipped with genbench" if source != self.path else "trained on this machine"
        net.eval().requires_grad_(False)
        meta["weights_sha256"] = weights_digest(net)  # of the weights in use (a file's, or trained)
        _TRAINED[key] = (net, meta)
        return net, meta

    def _cached(self, net: SmallCNN, *, quiet: bool) -> dict[str, Any] | None:
        """The metadata of the weights cached at :attr:`path`, loaded into ``net``; None when absent,
        or when damaged (said unless ``quiet``: a damaged cache file is rebuilt, not fatal)."""
        if not self.path.exists():
            return None
        try:
            return _load(self.path, net)
        except Exception as e:
            if not quiet:
                _warn(f"retraining the classifier: {self.path} is unreadable ({type(e).__name__})")
            return None

    @property
    def model(self) -> SmallCNN:
        if self._model is None:
            net, _ = self._trained()
            self._model = net if self.device.type == "cpu" else copy.deepcopy(net).to(self.device)
        return self._model

    # -- features -----------------------------------------------------------------------------
    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float()
        want = tuple(self.dataset.spec.shape)
        if tuple(x.shape[1:]) != want:
            raise GenbenchError(
                f"classifier for {self.dataset.name!r} expects examples of shape {want}, got {tuple(x.shape[1:])}"
            )
        net = self.model
        if not self.stacked:
            return net(x)
        feats, logps = [], []
        for c in range(x.shape[1]):
            f, lg = net(x[:, c : c + 1])
            feats.append(f)
            logps.append(lg.log_softmax(1))
        joint = logps[0]
        for lp in logps[1:]:  # log p(a) + log p(b) + ..., index a * K^(m-1) + b * K^(m-2) + ...
            joint = (joint[:, :, None] + lp[:, None, :]).reshape(len(x), -1)
        return torch.cat(feats, 1), joint

    def extract(self, x: torch.Tensor, progress: Callable[[int, int], None] | None = None) -> Features:
        """As the base class, on one CPU thread when on the CPU (see ``_one_thread``)."""
        if self.device.type != "cpu":
            return super().extract(x, progress)
        with one_thread():
            return super().extract(x, progress)

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """Predicted class (for stacked data ``100 a + 10 b + c``) of each example, int64."""
        logits = self.extract(x).logits
        assert logits is not None
        return logits.argmax(1).astype(np.int64)

    def test_accuracy(self) -> float:
        """Held-out accuracy on the test split of the dataset itself (all channels right if stacked)."""
        _, meta = self._trained()
        if not self.stacked:
            return float(meta["test_accuracy"])
        if self._joint_accuracy is None:
            xt, yt = self.dataset.load("test") if self.dataset.has_test_split else (None, None)
            self._joint_accuracy = (
                float((self.predict(xt) == yt.numpy()).mean())
                if xt is not None and yt is not None
                else float("nan")
            )
        return self._joint_accuracy

    def info(self) -> dict[str, Any]:
        _, meta = self._trained()
        out = {
            "name": self.name,
            "fingerprint": self.checked_fingerprint(),
            "trained_on": self.train_dataset.name,
            "train_examples": meta["train_examples"],
            "test_accuracy": self.test_accuracy(),
            "config": dataclasses.asdict(self.config),
            "weights": meta["weights"],  # shipped with genbench, or trained on this machine
        }
        if meta.get("made_on"):  # where the weights were trained (absent from older cache files)
            out["made_on"] = meta["made_on"]
        if self.stacked:
            out["channel_test_accuracy"] = float(meta["test_accuracy"])
        return out


def weights_digest(net: nn.Module) -> str:
    """sha256 of a network's weights (every tensor of its state dict, in key order)."""
    h = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
