"""The dataset contract.

Every dataset gives ``train`` and ``test`` splits as float tensors in a fixed range (images in
[-1, 1] as N x C x H x W, points as N x D), declares its shape, number of modes, default feature
extractor, and how to label a sample's mode (for the mode-collapse diagnostics).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from genbench.api import DataSpec

Split = Literal["train", "test"]


def default_data_dir() -> Path:
    """Where downloaded datasets live: ``$GENBENCH_DATA`` or ``~/.cache/genbench/data``."""
    return Path(os.environ.get("GENBENCH_DATA") or Path.home() / ".cache" / "genbench" / "data")


def default_cache_dir() -> Path:
    """Where derived artefacts live (classifiers, reference statistics, checkpoints)."""
    return Path(os.environ.get("GENBENCH_CACHE") or Path.home() / ".cache" / "genbench")


class Dataset(ABC):
    """Base class of every dataset.

    ``load(split)`` returns ``(x, labels)``: ``x`` a float32 tensor in the data range, ``labels`` an
    int64 tensor of mode labels (class ids, mixture components) or ``None`` when unknown.
    """

    kind: ClassVar[Literal["image", "points"]] = "image"
    #: the registered feature extractor used when the user names none
    default_features: ClassVar[str] = "inception"
    #: number of known modes (classes, mixture components); None when unknown
    num_modes: ClassVar[int | None] = None
    #: modes are the classes that this dataset's classifier (:mod:`genbench.features.classifier`,
    #: trained on its train split) predicts; stacked-digits: 100 a + 10 b + c, one digit per channel
    classifier_labels_modes: ClassVar[bool] = False
    #: True when data must be fetched on first use
    downloads: ClassVar[bool] = False
    #: one-line description for `genbench list datasets`
    description: ClassVar[str] = ""
    registered_name: ClassVar[str] = ""

    def __init__(self, data_dir: Path | None = None, cache_dir: Path | None = None):
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._splits: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    @property
    def name(self) -> str:
        return self.registered_name or type(self).__name__.lower()

    @abstractmethod
    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Load one split; raise :class:`genbench.errors.DataError` with the fix when unavailable."""

    def load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        if split not in ("train", "test"):
            from genbench.errors import GenbenchError

            raise GenbenchError(f"unknown split {split!r}; use 'train' or 'test'")
        if split not in self._splits:
            self._splits[split] = self._load(split)
        return self._splits[split]

    @cached_property
    def spec(self) -> DataSpec:
        x, _ = self.load("train")
        return DataSpec(
            name=self.name,
            kind=self.kind,
            shape=tuple(x.shape[1:]),
            value_range=(-1.0, 1.0) if self.kind == "image" else None,
            num_train=int(x.shape[0]),
            num_modes=self.num_modes,
        )

    def label_modes(self, x: torch.Tensor) -> np.ndarray | None:
        """Mode label (int in [0, num_modes)) of each example of ``x``; None if modes are unknown.

        Image datasets label with their classifier (``classifier_labels_modes``); 2D mixtures
        override this with the nearest mean.
        """
        if not self.classifier_labels_modes:
            return None
        from genbench.features.classifier import Classifier

        return Classifier.for_dataset(self).predict(x)

    def mode_labeller(self) -> str | None:
        """The fingerprint of the trained model :meth:`label_modes` uses, recorded in the protocol of
        results whose metrics used mode labels (its weights, like any trained classifier's, may differ
        between machines); None when the labels are exact (a nearest mean) or modes are unknown."""
        if not self.classifier_labels_modes:
            return None
        from genbench.features.classifier import Classifier

        return Classifier.for_dataset(self).fingerprint()

    def fingerprint(self) -> str:
        """Identifies the data (name + split sizes + a content hash) for cache keys."""
        import hashlib

        h = hashlib.sha256(self.name.encode())
        for split in ("train", "test"):
            x, _ = self.load(split)
            h.update(str(tuple(x.shape)).encode())
            h.update(x[: min(len(x), 256)].numpy().tobytes())
        return h.hexdigest()[:16]
