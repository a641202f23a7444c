"""HTTP(S) connections whose host name lookup has a time limit, for the dataset downloads.

urllib's ``timeout=`` bounds the connect and each read, not ``getaddrinfo``: with a resolver that
answers nothing (a cluster node's broken DNS, a VPN gone away) the lookup blocks as long as the C
library lets it, and a run that only wanted MNIST hung with no word. Here the lookup runs in a daemon
thread that is waited for at most the connection's timeout; a lookup still running after that is
left to finish on its own (it cannot be cancelled) and the download fails with
:class:`LookupTimeout`, which names the host.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

#: the wait for a lookup when the connection has no timeout of its own
DEFAULT_LOOKUP_S = 60.0


class LookupTimeout(OSError):
    """The name lookup of ``host`` did not answer within the time limit."""

    def __init__(self, host: str, seconds: float):
        self.host = host
        super().__init__(f"looking up {host} took over {seconds:g} s: check the network (or its DNS)")


def resolve(host: str, port: int, timeout: float) -> list[tuple[Any, ...]]:
    """``socket.getaddrinfo(host, port)`` for a TCP connection, waited for at most ``timeout`` s."""
    answer: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except Exception as e:  # raised in the caller's thread below
            answer.append(e)
        finally:
            done.set()

    # a daemon thread, not a ThreadPoolExecutor's: the interpreter joins those at exit, so a lookup
    # that never returns would hang the end of the process instead
    threading.Thread(target=look_up, name=f"genbench-lookup-{host}", daemon=True).start()
    if not done.wait(timeout):
        raise LookupTimeout(host, timeout)
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def create_connection(
    address: tuple[str, int],
    # ignore[attr-defined]: urllib's sentinel for no timeout given, which typeshed leaves out (private)
    timeout: float | None | object = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """:func:`socket.create_connection` with the lookup bounded by ``timeout`` too."""
    host, port = address
    wait = timeout if isinstance(timeout, int | float) else DEFAULT_LOOKUP_S
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in resolve(host, port, wait):
        sock = None
        try:
            # made inside the try, as socket.create_connection does: a kernel with IPv6 turned off
            # refuses the socket itself (EAFNOSUPPORT), and the IPv4 address is still to be tried
            sock = socket.socket(family, kind, proto)
            # ignore[attr-defined]: as above; ignore[arg-type]: any timeout but the sentinel is a float or None
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)  # type: ignore[arg-type]
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as e:  # the next address (IPv4 after an unreachable IPv6 one)
            error = e
            if sock is not None:
                sock.close()
    raise error or OSError(f"no address for {host}")


def _bounded(connection: Callable[..., Any]) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> Any:
        conn = connection(*args, **kwargs)
        # http.client's own hook for how a connection is opened (its tests replace it too): the
        # rest of connect(), TLS and a proxy's CONNECT tunnel included, stays http.client's
        conn._create_connection = create_connection
        return conn

    return make


class _Bounded(urllib.request.AbstractHTTPHandler):
    def do_open(self, http_class: Any, req: Any, **http_conn_args: Any) -> Any:
        return super().do_open(_bounded(http_class), req, **http_conn_args)


class _HTTPHandler(_Bounded, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_Bounded, urllib.request.HTTPSHandler):
    pass


def opener() -> urllib.request.OpenerDirector:
    """urllib's default opener (proxies from the environment, redirects) with bounded lookups."""
    return urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)
