"""The classes a class-conditional model (:attr:`genbench.api.GenerativeModel.conditional`) is
trained on and samples for.

A conditional model trains on the train split's labels (``TrainContext.labels``) and is handed, for
each of the ``N`` samples of a run, the class to draw it for. Those ``N`` labels are stratified to
the train split's class proportions (:func:`stratified_counts`: largest-remainder rounding of
``N * count_k / num_train``, ties to the lower class), then shuffled with a CPU generator seeded
from the run's seed through a stream of its own (:func:`labels_seed`), never the sampling noise's:
the same command draws the same labels, and an unconditional model's samples are unchanged.

Stratified, not uniform at random as StudioGAN and ADM's sampling scripts draw them: FID against the
train split (the default reference) then compares samples and data of the same class mix (10000
uniform draws over 10 classes are off by about 30 per class; against the test split, the train
split's mix, which a split drawn from the same data shares up to its own sampling), and per-class metrics (intra-FID, class accuracy) get
counts in proportion to the data, the same on every seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from genbench.data.base import Dataset
from genbench.data.folder import STATS_KEYS
from genbench.errors import GenbenchError, PluginOutputError

if TYPE_CHECKING:
    from genbench.config import Split

#: how the protocol says the labels were drawn
DRAWN = "stratified to the train split's class proportions, shuffled"


def labels_seed(seed: int) -> int:
    """The seed of ``seed``'s label stream: distinct from its training and sampling streams
    (:func:`genbench.scoring.sample_seed`), so drawing labels moves no sample of any model."""
    return int.from_bytes(hashlib.sha256(f"labels:{seed}".encode()).digest()[:8], "little") >> 1


def check_conditional_data(name: str, dataset: Dataset) -> None:
    """Refuse the conditional model ``name`` on ``dataset`` when it has no class labels to train on
    and sample for (no ``num_modes``, or a train split without labels), or labels outside
    ``[0, num_modes)``: before any model trains, in one line naming the fix."""
    k = dataset.num_modes
    labels = dataset.load_labels("train") if k is not None else None
    if k is None or labels is None:
        why = "declares no number of classes (num_modes)" if k is None else "has no labels in its train split"
        raise GenbenchError(
            f"model {name!r} is class-conditional, but dataset {dataset.name!r} {why}; choose a dataset "
            "with class labels (digits, mnist, fashion-mnist, cifar10, stacked-digits, ring8, grid25) or drop "
            f"{name} from --models"
        )
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= k):
        raise PluginOutputError(
            f"dataset {dataset.name!r} has train labels in [{int(labels.min())}, {int(labels.max())}], "
            f"outside [0, {k}) of its num_modes = {k}; fix the dataset's labels or its num_modes"
        )


def train_labels(dataset: Dataset) -> torch.Tensor:
    """The train split's labels as a conditional model's ``fit`` gets them (``TrainContext.labels``):
    int64 on the CPU, one per row of the train tensor, a copy of its own (a model writing into
    them changes no later model's)."""
    labels = dataset.load_labels("train")
    assert labels is not None  # check_conditional_data refused the dataset at planning
    return labels.detach().to("cpu", torch.int64).clone()


def stratified_counts(class_counts: list[int], n: int) -> list[int]:
    """How many of ``n`` labels each class gets, in proportion to ``class_counts`` (the train split's
    examples per class): ``floor(n * c_k / total)`` each, and the remaining ones, one each, to the
    classes of the largest remainders, ties to the lower class. The counts sum to ``n`` exactly."""
    total = sum(class_counts)
    if total <= 0:
        raise GenbenchError("cannot draw labels: the train split has no labelled examples")
    # integer arithmetic: n * c_k / total in floats gave other remainders (and counts) for large n
    base = [n * c // total for c in class_counts]
    remainders = [n * c % total for c in class_counts]
    left = n - sum(base)
    order = sorted(range(len(class_counts)), key=lambda k: (-remainders[k], k))
    for k in order[:left]:
        base[k] += 1
    return base


def class_counts(dataset: Dataset) -> list[int]:
    """The train split's examples per class, for classes ``0 .. num_modes - 1``."""
    labels = dataset.load_labels("train")
    assert labels is not None and dataset.num_modes is not None
    return [int(c) for c in torch.bincount(labels.cpu(), minlength=dataset.num_modes)]


#: how far :func:`fewest_samples` looks below the count from which every class's share is enough
_SCAN = 10_000


def fewest_samples(class_counts: list[int], per_class: int) -> int | None:
    """The fewest samples from which on :func:`stratified_counts` gives every class ``per_class`` or
    more, for every number of samples from it up (largest-remainder rounding is not monotone, the
    Alabama paradox: a class's count may fall by one as the samples grow, so the fewest that works
    is not always a number from which on all do); None where a class has no train examples (no
    number of samples draws any for it). From ``ceil(per_class * total / min(class_counts))`` on,
    every class's share alone is enough; below it, the numbers that rounding still serves are
    counted down (at most ``_SCAN`` of them: past that, the number said is larger, still true)."""
    total, least = sum(class_counts), min(class_counts, default=0)
    if least <= 0:
        return None
    n = -(-per_class * total // least)
    for _ in range(_SCAN):
        if n - 1 < per_class * len(class_counts) or min(stratified_counts(class_counts, n - 1)) < per_class:
            break
        n -= 1
    return n


@dataclass(frozen=True)
class PlannedClasses:
    """What a run knows, before any training, of the classes its class-conditional models' samples
    are drawn for and of the reference split they are compared with: what a class-conditional
    metric checks (:meth:`genbench.metrics.base.Metric.check_classes`). The counts are the same at
    every seed (:func:`stratified_counts`); only the order of the labels is the seed's. `genbench
    eval` of samples given with their classes builds one too (:func:`labelled_classes`), before any
    features are extracted: their counts are the labels' own, drawn by no stratification here."""

    #: the samples drawn for each class ``0 .. K-1``: :func:`stratified_counts` of ``train_counts``,
    #: or the classes given with the samples (`genbench eval`)
    counts: tuple[int, ...]
    #: the train split's examples of each class, which ``counts`` are stratified to; None where the
    #: classes were given with the samples: no number of samples here draws more of a class
    train_counts: tuple[int, ...] | None
    #: the split the samples are compared with (``--reference-split``)
    reference_split: Split
    #: its examples of each class (labels outside ``[0, K)`` left out); None: not known before the
    #: metrics compute (a split without class labels, or labels that are not one integer per example)
    reference_counts: tuple[int, ...] | None

    @property
    def num_samples(self) -> int:
        return sum(self.counts)

    @property
    def given(self) -> bool:
        """Whether the classes were given with the samples (`genbench eval`), not drawn by a run."""
        return self.train_counts is None

    def fewest_samples(self, per_class: int) -> int | None:
        """The fewest ``--samples`` from which on every class is drawn ``per_class`` times or more
        (:func:`fewest_samples`); None where the train split lacks a class, or the classes were given."""
        return None if self.train_counts is None else fewest_samples(list(self.train_counts), per_class)


def planned_classes(dataset: Dataset, n: int, reference_split: Split) -> PlannedClasses:
    """The :class:`PlannedClasses` of a run of ``n`` samples on ``dataset`` (one whose train split
    :func:`check_conditional_data` took), compared with its ``reference_split``."""
    train = class_counts(dataset)
    ref_counts = _reference_counts(dataset, reference_split, len(train))
    return PlannedClasses(tuple(stratified_counts(train, n)), tuple(train), reference_split, ref_counts)


def labelled_classes(
    counts: list[int], dataset: Dataset, reference_split: Split, reads_reference: bool
) -> PlannedClasses:
    """The :class:`PlannedClasses` of samples given with their classes (`genbench eval`): ``counts``
    the samples of each class (what :func:`checked_labels` records), no train split's to stratify
    to; the ``reference_split``'s counts read only where a metric compares with it (``reads_reference``:
    IS alone or ``--reference-stats`` read no dataset)."""
    ref_counts = _reference_counts(dataset, reference_split, len(counts)) if reads_reference else None
    return PlannedClasses(tuple(counts), None, reference_split, ref_counts)


def _reference_counts(dataset: Dataset, split: Split, k: int) -> tuple[int, ...] | None:
    """The examples of each class ``0 .. k-1`` of ``dataset``'s ``split`` (labels outside left out), or
    None where its labels are not one integer per example."""
    ref = dataset.load_labels(split)
    # labels that are no 1-D integers are the metrics' to refuse, in their own lines (_classes)
    if not (isinstance(ref, torch.Tensor) and ref.ndim == 1 and ref.dtype in _INTEGERS):
        return None
    ref = ref.detach().cpu().to(torch.int64)
    return tuple(int(c) for c in torch.bincount(ref[(ref >= 0) & (ref < k)], minlength=k))


_INTEGERS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def draw_labels(counts: list[int], seed: int) -> torch.Tensor:
    """``counts[k]`` labels of each class ``k``, shuffled by :func:`labels_seed` of ``seed``: int64 on
    the CPU (the sampling loop moves them to the generator's device once, outside the timed region)."""
    ordered = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts, dtype=torch.long))
    g = torch.Generator().manual_seed(labels_seed(seed))
    return ordered[torch.randperm(len(ordered), generator=g)]


def run_labels(dataset: Dataset, n: int, seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """The ``n`` labels of a run at ``seed`` on ``dataset``, and what its protocol records of them."""
    counts = stratified_counts(class_counts(dataset), n)
    protocol = {"classes": len(counts), "counts": counts, "drawn": DRAWN, "seed": seed}
    return draw_labels(counts, seed), protocol


def labels_sha256(labels: torch.Tensor) -> str:
    """The sha256 of ``labels``' int64 values: what `genbench eval` records beside the samples' own
    digest (``protocol.samples.labels_sha256``), the classes being part of what a class-conditional
    evaluation scored."""
    values = labels.detach().cpu().to(torch.int64).contiguous().numpy()
    return hashlib.sha256(values.astype("<i8", copy=False).tobytes()).hexdigest()


def read_only(labels: torch.Tensor) -> np.ndarray:
    """``labels`` as ``EvalContext.sample_labels``: a read-only int64 numpy array of its own."""
    out = labels.detach().cpu().to(torch.int64).numpy().copy()
    out.setflags(write=False)
    return out


#: the arrays an .npz of samples may hold that are not their classes: the samples themselves and
#: statistics beside them (:data:`genbench.data.folder.STATS_KEYS`)
_NOT_LABELS = frozenset({"samples"}) | STATS_KEYS


def given_labels(
    path: Path, n: int, dataset: Dataset, warn: Callable[[str], None]
) -> tuple[torch.Tensor, dict[str, Any]] | None:
    """The classes of the ``n`` samples of the ``.npz`` at ``path`` that `genbench eval` scores, and
    what its protocol records of them; None when it holds none. They are ``labels`` beside
    ``samples`` (a run's ``--save-samples`` file of a conditional model), or ``arr_1`` beside
    ``arr_0`` (``numpy.savez(f, images, labels)``, as ADM's sampling scripts save class-conditional
    samples and its evaluator reads them). Checked as :func:`checked_labels` checks them."""
    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    fix = f"save an int64 array of {n} classes beside the samples, or none"
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.keys())
        if "samples" in keys:  # a run's saved samples, or any file that names its samples
            key = "labels" if "labels" in keys else None
            # the classes saved under another name ("y", "classes") were scored as no labels at all,
            # without a word: the class-conditional metrics said only "not computed"
            if key is None and dataset.num_modes is not None and (others := sorted(keys - _NOT_LABELS)):
                warn(
                    f"{path} holds {', '.join(map(repr, others))} beside 'samples', which genbench does "
                    "not read: scored without class labels; if it holds the samples' classes, save it "
                    "as 'labels'"
                )
        else:
            key = "arr_1" if {"arr_0", "arr_1"} <= keys else None
        if key is None:
            return None
        try:
            values = npz[key]
        except Exception as e:  # an object array (a list holding None), a damaged member: a traceback
            raise GenbenchError(
                f"cannot read {path} {key!r} as class labels ({type(e).__name__}: {e}); {fix}"
            ) from None
    return checked_labels(values, n, dataset, f"{path} {key!r}", f"given with the samples ({key})", fix, warn)


def checked_labels(
    values: Any, n: int, dataset: Dataset, where: str, drawn: str, fix: str, warn: Callable[[str], None]
) -> tuple[torch.Tensor, dict[str, Any]] | None:
    """``values`` (a numpy array, a tensor or a sequence) as the int64 classes of ``n`` samples, and
    what the protocol records of them (``drawn``: where they came from). Refused in one line naming
    ``where`` unless integers, one per sample, in ``[0, num_modes)`` (``fix`` says what to give);
    passed over, with a warning, on a dataset without classes (ADM's ImageNet samples scored against
    a reference archive of images alone): nothing there to be a class of."""
    values = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)
    k = dataset.num_modes
    if k is None:
        warn(f"{where} holds class labels, but dataset {dataset.name!r} has no classes: scored without them")
        return None
    integral = np.issubdtype(values.dtype, np.integer) or (
        np.issubdtype(values.dtype, np.floating)
        and bool(np.isfinite(values).all() and (values == np.round(values)).all())
    )
    if not integral or values.ndim != 1 or len(values) != n:
        raise GenbenchError(
            f"{where} holds {values.dtype} labels of shape {values.shape}, not one integer class per "
            f"sample ({n}); {fix}"
        )
    # the range of the values as given: cast first, 1e20 read as int64's -9223372036854775808
    if len(values) and (values.min() < 0 or values.max() >= k):
        lo, hi = (
            f"{v:g}" if np.issubdtype(values.dtype, np.floating) else str(v)
            for v in (values.min(), values.max())
        )
        raise GenbenchError(
            f"{where} holds labels in [{lo}, {hi}], outside the {k} classes "
            f"[0, {k}) of dataset {dataset.name!r}; give the classes the samples were drawn for"
        )
    labels = torch.from_numpy(values.astype(np.int64))
    counts = [int(c) for c in torch.bincount(labels, minlength=k)]
    return labels, {"classes": k, "counts": counts, "drawn": drawn}
