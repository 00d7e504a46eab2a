"""The app's state (configuration, tenants, signing key) and the per-request client."""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from flask import Flask, Response, current_app, g, request

from mock_esd import heap
from mock_esd.browse import PathsFor
from mock_esd.changelog import ChangeLog, SharedFaults, SharedJournal
from mock_esd.errors import Unauthorized
from mock_esd.faults import FaultBook, Faults
from mock_esd.generator import DistrictSpec
from mock_esd.journal import Journal, Requests
from mock_esd.limits import Limits
from mock_esd.store import DistrictStore
from mock_esd.tenants import DEFAULT_TENANT, Client, Registry, TokenVerifier, default_registry, issue_token

EXTENSION = "mock_esd"


@dataclass
class AppConfig:
    """Everything `create_app` needs; nothing is read from the environment."""

    spec: DistrictSpec = field(default_factory=DistrictSpec)
    token_ttl: int = 3600
    signing_key: bytes | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep  # latency faults; tests pass a recorder
    control: bool = True
    shared_state: str | None = None  # a change-log file shared by worker processes (serve --workers N)
    # The browser view's "which sync paths can take this person" panel, lent by whoever composes the app
    # (the `mock-esd` commands lend the sync's own rule replay); None leaves the panel out.
    paths_for: PathsFor | None = None
    limits: Limits = field(default_factory=Limits)  # sizes of bodies, districts, YAML, caches, the journal
    bind_host: str = "127.0.0.1"  # the address the server listens on (serve --host): which Host headers it answers
    allowed_hosts: tuple[str, ...] = ()  # more Host names to answer (a name for a server beyond loopback)
    # Client secrets: derived from the tenant name (stable, public) when the server listens on loopback only,
    # random per start when it listens beyond; a `secret_key` derives them from it instead (stable, private).
    secret_key: str | None = None

    @property
    def loopback_only(self) -> bool:
        """True when the server listens on this machine only."""
        return is_loopback_host(self.bind_host)

    def client_secret_key(self) -> bytes | None:
        """The key client secrets derive from; None for the public, name-derived ones (loopback only)."""
        if self.secret_key is not None:
            return self.secret_key.encode()
        return None if self.loopback_only else secrets.token_bytes(32)


class MockState:
    """What one app instance holds: its configuration and its tenants."""

    def __init__(self, config: AppConfig, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or default_registry(config.spec, config.client_secret_key())
        self.registry.set_view_cache_limit(config.limits.max_cached_views, config.limits.max_cached_view_bytes)
        self.csrf_token = secrets.token_urlsafe(32)  # made before --workers forks, so every worker knows it
        self.signing_key = config.signing_key or secrets.token_bytes(32)
        self._verify = TokenVerifier(self.signing_key)
        self.log = ChangeLog(config.shared_state) if config.shared_state else None
        self.faults: Faults = SharedFaults(self.log) if self.log else FaultBook()
        limit = config.limits.max_journal_entries
        self.journal: Requests = SharedJournal(self.log, limit) if self.log else Journal(limit)
        if self.log is not None:
            log = self.log
            self.registry.listener = log.append
        self._lock = threading.RLock()

    def catch_up(self) -> None:
        """Apply the changes other worker processes made (nothing to do in one process)."""
        if self.log is not None:
            self.log.catch_up(self.registry)

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Make changes to districts: exclusive across threads and worker processes, after catching up."""
        if self.log is None:
            with self._lock:
                try:
                    yield
                finally:
                    heap.settle()
            return
        with self.log.exclusive():
            self.log.catch_up(self.registry)
            try:
                yield
            finally:
                heap.settle()

    def issue(self, client_id: str, secret: str) -> dict[str, object]:
        client = self.registry.authenticate(client_id, secret)
        ttl = self.config.token_ttl
        token = issue_token(client, self.signing_key, self.config.clock(), ttl)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    def client_for(self, token: str) -> Client:
        return self.registry.client(self._verify(token, self.config.clock()))


def renew_state(app: Flask, registry: Registry) -> MockState:
    """Give `app` the state a new `create_app` with its configuration would have, around `registry`:
    no tenant, fault, journal entry or token of before survives. A fresh mock per test without building an app.
    """
    config = cast(MockState, app.extensions[EXTENSION]).config
    if config.shared_state is not None:
        raise ValueError(
            "renew_state: an app whose worker processes share state (shared_state) is renewed by a restart"
        )
    state = app.extensions[EXTENSION] = MockState(config, registry)
    return state


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


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1, with or without brackets)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
