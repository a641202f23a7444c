"""Fetch dataset files on first use, verify their md5, and say exactly what to do when offline.

Every downloadable dataset lists its files as ``{filename: md5}`` in a module-level table (tests
monkeypatch those tables to check files they write themselves) and the mirrors to try in order.
A file that is present is verified, never re-downloaded; a missing file is downloaded into
``<name>.part`` beside its destination and renamed only once its checksum matches, so an
interrupted download never leaves a half-written file that looks valid; a part cut off is resumed
by the next attempt (:mod:`genbench.data.resume`). One process at a time downloads a file
(:mod:`genbench.data.download_lock`), and a host name lookup has a time limit too
(:mod:`genbench.data.connect`). The Inception extractors fetch their weights through
:func:`ensure_file` the same way, checked against a prefix of their sha256 where their file name
gives one (:mod:`genbench.data.digest`).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from email.message import Message
from pathlib import Path
from typing import IO

from genbench.data import digest
from genbench.data.connect import opener
from genbench.data.download_lock import downloading
from genbench.data.resume import Part
from genbench.errors import DataError, GenbenchError
from genbench.io import FIX_DATA, remove_temps, took_over
from genbench.io import file_hexdigest as io_file_hexdigest
from genbench.progress import Progress, TenthLines, current_console

#: seconds before a download attempt gives up on a silent server
TIMEOUT_S = 60


#: sent with every request: some servers and CDNs refuse urllib's default "Python-urllib/3.x" with
#: HTTP 403 (torchvision's downloads name themselves too)
USER_AGENT = "genbench (https://pypi.org/project/genbench/)"


def _open_url(url: str, headers: dict[str, str] | None = None) -> IO[bytes]:
    """The one network call (tests monkeypatch it to simulate being offline); ``headers``: a
    resumed download's ``Range`` and ``If-Range``. The host name lookup is bounded by
    :data:`TIMEOUT_S` too (:mod:`genbench.data.connect`)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return opener().open(request, timeout=TIMEOUT_S)


def file_hexdigest(path: Path, algorithm: str = "md5") -> str:
    """:func:`genbench.io.file_hexdigest` of a downloaded file, whose read error names its fix."""
    try:
        return io_file_hexdigest(path, algorithm)
    except OSError as e:  # a directory in a file's place, no read permission, a failing disk
        raise DataError(
            f"cannot read {path} ({e.strerror or e}); fix its permissions, or delete it to download it again"
        ) from None


#: the fix for a file found corrupt, said after it
FIX_CORRUPT = "delete it and retry to download it again"


def check_digest(path: Path, expected: str | None, fix: str = FIX_CORRUPT) -> None:
    """Raise :class:`DataError` (corrupt: delete and retry, or ``fix``) when ``path`` does not match
    ``expected`` (an md5, or ``"sha256:<prefix>"``: :mod:`genbench.data.digest`)."""
    if expected is None:
        return
    algorithm, value = digest.split(expected)
    got = file_hexdigest(path, algorithm)
    if not digest.matches(expected, got):
        raise DataError(f"{path} is corrupt ({algorithm} {got}, expected {value}); {fix}")


def torchvision_fix(dataset: str, directory: Path) -> str:
    """:func:`check_digest`'s fix for a corrupt file of torchvision's folder, which a dataset reads in
    place where its own ``directory`` lacks the files: that folder is torchvision's, never written
    here, so a file deleted there is not downloaded there again (the dataset goes into ``directory``)."""
    return (
        f"delete it and retry: {dataset} is then read from what is left there, or downloaded into {directory} "
        "(torchvision's folder is never written)"
    )


def corrupt(path: Path, why: str) -> DataError:
    """The error for a file whose content cannot be parsed."""
    return DataError(f"{path} is corrupt ({why}); {FIX_CORRUPT}")


def ensure_files(
    dataset: str,
    directory: Path,
    files: dict[str, str | None],
    mirrors: Iterable[str],
    instead: str = "",
    elsewhere: Path | None = None,
    elsewhere_lacks: str = "",
) -> dict[str, Path]:
    """Make sure every file of ``files`` ({name: md5}) is in ``directory``, downloading if needed.

    Returns {name: path}. Offline or on a failed download, raises one :class:`DataError` naming
    every missing file, where to put it, and where to get it; ``instead``: what else the dataset
    reads from ``directory`` in their place (CIFAR-10's extracted folder), named beside them;
    ``elsewhere``: torchvision's folder of the dataset, which it reads too (never written here), named
    beside ``directory``, and ``elsewhere_lacks`` after it: what it holds but in part (CIFAR-10's
    extracted folder, with the batches it lacks). Each file's md5 may be another digest
    (:mod:`genbench.data.digest`).
    """
    directory = Path(directory)
    mirrors = list(mirrors)
    paths = {name: directory / name for name in files}
    missing = [name for name, p in paths.items() if not p.exists()]
    if missing:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            # a file where a folder goes: "(File exists)" or "(Not a directory)" did not say which
            part = next((p for p in (directory, *directory.parents) if p.exists()), None)
            if part is not None and not part.is_dir():
                raise DataError(
                    f"cannot create {directory}: {part} is a file, not a directory; move it away, or pass "
                    "another --data-dir or set GENBENCH_DATA"
                ) from None
            raise DataError(
                f"cannot create {directory} ({e.strerror or e}); pass a writable --data-dir or set GENBENCH_DATA"
            ) from None
    for name in missing:
        try:
            _download(name, paths[name], files[name], mirrors)
        except DownloadFailed as e:
            still = [n for n in missing if not paths[n].exists()]
            urls = mirrors[0] + still[0] if len(still) == 1 else mirrors[0]
            alternative = f" (or {instead})" if instead else ""
            # torchvision's folder is read only whole: named where none of the files is in directory
            there = (
                f" or torchvision's {elsewhere}{elsewhere_lacks}"
                if elsewhere is not None and len(still) == len(paths)
                else ""
            )
            raise DataError(
                f"cannot download {dataset} ({e.reason}); put {', '.join(still)}{alternative} into {directory}{there}"
                f" (from {urls}) or point --data-dir / GENBENCH_DATA at a directory holding {dataset}/"
                + (" or a torchvision root" if elsewhere is not None else "")
            ) from None
    for name, p in paths.items():
        if name not in missing:  # freshly downloaded files were verified already
            check_digest(p, files[name])
            drop_part_of(p)
    return paths


def ensure_file(dest: Path, expected: str | None, mirrors: Iterable[str], fix: str = FIX_DATA) -> Path:
    """:func:`ensure_files`' work on one file, for a caller that words its own errors (the Inception
    weights, whose fix is a flag, not --data-dir): ``dest`` verified against ``expected``, downloaded
    from the first mirror that gives ``mirror + dest.name`` when missing, into its folder, which must
    exist. Raises :class:`DownloadFailed` (why, in its ``reason``) when none does, :class:`DataError`
    when a present file fails its check, a GenbenchError naming ``fix`` when the folder cannot be written."""
    if dest.exists():
        check_digest(dest, expected)
        drop_part_of(dest, fix)
    else:
        _download(dest.name, dest, expected, list(mirrors), fix)
    return dest


def drop_part_of(dest: Path, fix: str = FIX_DATA) -> None:
    """Delete the part that a cut-off download of ``dest`` left, now that ``dest`` is there and
    verified (put in by hand, as the error said), or what a dataset reads in its place is (CIFAR-10's
    extracted folder, MNIST's files un-gzipped): a present file is never downloaded, so CIFAR-10's
    part (up to 170 MB) stayed beside it for good. Under the download's lock, which a process still
    downloading holds; a data directory that cannot be written keeps it."""
    part = Part(dest)
    if not (part.path.exists() or part.sidecar.exists()):
        return
    with (
        contextlib.suppress(GenbenchError, OSError),
        downloading(dest, (current_console() or Progress()).warn, fix),
    ):
        part.discard()


class DownloadFailed(Exception):
    """No mirror gave the file; ``reason`` says why, for the caller's one-line error."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _fetch(url: str, part: Part, expected: str | None) -> None:
    """Download ``url`` into ``part`` (resuming it where it can), verify it, and rename it."""
    for _ in range(2):  # a resume the server answers with another range: once more from the start
        headers = part.resume_headers(url)
        try:
            response = _open_url(url, headers) if headers else _open_url(url)  # tests' fakes: the url alone
        except urllib.error.HTTPError as e:
            if e.code != 416 or not headers:
                raise
            # Range Not Satisfiable: nothing after the part's end (a run killed before its rename?)
            if part.whole(expected, e.headers):
                part.finish()
                return
            part.discard()
            continue
        with response:
            resp_headers: Message | None = getattr(response, "headers", None)
            start = part.start(getattr(response, "status", None) or 200, resp_headers)
            if headers and _is_html(resp_headers, b""):  # a login page in place of the rest: keep the part
                raise _web_page(url)
            if start is not None:
                _copy_checked(response, resp_headers, part, start, expected, url)
                return
        part.discard()
    raise DownloadFailed(f"{url} answered a plain request with part of the file")


def _copy_checked(
    response: IO[bytes], headers: Message | None, part: Part, start: int, expected: str | None, url: str
) -> None:
    """Copy ``response`` into ``part`` after its first ``start`` bytes, hashing as it goes, and
    rename it only when the whole file's digest matches, so no file of the final name is ever unverified."""
    dest = part.dest
    total = part.total(headers, start)
    # said before the first byte: CIFAR-10 is 170 MB from one university server, minutes of a run
    # that printed nothing at all
    console = current_console() or Progress()
    size = f" ({_mb(total)})" if total is not None else ""
    resumed = f", resuming at {_mb(start)}" + (f" of {_mb(total)}" if total else "") if start else ""
    console.note(f"downloading {url}{size} into {dest.parent}{resumed}")
    # a line at each tenth once it has run a while (a fast download says nothing more): plain
    # lines, not a bar, which a reference-statistics spinner around the first load would break
    lines = TenthLines(console.console, dest.name, lambda done, total: f"{_mb(done)} of {_mb(total)}")
    lines.tenths = start * 10 // total if total else 0  # the tenths the part holds were said before
    h, done, first = part.hash(start, expected) if start else digest.new(expected), start, b""
    # http.client's read(n) waits for all n bytes: what arrived before a SIGKILL was lost with it
    read = response.read1 if isinstance(response, http.client.HTTPResponse) else response.read
    with part.open(start, url, headers) as fh:
        while block := read(1 << 20):
            h.update(block)
            fh.write(block)
            first, done = first or block[:512], done + len(block)
            if console.enabled:
                lines.update(done, total)
        matches = expected is not None and digest.matches(expected, h.hexdigest())
        # urllib returns a body cut short of its Content-Length as if it were whole: a dropped
        # connection read as "checksum mismatch", as if the mirror served another file. A body whose
        # md5 matches is the file, whatever length the server announced (the md5 is the final word)
        if total is not None and done < total and not matches:
            raise DownloadFailed(f"connection closed after {done} of {total} bytes from {url}")
        verified = expected is None or matches
        if verified:
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the rename: a power cut leaves the part or the file
    if verified:
        part.finish()
        remove_temps(dest)  # the hidden temp files the downloads of older versions left
        return
    part.discard()  # a rerun starts clean, not from bytes that may be the wrong ones
    if _is_html(headers, first):
        raise _web_page(url)
    if start:
        raise DownloadFailed(
            f"checksum mismatch from {url} after resuming at {_mb(start)}; its {part.path.name} is deleted, "
            "so a rerun downloads it whole"
        )
    raise DownloadFailed(f"checksum mismatch from {url}")


def _web_page(url: str) -> DownloadFailed:
    return DownloadFailed(f"{url} sent a web page, not the file: a proxy's or a network's login page?")


def _is_html(headers: Message | None, first: bytes) -> bool:
    """Whether a response is a web page: a proxy's error or a network's login page saved as the file."""
    kind = str(headers.get("Content-Type") or "") if headers is not None else ""
    if kind.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    return first.lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"  # MNIST's labels: not "0.0 MB"


def _download(name: str, dest: Path, expected: str | None, mirrors: list[str], fix: str = FIX_DATA) -> None:
    console = current_console() or Progress()
    with downloading(dest, console.warn, fix) as waited:
        if dest.exists():  # another process downloaded it while this one waited
            check_digest(dest, expected)
            return
        if waited:  # it ended without the file: killed, out of time, or no mirror answered it
            took_over(dest.name, "finishing it", "downloading it", console.warn)
        part = Part(dest, fix)
        # a part resumes only from the URL it came from (another server's validator means nothing)
        source = part.source()
        mirrors = sorted(mirrors, key=lambda m: m + name != source)
        reasons = []
        try:
            for mirror in mirrors:
                url = mirror + name
                try:
                    _fetch(url, part, expected)
                except DownloadFailed as e:
                    reasons.append(e.reason)
                    # said now, after its "downloading" line: the next mirror's followed with no word
                    # between (a mirror that never answered said no line; offline, each would only
                    # repeat the error)
                    if mirror != mirrors[-1]:
                        console.warn(f"{e.reason}; trying the next mirror")
                except urllib.error.HTTPError as e:  # the server answered: which URL it refused, and how
                    reasons.append(f"HTTP {e.code} {e.reason} from {url}")
                # IncompleteRead (an HTTPException, not an OSError): a chunked download cut off mid-way
                except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as e:
                    reasons.append(str(getattr(e, "reason", None) or e) or type(e).__name__)
                else:
                    return
        finally:  # Ctrl-C and SIGTERM too: what cannot be resumed is of no use
            kept = part.resumable()
            if not kept:
                part.discard()
        if kept:
            reasons.append(f"{_mb(part.size())} of it kept in {part.path.name}, which a rerun resumes")
    raise DownloadFailed("; ".join(dict.fromkeys(reasons)) or "no mirror")
