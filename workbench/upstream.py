"""One request from `mock-esd proxy` to its upstream, answered whole within a deadline and a size limit.

Each request goes on a connection of its own (urllib3's, with no pool, cookie jar, netrc or proxy
settings: what the client sent, and only that, goes upstream). Nothing is followed or read for the
proxy: a redirect is an answer like any other, read within the limit and forwarded with its body.

The timeout is for the whole exchange, not for each read: a socket timeout alone lets an upstream that
sends a byte a second hold a request for as long as it likes. A timer shuts the connection's socket
down at the deadline, which ends whatever the exchange is waiting for (connect, the status line, the
headers, the body), and the proxy answers 504.
"""

from __future__ import annotations

import http.client
import socket
import threading
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from mock_esd_contracts.answers import CHUNK_BYTES, read_within


@dataclass(frozen=True)
class Answer:
    """What the upstream answered: status, headers as sent (repeats kept), body bytes as sent (maybe compressed)."""

    status: int
    headers: urllib3.HTTPHeaderDict
    body: bytes


class Late(Exception):
    """The upstream did not answer whole before the deadline."""


class Broken(Exception):
    """The upstream did not answer, or not whole (refused, dropped, cut short, not HTTP)."""


def exchange(
    upstream: str, method: str, target: str, headers: dict[str, str], body: bytes | None, timeout: float,
    max_bytes: int,
) -> Answer:  # fmt: skip
    """Send one request to `upstream`'s origin and read its answer within `timeout` seconds and `max_bytes`.

    `target` is the path and query as the client sent them. Late past the deadline; Broken if the
    answer never came whole; ResponseTooLarge (`mock_esd_contracts.answers`) past `max_bytes` as sent.
    """
    parts = urlsplit(upstream)
    conn: HTTPConnection
    if parts.scheme == "https":
        # certifi's CA bundle: the one requests verifies with, as the proxy did when it sent through requests
        conn = HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout, ca_certs=certifi.where())
    else:
        conn = HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    late = threading.Event()
    timer = threading.Timer(timeout, _cut, (conn, late))
    timer.daemon = True
    timer.start()
    try:
        conn.connect()
        if late.is_set():  # the deadline passed while connecting (the socket was not there to shut)
            raise Late
        conn.request(method, target, body=body, headers=headers, preload_content=False, decode_content=False)
        response = conn.getresponse()
        raw = read_within(response.stream(CHUNK_BYTES, decode_content=False), max_bytes, f"{method} {target}")
        if late.is_set():  # a status line cut at the deadline can read as a whole, empty answer: it is not one
            raise Late
        return Answer(response.status, response.headers, raw)
    except (OSError, ValueError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        if late.is_set():
            raise Late from None
        raise Broken(type(exc).__name__) from None
    finally:
        timer.cancel()
        conn.close()


def _cut(conn: HTTPConnection, late: threading.Event) -> None:
    """At the deadline: shut the socket down, so that a read or write blocked on it returns at once."""
    late.set()
    sock = conn.sock
    if sock is not None:
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under TLS too
