"""One process at a time downloads a dataset file: the others wait for it, then use its file.

Two jobs of a cluster array that start together on a fresh ``--data-dir`` would both append to the
same ``.part`` file. Waiting (as the cache's :func:`genbench.io.alone` does for training) rather than
refusing: the job that waits finds the file downloaded and goes on, where a refusal would fail every
job but one. The lock is ``flock`` on ``<name>.lock``, which the kernel releases when its holder dies
(SIGKILL included), and which the holder deletes before it lets go, so that nothing is left beside the
data. Deleting a lock file others may be waiting on is safe only because a waiter that gets the lock
checks that the file it locked is still the one at that path, and starts over otherwise. Without
``fcntl`` (Windows) it is :func:`genbench.io.alone`'s lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.io import FIX_DATA, alone

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # None: no fcntl, which mypy, reading Linux's, types as a module


@contextlib.contextmanager
def downloading(dest: Path, warn: Callable[[str], None], fix: str = FIX_DATA) -> Iterator[bool]:
    """Hold the download lock of ``dest`` in the block, waiting (said through ``warn``) while
    another process holds it. A file system that cannot lock goes on unlocked, with a warning; a
    folder that cannot be written is a GenbenchError naming ``fix``. Yields whether it waited for
    another process (:func:`genbench.io.alone`'s)."""
    lock_path = dest.with_name(dest.name + ".lock")
    if fcntl is None:
        with alone(lock_path, dest.name, "downloading it", warn) as waited:
            yield waited
        return
    fd, waited = _acquire(lock_path, warn, fix)
    try:
        yield waited
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(lock_path)  # while still held: see the module's docstring
            os.close(fd)  # releases the lock


def _acquire(lock_path: Path, warn: Callable[[str], None], fix: str) -> tuple[int | None, bool]:
    """The held lock's descriptor (None where the file system cannot lock) and whether it waited."""
    said = False
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:  # a read-only directory: the download could not be written either
            raise GenbenchError(f"cannot write to {lock_path.parent} ({e.strerror or e}); {fix}") from e
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not said:  # said even without progress bars: a job idle for minutes says why
                    warn(f"{lock_path.name[:-5]}: another genbench process is downloading it; waiting for it")
                    said = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                    return fd, said
            except FileNotFoundError:  # its holder finished and deleted it: lock the next one
                pass
        except OSError as e:  # ENOLCK: a network mount without locks
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(lock_path)  # no lock held on it, so none to leave beside the data either
            warn(
                f"cannot lock {lock_path} ({e.strerror or e}); another process may download it at the same time"
            )
            return None, said
        except BaseException:  # Ctrl-C or SIGTERM while waiting
            os.close(fd)
            raise
        os.close(fd)
