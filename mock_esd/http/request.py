"""The request at hand: its mock (`current()`), its client, its tenant, and a JSON answer. Flask-bound helpers
of the three HTTP surfaces (the eSD API, the control API, the browser pages)."""

from __future__ import annotations

import ipaddress
from typing import Any, cast

import orjson
from flask import Response, current_app, g, request

from mock_esd.district.store import DistrictStore
from mock_esd.district.tenants import DEFAULT_TENANT, Client
from mock_esd.errors import Unauthorized
from mock_esd.state.mock_state import EXTENSION, MockState


def current() -> MockState:
    return cast(MockState, current_app.extensions[EXTENSION])


def require_client() -> Client:
    """The client of the request's bearer token; Unauthorized when missing, invalid or expired."""
    if "client" in g:
        return cast(Client, g.client)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: POST /v1/auth/token first", {"WWW-Authenticate": "Bearer"})
    try:
        g.client = current().client_for(token.strip())
    except Unauthorized as exc:
        exc.headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
        raise
    return cast(Client, g.client)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def from_loopback() -> bool:
    """True when the request comes from this machine (the bar for changing the mock's state)."""
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def requested_tenant() -> str:
    """The tenant a control or browser-view request names with `?tenant=` (default: the default tenant)."""
    return request.args.get("tenant", DEFAULT_TENANT)


def requested_store() -> DistrictStore:
    """The district of `requested_tenant()`; NotFound for an unknown tenant."""
    return current().registry.store(requested_tenant())
