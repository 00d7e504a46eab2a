"""Servers a partner's client meets on a bad day, each on 127.0.0.1 and stopped afterwards: nothing listening,
a server that resets every connection, one that accepts and never answers, and the mock behind HTTPS with a
certificate from a private CA (made by trustme)."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from werkzeug.serving import WSGIRequestHandler, make_server

from mock_esd.district.generator import DistrictSpec
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from tests.conftest import Clock


@contextmanager
def nothing_listening() -> Iterator[str]:
    """A base URL on a port bound by nobody's server: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: no one else takes the port meanwhile
        yield f"http://127.0.0.1:{s.getsockname()[1]}/api"


@contextmanager
def resetting() -> Iterator[str]:
    """A server that takes each connection and resets it at once (as a firewall refusing it does)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def reset_each() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
            conn.close()

    thread = threading.Thread(target=reset_each, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=10)


@contextmanager
def silent() -> Iterator[str]:
    """A server that accepts connections (the kernel does, from its backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api"


class _KeepAlive(WSGIRequestHandler):
    """HTTP/1.1: a client's connection (and its TLS handshake) serves all its requests, as a real server's does."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No line per request in the test's log."""


@dataclass(frozen=True)
class Https:
    base_url: str
    ca_bundle: Path  # the private CA's certificate (PEM), which nothing trusts unless told


@contextmanager
def https_mock(tmp_path: Path, students: int = 120) -> Iterator[Https]:
    """The mock served over TLS with a certificate for 127.0.0.1 signed by a CA made for this test."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    app = create_app(AppConfig(spec=DistrictSpec(seed=5, students=students), clock=Clock()))
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context, request_handler=_KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Https(f"https://127.0.0.1:{server.server_port}/api", bundle)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
