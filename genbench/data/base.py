"""The dataset contract.

Every dataset gives ``train`` and ``test`` splits as float tensors in a fixed range (images in
[-1, 1] as N x C x H x W, points as N x D), declares its shape, number of modes, default feature
extractor, and how to label a sample's mode (for the mode-collapse diagnostics).

An image dataset may hold its 8-bit images as uint8 (its ``_load`` returns them so; ``--dataset
DIR``, ``--dataset FILE.npz``, cifar10, mnist and fashion-mnist do), a quarter of float32's memory:
``load`` converts them on each call (``v / 127.5 - 1``, as ``genbench eval``'s samples are
converted), and what needs only the features, the shape, the count or the digest reads them as
stored (:meth:`Dataset.load_stored`).
"""

from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from genbench.api import DataSpec
from genbench.config import Split as Split  # re-exported: the type a dataset plugin's load takes
from genbench.workdir import absolute


def default_data_dir() -> Path:
    """Where downloaded datasets live: ``$GENBENCH_DATA`` or ``~/.cache/genbench/data``."""
    # expanded: a quoted GENBENCH_DATA='~/data' made a directory named "~" in the working directory
    # absolute: a relative GENBENCH_DATA named another folder once a plugin had changed directory
    return absolute(
        Path(os.environ.get("GENBENCH_DATA") or Path.home() / ".cache" / "genbench" / "data").expanduser()
    )


def default_cache_dir() -> Path:
    """Where derived artefacts live (classifiers, reference statistics, checkpoints)."""
    # absolute, as the run's paths are made (genbench.config.absolute_paths): a relative GENBENCH_CACHE
    # named another folder for a checkpoint saved while a plugin's fit had changed directory
    return absolute(
        Path(os.environ.get("GENBENCH_CACHE") or Path.home() / ".cache" / "genbench").expanduser()
    )


#: values :func:`all_finite` checks at once: 16 MB of float32
_FINITE_VALUES = 1 << 22


def value_range(kind: str) -> tuple[float, float] | None:
    """The range a dataset's values lie in, by its kind: images are in [-1, 1] (the contract
    :class:`DataSpec` states), points are unbounded (None)."""
    return (-1.0, 1.0) if kind == "image" else None


def all_finite(x: torch.Tensor) -> bool:
    """``torch.isfinite(x).all()`` for ``x`` of one or more rows, a few million values at a time:
    over a whole split, isfinite's temporaries (an ``abs()`` copy and two masks) held 1.65 times the
    split at once (1.2 GB for a folder of 4000 128 x 128 images, 750 MB as float32)."""
    rows = max(1, _FINITE_VALUES // max(1, x[0].numel()))
    return all(bool(torch.isfinite(part).all()) for part in x.split(rows))


def _channels_last(x: torch.Tensor, declared: tuple[int, ...] | None) -> str | None:
    """What is wrong with images ``x`` that look N x H x W x C (as numpy and PIL lay them out), with
    the fix; None otherwise, and where the class declares that very shape as ``example_shape``. Taken
    as N x C x H x W, 32 x 32 RGB images were 32 channels of 32 x 3 pixels, run without a word."""
    if x.shape[1] in (1, 3) or x.shape[-1] not in (1, 3) or tuple(x.shape[1:]) == declared:
        return None
    return (
        f"x of shape {tuple(x.shape)}, which looks N x H x W x C (images are N x C x H x W: "
        "x.permute(0, 3, 1, 2))"
    )


def _range_problem(x: torch.Tensor) -> str | None:
    """What is wrong with float images ``x``'s range, with the fix, or None. Images with no value below
    0 were made in [0, 1] (torchvision's ``ToTensor``): they passed, and every model trained on them
    then failed, blamed for samples "made in [0, 1]" (copy's are the data's own examples)."""
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.001 or hi > 1.001:
        looks = " (as [0, 255]: x / 127.5 - 1, or keep them uint8)" if lo >= -0.001 and hi > 2 else ""
        return f"images in [{lo:.3g}, {hi:.3g}]{looks}"
    if lo >= 0:
        return f"images in [{lo:.3g}, {hi:.3g}], none below 0, as images made in [0, 1] are (x * 2 - 1)"
    return None


class Dataset(ABC):
    """Base class of every dataset.

    ``load(split)`` returns ``(x, labels)``: ``x`` a float32 tensor in the data range, ``labels`` an
    int64 tensor of mode labels (class ids, mixture components) or ``None`` when unknown.
    ``_load`` of an image dataset may return ``x`` as uint8 N x C x H x W in [0, 255] instead.
    """

    kind: ClassVar[Literal["image", "points"]] = "image"
    #: the registered feature extractor used when the user names none
    default_features: ClassVar[str] = "inception"
    #: number of known modes (classes, mixture components); None when unknown
    num_modes: ClassVar[int | None] = None
    #: modes are the classes that this dataset's classifier (:mod:`genbench.features.classifier`,
    #: trained on its train split) predicts; stacked-digits: 100 a + 10 b + c, one digit per channel
    classifier_labels_modes: ClassVar[bool] = False
    #: the shape of one example, (C, H, W) or (D,), where it is known without reading the data:
    #: `genbench eval` against --reference-stats then checks samples against it and never reads the
    #: data (a downloaded dataset need not be there). Checked against the data whenever it is read.
    example_shape: ClassVar[tuple[int, ...] | None] = None
    #: the number of examples of each split, where it is known without reading the data (the
    #: official files' counts, which their checksums fix; a generated split's size): what `genbench
    #: list datasets NAME` shows, which never reads the data; None: not known until loaded. Shown,
    #: not enforced: the tests' small stand-ins for the official files hold other counts
    split_sizes: ClassVar[dict[Split, int] | None] = None
    #: whether its files are downloaded on first use (into the first of :meth:`data_folders`);
    #: None: not declared
    downloads: ClassVar[bool | None] = None
    #: whether it has a test split. A dataset of one split (every example its train split) declares
    #: False: its fingerprint hashes the train split alone and the test split is refused in one line
    #: (the fingerprint read both, so a plugin raising DataError for its test split failed every run)
    has_test_split: ClassVar[bool] = True
    #: one-line description for `genbench list datasets`
    description: ClassVar[str] = ""
    registered_name: ClassVar[str] = ""

    def __init__(self, data_dir: str | Path | None = None, cache_dir: str | Path | None = None):
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._splits: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._digests: dict[str, str] = {}

    @classmethod
    def declaration_problem(cls) -> str | None:
        """What is wrong with the class's declarations (checked at registration), or None."""
        from genbench.registration_checks import KINDS, kind_fix

        if cls.kind not in KINDS:
            return f"declares kind = {cls.kind!r}; {kind_fix(cls.kind)}"
        if not isinstance(cls.default_features, str) or not cls.default_features:
            return (
                f"declares default_features = {cls.default_features!r}; name a registered feature "
                "extractor (see `genbench list features`)"
            )
        shape, dims = cls.example_shape, 3 if cls.kind == "image" else 1
        if shape is not None and not (
            isinstance(shape, tuple)
            and len(shape) == dims
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        ):
            like = "(3, 32, 32)" if cls.kind == "image" else "(2,)"
            return f"declares example_shape = {shape!r}; give {cls.kind} data's shape of one example, e.g. {like}, or None"
        sizes = cls.split_sizes
        if sizes is not None and not (
            isinstance(sizes, dict)
            and set(sizes) <= {"train", "test"}
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes.values())
        ):
            return (
                f"declares split_sizes = {sizes!r}; map 'train' and 'test' to their numbers of examples, "
                "e.g. {'train': 50000, 'test': 10000}, or None"
            )
        # bools, as a metric's runs_by_default and a model's conditional are: 0, 1 and numpy's bools
        # passed `in (True, False)`, and were listed as given
        if not isinstance(cls.has_test_split, bool):
            return f"declares has_test_split = {cls.has_test_split!r}; use True or False"
        if not cls.has_test_split and sizes and "test" in sizes:  # `list datasets` showed "none"
            return (
                f"declares has_test_split = False and a test split of {sizes['test']} examples in "
                "split_sizes; drop one of the two"
            )
        if cls.downloads is not None and not isinstance(cls.downloads, bool):
            return f"declares downloads = {cls.downloads!r}; use True, False or None (not declared)"
        if not isinstance(cls.classifier_labels_modes, bool):  # "no" had its classifier label the modes
            return f"declares classifier_labels_modes = {cls.classifier_labels_modes!r}; use True or False"
        return None

    @classmethod
    def data_folders(cls, data_dir: Path) -> tuple[Path, ...] | None:
        """The folders under ``data_dir`` (``--data-dir``) that its files are looked for in, in the
        order they are read from (a download goes into the first): what `genbench list datasets
        NAME` shows. ``()`` where it reads no files (made in code, or shipped in a package); None
        (the default) where the dataset does not say. The built-in datasets' ``_load`` reads its
        folders from here, so the listing cannot drift from where they look."""
        return None

    @property
    def name(self) -> str:
        return self.registered_name or type(self).__name__.lower()

    @abstractmethod
    def _load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Load one split; raise :class:`genbench.errors.DataError` with the fix when unavailable."""

    def load(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, labels)`` of ``split``: ``x`` float32 in the data range, whatever the dataset stores."""
        x, labels = self._shared(split)
        if x.dtype == torch.uint8:
            # converted on every call, never cached: a kept float copy would be the 4 bytes per value
            # that storing uint8 saves (7.9 GB for ADM's 10000 ImageNet-256 reference images, not 2)
            from genbench.data.folder import float_samples

            return float_samples(x), self._handed_out(labels)
        if self._hands_out_copies:
            return x.clone(), self._handed_out(labels)
        return x, labels

    def load_stored(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``split`` as the dataset holds it: :meth:`load`'s values, or the uint8 images they are
        converted from (an image folder's or archive's 8-bit images). For what needs no float pixels:
        feature extraction (which converts batch by batch), counts, shapes and digests. Read-only, as
        ``load``'s own split is; copies on a metric's view (:meth:`handing_out_copies`), as ``load``'s."""
        x, labels = self._shared(split)
        if self._hands_out_copies:
            return x.clone(), self._handed_out(labels)
        return x, labels

    def _handed_out(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        return labels.clone() if labels is not None and self._hands_out_copies else labels

    # load_labels and load_examples: named after load, not "labels" or "examples", which a plugin
    # dataset may already use for an attribute of its own (its class names)
    def load_labels(self, split: Split) -> torch.Tensor | None:
        """The mode labels of ``split`` as ``load`` hands them out, or None when unknown, without
        copying its examples: read through ``load`` on a metric's copying view, the reference labels
        of CIFAR-10's train split cost a 614 MB copy of its images, once per model."""
        return self._handed_out(self._shared(split)[1])

    def load_examples(self, split: Split, index: np.ndarray | list[int]) -> torch.Tensor:
        """The examples at row numbers ``index`` (integers) of ``split``, N x ..., a copy of those rows
        alone (the nearest training examples that the memorization figure shows, without a copy of
        the whole split)."""
        rows = np.atleast_1d(np.asarray(index))  # one number too: a 0-d index gave a view, not a copy
        if rows.size and not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(f"load_examples takes integer row numbers, got {rows.dtype}")
        from genbench.data.folder import float_samples

        return float_samples(self._shared(split)[0][torch.as_tensor(rows, dtype=torch.long)])

    def _shared(self, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The one loaded copy of ``split``, loaded and checked on first use."""
        if split not in ("train", "test"):
            from genbench.errors import GenbenchError

            raise GenbenchError(f"unknown split {split!r}; use 'train' or 'test'")
        if split == "test" and not self.has_test_split:
            from genbench.errors import DataError

            raise DataError(self.test_split_refusal())
        if split not in self._splits:
            self._splits[split] = self._checked(split, self._load_or_name_the_plugin(split))
        return self._splits[split]

    def test_split_refusal(self) -> str:
        """The one line that refuses the test split of a dataset of one split (``has_test_split =
        False``): what the dataset is and that it has no test split. A subclass says it in its own
        words where it has better ones (an image folder names its path and its one split)."""
        # no fix named: the reference split's is build_dataset's; a metric reading the test split
        # (cas, memorization's held-out rate) of a run against the train split was told to use it
        return f"dataset {self.name!r} has no test split (it declares has_test_split = False)"

    #: set on the view that :meth:`handing_out_copies` returns
    _hands_out_copies: bool = False

    @property
    def hands_out_copies(self) -> bool:
        """Whether :meth:`load` returns copies of the splits (a metric's ``ctx.dataset``)."""
        return self._hands_out_copies

    def handing_out_copies(self) -> Dataset:
        """This dataset, sharing its loaded splits, whose ``load`` returns copies of them: a metric's
        ``ctx.dataset``. ``ctx.dataset.load("train")[0].add_(5)`` in one metric wrote into the one copy
        that every later metric and model read (the next model's FID 0.02 -> 51, copy's memorized
        samples no longer found)."""
        view = copy.copy(self)
        view._hands_out_copies = True
        return view

    def _load_or_name_the_plugin(self, split: Split) -> object:
        """``_load``; its own bug (not a DataError naming a missing file) is one line naming the plugin."""
        from genbench.resolve import call_plugin  # imported here: resolve imports this module

        return call_plugin(
            "dataset", self.name, f"raised {{error}} loading its {split} split", lambda: self._load(split)
        )

    def _checked(self, split: Split, loaded: object) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``_load``'s result when it keeps the contract, else one error naming the dataset (a plugin's
        numpy arrays were an AttributeError traceback; images in [0, 255] were trained on silently)."""
        from genbench.errors import PluginOutputError

        image = self.kind == "image"
        shape = "N x C x H x W in [-1, 1] (or uint8 in [0, 255])" if image else "N x D"
        fix = (
            f"return (x, labels): x a float32 tensor {shape}, labels an int64 tensor of N mode labels or None"
        )
        who = f"dataset {self.name!r} returned"
        if not (isinstance(loaded, tuple) and len(loaded) == 2):
            raise PluginOutputError(f"{who} {type(loaded).__name__} from _load({split!r}); {fix}")
        x, labels = loaded
        # 8-bit images as stored (load converts them): every uint8 value is a pixel, finite and in range
        stored_uint8 = image and isinstance(x, torch.Tensor) and x.dtype == torch.uint8
        problem = None
        if not isinstance(x, torch.Tensor):
            problem = f"x of type {type(x).__name__}"
        elif x.dtype != torch.float32 and not stored_uint8:
            problem = f"x of dtype {x.dtype}"
        elif x.dim() != (4 if image else 2) or not len(x):
            problem = f"x of shape {tuple(x.shape)}"
            if split == "test" and not len(x):
                problem += " (a dataset without a test split declares has_test_split = False)"
        elif image and (layout := _channels_last(x, self.example_shape)):
            problem = layout
        elif not stored_uint8 and not all_finite(x):
            problem = "x holding NaN or inf"
        elif self.example_shape is not None and tuple(x.shape[1:]) != tuple(self.example_shape):
            problem = (
                f"examples of shape {tuple(x.shape[1:])} (it declares example_shape = {self.example_shape})"
            )
        elif image and not stored_uint8 and (values := _range_problem(x)):
            problem = values
        elif labels is not None and not isinstance(labels, torch.Tensor):
            problem = f"labels of type {type(labels).__name__}"
        elif labels is not None and (labels.dtype != torch.int64 or tuple(labels.shape) != (len(x),)):
            problem = f"labels of dtype {labels.dtype} and shape {tuple(labels.shape)} for {len(x)} examples"
        if problem:
            raise PluginOutputError(f"{who} {problem} from _load({split!r}); {fix}")
        # detached: data is a float tensor and needs no graph; one that required grad was a traceback
        # ("Can't call numpy() on Tensor that requires grad") when hashed, naming no plugin. On the
        # CPU: a plugin that loaded its data onto the GPU failed the same way ("can't convert cuda:0
        # device type tensor to numpy"); the harness moves the train split to the run's device itself
        return x.detach().cpu(), (labels.cpu() if labels is not None else None)

    @cached_property
    def spec(self) -> DataSpec:
        x, _ = self.load_stored("train")  # the shape and count alone: no float copy of the images
        return DataSpec(
            name=self.name,
            kind=self.kind,
            shape=tuple(x.shape[1:]),
            value_range=value_range(self.kind),
            num_train=int(x.shape[0]),
            num_modes=self.num_modes,
        )

    def shape_spec(self) -> DataSpec:
        """:attr:`spec` when the data need not be read for it: from :attr:`example_shape` where that is
        declared (``num_train`` then 0: unknown), else :attr:`spec`, which reads the train split."""
        if self.example_shape is None or "spec" in self.__dict__:
            return self.spec
        return DataSpec(
            name=self.name,
            kind=self.kind,
            shape=tuple(self.example_shape),
            value_range=value_range(self.kind),
            num_train=0,
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

    def content_digest(self, split: Split) -> str:
        """A hash of every value of ``split`` (its shape, examples and labels), for what must never be
        reused on changed data: the reference-feature cache and trained checkpoints."""
        import hashlib

        if split not in self._digests:
            x, labels = self.load_stored(split)
            h = hashlib.blake2b(str(tuple(x.shape)).encode(), digest_size=10)
            # the arrays' own buffers (tobytes() copied the whole split first: 614 MB for CIFAR-10); a
            # uint8 store as the float32 values load gives, a few rows at a time: the digest (and every
            # cache key and fingerprint made of it) is the one a float store had, without its float copy
            from genbench.data.folder import float_chunks

            for part in float_chunks(x):
                h.update(part.contiguous().numpy().data)
            if labels is not None:
                h.update(labels.contiguous().numpy().data)
            self._digests[split] = h.hexdigest()
        return self._digests[split]

    def fingerprint(self) -> str:
        """Identifies the data: the name and :meth:`content_digest` of both splits, so two datasets
        that differ in any value (not only in their first rows) never share a protocol. Recorded in
        every result's protocol, and it keys the cached classifier trained on the data."""
        import hashlib

        from genbench.errors import DataError

        h = hashlib.sha256(self.name.encode())
        splits: tuple[Split, ...] = ("train", "test") if self.has_test_split else ("train",)
        for split in splits:
            try:
                h.update(self.content_digest(split).encode())
            except DataError as e:
                if split == "train" or type(self).__module__.partition(".")[0] == "genbench":
                    raise
                # a plugin's own "no test split": it stopped every run, even against the train split
                raise DataError(
                    f"{e} (dataset {self.name!r}: a dataset without a test split declares "
                    "has_test_split = False)"
                ) from e
        return h.hexdigest()[:16]
