"""Why a request got no answer, in a user's words (`connection_failure`), and the session --ca-bundle and
--insecure make (`open_session`): the one wording and the one session `verify`, `sync` and `record` share."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
import trustme
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError
from urllib3.exceptions import SSLError as Urllib3SSLError

from mock_esd_contracts.answers import MAX_JSON_DEPTH, TooDeep, loads, nested_deeper
from mock_esd_contracts.connection import AnswerTimeout, Connection, check_ca_bundle, connection_failure, open_session


def wrapped(
    cause: BaseException, outer: type[requests.RequestException] = requests.ConnectionError
) -> requests.RequestException:
    """As requests raises it: its exception around urllib3's MaxRetryError around the cause."""
    return outer(MaxRetryError(None, "/api/v1/auth/token", cause))  # type: ignore[arg-type]


def certificate_error(message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}")
    error.verify_message, error.reason = message, "CERTIFICATE_VERIFY_FAILED"
    return error


def handshake_error() -> ssl.SSLError:
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    return error


CASES = [
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))), None,
     "the server closed the connection without answering: is it an HTTP server at that port?"),
    (requests.ConnectionError(ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))), None,
     "the server closed the connection without answering: is it an HTTP server at that port?"),
    (wrapped(NameResolutionError("esd.example", None, socket.gaierror(-2, "Name or service not known"))), None,  # type: ignore[arg-type]
     "the host name could not be resolved: is the URL right?"),
    (requests.exceptions.ConnectTimeout("timed out"), None, "no connection within 2.5 s (--timeout): is the host reachable?"),
    (requests.exceptions.ReadTimeout("read timed out"), None,
     "no answer within 2.5 s (--timeout): the server accepted but did not answer"),
    (wrapped(Urllib3SSLError(certificate_error("self-signed certificate")), requests.exceptions.SSLError), True,
     "TLS: the server's certificate is not trusted (self-signed certificate); give the CA that signed it with "
     "--ca-bundle FILE (or skip the check with --insecure)"),
    (wrapped(Urllib3SSLError(handshake_error()), requests.exceptions.SSLError), True,
     "TLS handshake failed (WRONG_VERSION_NUMBER): is it an https:// server? (http:// for a server without TLS)"),
    (requests.ConnectionError("something new"), None, "connection failed (ConnectionError)"),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "lasting", "said"), CASES)
def test_each_way_of_getting_no_answer_is_said_in_one_line_without_urllib3s_words(
    exc: requests.RequestException, lasting: bool | None, said: str
) -> None:
    failure = connection_failure(exc, timeout=2.5)
    assert str(failure) == said
    assert failure.lasting is bool(lasting)  # only TLS is not worth another try
    assert "HTTPConnectionPool" not in str(failure) and "Max retries" not in str(failure)


def test_a_refused_connection_is_found_inside_urllib3s_wrapping() -> None:
    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    cause.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert str(connection_failure(wrapped(cause))) == "connection refused: is a server listening there?"


def test_a_ca_bundle_must_be_a_pem_file_with_a_certificate(tmp_path: Path) -> None:
    good = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(good))
    check_ca_bundle(str(good))
    (tmp_path / "empty.pem").write_text("")
    for path, words in [
        (tmp_path / "none.pem", "no such file"), (tmp_path, "is a directory"), (tmp_path / "empty.pem", "holds no PEM"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=words):
            check_ca_bundle(str(path))


def test_a_connection_is_one_way_of_trusting_and_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="not both"):
        Connection(ca_bundle="ca.pem", insecure=True)
    with pytest.raises(ValueError, match="more than 0"):
        Connection(timeout=0)


def test_the_trust_given_wins_over_requests_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "elsewhere.pem"))
    url = "https://esd.example/api"
    with open_session() as plain:  # nothing given: requests as usual, which honours the variable
        assert plain.merge_environment_settings(url, {}, None, None, None)["verify"] == str(tmp_path / "elsewhere.pem")
    with open_session(Connection(insecure=True)) as insecure:
        assert insecure.merge_environment_settings(url, {}, None, None, None)["verify"] is False
    with open_session(Connection(ca_bundle="mine.pem")) as bundled:
        assert bundled.merge_environment_settings(url, {}, None, None, None)["verify"] == "mine.pem"


@contextmanager
def body_trickled(interval: float) -> Iterator[str]:
    """A server on 127.0.0.1 answering each request's status line and headers at once, then its 1,000-byte body
    one byte every `interval` seconds (each read gets a byte well within any socket timeout)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        with suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
                while not stop.wait(interval):
                    conn.sendall(b" ")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1/schools"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("connection", [Connection(), Connection(insecure=True)], ids=["default", "--insecure"])
def test_a_body_trickled_after_prompt_headers_ends_at_the_timeout(connection: Connection) -> None:
    """The status line came at once: the answer is not whole within the timeout, and is said to be so."""
    with body_trickled(0.05) as url, open_session(connection) as session:
        start = time.monotonic()
        with pytest.raises(AnswerTimeout) as timed_out:
            session.get(url, timeout=0.5)
        took = time.monotonic() - start
    assert timed_out.value.answered and took < 3, took  # whole, the body would take 50 s
    assert str(connection_failure(timed_out.value, 0.5)) == "the answer did not come whole within 0.5 s (--timeout)"


def test_json_is_read_no_deeper_than_max_json_depth() -> None:
    assert loads(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for depth in (MAX_JSON_DEPTH + 1, 2_000, 200_000):  # past ours; past orjson's (1,024); past any stack
        with pytest.raises(TooDeep, match=f"JSON nested deeper than {MAX_JSON_DEPTH} levels"):
            loads(b"[" * depth + b"]" * depth)
    assert not nested_deeper({"a": [{"b": []}]}, 4) and nested_deeper({"a": [{"b": []}]}, 3)  # 4 levels


def test_a_host_that_does_not_accept_in_time_is_no_connection_not_an_answer_cut_short() -> None:
    """A listening socket whose backlog is full accepts nothing: the connect itself times out, and the line says
    "is the host reachable?", not "the server accepted but did not answer" (what the deadline would claim)."""
    with socket.create_server(("127.0.0.1", 0), backlog=0) as full:
        port = full.getsockname()[1]
        waiting = []
        for _ in range(8):  # fill the accept queue and the SYN backlog; nothing accepts them
            pending = socket.socket()
            pending.setblocking(False)
            with suppress(BlockingIOError):
                pending.connect(("127.0.0.1", port))
            waiting.append(pending)
        try:
            with open_session(Connection(timeout=1)) as session, pytest.raises(requests.RequestException) as raised:
                session.get(f"http://127.0.0.1:{port}/api/v1/schools", timeout=1)
        finally:
            for pending in waiting:
                pending.close()
    assert isinstance(raised.value, requests.ConnectTimeout) and not isinstance(raised.value, AnswerTimeout)
    failure = connection_failure(raised.value, 1)
    assert "is the host reachable?" in failure.message and not failure.connected


def _depth(value: object) -> int:
    """Objects and arrays nested in `value`, counted the plain recursive way (the reference)."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=40,
)


@given(_JSON, st.integers(0, 12))
def test_the_depth_check_agrees_with_counting_the_levels(value: object, limit: int) -> None:
    """The level-by-level check (C's iteration over each level's values) says what a recursive count says."""
    assert nested_deeper(value, limit) == (_depth(value) > limit)
