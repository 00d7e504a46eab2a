"""What one mock server holds (`MockState`): its configuration, tenants, fault rules, journal and signing key.

Plain Python: the HTTP layers (`mock_esd.http`) reach it through `mock_esd.http.request.current()`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import Flask

from mock_esd import heap
from mock_esd.district.scenario_cache import ScenarioCache
from mock_esd.district.tenants import Client, Registry, TokenVerifier, default_registry, issue_token
from mock_esd.qa.faults import FaultBook, Faults
from mock_esd.qa.journal import Journal, Requests
from mock_esd.state.changelog import ChangeLog, SharedFaults, SharedJournal
from mock_esd.state.config import AppConfig

EXTENSION = "mock_esd"


class MockState:
    """What one app instance holds: its configuration and its tenants."""

    def __init__(self, config: AppConfig, registry: Registry | None = None) -> None:
        self.config = config
        if registry is None:  # the district generated from the spec keeps to the limits, as one asked for by POST
            config.limits.check_spec(config.spec.students, config.spec.schools)
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
        limits = config.limits  # scenarios parsed and built once, each load a fork (kept across `renew_state`)
        self.scenarios = ScenarioCache(limits.max_cached_scenarios, limits.max_students)

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
    scenarios = cast(MockState, app.extensions[EXTENSION]).scenarios
    state = app.extensions[EXTENSION] = MockState(config, registry)
    state.scenarios = scenarios  # what was parsed is no state a test sees: the next test's load reuses it
    return state
