"""Slow and idle clients (issue 26): a request's line and headers arrive within `max_header_seconds`, and the
threaded server serves at most `max_connections` at once, so trickling connections cannot take every thread.

These are hostile clients against a live server on 127.0.0.1 with the limits set small; `tests/e2e/
test_mock_limits.py` runs the probe's numbers against `mock-esd serve` (and `--workers 2`) under a memory cap.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from mock_esd.district.generator import DistrictSpec
from mock_esd.limits import Limits
from mock_esd.server.app import create_app
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig

PARTIAL = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # a header line that never ends


@contextmanager
def served(log_requests: bool = False, **limits: float) -> Iterator[LiveServer]:
    app = create_app(AppConfig(spec=DistrictSpec(seed=7, students=40), limits=Limits(**limits)))  # type: ignore[arg-type]
    with LiveServer(app, log_requests=log_requests) as server:
        yield server


@contextmanager
def trickling(port: int, count: int, every: float = 0.3) -> Iterator[list[socket.socket]]:
    """`count` connections, each sending a partial header line and then one more byte every `every` seconds."""
    stop = threading.Event()
    connections = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]

    def trickle(connection: socket.socket) -> None:
        try:
            connection.sendall(PARTIAL)
            while not stop.wait(every):
                connection.sendall(b"x")
        except OSError:  # the server closed it: the point
            return

    threads = [threading.Thread(target=trickle, args=(c,), daemon=True) for c in connections]
    for thread in threads:
        thread.start()
    try:
        yield connections
    finally:
        stop.set()
        for connection in connections:
            connection.close()
        for thread in threads:
            thread.join(timeout=10)


def answer_of(connection: socket.socket) -> bytes:
    """Everything the server sent on `connection` until it closed it."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    return data


def test_a_request_whose_headers_trickle_in_gets_a_408_naming_the_limit() -> None:
    with served(max_header_seconds=1) as server, trickling(server.port, 1) as (connection,):
        answer = answer_of(connection)  # the trickle goes on: only the server ends it
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"application/problem+json" in head
    assert b"max_header_seconds=1" in body


def test_an_idle_connection_is_closed_quietly_and_a_kept_alive_client_carries_on() -> None:
    with served(max_header_seconds=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle:
            assert answer_of(idle) == b"", "nothing asked, nothing answered: closed"
        with requests.Session() as session:
            first = session.get(server.root_url + "/openapi.json", timeout=30)
            threading.Event().wait(1.5)  # past the limit: the server has closed the kept-alive connection
            second = session.get(server.root_url + "/openapi.json", timeout=30)
        assert first.status_code == second.status_code == 200


def test_an_idle_connection_closed_at_the_limit_is_no_error_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """A browser keeps idle connections open: closing one at the limit is routine, not an error line."""
    with served(log_requests=True, max_header_seconds=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle, caplog.at_level(logging.INFO):
            assert answer_of(idle) == b""
        with trickling(server.port, 1) as (slow,), caplog.at_level(logging.INFO):
            assert answer_of(slow).startswith(b"HTTP/1.1 408 ")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "code 408" in errors[0] and "max_header_seconds=1" in errors[0], errors


def test_trickling_connections_beyond_max_connections_do_not_stop_the_server_answering() -> None:
    """More trickling connections than the server serves at once: each is let go at the limit, and a
    normal request is answered while they go on (before: one thread each, until none could start)."""
    with served(max_header_seconds=1, max_connections=4) as server, trickling(server.port, 12) as connections:
        normal = requests.get(server.root_url + "/openapi.json", timeout=60, headers={"Connection": "close"})
        assert normal.status_code == 200
        answers = [answer_of(c) for c in connections]
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), "every trickling connection was answered and closed"


@pytest.mark.parametrize("limits", [{"max_connections": 0}, {"max_header_seconds": 0}])
def test_the_connection_limits_must_be_positive(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(limits))):
        Limits(**limits)  # type: ignore[arg-type]


def test_a_signal_landing_after_a_connection_s_thread_started_gives_its_slot_back_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM's exception may land in the accepting thread right after it handed a connection to its thread:
    that thread gives the slot back when it ends, and the stop must not give it back a second time ("Semaphore
    released too many times" ended `serve` with exit 2 instead of "stopped")."""
    from socketserver import ThreadingMixIn

    from mock_esd.server import live

    handed_over = ThreadingMixIn.process_request

    def then_interrupted(self: ThreadingMixIn, request: socket.socket, client_address: object) -> None:
        handed_over(self, request, client_address)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    app = create_app(AppConfig(spec=DistrictSpec(seed=7, students=40), limits=Limits(max_connections=2)))
    server = LiveServer(app)  # not started: this test is its accepting thread
    bounded = server._server
    assert isinstance(bounded, live._BoundedServer)
    monkeypatch.setattr(live._BoundedServer, "process_request", then_interrupted)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            with pytest.raises(KeyboardInterrupt):
                bounded._handle_request_noblock()
            assert client.recv(12).startswith(b"HTTP/1.1 200"), "its thread answered it"
        for thread in list(getattr(bounded, "_threads", None) or []):
            thread.join(10)
        assert bounded._held == set()
        assert [bounded._slots.acquire(timeout=1) for _ in range(2)] == [True, True], "both slots are free again"
        for _ in range(2):
            bounded._slots.release()
    finally:
        server.stop()
