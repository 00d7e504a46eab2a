"""How every client of an eSD server (the verifier, the sync, `record`) connects to it and says why it could not.

`Connection` is what the command line's --ca-bundle, --insecure and --timeout ask for, and `open_session` the
one place a `requests.Session` is made from it. `connection_failure` turns what requests raised into one
line a partner can act on ("connection refused: is a server listening there?"), never a urllib3 repr.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import requests
from urllib3.exceptions import InsecureRequestWarning, NameResolutionError

if TYPE_CHECKING:
    from requests.sessions import _Settings

DEFAULT_TIMEOUT: Final = 30.0  # seconds to wait for a connection, and then for each answer


@dataclass(frozen=True)
class Connection:
    """How to reach the server: a CA bundle to trust (PEM file) or no certificate check, and the timeout."""

    ca_bundle: str | None = None
    insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and self.insecure:
            raise ValueError("give --ca-bundle or --insecure, not both")
        if not self.timeout > 0:
            raise ValueError(f"the timeout must be more than 0 seconds, got {self.timeout}")


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
    """A session that checks certificates as `connection` says (the caller closes it).

    Without --ca-bundle or --insecure it is a plain `requests.Session` (which honours REQUESTS_CA_BUNDLE);
    with either, that choice wins over REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, which requests would
    otherwise let override a session's `verify` (psf/requests#3829).
    """
    if connection.ca_bundle is None and not connection.insecure:
        return requests.Session()
    session = _ChosenTrust()
    session.verify = connection.ca_bundle or False
    return session


class _ChosenTrust(requests.Session):
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
    """Why a request got no answer, in a user's words; `lasting` if trying again cannot help (TLS)."""

    message: str
    lasting: bool = False

    def __str__(self) -> str:
        return self.message


def connection_failure(exc: requests.RequestException, timeout: float = DEFAULT_TIMEOUT) -> ConnectionFailure:
    """What `exc` (no answer at all: refused, reset, timed out, TLS, unknown host) means, as one line."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or cause.reason or "certificate verify failed"
            return ConnectionFailure(
                f"TLS: the server's certificate is not trusted ({why}); give the CA that signed it with "
                "--ca-bundle FILE (or skip the check with --insecure)",
                lasting=True,
            )
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            why = cause.reason or cause.strerror or type(cause).__name__
            return ConnectionFailure(
                f"TLS handshake failed ({why}): is it an https:// server? (http:// for a server without TLS)",
                lasting=True,
            )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectionFailure(f"no connection within {timeout:g} s (--timeout): is the host reachable?")
    if isinstance(exc, requests.exceptions.Timeout):
        return ConnectionFailure(f"no answer within {timeout:g} s (--timeout): the server accepted but did not answer")
    return ConnectionFailure(_unanswered(causes, exc))


def _unanswered(causes: list[BaseException], exc: requests.RequestException) -> str:
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused: is a server listening there?"
        if isinstance(cause, NameResolutionError | socket.gaierror):
            return "the host name could not be resolved: is the URL right?"
        if isinstance(cause, ConnectionResetError | ConnectionAbortedError | http.client.RemoteDisconnected):
            return "the server closed the connection without answering: is it an HTTP server at that port?"
    return f"connection failed ({type(exc).__name__})"


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
