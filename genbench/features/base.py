"""The feature-extractor contract.

An extractor maps a batch in the dataset's range to features (N x D, float64 numpy) and, when it
is a classifier, logits (N x K) for the Inception Score and mode labels. It is built for a dataset
(some are trained on its train split on first use) and names itself in every result's protocol.
"""

from __future__ import annotations

import functools
import inspect
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch

from genbench.config import flag_of
from genbench.io import file_sha256
from genbench.isolation import ctrl_c_kept

if TYPE_CHECKING:
    from genbench.data.base import Dataset

T = TypeVar("T")


@dataclass
class Features:
    """Features of one sample set, computed once and shared by every metric."""

    features: np.ndarray  # N x D float64
    logits: np.ndarray | None = None  # N x K, or None when the extractor has no classifier head
    #: values derived from these features alone (e.g. k-NN radii), kept for every model; each metric
    #: sees a part of its own (:meth:`seen_by`)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    #: values derived from these features that every metric reads alike, kept for every model as
    #: read-only arrays: the reference Gaussian of fid, fid_inf and sfid
    #: (:func:`genbench.metrics.fid.reference_gaussian`), the samples' Gaussian and Fréchet distance
    #: of fid and mifid (:func:`genbench.metrics.fid.fid_of`); not a metric's own, so :meth:`seen_by`
    #: hands every metric this one
    shared: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # read-only: every metric of every model reads the same arrays, so a metric plugin that
        # changed them in place (x -= x.mean(0)) would corrupt the metrics after it; now it fails alone
        for array in (self.features, self.logits):
            if isinstance(array, np.ndarray):
                array.setflags(write=False)

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def digest(self) -> int:
        """A CRC-32 of the values (fast: 0.1 s for CIFAR-10's 50000 x 2048): what tells that a metric
        changed them in place through a tensor sharing their memory. ``torch.from_numpy`` and
        ``torch.as_tensor`` take a read-only array with a warning torch gives once a process, and
        their tensor's ``x -= x.mean(0)`` then writes into it."""
        crc = 0
        for array in (self.features, self.logits):
            if array is not None:
                crc = zlib.crc32(np.ascontiguousarray(array).data, crc)
        return crc

    def seen_by(self, metric: str) -> Features:
        """These features (the same read-only arrays) with a cache of ``metric``'s own, kept for every
        model scored against them: the k-NN radii and distances that prdc and memorization reuse were
        in one cache that any metric could write into (a later model's "memorized" flag was lost)."""
        return replace(self, cache=self.cache.setdefault(("metric", metric), {}))


#: the fewest rows an extractor is handed at once (or the batch size, when smaller): a matrix product of
#: a few rows takes other CPU kernels, which round otherwise (on a 2-core AVX-512 VM, torch 2.14: the
#: digits classifier's features moved by up to 4e-6 in batches of 1 to 3 rows; a 512 x 128 linear
#: layer's outputs, in batches of 1 to 11 rows with 2 threads), so a short last batch gave its rows
#: other features than a full batch would: the same
#: command's numbers depended on the batch size that had cached the reference features, and the
#: ``copy`` control's exact ties (PRDC density 1.034 against 1.036) on ``--batch-size``
MIN_BATCH_ROWS = 64


class FeatureExtractor(ABC):
    """Base class of every feature extractor."""

    #: one-line description for `genbench list features`
    description: ClassVar[str] = ""
    #: kinds of data it handles
    supported_kinds: ClassVar[tuple[str, ...]] = ("image",)
    #: whether it reads a weights file given by --inception-weights (plugins are assumed to); when
    #: not, the flag is named unused rather than silently ignored
    takes_weights: ClassVar[bool] = True
    #: the RunConfig field (and flag) whose file it gets as ``weights``: ``dinov2`` reads
    #: ``--dinov2-weights``, every other extractor ``--inception-weights``; the other is named unused
    weights_option: ClassVar[str] = "inception_weights"
    #: whether ``fingerprint()`` itself identifies the weights file it reads by its content (the
    #: built-in Inceptions' do); else :meth:`checked_fingerprint` adds a digest of ``self.weights``
    fingerprint_covers_weights: ClassVar[bool] = False
    #: the most rows :meth:`extract` hands ``_extract_batch`` at once on the CPU, or None for the
    #: batch size: where a larger batch only costs memory (not below ``MIN_BATCH_ROWS``, whose calls
    #: take other kernels)
    cpu_rows: ClassVar[int | None] = None
    #: whether it gives logits (a classifier head), known without extracting: what tells before any
    #: training that a metric of logits named in --metrics (is, is_inf) cannot be computed (it was
    #: "not computed" once every model had trained and been scored); None, unknown (a plugin's, or a
    #: network read from a file that may lack the head): those metrics then find out from its output
    gives_logits: ClassVar[bool | None] = None
    #: the environment variable that gives its weights file when the flag does not
    #: (``GENBENCH_INCEPTION_WEIGHTS``); None: none, or not declared. What `genbench list features
    #: NAME` shows, as the two below and :meth:`weights_folders`
    weights_env: ClassVar[str | None] = None
    #: the URL of the weights file it downloads when none is given or found; None: none, or not declared
    weights_url: ClassVar[str | None] = None
    #: what that download is checked against (an md5, or ``"sha256:<prefix>"``:
    #: :mod:`genbench.data.digest`); None: no digest is published, or not declared
    weights_digest: ClassVar[str | None] = None
    registered_name: ClassVar[str] = ""
    #: the ``--reference-stats`` file the command compares with (None: none), set once it is built
    #: (:func:`genbench.resolve.build_extractor`): statistics in these features, so an error's fix
    #: that names other features must say to drop it (the Inceptions' offline errors)
    reference_stats: Path | None = None
    #: what an error of this extractor adds (its weights missing offline, a plugin's bug), set once
    #: it is built (:func:`genbench.feature_use.needed_extractor`): the command's metrics that read no
    #: features, which run without it ("memorization reads no features: --metrics memorization alone
    #: runs without them"); "" where there are none
    without_it: str = ""

    @classmethod
    def weights_folders(cls, cache_dir: Path) -> tuple[Path, ...] | None:
        """The folders its weights file is looked for in when none is given, in the order it looks
        (``cache_dir``: ``--cache-dir``); ``()`` where it reads no file; None (the default) where the
        extractor does not say. Computed without looking in any of them."""
        return None

    def __init__(
        self,
        dataset: Dataset,
        *,
        cache_dir: Path,
        device: torch.device | str = "cpu",
        weights: Path | None = None,
        batch_size: int = 256,
    ):
        self.dataset = dataset
        self.cache_dir = Path(cache_dir)
        self.device = torch.device(device)
        self.weights = Path(weights) if weights is not None else None
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.registered_name or type(self).__name__.lower()

    @property
    def fewest_rows(self) -> int:
        """The fewest rows :meth:`extract` hands ``_extract_batch`` at once: ``MIN_BATCH_ROWS``, or the
        batch size when smaller (a short batch is padded to it)."""
        return min(self.batch_size, MIN_BATCH_ROWS)

    @property
    def rows_per_call(self) -> int:
        """The rows :meth:`extract` hands ``_extract_batch`` at once: the batch size, capped on the CPU
        at :attr:`cpu_rows` (never below ``MIN_BATCH_ROWS``, so the features stay those of any
        batch of that many rows or more)."""
        if self.cpu_rows is None or self.device.type != "cpu":
            return self.batch_size
        return min(self.batch_size, max(self.cpu_rows, MIN_BATCH_ROWS))

    @abstractmethod
    def fingerprint(self) -> str:
        """Identifies weights and preprocessing, for reference-statistics cache keys."""

    def feature_dim(self) -> int | None:
        """The width of the features it gives this dataset's examples, where known without extracting
        any (None: unknown until it extracts). What the metrics check their options against before
        any training (:meth:`genbench.metrics.base.Metric.check_samples`: ``fid_inf.min_size`` must
        exceed it); an extractor that declares it must give features of that width."""
        return None

    def logits_dim(self) -> int | None:
        """The number of classes its logits give, where known without extracting any (None: unknown
        until it extracts, or no logits). What ``is_inf``'s default ``min_size``, twice it, is checked
        against before any training, as :meth:`feature_dim` is for ``fid_inf``'s."""
        return None

    @abstractmethod
    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (and logits or None) of one batch already on ``self.device``."""

    def info(self) -> dict[str, Any]:
        """What the protocol records about the extractor (name, fingerprint, accuracy, ...). The
        fingerprint is :meth:`checked_fingerprint`, in an override too: what keys the cache and what a
        rerun's result is compared by (:func:`genbench.replacement.add_fingerprints`)."""
        return {"name": self.name, "fingerprint": self.checked_fingerprint()}

    def _checked(self, out: object, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``_extract_batch``'s result for ``batch`` when it keeps the contract, else one error naming
        the extractor (a plugin's numpy features were an AttributeError traceback)."""
        from genbench.errors import PluginOutputError

        rows = len(batch)
        who = f"feature extractor {self.name!r} returned"
        fix = f"return (features, logits): tensors of {rows} rows (N x D, N x K), logits None without a head"
        if not (isinstance(out, tuple) and len(out) == 2):
            raise PluginOutputError(f"{who} {type(out).__name__} from _extract_batch; {fix}")
        for what, value in zip(("features", "logits"), out, strict=True):
            if value is None and what == "logits":
                continue
            if not isinstance(value, torch.Tensor):
                raise PluginOutputError(f"{who} {what} of type {type(value).__name__}; {fix}")
            if value.dim() != 2 or len(value) != rows or value.shape[1] == 0:  # N x 0: FID 0, silently
                raise PluginOutputError(
                    f"{who} {what} of shape {tuple(value.shape)} for {rows} inputs; {fix}"
                )
        f, lg = out
        if self.gives_logits is not None and (lg is not None) != self.gives_logits:
            # the declaration is what a metric of logits named in --metrics is refused (or run) by
            said, decl = ("no logits", "False") if lg is None else ("logits", "None or True")
            raise PluginOutputError(
                f"{who} {said} though it declares gives_logits = {self.gives_logits}; declare "
                f"gives_logits = {decl}"
            )
        # the widths a plugin declares for its dataset's examples: fid_inf's and is_inf's options were
        # checked before any training against them, and a plugin declaring feature_dim() 64 that gave
        # 128 was believed silently (genbench's own declare their real networks' widths)
        for what, value, width, method in zip(
            ("features", "logits"),
            (f, lg),
            self._declared_widths(batch),
            ("feature_dim", "logits_dim"),
            strict=True,
        ):
            if value is not None and width is not None and value.shape[1] != width:
                raise PluginOutputError(
                    f"{who} {what} of width {value.shape[1]} though its {method}() declares {width}; "
                    f"return {what} of that width, or make {method}() return {value.shape[1]} (None: "
                    "not known before extracting)"
                )
        # one width per input shape, in every batch and call: else a width changing between batches
        # was np.concatenate's traceback, and one changing with the batch size made sample and
        # reference features differ, which the metrics blamed on the user's --features
        shape, widths = tuple(batch.shape[1:]), (f.shape[1], None if lg is None else lg.shape[1])
        first = self.__dict__.setdefault("_widths", {}).setdefault(shape, widths)
        if widths != first:
            said = " and ".join(
                f"{what} of width {'none' if new is None else new} where earlier inputs of shape "
                f"{shape} gave {'none' if old is None else old}"
                for what, new, old in zip(("features", "logits"), widths, first, strict=True)
                if new != old
            )
            raise PluginOutputError(
                f"{who} {said}; return features (and logits) of one width for every input"
            )
        # NaN features of finite inputs are the extractor's bug (a model's NaN samples are refused
        # before): each metric blamed them on the user ("check the model's samples"), exit 2
        for what, value in (("features", f), ("logits", lg)):
            if value is not None and not torch.isfinite(value).all() and torch.isfinite(batch).all():
                bad = int((~torch.isfinite(value)).any(1).sum())
                raise PluginOutputError(
                    f"{who} {what} holding NaN or inf in {bad} of {rows} rows for finite inputs; "
                    f"return finite {what}"
                )
        return f, lg

    def _declared_widths(self, batch: torch.Tensor) -> tuple[int | None, int | None]:
        """(``feature_dim()``, ``logits_dim()``) of a plugin, asked once, for a batch of its dataset's
        examples (their shape); (None, None) for genbench's own extractors and other inputs."""
        if type(self).__module__.startswith("genbench."):
            return None, None
        if "_declared" not in self.__dict__:
            from genbench.data.base import Dataset  # imported here: the datasets import this module

            dataset = getattr(self, "dataset", None)
            shape = tuple(dataset.shape_spec().shape) if isinstance(dataset, Dataset) else None
            widths = self._naming_the_plugin(
                "declaring its widths", lambda: (self.feature_dim(), self.logits_dim())
            )
            self.__dict__["_declared"] = (shape, widths)
        shape, widths = self.__dict__["_declared"]
        return widths if tuple(batch.shape[1:]) == shape else (None, None)

    def checked_fingerprint(self) -> str:
        """``fingerprint()``; a plugin's bug there is one line naming the plugin (it was a traceback).
        Not a non-empty str (a plugin's ``hash(...)``, an int): its results made `genbench report`
        refuse the whole board as unreadable (protocol.features.fingerprint is 12345, not str). With
        a digest of the weights file it reads (unless ``fingerprint_covers_weights``), and of its code
        where that is a file ``--include`` imported, the script that runs or a notebook cell
        (:func:`genbench.script_code.edited_code`)."""
        from genbench.errors import PluginOutputError

        fingerprint = self._naming_the_plugin("computing its fingerprint", self.fingerprint)
        if not isinstance(fingerprint, str) or not fingerprint:
            raise PluginOutputError(
                f"feature extractor {self.name!r} returned {fingerprint!r} from fingerprint(); return a "
                "non-empty str that identifies its weights and preprocessing"
            )
        if self.weights is not None and self.takes_weights and not self.fingerprint_covers_weights:
            # a plugin's "mynet-v1" named --inception-weights a.pt and b.pt alike: the reference
            # features cached with a.pt's network were reused for b.pt's samples (FID 0.005 -> 1.8),
            # and both results were one protocol, pooled into one board row
            fingerprint = f"{fingerprint};weights-sha256={self._weights_digest()}"
        from genbench.script_code import edited_code

        edited = edited_code(type(self))
        if edited is not None:
            # a file that --include named, the script that runs or a notebook cell is edited between
            # runs, its fingerprint() left as it was: the reference features cached by the code before
            # were reused for the edited code's samples (FID 0.17 -> 2.98), and both were one
            # protocol, pooled into one board row. A file's content (the included file's, the
            # script's) as --include always keyed it; a cell's class by its source
            kind = "file" if edited.file is not None else "class"
            fingerprint = f"{fingerprint};{kind}-sha256={edited.sha256[:16]}"
        return fingerprint

    def _weights_digest(self) -> str:
        """The first 16 hex digits of the SHA-256 of ``self.weights``' bytes, read once: by content,
        so a renamed or moved file keeps its cached features."""
        from genbench.errors import GenbenchError

        assert self.weights is not None
        digests = self.__dict__.setdefault("_weights_digests", {})
        if self.weights not in digests:
            try:
                digests[self.weights] = file_sha256(self.weights)[:16]
            except OSError as e:
                flag = flag_of(self.weights_option)
                raise GenbenchError(
                    f"cannot read {flag} {self.weights} for the {self.name} features "
                    f"({e.strerror or type(e).__name__}); pass an existing weights file"
                ) from None
        return digests[self.weights]

    def _naming_the_plugin(self, doing: str, call: Callable[[], T]) -> T:
        """``call()`` into this extractor: its own bug is one line naming the plugin and the fix."""
        from genbench.errors import GenbenchError
        from genbench.resolve import call_plugin, features_fallback  # imported here: resolve imports this

        fallback = features_fallback(getattr(self, "dataset", None), self.name)  # a plugin's own __init__
        try:
            return call_plugin("feature extractor", self.name, f"raised {{error}} {doing}", call, fallback)
        except GenbenchError as e:  # Inception's weights are fetched at its first batch
            if self.without_it and not str(e).endswith(self.without_it):
                e.args = (f"{e}; {self.without_it}", *e.args[1:])
            raise

    @torch.no_grad()
    def extract(self, x: torch.Tensor, progress: Callable[[int, int], None] | None = None) -> Features:
        """Features of ``x`` in batches (eval mode); a batch shorter than ``min(batch_size,
        MIN_BATCH_ROWS)`` is padded to it with copies of its rows, whose features are dropped. uint8
        images (`genbench eval`'s, :func:`genbench.data.folder.float_samples`) are converted to
        float32 in [-1, 1] batch by batch: ``_extract_batch`` gets float batches as ever.
        ``progress(done, total)`` is told the rows done after each batch (the run's bar)."""
        from genbench.data.folder import float_samples

        # filled in place, batch by batch: a list of batches joined at the end held every feature
        # twice (2.5 GB at 50000 samples of raw CIFAR-10 pixels, the peak of a 50k evaluation); the
        # widths are the same in every batch (checked)
        feats: np.ndarray | None = None
        logits: np.ndarray | None = None
        least, step = self.fewest_rows, self.rows_per_call
        for i in range(0, len(x), step):
            rows = x[i : i + step]
            kept = len(rows)  # the rows that are not padding
            if kept < least:
                rows = rows[torch.arange(least) % kept]
            # a copy: an extractor writing into its input (scaling in place) wrote into the dataset's
            # split, which later models trained on, or into the samples the other metrics read (uint8
            # rows converted to float are a new tensor already, not copied again)
            converted = float_samples(rows)
            batch = converted.to(self.device, copy=converted is rows)
            # a batch that caught Ctrl-C returned something of the right shape and the extraction went
            # on: the reference features were cached with it, and every later run read them
            with ctrl_c_kept():
                out: object = self._naming_the_plugin(
                    "extracting features", functools.partial(self._extract_batch, batch)
                )
            f, lg = self._checked(out, batch)
            f, lg = f[:kept], None if lg is None else lg[:kept]
            if feats is None:
                feats = np.empty((len(x), f.shape[1]))
                logits = np.empty((len(x), lg.shape[1])) if lg is not None else None
            feats[i : i + len(f)] = f.double().cpu().numpy()
            if logits is not None and lg is not None:
                logits[i : i + len(lg)] = lg.double().cpu().numpy()
            if progress is not None:
                progress(i + kept, len(x))
        return Features(features=feats if feats is not None else np.zeros((0, 0)), logits=logits)


def extract_reporting(
    extractor: FeatureExtractor, x: torch.Tensor, progress: Callable[[int, int], None] | None
) -> Features:
    """``extractor.extract(x)``, telling ``progress`` of each batch where its ``extract`` takes it: a
    plugin that overrides ``extract(x)`` itself (its contract is ``_extract_batch``) is called as
    before, and its extraction shows no count. Such an override gets float samples in [-1, 1], as it
    always did: the uint8 samples that `genbench eval` holds are converted for it whole (genbench's
    own ``extract`` converts them batch by batch)."""
    if x.dtype == torch.uint8 and not type(extractor).extract.__module__.startswith("genbench."):
        from genbench.data.folder import float_samples

        x = float_samples(x)
    if progress is not None and "progress" in inspect.signature(extractor.extract).parameters:
        return extractor.extract(x, progress=progress)
    return extractor.extract(x)
