"""pytest plugin (entry point `pytest11`): a mock eSD district per test, live or in-process.

Fixtures:
    esd_server      a live server on a free 127.0.0.1 port (one per session, per xdist worker) and a
                    fresh tenant per test, so tests never see each other's changes;
    esd_inprocess   the same API with no socket: `requests` calls for its base URL are routed into
                    the Flask app by the `responses` library (as moto's mock_aws does);
options: --esd-seed N (the district's seed), --esd-students N (its size, default 200);
marker: @pytest.mark.esd_district(seed=N, students=N, schools=N, today=date) for one test's district.

A district is generated once per (seed, size) per session; each test gets a copy-on-write fork of it
(`DistrictStore.fork`), so a fresh district costs about what a hand-written `responses` stub does.

Every pytest run in an environment with this package loads this module, so it imports nothing but
pytest at load: Flask, Faker, werkzeug and the mock itself are imported when a fixture is first used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from flask import Flask

    from mock_esd.district.generator import DistrictSpec
    from mock_esd.district.store import DistrictStore
    from mock_esd.district.tenants import Client, Registry
    from mock_esd.qa.client import ControlClient, Credentials
    from mock_esd.server.live import LiveServer


@dataclass(frozen=True)
class EsdDistrict:
    """What a test gets: where the API is, who may call it, and the control API for its tenant."""

    base_url: str
    tenant: str
    custom: Credentials
    standard: Credentials
    control: ControlClient


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-esd")
    group.addoption("--esd-seed", type=int, default=1, help="seed of the mock eSD districts (default 1)")
    group.addoption("--esd-students", type=int, default=200, help="students per mock eSD district (default 200)")


MARKER = "esd_district"
_MARKER_FIELDS = {"seed": int, "students": int, "schools": int, "today": dt.date}
_KIND_NAMES = {int: "a whole number", dt.date: "a datetime.date"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(seed=N, students=N, schools=N, today=date): the mock eSD district of this test's "
        "esd_inprocess or esd_server (fields left out: --esd-seed, --esd-students and the defaults)",
    )
    students = config.getoption("--esd-students")
    if students < 0:
        raise pytest.UsageError(f"--esd-students must be 0 or more, got {students}")


def _spec(config: pytest.Config) -> DistrictSpec:
    from mock_esd.district.generator import DistrictSpec

    return DistrictSpec(seed=config.getoption("--esd-seed"), students=config.getoption("--esd-students"))


def _test_spec(request: pytest.FixtureRequest) -> DistrictSpec:
    """The district a test asked for: the options', with the fields of its `esd_district` marker."""
    import dataclasses

    spec = _spec(request.config)
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return spec
    unknown = sorted(set(marker.kwargs) - set(_MARKER_FIELDS))
    if marker.args or unknown:
        given = [*map(repr, marker.args), *unknown]
        pytest.fail(f"{MARKER} takes only {', '.join(_MARKER_FIELDS)} by name; got {', '.join(given)}", pytrace=False)
    for name, value in marker.kwargs.items():
        kind = _MARKER_FIELDS[name]
        if (
            not isinstance(value, kind)
            or isinstance(value, bool)
            or (kind is dt.date and isinstance(value, dt.datetime))
        ):
            pytest.fail(f"{MARKER}: {name} must be {_KIND_NAMES[kind]}, got {value!r}", pytrace=False)
    try:
        return dataclasses.replace(spec, **marker.kwargs)
    except ValueError as exc:
        pytest.fail(f"{MARKER}: {exc}", pytrace=False)


class EsdDistricts:
    """The districts of one test session (one per xdist worker): each (seed, size, ...) generated once,
    and every test given its own copy-on-write fork of it."""

    def __init__(self) -> None:
        self._pristine: dict[DistrictSpec, DistrictStore] = {}

    def fork(self, spec: DistrictSpec) -> DistrictStore:
        """A fresh, isolated district of `spec`: what a test changes in it no other test sees."""
        from mock_esd.district.store import DistrictStore

        pristine = self._pristine.get(spec)
        if pristine is None:
            pristine = self._pristine[spec] = DistrictStore(spec)
        return pristine.fork()


def _registry(store: DistrictStore) -> Registry:
    """A registry whose default tenant is `store` (what `create_app` would generate, already generated)."""
    from mock_esd.district.tenants import DEFAULT_TENANT, Registry

    registry = Registry()
    registry.add_tenant(DEFAULT_TENANT, store)
    return registry


def _district(base_url: str, tenant: str, clients: Iterable[Client], control: ControlClient) -> EsdDistrict:
    from mock_esd.qa.client import Credentials

    by_kind = {c.custom_endpoints: Credentials(c.client_id, c.secret) for c in clients}
    return EsdDistrict(base_url, tenant, by_kind[True], by_kind[False], control)


@pytest.fixture(scope="session")
def esd_districts() -> EsdDistricts:
    """The session's generated districts; tests get forks of them."""
    return EsdDistricts()


@pytest.fixture(scope="session")
def esd_live_server(pytestconfig: pytest.Config, esd_districts: EsdDistricts) -> Iterator[LiveServer]:
    """One live mock per test session (per xdist worker), stopped at the end."""
    from mock_esd.server.app import create_app
    from mock_esd.server.live import LiveServer
    from mock_esd.state.config import AppConfig

    spec = _spec(pytestconfig)
    with LiveServer(create_app(AppConfig(spec=spec), _registry(esd_districts.fork(spec)))) as server:
        yield server


@pytest.fixture
def esd_server(
    esd_live_server: LiveServer,
    esd_districts: EsdDistricts,
    pytestconfig: pytest.Config,
    request: pytest.FixtureRequest,
) -> Iterator[EsdDistrict]:
    """A fresh tenant on the live server. At the end whatever the test left goes: its tenant, the tenants and
    fault rules it made, the journal, and a changed default tenant (given a fresh fork)."""
    import requests

    from mock_esd.district.tenants import DEFAULT_TENANT
    from mock_esd.qa.client import ControlClient
    from mock_esd.state.changelog import spec_recipe
    from mock_esd.state.mock_state import EXTENSION, MockState

    spec, session_spec = _test_spec(request), _spec(pytestconfig)
    state: MockState = esd_live_server.app.extensions[EXTENSION]
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.nodeid)[-80:]
    with state.changing():
        name, n = stem, 1
        while name in state.registry.tenants():
            n += 1
            name = f"{stem}-{n}"
        tenants_before = set(state.registry.tenants())
        default_before = state.registry.store(DEFAULT_TENANT), state.registry.store(DEFAULT_TENANT).version
        clients = state.registry.add_tenant(name, esd_districts.fork(spec), spec_recipe(spec))
        rules_before = {rule.rule_id for rule in state.faults.rules()}
    try:
        with requests.Session() as session:
            yield _district(
                esd_live_server.base_url, name, clients, ControlClient(session, esd_live_server.root_url, name)
            )
    finally:
        with state.changing():
            for rule in state.faults.rules():
                if rule.rule_id not in rules_before:  # a rule without a tenant would reach the next test's tenant
                    state.faults.remove(rule.rule_id)
            for tenant in set(state.registry.tenants()) - tenants_before:
                state.registry.remove_tenant(tenant)
            default = state.registry.store(DEFAULT_TENANT) if DEFAULT_TENANT in state.registry.tenants() else None
            if default is None:
                state.registry.add_tenant(DEFAULT_TENANT, esd_districts.fork(session_spec), spec_recipe(session_spec))
            elif (default, default.version) != default_before:
                state.registry.replace_store(
                    DEFAULT_TENANT, esd_districts.fork(session_spec), spec_recipe(session_spec)
                )
            state.journal.clear()


@pytest.fixture(scope="session")
def esd_inprocess_app(pytestconfig: pytest.Config, esd_districts: EsdDistricts) -> Flask:
    """The session's in-process app; `esd_inprocess` renews its state for every test."""
    from mock_esd.server.app import create_app
    from mock_esd.state.config import AppConfig

    spec = _spec(pytestconfig)
    return create_app(AppConfig(spec=spec), _registry(esd_districts.fork(spec)))


@pytest.fixture
def esd_inprocess(
    esd_inprocess_app: Flask, esd_districts: EsdDistricts, request: pytest.FixtureRequest
) -> Iterator[EsdDistrict]:
    """A fresh district behind `http://esd.invalid/api`, reached in-process (no socket)."""
    import requests

    from mock_esd.district.tenants import DEFAULT_TENANT
    from mock_esd.qa.client import ControlClient
    from mock_esd.server.inprocess import DEFAULT_BASE_URL, routed
    from mock_esd.state.mock_state import renew_state

    state = renew_state(esd_inprocess_app, _registry(esd_districts.fork(_test_spec(request))))
    with routed(esd_inprocess_app), requests.Session() as session:
        control = ControlClient(session, DEFAULT_BASE_URL.removesuffix("/api"))
        yield _district(DEFAULT_BASE_URL, DEFAULT_TENANT, state.registry.clients(DEFAULT_TENANT), control)
