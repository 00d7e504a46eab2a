"""How every client of an eSD server (the verifier, the sync, `record`) connects to it and says why it could not.

`Connection` is what the command line's --ca-bundle, --insecure and --timeout ask for, and `open_session` the
one place a `requests.Session` is made from it. `connection_failure` turns what requests raised into one
line a partner can act on ("connection refused: is a server listening there?"), never a urllib3 repr.

The timeout is for each answer whole, once connected: from sending the request to its last byte, redirects
followed included (connecting is bounded by the same number of seconds as a socket timeout, and a host
that does not accept in time is a ConnectTimeout: "is the host reachable?"). A socket timeout alone bounds each read, so a server sending a byte a
second holds a client for as long as it likes; a session from `open_session` also starts a timer with
each request that shuts the connection's socket down at the deadline (as `mock-esd proxy` does with its
upstream), which ends whatever the request waits for, and says so as `AnswerTimeout`.
"""

from __future__ import annotations

import http.client
import math
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InsecureRequestWarning, NameResolutionError, NewConnectionError

if TYPE_CHECKING:
    from requests.sessions import _Settings

DEFAULT_TIMEOUT: Final = 30.0  # seconds for each answer whole: connecting, then every byte of it
MAX_TIMEOUT: Final = 3600.0  # the longest --timeout: an hour per answer is a server that is not answering


@dataclass(frozen=True)
class Connection:
    """How to reach the server: a CA bundle to trust (PEM file) or no certificate check, and the timeout."""

    ca_bundle: str | None = None
    insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and self.insecure:
            raise ValueError("give --ca-bundle or --insecure, not both")
        check_timeout(self.timeout)


def check_timeout(seconds: float) -> None:
    """ValueError (one line) unless `seconds` is a number of seconds a timeout can be: above 0, at most MAX_TIMEOUT."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise ValueError(f"the timeout must be a number of seconds, got {seconds!r}")
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ValueError(f"the timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {seconds:g}")


DEFAULT_CONNECTION: Final = Connection()  # the system's CA certificates, DEFAULT_TIMEOUT


def check_ca_bundle(path: str) -> None:
    """ValueError (one line, naming the file) unless `path` is a readable PEM file holding a certificate."""
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ValueError(f"--ca-bundle {path!r}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"--ca-bundle {path!r}: is a directory, not a PEM file") from None
    except PermissionError:
        raise ValueError(f"--ca-bundle {path!r}: cannot be read (permission denied)") from None
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        raise ValueError(f"--ca-bundle {path!r}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None


def open_session(connection: Connection = DEFAULT_CONNECTION) -> requests.Session:
    """A session that checks certificates as `connection` says, and bounds each answer whole by the `timeout`
    each request is given (the caller closes it).

    Without --ca-bundle or --insecure it trusts what requests does (which honours REQUESTS_CA_BUNDLE);
    with either, that choice wins over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, which requests would
    otherwise let override a session's `verify` (psf/requests#3829).
    """
    if connection.ca_bundle is None and not connection.insecure:
        return DeadlineSession()
    session = _ChosenTrust()
    session.verify = connection.ca_bundle or False
    return session


class AnswerTimeout(requests.exceptions.ReadTimeout):
    """The answer did not come whole within the request's timeout (`answered`: its status and headers had come)."""

    def __init__(self, seconds: float, answered: bool) -> None:
        super().__init__(f"no whole answer within {seconds:g} s")
        self.seconds, self.answered = seconds, answered


class DeadlineSession(requests.Session):
    """A session whose requests, given a `timeout` in seconds, end with AnswerTimeout once it passes, whatever
    the connected server is doing: sending the status line and headers, or the body, a byte at a time.
    Connecting is bounded by the socket's timeout, and a connection not made in time stays a ConnectTimeout.

    A request's redirects are followed within its deadline. Without a number as `timeout`, a request is not
    bounded here (only by its socket's timeout, if any)."""

    def __init__(self) -> None:
        super().__init__()
        for prefix in ("https://", "http://"):
            self.mount(prefix, _DeadlineAdapter())

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seconds = kwargs.get("timeout")
        if (
            getattr(_current, "deadline", None) is not None
            or isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
        ):  # a redirect followed (within its first request's deadline), or no deadline asked
            return super().send(request, **kwargs)
        deadline = _current.deadline = _Deadline(float(seconds))
        try:
            response = super().send(request, **kwargs)
        except requests.ConnectTimeout:
            raise  # no connection within the socket's timeout: not an answer cut short ("is the host reachable?")
        except requests.RequestException as exc:
            if deadline.passed:
                raise AnswerTimeout(seconds, deadline.answered) from exc
            raise
        finally:
            deadline.cancel()
            _current.deadline = None
        if deadline.passed:  # an answer cut at the deadline may read as a whole one (no Content-Length): it is not
            response.close()
            raise AnswerTimeout(seconds, deadline.answered)
        return response


_current = threading.local()  # the deadline of the request this thread is sending, if any


class _Deadline:
    """A request's deadline: at `seconds`, every connection it used has its socket shut down."""

    def __init__(self, seconds: float) -> None:
        self.passed = self.answered = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.passed:
                _shut(connection)

    def cancel(self) -> None:
        self._timer.cancel()

    def _cut(self) -> None:
        with self._lock:
            self.passed = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    """Shut the connection's socket down, so that a read or write blocked on it returns at once."""
    sock = connection.sock
    if sock is not None:
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under TLS too


def _watched(connection: HTTPConnection) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTP(HTTPConnection):
    def connect(self) -> None:
        _watched(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)  # a pooled connection, connected by an earlier request
        super().request(*args, **kwargs)


class _WatchedHTTPS(HTTPSConnection):
    def connect(self) -> None:
        _watched(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, its connections watched by the deadline of the request they carry."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}

    def build_response(self, req: requests.PreparedRequest, resp: urllib3.BaseHTTPResponse) -> requests.Response:
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.answered = True  # the status line and headers came
        return super().build_response(req, resp)


class _ChosenTrust(DeadlineSession):
    """A session whose own `verify` is used on every request, whatever the environment says."""

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: bool | None, verify: Any, cert: Any
    ) -> _Settings:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with warnings.catch_warnings():  # --insecure says so once on stderr, not once per request
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return super().send(request, **kwargs)


INSECURE_WARNING: Final = (
    "--insecure: the server's TLS certificate is not checked, so anyone on the way can read and change what is "
    "sent (the client secret too)"
)


@dataclass(frozen=True)
class ConnectionFailure:
    """Why a request got no answer, in a user's words; `lasting` if trying again cannot help (TLS); `connected`
    unless no connection to the server could be made at all (refused, unknown host, no connection in time, TLS)."""

    message: str
    lasting: bool = False
    connected: bool = True

    def __str__(self) -> str:
        return self.message


def connection_failure(exc: requests.RequestException, timeout: float = DEFAULT_TIMEOUT) -> ConnectionFailure:
    """What `exc` (no usable answer: refused, reset, timed out, TLS, unknown host, cut short, redirected in a
    loop) means, as one line."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or cause.reason or "certificate verify failed"
            return ConnectionFailure(
                f"TLS: the server's certificate is not trusted ({why}); give the CA that signed it with "
                "--ca-bundle FILE (or skip the check with --insecure)",
                lasting=True, connected=False,
            )  # fmt: skip
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            why = cause.reason or cause.strerror or type(cause).__name__
            return ConnectionFailure(
                f"TLS handshake failed ({why}): is it an https:// server? (http:// for a server without TLS)",
                lasting=True, connected=False,
            )  # fmt: skip
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectionFailure(
            f"no connection within {timeout:g} s (--timeout): is the host reachable?", connected=False
        )
    if isinstance(exc, AnswerTimeout) and exc.answered:
        return ConnectionFailure(f"the answer did not come whole within {exc.seconds:g} s (--timeout)")
    if isinstance(exc, requests.exceptions.Timeout):
        seconds = exc.seconds if isinstance(exc, AnswerTimeout) else timeout
        return ConnectionFailure(f"no answer within {seconds:g} s (--timeout): the server accepted but did not answer")
    return _unanswered(causes, exc)


def _unanswered(causes: list[BaseException], exc: requests.RequestException) -> ConnectionFailure:
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ConnectionFailure(
            f"redirected more than {requests.models.DEFAULT_REDIRECT_LIMIT} times (a redirect loop?)"
        )
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return ConnectionFailure("the answer's body does not decode as its Content-Encoding says")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):  # raised while the body is read only
        return ConnectionFailure("the connection closed before the answer ended")
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionFailure("connection refused: is a server listening there?", connected=False)
        if isinstance(cause, NameResolutionError | socket.gaierror):
            return ConnectionFailure("the host name could not be resolved: is the URL right?", connected=False)
        if isinstance(cause, ConnectionResetError | ConnectionAbortedError | http.client.RemoteDisconnected):
            return ConnectionFailure(
                "the server closed the connection without answering: is it an HTTP server at that port?"
            )
        if isinstance(cause, http.client.IncompleteRead):
            return ConnectionFailure("the connection closed before the answer ended")
        if isinstance(
            cause, http.client.BadStatusLine | http.client.LineTooLong | urllib3.exceptions.HeaderParsingError
        ):
            return ConnectionFailure("the answer is not HTTP: its status line or headers do not read as such")
    connected = not any(isinstance(cause, NewConnectionError) for cause in causes)
    return ConnectionFailure(f"connection failed ({type(exc).__name__})", connected=connected)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps (requests wraps urllib3, which wraps the socket's or ssl's error), outermost first."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        todo += [e for e in inner if isinstance(e, BaseException)]
