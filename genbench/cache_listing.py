"""What the cache holds, as `genbench list cache` shows it (``genbench.cache_entries``): one entry
per thing a researcher may delete with ``rm -r`` (a checkpoint's folder, a features file, a
classifier, downloaded weights, a dataset's files), its kind, what it is, its size, when it was last
used and what deleting it costs, with the total and where the cache is: Hugging Face's
``hf cache scan`` for its hub cache. Nothing is deleted here: the user's ``rm`` of the path it names.
A features file says whether today's genbench reads it, from what it records of its key's making
(:func:`genbench.features.reference.keyed_today`), without loading a dataset or an extractor.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: what deleting an entry costs, by its kind
IF_DELETED = {
    "checkpoint": "trained again by the next run that needs it",
    "training state": "the interrupted training starts over (delete it once it is not to be resumed)",
    "running training": "do not delete it: a genbench process is training it now, and it becomes a checkpoint",
    "features": "extracted again by the next run that needs them",
    "stale features": "none: this genbench never reads them (it keys features otherwise), safe to delete",
    "unrecorded features": (
        "extracted again by the next run that needs them, if any does: they were written before genbench "
        "recorded how a key is made, so whether this genbench reads them is unknown (one it does not read only "
        "takes disk space)"
    ),
    "classifier": "trained again by the next run that needs it",
    "weights": "downloaded again when next needed",
    "dataset": "downloaded again on next use",
    "temp file": "none: a killed write left it (delete it once no genbench process is writing)",
    "partial download": "the cut-off download starts over, not resumed, when next needed",
    "other": "not genbench's to say",
}

#: a reference features file: ``<dataset>-<split>-<extractor>-<key>.npz`` (features/reference.py)
_FEATURES = re.compile(r"(?P<dataset>.+)-(?P<split>train|test)-(?P<extractor>.+)-(?P<key>[0-9a-f]+)\.npz")
#: a checkpoint's folder: ``seed<N>-<key>`` (training.checkpoint_subdir)
_SEED = re.compile(r"seed(?P<seed>-?\d+)-(?P<key>[0-9a-f]+)")
#: an atomic write's temp file (io.atomic_write): ``.<name>.<random>.tmp``
_TEMP = re.compile(r"\..+\.tmp")
#: a cut-off download's part and its resume record (data/resume.py): ``<name>.part``, ``<name>.part.json``
_PART = re.compile(r"(?P<name>.+)\.part(?P<record>\.json)?")


@dataclass(frozen=True)
class CacheEntry:
    """One entry of :func:`genbench.cache_entries`: a checkpoint's folder, a features file, downloaded
    weights or data, ..., with its size and what deleting it costs."""

    kind: str  # a key of IF_DELETED: checkpoint, training state, running training, features, ...
    what: str  # in words: "vae on ring8, seed 0"
    path: Path  # what ``rm -r`` deletes
    size: int  # bytes, its files' together
    last_used: float  # seconds since the epoch: the latest access or change of any of its files
    if_deleted: str  # what deleting it costs
    #: a checkpoint's training config (read from its model.pt), None for other kinds or unreadable
    config: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CacheListing:
    """What :func:`genbench.cache_entries` returns (`genbench list cache`): the folders looked in and
    their entries."""

    cache_dir: Path  # --cache-dir, $GENBENCH_CACHE, else ~/.cache/genbench
    data_dir: Path  # --data-dir, $GENBENCH_DATA, else ~/.cache/genbench/data
    entries: tuple[CacheEntry, ...]  # largest first

    @property
    def size(self) -> int:
        """Bytes of every entry together."""
        return sum(e.size for e in self.entries)


def cache_entries(cache_dir: Path, data_dir: Path) -> CacheListing:
    """What ``cache_dir`` and ``data_dir`` hold, largest first; either may not exist (no entries)."""
    entries = list(_cache(Path(cache_dir), Path(data_dir)))
    entries += _data(Path(data_dir))
    entries.sort(key=lambda e: (-e.size, str(e.path)))
    return CacheListing(Path(cache_dir), Path(data_dir), tuple(entries))


def _cache(root: Path, data_dir: Path) -> Iterator[CacheEntry]:
    for top in _children(root):
        if top == data_dir:  # the default data dir is inside the cache: listed as datasets
            continue
        if top.name == "checkpoints" and top.is_dir():
            yield from _checkpoints(top)
        elif top.name == "features" and top.is_dir():
            for f in _children(top):
                m = _FEATURES.fullmatch(f.name)
                yield from [_features(f, m)] if m else _loose(f)
        elif top.name == "classifiers" and top.is_dir():
            for f in _children(top):
                yield from [_entry("classifier", _classifier(f), f)] if f.suffix == ".pt" else _loose(f)
        elif top.name == "weights" and top.is_dir():
            for f in _children(top):
                # a download's lock and its cut-off part lie beside the weights (data/download.py)
                named = _TEMP.fullmatch(f.name) or f.suffix == ".lock" or _PART.fullmatch(f.name)
                yield from _loose(f) if named else [_entry("weights", f.name, f)]
        else:
            yield from _loose(top)


def _checkpoints(top: Path) -> Iterator[CacheEntry]:
    """``checkpoints/<dataset>/<model>/seed<N>-<key>/``: one entry a folder."""
    from genbench.checkpoint import PARTIAL
    from genbench.portable_names import spelled_from

    for dataset in _children(top):
        if not dataset.is_dir():
            yield from _loose(dataset)
            continue
        for model in _children(dataset):
            if not model.is_dir():
                yield from _loose(model)
                continue
            for folder in _children(model):
                m = _SEED.fullmatch(folder.name)
                if m is None or not folder.is_dir():
                    yield from _loose(folder)  # its lock beside it, left out
                    continue
                # named as the run names them: `con` of the folder _con/ (portable_names.portable)
                what = f"{spelled_from(model.name)} on {spelled_from(dataset.name)}, seed {m['seed']}"
                if (folder / "model.pt").exists():
                    config = _read(folder / "model.pt", "config")
                    shown = what if isinstance(config, dict) else f"{what} (model.pt unreadable)"
                    yield _entry("checkpoint", shown, folder, config if isinstance(config, dict) else None)
                elif (folder / PARTIAL).exists():
                    step = _read(folder / PARTIAL, "step")
                    at = f" at step {step}" if isinstance(step, int) else ""
                    if _locked(folder.parent / f"{folder.name}.lock"):  # training.train_or_load's lock
                        saved = f"; last saved{at}" if at else ""
                        live = f"{what}, being trained now (a genbench process holds its lock{saved})"
                        yield _entry("running training", live, folder)
                    else:
                        yield _entry("training state", f"{what}, interrupted{at}", folder)
                else:
                    yield _entry("other", f"{what}: no checkpoint in it", folder)


def _locked(lock: Path) -> bool:
    """Whether a process holds ``lock`` (filelock's ``flock`` on Linux), read from ``/proc/locks``
    without taking it: a training state was listed as "interrupted", deleting which "starts it over",
    while a live training held its lock; taking the lock to test it could make a run that starts then
    say it waits for another. False where ``/proc/locks`` is not there to read (not Linux)."""
    try:
        st = lock.stat()
        held = Path("/proc/locks").read_text()
    except OSError:
        return False
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (a waiter's line: "1: -> FLOCK ...")
    return any(inode in line.split() for line in held.splitlines())


def _features(path: Path, m: re.Match[str]) -> CacheEntry:
    """A features file, as today's keys name it, as an older key scheme's (never read again), or as
    one that records nothing of its key (written before genbench recorded it)."""
    from genbench.features.reference import FORMAT_VERSION, KEY_RECORD, keyed_today

    what = f"{m['split']} features of {m['dataset']} ({m['extractor']})"
    record = _untouched(path, lambda: _key_record(path, KEY_RECORD))
    if record is None or record is _UNREADABLE:  # None: it cannot be opened
        return _entry("features", f"{what} (unreadable: a run that needs them extracts them again)", path)
    if record is _UNRECORDED:
        return _entry(
            "unrecorded features", f"{what}, written before genbench recorded how its key is made", path
        )
    if record is _BAD_RECORD:  # a run reads the file by its name: not "never read", nor "unreadable"
        bad = f"{what} (its record of its key cannot be read: whether this genbench reads them is unknown)"
        return _entry("features", bad, path)
    if keyed_today(record, m["key"]):
        return _entry("features", what, path)
    version = record.get("version") if isinstance(record, dict) else None
    if isinstance(version, int) and version > FORMAT_VERSION:  # a shared cache: a newer genbench reads them
        newer = f"{what} (keyed by a newer genbench, key scheme {version}: this one does not read them)"
        return _entry("features", newer, path)
    if isinstance(version, int) and version < FORMAT_VERSION:
        how = f"keyed by an older genbench (key scheme {version}; this one's is {FORMAT_VERSION})"
    else:
        how = "keyed otherwise than this genbench keys them"
    return _entry("stale features", f"{what}, {how}: never read", path)


#: a features file that cannot be read (not a zip, cut short), one that records nothing of its key,
#: and one whose record cannot be read (not JSON, not a dict): its arrays may be read all the same
_UNREADABLE, _UNRECORDED, _BAD_RECORD = object(), object(), object()


def _key_record(path: Path, member: str) -> Any:
    """What a features file records of its key's inputs (a dict, from JSON), ``_UNRECORDED`` where it
    records nothing, ``_BAD_RECORD`` where that record cannot be read; the features are not read (an
    ``.npz`` reads a member when it is asked for)."""
    import json

    import numpy as np

    try:
        npz = np.load(path, allow_pickle=False)
    except Exception:
        return _UNREADABLE
    if not hasattr(npz, "files"):  # one .npy array under an .npz name
        return _UNREADABLE
    with npz:
        if member not in npz.files:
            return _UNRECORDED
        try:
            record = json.loads(str(npz[member][()]))
        except Exception:  # a run reads the file by its name alone: the arrays may be today's
            return _BAD_RECORD
    return record if isinstance(record, dict) else _BAD_RECORD


def _classifier(path: Path) -> str:
    meta = _read(path, "meta")
    if not isinstance(meta, dict):
        return "a dataset's classifier (unreadable)"
    return (
        f"a dataset's classifier ({meta.get('num_classes')} classes, "
        f"{meta.get('train_examples')} train examples)"
    )


def _read(path: Path, key: str) -> Any:
    """``key`` of the checkpoint ``path``, read without its tensors' data (torch's mmap); None when
    the file cannot be read."""
    import torch

    from genbench.checkpoint import numpy_allowed

    def load() -> Any:
        try:
            with numpy_allowed():
                return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:
            return None

    payload = _untouched(path, load)
    return payload.get(key) if isinstance(payload, dict) else None


def _untouched(path: Path, read: Callable[[], Any]) -> Any:
    """``read()`` of ``path`` with its access time put back: a listing is no use of the entry. Put
    back through a descriptor of the file read, not by its path: a run that replaced the file
    meanwhile (a training's state, saved every few minutes) had the new file's times set to the old
    one's. None when the file cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        before = os.fstat(fd)
        value = read()
        times = (before.st_atime_ns, before.st_mtime_ns)
        # another's file in a shared cache: its access time is the file system's
        with contextlib.suppress(OSError):
            os.utime(fd if os.utime in os.supports_fd else path, ns=times)
    except OSError:
        return None
    finally:
        os.close(fd)
    return value


def _data(data_dir: Path) -> Iterator[CacheEntry]:
    for f in _children(data_dir):
        if f.is_dir():
            if _holds_files(f):  # not the empty folder that a download failed offline leaves
                yield _entry("dataset", f"{f.name}'s files", f)
        else:
            yield from _loose(f)


def _holds_files(folder: Path) -> bool:
    """Whether ``folder`` holds a file, at any depth, but a lock (empty, left by each download)."""
    return any(f.suffix != ".lock" and not f.is_dir() for f in folder.rglob("*"))


def _loose(path: Path) -> list[CacheEntry]:
    """What genbench did not make as an entry: a killed write's temp file, a cut-off download's part,
    anything else; a lock file (empty, one beside each entry ever made) is left out."""
    if path.suffix == ".lock" and path.is_file():
        return []
    if _TEMP.fullmatch(path.name) and path.is_file():
        return [_entry("temp file", "what a killed write left", path)]
    if (m := _PART.fullmatch(path.name)) and path.is_file():
        what = f"{m['name']} in part, a cut-off download" + (" (its resume record)" if m["record"] else "")
        return [_entry("partial download", what, path)]
    return [_entry("other", "not a genbench cache entry", path)]


def _entry(kind: str, what: str, path: Path, config: dict[str, Any] | None = None) -> CacheEntry:
    size, used = _usage(path)
    return CacheEntry(kind, what, path, size, used, IF_DELETED[kind], config)


def _usage(path: Path) -> tuple[int, float]:
    """The bytes of the files at or under ``path`` and their latest access or change (of files
    alone: listing a folder, as this does, is an access of it)."""
    size, used = 0, 0.0
    for f in path.rglob("*") if path.is_dir() else [path]:
        try:
            st = f.lstat()
        except OSError:  # removed meanwhile
            continue
        if stat.S_ISREG(st.st_mode):
            size += st.st_size
            used = max(used, st.st_atime, st.st_mtime)
    return size, used


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:  # absent, or not a folder
        return []
