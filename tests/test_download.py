"""Downloads, never from the network (urllib against a server on localhost, or a monkeypatched
fetch): what a failed attempt says, and what a run says while it downloads."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import threading
from collections.abc import Iterator

import pytest
from rich.console import Console
from test_data import write_mnist  # tests/ is on the path: pytest imports test modules by name

from genbench.data import download, mnist
from genbench.errors import DataError
from genbench.progress import Progress, command_console

PAYLOAD = bytes(range(256)) * 400  # 100 kB: several socket reads
GOOD = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<file>``: ``ok`` serves :data:`PAYLOAD`; ``cut`` promises it all and closes half-way
    (a dropped connection); ``long`` sends it all but announces more; ``html`` is a proxy's 200 page;
    ``gone`` is a 404."""

    def do_GET(self) -> None:
        mode = self.path.strip("/").split("/")[0]
        if mode == "gone":
            self.send_error(404)
            return
        body = b"<!DOCTYPE html><html><body>Please log in</body></html>" if mode == "html" else PAYLOAD
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if mode == "html" else "application/gzip")
        self.send_header("Content-Length", str(len(body) + (10 if mode == "long" else 0)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "cut" else body)

    def log_message(self, *a: object) -> None:
        pass


@contextlib.contextmanager
def _serving(
    handler: type[http.server.BaseHTTPRequestHandler], monkeypatch
) -> Iterator[http.server.HTTPServer]:
    """A local server of ``handler`` running in the block (and no proxy between)."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def server(monkeypatch) -> Iterator[str]:
    """The base URL of a local server."""
    with _serving(_Handler, monkeypatch) as srv:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"


@pytest.mark.parametrize(
    "mode, said",
    [
        # urllib hands back a body cut short of its Content-Length as if whole: it read "checksum mismatch"
        ("cut", f"connection closed after {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes from "),
        # a proxy's or a hotel network's page saved as the archive: "checksum mismatch" again
        ("html", "sent a web page, not the file"),
        # "(Not Found)": neither which URL nor that the server answered
        ("gone", "HTTP 404 Not Found from "),
    ],
)
def test_a_failed_download_says_what_went_wrong(tmp_path, server, mode, said):
    with pytest.raises(DataError) as e:
        download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [f"{server}{mode}/"])
    assert said in str(e.value) and f"{server}{mode}/f.gz" in str(e.value), str(e.value)
    assert not list(tmp_path.iterdir())  # nothing left that looks downloaded


def test_a_failing_mirror_says_why_before_the_next_is_tried(tmp_path, server):
    """The next mirror's "downloading" line followed the first's with no word between: the reason
    was said only when every mirror had failed."""
    out = io.StringIO()
    with command_console(Progress(False, Console(file=out, width=300))):
        download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [f"{server}html/", f"{server}ok/"])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"downloading {server}html/f.gz"), lines
    assert lines[1].startswith(f"warning: {server}html/f.gz sent a web page, not the file"), lines
    assert lines[1].endswith("; trying the next mirror"), lines
    assert lines[2].startswith(f"downloading {server}ok/f.gz"), lines
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_run_says_what_it_downloads(cli, tmp_path, monkeypatch):
    """The first run on CIFAR-10 (170 MB from one university server) printed nothing at all until
    the download ended: minutes of silence that read as a hung run."""
    src = tmp_path / "src"
    write_mnist(src)
    served = {f"https://mirror/{f.name}": f.read_bytes() for f in src.iterdir()}
    monkeypatch.setattr(download, "_open_url", lambda url: io.BytesIO(served[url]))
    monkeypatch.setitem(
        mnist.RESOURCES, "mnist", {n[15:]: hashlib.md5(b).hexdigest() for n, b in served.items()}
    )
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["https://mirror/"])
    data = tmp_path / "data"
    args = ["stats", "--dataset", "mnist", "--features", "raw", "--data-dir", data, "--no-progress"]
    r = cli(*args, "--cache-dir", tmp_path / "cache", "--out", tmp_path / "mnist.npz")
    assert r.exit_code == 0, r.output
    for name in served:
        assert f"downloading {name} into {data / 'mnist'}" in r.stderr, r.stderr


class _Response(io.BytesIO):
    """A response whose server sent its length, read 1 MiB at a time as the download reads it."""

    def __init__(self, body: bytes):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


@pytest.mark.parametrize("progress", [True, False])
def test_a_long_download_says_how_far_it_is(tmp_path, monkeypatch, progress):
    """A line at each tenth once the download has run a while (here from the start), none with
    --no-progress: a bar would break the reference-statistics spinner that may be running."""
    body = bytes(3_000_000)
    monkeypatch.setattr(download, "_open_url", lambda url: _Response(body))
    monkeypatch.setattr("genbench.progress.LOG_AFTER_S", 0.0)
    out = io.StringIO()
    with command_console(Progress(progress, Console(file=out, width=300))):
        download.ensure_files("x", tmp_path, {"f.gz": hashlib.md5(body).hexdigest()}, ["https://mirror/"])
    lines = out.getvalue().splitlines()
    assert lines[0] == f"downloading https://mirror/f.gz (3.0 MB) into {tmp_path}"
    tenths = [line.split(" (")[0] for line in lines[1:]]
    assert tenths == (
        ["f.gz: 1.0 MB of 3.0 MB", "f.gz: 2.1 MB of 3.0 MB", "f.gz: 3.0 MB of 3.0 MB"] if progress else []
    )


def test_a_file_whose_md5_matches_is_kept_whatever_length_was_announced(tmp_path, server):
    """The md5 is the final word: a server announcing more bytes than the file has (a wrong
    Content-Length, or a 206's Content-Range total) failed a download whose bytes were the file, as
    "connection closed after N of M bytes", and at every rerun where the server ignores ranges."""
    download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [server + "long/"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


# -- resumed downloads ---------------------------------------------------------------------------
HALF = len(PAYLOAD) // 2


class _State:
    """What the resuming server serves (:data:`PAYLOAD` under an ETag) and how: ``mode`` ``ok``
    honours ``Range`` and ``If-Range``; ``ignore-range`` always sends the whole file (200); ``cut``
    sends half of what it promised and closes; ``stall`` sends half and waits for ``release``;
    ``pause`` sends half, waits for ``release``, then the rest; ``wrong-range`` answers a resume with the whole file as a 206; ``html`` sends a login page. A path under one of ``gone`` is a
    404. ``requests`` records each request's headers (and its path) and the status it was answered with."""

    def __init__(self) -> None:
        self.mode, self.etag, self.url = "ok", '"v1"', ""
        self.requests: list[tuple[dict[str, str], int]] = []
        self.gone: set[str] = set()
        self.release = threading.Event()


class _Resuming(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        st: _State = self.server.state  # type: ignore[attr-defined]
        if any(self.path.startswith(prefix) for prefix in st.gone):
            st.requests.append(({**self.headers, "path": self.path}, 404))
            self.send_error(404)
            return
        asked, start, status = self.headers.get("Range"), 0, 200
        if asked and st.mode != "ignore-range" and self.headers.get("If-Range", st.etag) == st.etag:
            start, status = int(asked.removeprefix("bytes=").removesuffix("-")), 206
            if st.mode == "wrong-range":
                start = 0
        st.requests.append(({**self.headers, "path": self.path}, 416 if start >= len(PAYLOAD) else status))
        if start >= len(PAYLOAD):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if st.mode == "html":  # a hotel network's login page, whatever was asked
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>Please log in</body></html>")
            return
        rest = PAYLOAD[start:]
        self.send_response(status)
        self.send_header("ETag", st.etag)
        self.send_header("Content-Length", str(len(rest)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        if st.mode in ("cut", "stall", "pause"):
            self.wfile.write(rest[: len(rest) // 2])
            self.wfile.flush()
            if st.mode != "cut":
                st.release.wait(60)
            if st.mode != "pause":
                return
            rest = rest[len(rest) // 2 :]
        self.wfile.write(rest)

    def log_message(self, *a: object) -> None:
        pass


@contextlib.contextmanager
def resuming_server(monkeypatch) -> Iterator[_State]:
    """A local server that resumes, running in the block (its state; its mirror URL is ``state.url``)."""
    state = _State()
    with _serving(_Resuming, monkeypatch) as srv:
        srv.state = state  # type: ignore[attr-defined]
        state.url = f"http://127.0.0.1:{srv.server_address[1]}/"
        try:
            yield state
        finally:
            state.release.set()  # a stalled answer ends before the server closes, which joins it


@pytest.fixture
def resuming(monkeypatch) -> Iterator[_State]:
    """A local server that resumes (:func:`resuming_server`)."""
    with resuming_server(monkeypatch) as state:
        yield state


def _get(state: _State, directory, md5: str = GOOD) -> str:
    """Download f.gz from ``state``'s server into ``directory``; what it said."""
    out = io.StringIO()
    with command_console(Progress(False, Console(file=out, width=300))):
        download.ensure_files("x", directory, {"f.gz": md5}, [state.url])
    return out.getvalue()


def _cut_off(state: _State, directory) -> str:
    """A download of f.gz that the connection drops half-way; its error."""
    state.mode = "cut"
    with pytest.raises(DataError) as e:
        _get(state, directory)
    state.mode = "ok"
    return str(e.value)


def test_a_download_cut_off_is_resumed_where_it_stopped(tmp_path, resuming):
    """A dropped connection lost the whole partial download (CIFAR-10: 170 MB from one server)."""
    error = _cut_off(resuming, tmp_path)
    assert f"51 kB of it kept in f.gz.part, which a rerun resumes); put f.gz into {tmp_path}" in error, error
    assert (tmp_path / "f.gz.part").read_bytes() == PAYLOAD[:HALF]
    said = _get(resuming, tmp_path)
    headers, status = resuming.requests[-1]
    assert (headers["Range"], headers["If-Range"], status) == (f"bytes={HALF}-", '"v1"', 206)
    assert f"into {tmp_path}, resuming at 51 kB of 102 kB" in said, said
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]  # no part, sidecar nor lock left


def test_a_server_that_ignores_range_is_downloaded_from_the_start(tmp_path, resuming):
    """A 200 to a resume is the whole file: appended to the part, it would fail its checksum."""
    _cut_off(resuming, tmp_path)
    (tmp_path / "f.gz.part").write_bytes(bytes(HALF))  # not the file's first half: kept, it would show
    resuming.mode = "ignore-range"
    _get(resuming, tmp_path)
    headers, status = resuming.requests[-1]
    assert (headers["Range"], status) == (f"bytes={HALF}-", 200)
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_resume_answered_with_another_range_starts_over(tmp_path, resuming):
    """A 206 whose Content-Range does not start at the part's end cannot be appended to it."""
    _cut_off(resuming, tmp_path)
    resuming.mode = "wrong-range"
    _get(resuming, tmp_path)
    assert [("Range" in headers, status) for headers, status in resuming.requests] == [
        (False, 200),  # cut off
        (True, 206),  # the whole file, as 206 "bytes 0-"
        (False, 200),  # so once more, from the start
    ]
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_part_is_resumed_from_the_mirror_it_came_from(tmp_path, resuming):
    """Its ETag means nothing to another mirror: that mirror first, even if it is not the first."""
    mirrors = [resuming.url + "a/", resuming.url + "b/"]
    resuming.gone, resuming.mode = {"/a/"}, "cut"
    with pytest.raises(DataError):
        download.ensure_files("x", tmp_path, {"f.gz": GOOD}, mirrors)
    resuming.gone, resuming.mode = set(), "ok"
    download.ensure_files("x", tmp_path, {"f.gz": GOOD}, mirrors)
    paths = [(headers["path"], status) for headers, status in resuming.requests]
    assert paths == [("/a/f.gz", 404), ("/b/f.gz", 200), ("/b/f.gz", 206)]
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_if_range_takes_a_strong_etag_else_the_date():
    """A weak ETag (``W/``) may not be sent in If-Range: the server would always send the whole file."""
    from genbench.data.resume import validator

    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert validator({"ETag": '"v1"', "Last-Modified": date}) == '"v1"'
    assert validator({"ETag": 'W/"v1"', "Last-Modified": date}) == date
    assert validator({}) is None


def test_a_login_page_in_place_of_the_rest_leaves_the_part_alone(tmp_path, resuming):
    """A network's login page answers the resume with a 200: written over the part, it lost it."""
    _cut_off(resuming, tmp_path)
    resuming.mode = "html"
    with pytest.raises(DataError, match="sent a web page, not the file.*51 kB of it kept in f.gz.part"):
        _get(resuming, tmp_path)
    assert (tmp_path / "f.gz.part").read_bytes() == PAYLOAD[:HALF]


def test_a_whole_part_a_killed_run_left_is_verified_not_downloaded_again(tmp_path, resuming):
    """Killed after the last byte, before the rename: the server has nothing left to send (416)."""
    _cut_off(resuming, tmp_path)
    (tmp_path / "f.gz.part").write_bytes(PAYLOAD)
    _get(resuming, tmp_path)
    assert [status for _, status in resuming.requests] == [200, 416]
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_whole_length_part_of_other_bytes_is_downloaded_again_not_renamed(tmp_path, resuming):
    """After a 416 the part is the file only if its md5 matches: one of the file's length whose first
    byte differs is deleted and the file downloaded whole, never given the final name unverified."""
    _cut_off(resuming, tmp_path)
    (tmp_path / "f.gz.part").write_bytes(b"X" + PAYLOAD[1:])
    _get(resuming, tmp_path)
    assert [status for _, status in resuming.requests] == [200, 416, 200]
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_resumed_download_that_fails_its_checksum_starts_over_on_the_rerun(tmp_path, resuming):
    _cut_off(resuming, tmp_path)
    part = tmp_path / "f.gz.part"
    part.write_bytes(b"X" + part.read_bytes()[1:])  # a bad sector, or another version's first half
    with pytest.raises(DataError) as e:
        _get(resuming, tmp_path)
    assert "after resuming at 51 kB; its f.gz.part is deleted, so a rerun downloads it whole" in str(e.value)
    assert not list(tmp_path.iterdir())
    _get(resuming, tmp_path)
    assert "Range" not in resuming.requests[-1][0] and (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_ctrl_c_or_sigterm_mid_download_keeps_the_part(tmp_path, monkeypatch):
    """Ctrl-C (SIGTERM is raised as a KeyboardInterrupt) removed the temp file with what it held."""

    class Interrupted(_Response):
        def read(self, *a: object) -> bytes:
            if self.tell():
                raise KeyboardInterrupt
            return super().read(HALF)

    def fetch(url: str) -> Interrupted:
        response = Interrupted(PAYLOAD)
        response.headers["ETag"] = '"v1"'
        return response

    monkeypatch.setattr(download, "_open_url", fetch)
    with pytest.raises(KeyboardInterrupt):
        download.ensure_files("x", tmp_path, {"f.gz": GOOD}, ["https://mirror/"])
    assert (tmp_path / "f.gz.part").read_bytes() == PAYLOAD[:HALF]


def test_a_download_killed_with_sigkill_is_resumed(tmp_path, resuming):
    """SIGKILL (a cluster's time limit past its grace period) runs no cleanup: the hidden temp file
    it left was never reused, only swept a day later."""
    import os
    import subprocess
    import sys
    import time

    resuming.mode = "stall"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from genbench.data import download; "
         "download.ensure_files('x', sys.argv[1], {'f.gz': sys.argv[2]}, [sys.argv[3]])",
         str(tmp_path), GOOD, resuming.url],
        env={**os.environ, "no_proxy": "127.0.0.1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # a wait, not a timing: the child imports torch
        while sum(p.stat().st_size for p in tmp_path.glob("*f.gz*")) < HALF:
            assert child.poll() is None and time.monotonic() < deadline, "the child never wrote half"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    resuming.release.set()
    resuming.mode = "ok"
    _get(resuming, tmp_path)
    assert resuming.requests[-1][0].get("Range") == f"bytes={HALF}-"
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


@contextlib.contextmanager
def _second_download_waiting(tmp_path, resuming) -> Iterator[tuple[io.StringIO, list[bool]]]:
    """The first process's download of f.gz, its lock held, with a second job that has said it waits
    for it; yields that job's console and whether it ended (after the block, once the first released
    the lock and the second ended)."""
    import time

    from genbench.data.download_lock import downloading

    out, done = io.StringIO(), []

    def second() -> None:
        with command_console(Progress(False, Console(file=out, width=300))):
            download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [resuming.url])
        done.append(True)

    with downloading(tmp_path / "f.gz", lambda line: None):  # the first process's download
        job = threading.Thread(target=second, daemon=True)
        job.start()
        deadline = time.monotonic() + 30
        while "f.gz: another genbench process is downloading it; waiting for it" not in out.getvalue():
            assert time.monotonic() < deadline and not done, out.getvalue()
            time.sleep(0.02)
        yield out, done
    job.join(30)


def test_a_second_download_of_a_file_waits_for_the_first_and_uses_its_file(tmp_path, resuming):
    """Two jobs on a fresh data dir both wrote the same file; the second now waits, then reads it."""
    with _second_download_waiting(tmp_path, resuming) as (_, done):
        (tmp_path / "f.gz").write_bytes(PAYLOAD)  # which the first then finishes
    assert done and resuming.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_a_download_waited_for_that_ended_without_its_file_is_made_here_saying_so(tmp_path, resuming):
    """The download it waited for ended without the file (its job killed): this one downloaded it
    having said only "waiting for it". It now says that it downloads it itself."""
    with _second_download_waiting(tmp_path, resuming) as (out, done):
        pass  # the first process's, killed before it wrote the file
    said = " ".join(out.getvalue().split())
    assert done and len(resuming.requests) == 1, said
    assert (
        "f.gz: the genbench process it waited for ended without finishing it (killed or failed); "
        "downloading it here" in said
    )
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_data_dir_that_cannot_lock_keeps_no_lock_file(tmp_path, resuming, monkeypatch):
    """A network mount without locks (ENOLCK) downloads unlocked, with a warning, and left its
    ``f.gz.lock`` beside the data for good: only a held lock was deleted."""
    import errno

    from genbench.data import download_lock

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(download_lock.fcntl, "flock", no_locks)
    said = _get(resuming, tmp_path)
    assert "cannot lock" in said and "another process may download it at the same time" in said, said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_a_host_name_lookup_that_never_answers_times_out(tmp_path, monkeypatch):
    """urllib's timeout does not cover getaddrinfo: a resolver that never answered hung the run."""
    import socket

    never, real = threading.Event(), socket.getaddrinfo

    def lookup(host, *a, **kw):
        if host == "dns.invalid":
            never.wait(15)  # a resolver that never answers (until the test ends)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)
    monkeypatch.setenv("no_proxy", "*")
    try:
        with pytest.raises(DataError) as e:
            download.ensure_files("x", tmp_path, {"f.gz": GOOD}, ["http://dns.invalid/"])
    finally:
        never.set()
    msg = str(e.value)
    assert "looking up dns.invalid took over 0.5 s: check the network" in msg, msg
    assert f"put f.gz into {tmp_path} (from http://dns.invalid/f.gz)" in msg, msg


def test_an_address_the_host_cannot_open_a_socket_for_falls_back_to_the_next(monkeypatch):
    """A kernel with IPv6 turned off refuses even to make an IPv6 socket (EAFNOSUPPORT), while the
    lookup may still list ``::1`` or a AAAA record first: the bounded connect gave up there, where
    :func:`socket.create_connection` goes on to the IPv4 address."""
    import errno
    import socket

    from genbench.data import connect

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port, real = listener.getsockname()[1], socket.socket

        def make(family: int = socket.AF_INET, *a: object, **kw: object) -> socket.socket:
            if family == socket.AF_INET6:
                raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
            return real(family, *a, **kw)

        addresses = [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]
        monkeypatch.setattr(connect, "resolve", lambda host, port, timeout: addresses)
        monkeypatch.setattr(socket, "socket", make)
        with connect.create_connection(("localhost", port), 5) as sock:
            assert sock.getpeername() == ("127.0.0.1", port)


def test_a_run_killed_as_it_starts_over_leaves_no_part_under_the_new_validator(
    tmp_path, resuming, monkeypatch
):
    """A resume answered with a changed file (200, a new ETag) saved the new ETag's sidecar before it
    emptied the old part: killed in between (the sidecar's fsync), the rerun asked for the rest of
    the new version after the old one's bytes, failed its md5, and only a third run downloaded it."""
    from genbench.data import resume

    _cut_off(resuming, tmp_path)
    resuming.etag = '"v2"'
    real = resume.atomic_write_text

    def killed_after(path, text, **kw):  # SIGKILL right after the sidecar's rename
        real(path, text, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(resume, "atomic_write_text", killed_after)
    with pytest.raises(KeyboardInterrupt):
        _get(resuming, tmp_path)
    assert resuming.requests[-1][1] == 200  # the file changed: sent whole
    part = resume.Part(tmp_path / "f.gz")
    assert part.resume_headers(resuming.url + "f.gz").get("If-Range") in (None, '"v1"')


@pytest.mark.parametrize("saved", ['"v1\\r\\nX-Injected: 1"', '"\\u20ac1"'])
def test_a_hand_edited_sidecar_starts_the_download_over(tmp_path, resuming, saved):
    """A ``.part.json`` whose validator is no header value (a line break, a character beyond
    Latin-1) failed every rerun with http.client's ValueError traceback, the part kept."""
    _cut_off(resuming, tmp_path)
    (tmp_path / "f.gz.part.json").write_text(f'{{"url": "{resuming.url}f.gz", "validator": {saved}}}')
    _get(resuming, tmp_path)
    assert "Range" not in resuming.requests[-1][0] and (tmp_path / "f.gz").read_bytes() == PAYLOAD


def test_a_file_put_in_by_hand_after_a_cut_off_takes_the_place_of_its_part(tmp_path, resuming):
    """The error after a cut-off says to put the file in by hand; done so, its part (170 MB for
    CIFAR-10) and sidecar stayed beside it for good, since a present file is never downloaded."""
    _cut_off(resuming, tmp_path)
    assert (tmp_path / "f.gz.part").exists()
    (tmp_path / "f.gz").write_bytes(PAYLOAD)
    requests = len(resuming.requests)
    download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [resuming.url])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]
    assert len(resuming.requests) == requests  # nothing downloaded


def test_a_file_that_fails_its_md5_keeps_the_part_beside_it(tmp_path, resuming):
    _cut_off(resuming, tmp_path)
    (tmp_path / "f.gz").write_bytes(b"not it")
    with pytest.raises(DataError, match="corrupt"):
        download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [resuming.url])
    assert (tmp_path / "f.gz.part").read_bytes() == PAYLOAD[:HALF]


def test_an_expected_digest_matches_only_in_every_digit_it_gives():
    """A file is checked against every digit of the md5 the tables list (RFC 1321's "abc": 9001...7f72),
    or of the sha256 prefix a weights file's name carries (FIPS 180-2's "abc": ba7816bf...); an empty
    expected value ("sha256:") matches nothing."""
    from genbench.data import digest

    md5 = "900150983cd24fb0d6963f7d28e17f72"
    sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hashlib.md5(b"abc").hexdigest() == md5 and hashlib.sha256(b"abc").hexdigest() == sha
    assert digest.matches(md5, md5) and digest.matches(md5.upper(), md5)
    assert not digest.matches(md5[:-1] + "3", md5)  # its last digit alone differs
    assert digest.matches("sha256:ba7816bf", sha) and digest.matches(f"sha256:{sha}", sha)
    assert not digest.matches("sha256:ba7816bf8f01cfeb", sha)
    assert not digest.matches("sha256:", sha) and not digest.matches("", md5)
