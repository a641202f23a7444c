"""Downloads over real HTTP (urllib against a server on localhost, never the network): what a
failed attempt says."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from genbench.data import download
from genbench.errors import DataError

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
