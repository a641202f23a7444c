"""Reference features (of a dataset split), computed once and cached.

The cache key hashes every knob that changes the numbers: the dataset's name, the split and a digest
of every value in it (its shape, so its size, included), the extractor (name and fingerprint, which
covers its weights and preprocessing), the arithmetic (device type, the CPU's instruction set, TF32
on CUDA, and the rows per extraction call where fewer than ``MIN_BATCH_ROWS``: :func:`batch_rows`)
and the format version. Each file records what its key was made from (:data:`KEY_RECORD`: the
version and every input above), so that `genbench list cache` can tell a file that today's keys name
from one an older key scheme wrote, which no run reads again (:func:`keyed_today`). Files are
written atomically, so an interrupted run never leaves a truncated cache entry behind. An array whose every value is a float32 (the features and logits of a
float32 network, which :meth:`~genbench.features.base.FeatureExtractor.extract` upcasts) is stored
as float32, half the disk, and read back as the same float64 values; any other (a plugin's genuinely
float64 features) is stored as it is.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from genbench.errors import GenbenchError
from genbench.features.base import MIN_BATCH_ROWS, Features
from genbench.io import FIX_CACHE, alone, atomic_write, remove_temps, took_over

if TYPE_CHECKING:
    from genbench.config import Split
    from genbench.data.base import Dataset
    from genbench.features.base import FeatureExtractor

#: the version of the key scheme (and of the file's format): hashed into every key, so a bump makes
#: every file of an older version one that no run reads again
FORMAT_VERSION = 1
#: what every key of today's scheme hashes (:func:`key_inputs`)
KEY_FIELDS = frozenset(
    {"version", "dataset", "split", "content", "extractor", "extractor_fingerprint", "arithmetic"}
)
#: what a key hashes only where it applies (:func:`batch_rows`): where absent, the key is the one it was
#: before the field was added, so files keyed without it are still read
KEY_OPTIONAL = frozenset({"rows"})
#: the member of a features file that holds its key's inputs as JSON (files written before genbench
#: recorded them have none: whether today's keys name them is unknown)
KEY_RECORD = "key_inputs"


def key_inputs(dataset: Dataset, extractor: FeatureExtractor, split: Split) -> dict[str, Any]:
    """Everything that determines the reference features, as the key hashes it."""
    return {
        "version": FORMAT_VERSION,
        "dataset": dataset.name,
        "split": split,
        # every value and the shape of the split: no other key about the data is needed
        "content": dataset.content_digest(split),
        "extractor": extractor.name,
        "extractor_fingerprint": extractor.checked_fingerprint(),
        "arithmetic": arithmetic(extractor.device),
        **batch_rows(extractor),
    }


def key_of(inputs: dict[str, Any]) -> str:
    """The key of :func:`key_inputs`: a stable hash of them."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]


def cache_key(dataset: Dataset, extractor: FeatureExtractor, split: Split) -> str:
    """Stable hash of everything that determines the reference features."""
    return key_of(key_inputs(dataset, extractor, split))


def keyed_today(inputs: Any, key: str) -> bool:
    """Whether a features file of key ``key`` whose record says it was made from ``inputs`` is keyed
    as today's genbench keys its files: the same version, the same fields hashed, the same hash. A
    file keyed otherwise is never read: a run looks for the file its own key names."""
    if not isinstance(inputs, dict) or inputs.get("version") != FORMAT_VERSION:
        return False
    return KEY_FIELDS <= set(inputs) <= KEY_FIELDS | KEY_OPTIONAL and key_of(inputs) == key


def batch_rows(extractor: FeatureExtractor) -> dict[str, int]:
    """The rows per extraction call, when fewer than ``MIN_BATCH_ROWS`` (``--batch-size`` below it):
    a matrix product of 1 to 3 rows takes other CPU kernels (the digits classifier's features moved
    by up to 8e-6 at ``--batch-size 2`` on a 2-core AVX-512 VM, torch 2.14), so reference features that a
    ``--batch-size 2`` run had cached changed a default run's FID and KID in the ninth digit, and a
    ``--batch-size 2`` run's numbers depended on whether a default run had filled the cache. Empty
    from ``MIN_BATCH_ROWS`` up, where every batch is that many rows or more, so those keys (every
    cache made at the default batch size) stay as they were."""
    rows = extractor.fewest_rows
    return {"rows": rows} if rows < MIN_BATCH_ROWS else {}


def arithmetic(device: torch.device) -> str:
    """What features depend on beyond the weights: the device type and, on CUDA, whether
    convolutions and matmuls may run in TF32 (PyTorch lets cuDNN's by default), which moves
    Inception features in the third or fourth digit. Features cached on a GPU are not reused on the
    CPU, where the same command would compute others. On the CPU, the instruction set its kernels
    use (``AVX2``, ``AVX512``...): they round differently (the digits classifier's features moved by
    6e-6 with oneDNN held to AVX2 on an AVX-512 machine), so a cache shared by a cluster's nodes gave a
    node's samples another node's reference features, and the ``copy`` control's exact ties went
    with the node that had cached them (as with the batch size, see ``MIN_BATCH_ROWS``)."""
    if device.type == "cpu":
        return f"cpu,{torch.backends.cpu.get_cpu_capability()}"
    if device.type != "cuda":
        return device.type
    conv, matmul = tf32_allowed()
    return f"cuda,tf32-conv={conv},tf32-matmul={matmul}"


def tf32_allowed() -> tuple[bool, bool]:
    """Whether cuDNN convolutions and CUDA matmuls may run in TF32. PyTorch 2.9 added the
    ``fp32_precision`` settings, and once anything sets them (a plugin, at import), reading the old
    ``allow_tf32`` flags raises; a setting of ``"none"`` takes its parent's, and IEEE at the top."""
    # Any: the fp32_precision settings are set on these modules at run time, not in torch's stubs
    backends: Any = torch.backends
    matmul = getattr(backends.cuda.matmul, "fp32_precision", None)
    if matmul is None:  # an older torch: the old flags are all there is
        return backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32
    top = backends.fp32_precision
    conv = (backends.cudnn.conv.fp32_precision, backends.cudnn.fp32_precision, top)
    return (_first_set(conv) == "tf32", _first_set((matmul, top)) == "tf32")


def _first_set(chain: tuple[str, ...]) -> str:
    return next((v for v in chain if v != "none"), "ieee")


def cache_path(dataset: Dataset, extractor: FeatureExtractor, split: Split, cache_dir: Path) -> Path:
    return _path(key_inputs(dataset, extractor, split), cache_dir)


def _path(inputs: dict[str, Any], cache_dir: Path) -> Path:
    """The features file of the key made from ``inputs``."""
    name = f"{inputs['dataset']}-{inputs['split']}-{inputs['extractor']}-{key_of(inputs)}.npz"
    return Path(cache_dir) / "features" / name


def reference_features(
    dataset: Dataset,
    extractor: FeatureExtractor,
    split: Split,
    cache_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    beside: Sequence[FeatureExtractor] = (),
) -> Features:
    """Features of every example of ``dataset``'s ``split``, from the cache when present. Computed by
    one process at a time (:func:`genbench.io.alone`): two jobs sharing a cache each spent the
    extraction (hours for CIFAR-10's Inception features on a CPU), the last writer's replacing the
    first's; the others now wait, then read what the first wrote. ``progress(done, total)`` is told
    of each batch extracted (none when they are read from the cache). ``beside``: the features of
    other extractors that the same pass gives (:func:`genbench.features.same_pass.same_pass`: sfid's
    spatial ones), cached under their own keys when they are not yet, so that their own read finds
    them there instead of making a second pass."""
    from genbench.features.same_pass import extract_beside, pass_key, same_pass

    inputs = key_inputs(dataset, extractor, split)
    path = _path(inputs, cache_dir)
    rows = len(dataset.load_stored(split)[0])
    cached = _cached(path, rows, quiet=True)  # unlocked: a read-only shared cache is read as it is
    if cached is not None:
        return cached
    who = f"{split} features of {dataset.name} ({extractor.name})"
    with alone(path.with_name(path.name + ".lock"), who, "extracting them", _warn) as waited:
        cached = _cached(path, rows, quiet=False)  # written by the process this one waited for
        if cached is not None:
            return cached
        if waited:
            took_over(who, "caching them", "extracting them", _warn)
        # written once (a damaged entry is found and made again by its own read); not under their
        # locks: a process extracting one alone meanwhile writes the same values, atomically
        also = uncached(dataset, same_pass(extractor, beside), split, cache_dir)
        # as stored: uint8 images (an image folder's) are converted batch by batch as they are extracted
        x, _ = dataset.load_stored(split)
        feats, tapped = extract_beside(extractor, also, x, progress)
        _write(path, feats, who, inputs)
        for other in also:
            theirs = key_inputs(dataset, other, split)
            other_who = f"{split} features of {dataset.name} ({other.name})"
            _write(_path(theirs, cache_dir), tapped[pass_key(other)], other_who, theirs)
    return feats


def uncached(
    dataset: Dataset, extractors: Sequence[FeatureExtractor], split: Split, cache_dir: Path
) -> list[FeatureExtractor]:
    """Those of ``extractors`` whose features of ``split`` have no cache entry yet."""
    return [e for e in extractors if not cache_path(dataset, e, split, cache_dir).exists()]


def _write(path: Path, feats: Features, who: str, inputs: dict[str, Any]) -> None:
    """``feats`` as the cache entry at ``path``, with the ``inputs`` of its key; a write that fails is
    said, never fatal."""
    arrays: dict[str, Any] = {
        "features": _stored(feats.features)
    }  # Any: numpy types savez's **kwds as its allow_pickle
    if feats.logits is not None:
        arrays["logits"] = _stored(feats.logits)
    # a 0-d str array: read back without pickle, and by the listing without the features
    arrays[KEY_RECORD] = np.array(json.dumps(inputs, sort_keys=True))
    # straight into the file: through a BytesIO it held a second copy of the features (1.2 GB for
    # CIFAR-10's train split in raw pixels)
    try:
        atomic_write(path, lambda fh: np.savez(fh, **arrays), fix=FIX_CACHE)
    except GenbenchError as e:  # a full disk: the features just extracted (hours) were thrown away
        _warn(f"{who} are used but not cached: {e}")


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


#: rows compared at once by :func:`_stored` (its temporaries stay small)
_COMPARED_ROWS = 4096


def _stored(a: np.ndarray) -> np.ndarray:
    """``a`` as float32 when that keeps every value, else ``a``: float64 features of a float32
    network took twice the disk for no precision (1.6 MB instead of 0.8 for digits' classifier
    features, 1166 MiB instead of 583 at CIFAR-10's 50000 x 2048 Inception features and 1008 logits)."""
    if a.dtype != np.float64:
        return a
    with np.errstate(over="ignore", under="ignore"):  # beyond float32's range: inf, compares unequal
        narrow = a.astype(np.float32)
    for start in range(0, len(a), _COMPARED_ROWS):
        if not np.array_equal(narrow[start : start + _COMPARED_ROWS], a[start : start + _COMPARED_ROWS]):
            return a
    return narrow


def _widened(a: np.ndarray) -> np.ndarray:
    """A cached array as the float64 that :func:`_stored` was given (float32 widens exactly). Kept
    float64 in memory: every metric makes a float64 copy of float32 features (``check_features``),
    which at 50k x 2048 raised FID's peak from 2446 to 3149 MiB."""
    return a.astype(np.float64) if a.dtype == np.float32 else a


def _cached(path: Path, rows: int, *, quiet: bool) -> Features | None:
    """The cached features at ``path`` for a split of ``rows`` examples; None when absent, or when
    damaged (said unless ``quiet``: a damaged entry is recomputed, never fatal)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            logits = _widened(npz["logits"]) if "logits" in npz.files else None
            cached = Features(features=_widened(npz["features"]), logits=logits)
        damage = _damage(cached, rows)
        if damage:
            raise ValueError(damage)
    except Exception as e:
        if not quiet:
            _warn(f"recomputing reference features: {path} is unreadable ({type(e).__name__}: {e})")
        return None
    remove_temps(path)  # a killed write's, a day old: a cache entry is written once, never again
    return cached


def _damage(cached: Features, rows: int) -> str | None:
    """What makes cached reference features unusable for a split of ``rows`` examples, or None."""
    features, logits = cached.features, cached.logits
    if features.ndim != 2 or 0 in features.shape:  # as --batch-size 0 once cached
        return f"features of shape {features.shape}"
    if len(features) != rows:
        return f"{len(features)} feature rows for {rows} examples"
    if logits is not None and (logits.ndim != 2 or len(logits) != rows):
        return f"logits of shape {logits.shape} for {rows} examples"
    # cached before an extractor's output was checked (FeatureExtractor._checked): the extractor is
    # run again, and a NaN it still returns is then named as its bug
    if not np.isfinite(features).all() or (logits is not None and not np.isfinite(logits).all()):
        return "features or logits holding NaN or inf"
    return None
