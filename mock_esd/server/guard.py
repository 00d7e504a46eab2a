"""What keeps the mock safe from the web pages its user visits and from big or hostile requests.

- Host: only names of this server are answered, so a DNS-rebinding page cannot reach a loopback
  server under its own name (421).
- Cross-origin: a state change under `/_mock/` or `/guru/` with another site's `Origin` or
  `Sec-Fetch-Site` is refused (403); `/_mock/` bodies must be JSON (YAML for a scenario), which no
  HTML form can send (415); the `/guru/` forms carry a per-app CSRF token (403 without it).
- Size: bodies above `Limits.max_body_bytes` (the token form above `max_token_body_bytes`) are a 413
  before they are read; a body the server cannot decode (a malformed chunked body) is a 400.
"""

from __future__ import annotations

import hmac
import io
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.exceptions import BadRequest as HttpBadRequest
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mock_esd.errors import Forbidden, MisdirectedRequest, UnsupportedMediaType
from mock_esd.http.request import current, from_loopback
from mock_esd.state.config import AppConfig, is_loopback_host
from mock_esd.state.mock_state import EXTENSION
from mock_esd_contracts.schema import shown

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
CSRF_FIELD = "csrf_token"
TOKEN_ENDPOINT = "esd_api.token"
SCENARIO_ENDPOINT = "mock_control.load_scenario"
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def install(app: Flask) -> None:
    """Register the checks; call before the blueprints (routes are bound with the map's settings)."""
    limits = app.extensions[EXTENSION].config.limits
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = limits.max_token_body_bytes  # the token form and the /guru/ buttons
    # `//api/v1/students` would be a 308 redirect (HTML) to the merged path; an API answers 404 problem+json.
    app.url_map.merge_slashes = False
    app.before_request(check_host)
    app.before_request(check_body_size)
    app.before_request(check_cross_origin)
    app.context_processor(lambda: {"csrf_token": current().csrf_token, "csrf_field": CSRF_FIELD})
    app.wsgi_app = _StrictBodies(app.wsgi_app)  # type: ignore[method-assign]


# ----- Host -----------------------------------------------------------------------------------------


def answers_for(host: str, bind_host: str, allowed_hosts: Iterable[str]) -> bool:
    """True for a Host (port stripped) a server bound to `bind_host`, with these extra names, answers for."""
    name = host.strip("[]").lower().rstrip(".")
    bind = bind_host.strip("[]").lower()
    if is_loopback_host(name) or name == bind or name in {h.lower() for h in allowed_hosts}:
        return True
    # Listening on every address: any address is ours, and an address cannot be rebound (only a name can).
    return bind in _WILDCARDS and _is_address(name)


def misdirected(host_header: str, bind_host: str, allowed_hosts: Iterable[str], option: str) -> str | None:
    """Why a request naming `host_header` (port included) is refused (a 421's detail), or None to answer it.

    A DNS-rebinding page reaches a loopback server under its own name; only this server's names are answered.
    """
    host, allowed_hosts = without_port(host_header), tuple(allowed_hosts)
    if answers_for(host, bind_host, allowed_hosts):
        return None
    names = ["localhost", "127.0.0.1", "[::1]", *allowed_hosts]
    if bind_host not in _WILDCARDS and not is_loopback_host(bind_host):
        names.append(bind_host)
    return (
        f"this server does not answer for Host {shown(host)}; it answers for {', '.join(names)}"
        + (" and its addresses" if bind_host in _WILDCARDS else "")
        + f" ({option} adds names)"
    )


def answers_request(host_header: str, config: AppConfig) -> bool:
    """True when this server answers a request for `host_header` (`name:port` as the request gave it)."""
    return answers_for(without_port(host_header), config.bind_host, config.allowed_hosts)


def check_host() -> None:
    config = current().config
    refused = misdirected(
        request.host, config.bind_host, config.allowed_hosts, "serve --allowed-host NAME, or AppConfig.allowed_hosts,"
    )
    if refused is not None:
        raise MisdirectedRequest(refused)


def without_port(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


# ----- size ------------------------------------------------------------------------------------------


def check_body_size() -> None:
    """413 from Content-Length alone: a 300 MB form is refused without reading a byte of it."""
    limits = current().config.limits
    if request.endpoint == TOKEN_ENDPOINT:
        request.max_content_length = limits.max_token_body_bytes
    allowed = request.max_content_length
    if allowed is None:
        return
    name = "max_token_body_bytes" if request.endpoint == TOKEN_ENDPOINT else "max_body_bytes"
    if (request.content_length or 0) > allowed:
        raise RequestEntityTooLarge(f"the body is {request.content_length} bytes; the limit {name} is {allowed}")
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        _read_chunked(allowed, name)


def _read_chunked(allowed: int, name: str) -> None:
    """Read a chunked body (no Content-Length) up to the limit: werkzeug would cut it there without a word."""
    environ = request.environ
    body = bytearray()
    while len(body) <= allowed:
        data = environ["wsgi.input"].read(min(64 * 1024, allowed + 1 - len(body)))
        if not data:
            break
        body += data
    if len(body) > allowed:
        raise RequestEntityTooLarge(f"the chunked body is larger than the limit {name}, {allowed} bytes")
    # The body is whole now; "terminated" tells werkzeug to read it to its end (the request has no Content-Length).
    environ["wsgi.input"], environ["wsgi.input_terminated"] = io.BytesIO(bytes(body)), True


class _StrictBodies:
    """WSGI middleware: a body the server cannot decode (a malformed chunk) is the client's 400, not a 500."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.input"] = _StrictInput(environ["wsgi.input"])
        return self.app(environ, start_response)


class _StrictInput(io.RawIOBase):
    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._raw.read(len(buffer))
        except HTTPException:  # ClientDisconnected, a limit: already an answer
            raise
        except Exception as exc:  # the server's decoding of the body failed (werkzeug: OSError, gunicorn: its own)
            raise HttpBadRequest(f"the request body could not be read: {type(exc).__name__}: {exc}") from None
        buffer[: len(data)] = data
        return len(data)


# ----- cross-origin ---------------------------------------------------------------------------------


def check_cross_origin() -> None:
    """State changes on `/_mock/` and `/guru/` come from this server's own pages or from no page at all."""
    blueprint = request.blueprint
    if request.method not in STATE_CHANGING or blueprint not in ("mock_control", "guru"):
        return
    reason = _cross_site_reason()
    if reason is not None:
        raise Forbidden(f"a cross-site request may not change the mock ({reason})")
    if blueprint == "mock_control":
        _check_content_type()
    elif current().config.control and from_loopback():  # otherwise the view refuses (404) whatever the token
        _check_csrf_token()


def _cross_site_reason() -> str | None:
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    if site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site: {site}"
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin):
        return f"Origin {shown(origin)} is not {request.host_url.rstrip('/')}"
    return None


def _same_origin(origin: str) -> bool:
    try:
        theirs, ours = urlsplit(origin), urlsplit(request.host_url)
        return (theirs.scheme, theirs.hostname, _port(theirs.scheme, theirs.port)) == (
            ours.scheme,
            ours.hostname,
            _port(ours.scheme, ours.port),
        )
    except ValueError:  # "null", a bad port
        return False


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme)


def _check_content_type() -> None:
    """A control body is JSON (a scenario may be YAML): an HTML form can send neither."""
    mimetype = request.mimetype
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not mimetype and not has_body:
        return
    yaml_ok = request.endpoint == SCENARIO_ENDPOINT
    if mimetype == "application/json" or mimetype.endswith("+json") or (yaml_ok and mimetype in YAML_TYPES):
        return
    wanted = "application/json" + (" or application/yaml" if yaml_ok else "")
    raise UnsupportedMediaType(
        f"a /_mock/ body must be sent as Content-Type: {wanted}, not {shown(mimetype or 'none')}"
    )


def _check_csrf_token() -> None:
    given = request.form.get(CSRF_FIELD, "")
    if not hmac.compare_digest(given.encode(), current().csrf_token.encode()):
        raise Forbidden("this form needs the token of a page this server rendered: reload /guru/activity")
