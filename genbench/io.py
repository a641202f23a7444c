"""Atomic file writes: a reader never sees a half-written file, and a crash loses nothing old."""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import glob
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from genbench.errors import GenbenchError

#: what the error of an unwritable directory advises, per kind of file (the flag that moves it)
FIX_OUT = "choose a writable directory with --out"
FIX_CACHE = "choose a writable directory with --cache-dir"
FIX_DATA = "choose a writable directory with --data-dir (or $GENBENCH_DATA)"
FIX_LEADERBOARDS = "choose a writable directory with --leaderboards"


def file_hexdigest(path: Path, algorithm: str = "sha256") -> str:
    """The ``algorithm`` digest (hex) of the bytes of the file ``path``; raises OSError when it
    cannot be read."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def file_sha256(path: Path) -> str:
    """:func:`file_hexdigest` in sha256, what results and fingerprints record."""
    return file_hexdigest(path, "sha256")


def atomic_write(
    path: Path,
    write: Callable[[IO[bytes]], object],
    *,
    fix: str = FIX_OUT,
    before_replace: Callable[[], object] | None = None,
) -> None:
    """Write through ``write(fh)`` into a temp file beside ``path``, fsync, then rename over it;
    ``fix`` is the advice when the directory cannot be written. ``before_replace()`` runs once the
    temp file is written, just before the rename: what must exist before ``path`` does (the result
    that names a samples file); when it raises, ``path`` is left as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise GenbenchError(f"cannot write to {path.parent} ({e.strerror}); {fix}") from e
    try:
        # mkstemp makes the file 0600: results, checkpoints and leaderboards in a shared directory
        # were unreadable to everyone else; the mode is what open() gives under the umask
        if hasattr(os, "fchmod"):  # POSIX (Windows has no modes to fix)
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        replace_retried(tmp, path)
        remove_temps(path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and (error := disk_error(path, e, fix)) is not None:
            raise error from e
        raise


#: seconds :func:`replace_retried` retries a rename over a file another process holds open, on Windows
#: alone: there a `genbench report` reading a result, an editor or a virus scanner with the file open
#: makes the rename fail (PermissionError) until it closes it, milliseconds later, where POSIX
#: renames over an open file. On POSIX a PermissionError is the folder's permissions, which no wait
#: changes. Bounded, as graceful-fs (npm's) and VS Code's renames on Windows are: a file held open
#: for longer is a program's that keeps it, named in the error.
REPLACE_RETRY_S = 5.0 if os.name == "nt" else 0.0


def replace_retried(tmp: str | os.PathLike[str], path: Path) -> None:
    """``os.replace(tmp, path)``, retried for :data:`REPLACE_RETRY_S` while it fails with a
    PermissionError (another process has ``path`` or ``tmp`` open, on Windows); then a
    :class:`GenbenchError` saying so, in one line. Atomic writes rename their temp file so, and a
    download its verified part (:meth:`genbench.data.resume.Part.finish`)."""
    deadline, pause = time.monotonic() + REPLACE_RETRY_S, 0.01
    while True:
        try:
            os.replace(tmp, path)
            return
        except PermissionError as e:
            if REPLACE_RETRY_S <= 0:
                raise
            if time.monotonic() >= deadline:
                raise GenbenchError(
                    f"cannot replace {path} ({e.strerror or e}): another program has held it open for "
                    f"{REPLACE_RETRY_S:g} s; close it (a report reading it, an editor) and rerun"
                ) from e
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 0.5)


#: a temp file older than this was left by a killed process (SIGKILL, a power cut), not one writing
#: now: no single write (a 570 MB CIFAR-10 DDPM checkpoint included) takes a day
STALE_TEMP_S = 24 * 3600


def remove_temps(path: Path, older_than: float = STALE_TEMP_S) -> None:
    """Remove the temp files a killed write of ``path`` left beside it (hidden, never read, as large
    as a checkpoint) that are older than ``older_than`` seconds: a fresher one may be a concurrent
    run's write in progress and is left alone."""
    path, now = Path(path), time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime >= older_than:
                tmp.unlink()
        except OSError:  # gone already (another run cleaned it), or not ours to remove
            pass


def _umask() -> int:
    """The process's umask now, as Linux reports it (``/proc/self/status``, read without changing
    it: a process may set another after its first write, a notebook's ``os.umask(0o002)`` for a
    group's folder); elsewhere, :func:`_set_umask`'s, read once."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _set_umask()


@functools.cache
def _set_umask() -> int:
    """The process's umask, read once: reading it means setting it, which is process-wide, so not
    at every write while other threads may create files."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


#: errors of the disk itself while writing (full, over quota, read-only, too large), which the user
#: fixes; any other OSError (a download's connection reset) is left to the caller
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


def disk_error(path: Path, e: OSError, fix: str) -> GenbenchError | None:
    """The error to raise for ``e`` when writing ``path`` failed on the disk itself (a full disk is
    no plugin's bug), naming ``fix``; None for any other OSError."""
    if e.errno not in _DISK_ERRORS:
        return None
    advice = f"free some space or {fix}" if e.errno in (errno.ENOSPC, errno.EDQUOT) else fix
    return GenbenchError(f"cannot write {path} ({e.strerror}); {advice}")


def save_png(path: Path, render: Callable[[IO[bytes]], object], *, fix: str = FIX_OUT) -> Path:
    """Render a PNG through ``render(fh)`` straight into :func:`atomic_write`'s temp file: an
    interrupted run or a full disk leaves no half-written (empty) figure; a disk error is a
    GenbenchError naming ``fix``. Returns ``path``."""
    atomic_write(Path(path), render, fix=fix)
    return Path(path)


def atomic_write_text(path: Path, text: str, *, fix: str = FIX_OUT) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")), fix=fix)


def atomic_copy(src: Path, dst: Path, *, fix: str = FIX_OUT) -> None:
    """Copy ``src`` to ``dst`` through :func:`atomic_write`: a killed copy or a full disk leaves the
    previous ``dst`` whole (``shutil.copyfile`` truncates it first) and a full disk names ``fix``."""
    with open(src, "rb") as fh:
        atomic_write(dst, functools.partial(shutil.copyfileobj, fh), fix=fix)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write strict JSON: a NaN or inf anywhere (a plugin's config, a training log) is written as
    null, so that every JSON reader can parse the file and nothing else in it is lost."""
    atomic_write_text(path, json_text(obj))


def json_text(obj: Any) -> str:
    """``obj`` as :func:`atomic_write_json` writes it: made before a write that must not fail half
    way for a value json cannot write (a result and the samples file it names)."""
    return json.dumps(_finite(obj), indent=2, sort_keys=False, default=_jsonable, allow_nan=False) + "\n"


def as_written(obj: Any) -> Any:
    """``obj`` as a reader of :func:`atomic_write_json`'s file gets it back (tuples as lists, NaN as
    None, a Path as text), so that settings about to be written compare with ones read."""
    return json.loads(json.dumps(_finite(obj), default=_jsonable))


def _finite(o: Any) -> Any:
    """``o`` with every non-finite float replaced by None (numpy scalars and arrays included), an
    Enum by its value and a set by its sorted items (in the same order whatever the hash seed, so
    the same run writes the same file); other objects json cannot write go to :func:`_jsonable`."""
    import numpy as np

    if isinstance(o, enum.Enum):
        return _finite(o.value)
    if isinstance(o, set | frozenset):
        items = [_finite(v) for v in o]
        try:
            return sorted(items)
        except TypeError:  # items of several types (None for a NaN among floats)
            return sorted(items, key=repr)
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    if isinstance(o, np.ndarray | np.generic):
        return _finite(o.tolist())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def _jsonable(o: Any) -> Any:
    """Any other value (a torch.dtype, a Path, a plugin's own object) as its text, as
    ``api.config_hash`` writes it: a plugin's config value must never fail the run after training."""
    return str(o)


def check_writable(directory: Path, flag: str = "--out", fix: str | None = None) -> Path:
    """Fail early, with the fix, when ``directory`` cannot be created or written; ``fix`` replaces
    the default one ("pass a directory with --out") where the flag names no directory."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".writetest"):
            pass
    except OSError as e:
        # a file where a directory is expected (the path or a folder above it): "File exists" hid that
        if (in_the_way := file_in_the_way(directory, flag, fix)) is not None:
            raise in_the_way from e
        raise GenbenchError(
            f"output directory {directory} is not writable ({e.strerror or e}); "
            f"{fix or f'pass a writable one with {flag}'}"
        ) from e
    return directory


def file_in_the_way(directory: Path, flag: str = "--out", fix: str | None = None) -> GenbenchError | None:
    """The error of a file at ``directory``, or at a folder above it, where a directory is expected
    (None when there is none), naming the fix as :func:`check_writable` does."""
    for part in (directory, *directory.parents):
        if part.exists():
            if part.is_dir():
                return None
            # "is not writable" kept first: what a reader (and report's tests) look for
            what = "is not writable: it" if part == directory else f"cannot be created: {part}"
            return GenbenchError(
                f"{directory} {what} is a file, not a directory; {fix or f'pass a directory with {flag}'}"
            )
    return None


#: seconds between the lines of a job still waiting on another's lock (:func:`alone`): "waiting for
#: it" once, then nothing for the hours of a CIFAR-10 training, read in a log as a hung job
WAIT_REMINDER_S = 600.0


@contextlib.contextmanager
def alone(lock_path: Path, who: str, doing: str, warn: Callable[[str], None]) -> Iterator[bool]:
    """Hold the lock file ``lock_path`` while ``who``'s cache entry is made (``doing``, e.g.
    "training it"), so that processes sharing a cache (cluster jobs launched together) make it once:
    the others wait, saying so through ``warn``, then read what the first wrote. A file system that
    cannot lock (some network mounts) goes on unlocked, with a warning. Yields whether it waited for
    another process: one that then finds no entry says so with :func:`took_over`."""
    from filelock import FileLock, Timeout

    lock = FileLock(lock_path)
    waited = False
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            # said even without progress bars: a job that sits idle for an hour says why
            warn(f"{who}: another genbench process is {doing}; waiting for it ({lock_path})")
            start = time.monotonic()
            while True:
                try:
                    lock.acquire(timeout=WAIT_REMINDER_S)
                    break
                except Timeout:  # and every WAIT_REMINDER_S after, with the time waited so far
                    waited_for = _clock(time.monotonic() - start)
                    warn(f"{who}: another genbench process is still {doing}; waited {waited_for} so far")
            waited = True
        held = True
    except (OSError, NotImplementedError) as e:
        warn(f"{who}: cannot lock {lock_path} ({e}); another process may be {doing} at the same time")
        held = False
    try:
        yield waited
    finally:
        if held:
            lock.release()


def _clock(seconds: float) -> str:
    """``seconds`` as h:mm:ss."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def took_over(who: str, saved: str, doing: str, warn: Callable[[str], None]) -> None:
    """Say, through ``warn``, that the process :func:`alone` waited for ended without leaving
    ``who``'s cache entry (``saved``: "saving it"; killed, out of time, or failed), so this one is
    ``doing`` it now: after "waiting for it", a job in a log file (``--no-progress``) was silent for
    the hours of a training it had taken over, as if it still waited."""
    warn(f"{who}: the genbench process it waited for ended without {saved} (killed or failed); {doing} here")
