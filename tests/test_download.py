"""Downloads, never from the network (urllib against a server on localhost, or a monkeypatched
fetch): what a failed attempt says, and what a run says while it downloads."""

from __future__ import annotations

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
    (a dropped connection); ``html`` is a proxy's 200 page; ``gone`` is a 404."""

    def do_GET(self) -> None:
        mode = self.path.strip("/").split("/")[0]
        if mode == "gone":
            self.send_error(404)
            return
        body = b"<!DOCTYPE html><html><body>Please log in</body></html>" if mode == "html" else PAYLOAD
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if mode == "html" else "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "cut" else body)

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch) -> Iterator[str]:
    """The base URL of a local server (and no proxy between)."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


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
