"""The hot request answered without Flask: a plain page of a listing (`GET /api/v1/students?pageSize=100`).

A WSGI middleware in front of the app. It answers only when nothing but a 200 page can come of the
request, after the same checks as the Flask path, in the same order (Host, no body, catching up with
other workers, the bearer token, the fault rules, the query): when there is a fault rule at all, or any
check fails, it hands the request to Flask untouched, which answers it (and its error) as always. The
page itself is `routes.listing_page`, as the Flask route builds it; the answer has the same status,
headers and bytes, and is journaled the same way. Flask's request context, URL matching, hooks and
response object cost about twice the page itself; this is the one request a sync makes thousands of.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.wrappers import Request

from mock_esd.district.tenants import Client
from mock_esd.http.api import LISTINGS, listing_page
from mock_esd.server.guard import answers_request
from mock_esd.state.config import AppConfig
from mock_esd.state.mock_state import EXTENSION, MockState

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ListingShortcut:
    """`app.wsgi_app = ListingShortcut(app, app.wsgi_app)`: plain listing pages here, every other request to `inner`."""

    def __init__(self, app: Flask, inner: WsgiApp, prefix: str) -> None:
        self.app, self.inner, self.prefix = app, inner, prefix  # prefix: where the API's blueprint is (`/api`)
        self.hosts: dict[tuple[str, str], AppConfig] = {}  # (scheme, Host header) found allowed, and by which config

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        prefix = self.prefix
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or path[: len(prefix)] != prefix
            or path[len(prefix) :] not in LISTINGS
        ):
            return self.inner(environ, start_response)
        state: MockState = self.app.extensions[EXTENSION]  # looked up per request: renew_state replaces it
        answer = _plain_page(state, environ, path[len(prefix) :], self.hosts)
        if answer is None:
            return self.inner(environ, start_response)
        client, body, request = answer
        try:
            state.journal.record(
                state.config.clock(), "GET", path[len(prefix) :],
                request.query_string.decode(errors="replace"), client.client_id, client.tenant, 200,
            )  # fmt: skip
        except OSError:  # the journal's disk is full: Flask answers (its own try at the line, or problem+json 500)
            return self.inner(environ, start_response)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if state.log is not None:
            headers.append(("X-Mock-Worker", str(os.getpid())))  # as app._worker_header adds it
        start_response("200 OK", headers)
        return [body]


MAX_HOSTS_ANSWERED = 64  # Host headers an app remembers as allowed: a server is called by a handful of names


def _answers_for(
    hosts: dict[tuple[str, str], AppConfig], state: MockState, environ: dict[str, Any], request: Request
) -> bool:
    """`guard.answers_request(request.host)`, remembered per Host header once allowed (parsing an address costs ~10 µs).

    Only an allowed Host is kept, with the configuration that allowed it (which never changes for an app).
    """
    key = (environ.get("wsgi.url_scheme", ""), environ.get("HTTP_HOST", ""))
    if hosts.get(key) is state.config:
        return True
    if not answers_request(request.host, state.config):
        return False
    if key[1] and len(hosts) < MAX_HOSTS_ANSWERED:
        hosts[key] = state.config
    return True


def _plain_page(
    state: MockState, environ: dict[str, Any], listing: str, hosts: dict[tuple[str, str], AppConfig]
) -> tuple[Client, bytes, Request] | None:
    """(client, page, request) when the request is a plain page; None for anything Flask must answer."""
    if environ.get("SCRIPT_NAME") or environ.get("CONTENT_LENGTH", "0") not in ("", "0"):
        return None
    if "HTTP_TRANSFER_ENCODING" in environ:
        return None
    request = Request(environ, populate_request=False, shallow=True)  # parses as Flask's request does
    try:
        if not _answers_for(hosts, state, environ, request):
            return None
        state.catch_up()
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        client = state.client_for(token.strip())
        if state.faults.armed():
            return None
        body = listing_page(listing, request.args, client, state.registry)
    except Exception:  # an error is Flask's to answer, with its problem+json and hooks: nothing was changed here
        return None
    return client, body, request
