"""A download's partial file, kept when the download is cut off and resumed by the next attempt.

A download writes into ``<name>.part`` beside its destination (as ``wget -c``, browsers and
huggingface_hub's ``.incomplete`` do), and ``<name>.part.json`` records, before the first byte, the
URL it comes from and that server's validator of the file's version (a strong ETag, else its
Last-Modified). CIFAR-10 is 170 MB from one university server: a dropped connection, a timeout,
Ctrl-C, SIGTERM or SIGKILL (a cluster's time limit) lost all of it, the temp file being removed or
hidden under a random name.

The next attempt from that URL asks for the rest only if the file is unchanged (``Range:
bytes=<size>-`` with ``If-Range: <validator>``): ``206 Partial Content`` whose ``Content-Range``
starts at the part's end is appended; a ``200`` (the server ignores ranges, or the file changed) is
written from the start; ``416`` (nothing left to send) means the part may be whole, and it is
verified. A part with no validator saved is not resumed: nothing would tell another version's bytes
apart. The md5 (or other digest, :mod:`genbench.data.digest`) of the whole file stays the final
word: a mismatch deletes the part, so that a rerun starts clean, and only a verified part is renamed
(atomically) to the destination.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from email.message import Message
from pathlib import Path
from typing import IO, Any

from genbench.data import digest
from genbench.errors import GenbenchError
from genbench.io import FIX_DATA, atomic_write_text, disk_error, replace_retried

#: a response's headers (http.client's and urllib's are a Message), or a test's dict
Headers = Mapping[str, str] | Message
#: ``Content-Range: bytes <first>-<last>/<total or *>`` of a 206
_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", re.IGNORECASE)
#: what a header may carry: Latin-1 with no control character (a line break would start another)
_HEADER_VALUE = re.compile(r"[\x20-\x7e\x80-\xff]*")


def validator(headers: Headers | None) -> str | None:
    """What ``If-Range`` may carry for this response: its ETag if strong (a weak ``W/`` one may not
    be used there), else its Last-Modified date; None when the server sent neither."""
    if headers is None:
        return None
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified") or None


class Part:
    """The partial file of ``dest`` and what it was downloaded from; ``fix``: what an error writing
    it says to do (the weights' folder is no --data-dir)."""

    def __init__(self, dest: Path, fix: str = FIX_DATA):
        self.dest, self.fix = dest, fix
        self.path = dest.with_name(dest.name + ".part")
        self.sidecar = dest.with_name(dest.name + ".part.json")

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def _saved(self) -> dict[str, Any]:
        try:
            saved = json.loads(self.sidecar.read_text("utf-8"))
        except (OSError, ValueError):  # none, or cut short by a power cut: start over
            return {}
        if not isinstance(saved, dict) or not _HEADER_VALUE.fullmatch(str(saved.get("validator") or "")):
            return {}  # edited by hand: http.client would refuse it as If-Range with a traceback
        return saved

    def _resume_point(self) -> tuple[str | None, str, int]:
        """The URL a resumable part came from, its validator and its size, read once (None, "", 0
        if there is nothing to resume)."""
        saved, size = self._saved(), self.size()
        if not (size and saved.get("validator")):
            return None, "", 0
        return saved.get("url"), str(saved["validator"]), size

    def source(self) -> str | None:
        """The URL a resumable part came from (None if there is nothing to resume)."""
        return self._resume_point()[0]

    def resumable(self) -> bool:
        return self.source() is not None

    def resume_headers(self, url: str) -> dict[str, str]:
        """The request headers that ask ``url`` for the rest of the part; none to start over."""
        source, validator, size = self._resume_point()
        if source != url:
            return {}
        return {"Range": f"bytes={size}-", "If-Range": validator}

    def start(self, status: int, headers: Headers | None) -> int | None:
        """Where a response's body goes in the part: at its end (a 206 that continues it), at 0 (a
        whole file), or None (a 206 of another range, unusable)."""
        if status != 206:
            return 0
        match = _RANGE.fullmatch(str(headers.get("Content-Range") or "")) if headers is not None else None
        size = self.size()
        return size if match and int(match[1]) == size else None

    @staticmethod
    def total(headers: Headers | None, start: int) -> int | None:
        """The whole file's size: a 206's Content-Range says it, else the body's Content-Length
        after the ``start`` bytes the part holds."""
        if headers is None:
            return None
        match = _RANGE.fullmatch(str(headers.get("Content-Range") or ""))
        if match and match[3] != "*":
            return int(match[3])
        length = headers.get("Content-Length")
        if length is None:  # none sent (a chunked response)
            return None
        try:
            return start + int(length)
        except (TypeError, ValueError):  # not a number
            return None

    def whole(self, expected: str | None, headers: Headers | None) -> bool:
        """Whether the part is the whole file, after a 416: its digest, or (none known) the size the
        416's ``Content-Range: bytes */<size>`` gives."""
        if expected is not None:
            return digest.matches(expected, self.hash(self.size(), expected).hexdigest())
        size = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", str((headers or {}).get("Content-Range") or ""))
        return size is not None and int(size[1]) == self.size()

    def hash(self, size: int, expected: str | None = None) -> Any:
        """The hash object (``expected``'s algorithm, md5 by default) of the part's first ``size``
        bytes (those a resumed download keeps)."""
        h = digest.new(expected)
        with open(self.path, "rb") as fh:
            while size > 0 and (block := fh.read(min(1 << 20, size))):
                h.update(block)
                size -= len(block)
        return h

    @contextlib.contextmanager
    def open(self, start: int, url: str, headers: Headers | None) -> Iterator[IO[bytes]]:
        """The part open for its body from ``start`` (appended, or emptied and its sidecar saved
        before the first byte); a write that fails on the disk itself is a GenbenchError naming ``fix``."""
        try:
            with open(self.path, "ab" if start else "wb") as fh:
                if not start:  # after emptying the part: a kill in between leaves no old bytes under it
                    text = json.dumps({"url": url, "validator": validator(headers)})
                    atomic_write_text(self.sidecar, text + "\n", fix=self.fix)
                yield fh
        except OSError as e:
            error = disk_error(self.path, e, self.fix)
            if error is not None:
                raise error from e
            if e.filename is not None:  # the part cannot be opened: no connection's fault
                raise GenbenchError(f"cannot write {self.path} ({e.strerror or e}); {self.fix}") from e
            raise

    def finish(self) -> None:
        """Rename the verified part (synced to disk by the caller) to its destination: retried on
        Windows while another process holds either open (a virus scanner reading the part just
        written), as atomic writes are."""
        replace_retried(self.path, self.dest)
        with contextlib.suppress(OSError):
            self.sidecar.unlink()

    def discard(self) -> None:
        for path in (self.path, self.sidecar):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
