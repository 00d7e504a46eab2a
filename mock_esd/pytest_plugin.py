"""pytest plugin (entry point `pytest11`): a mock eSD district per test, live or in-process.

Fixtures:
    esd_server      a live server on a free 127.0.0.1 port (one per session, per xdist worker) and a
                    fresh tenant per test, so tests never see each other's changes;
    esd_inprocess   the same API with no socket: `requests` calls for its base URL are routed into
                    the Flask app by the `responses` library (as moto's mock_aws does);
options: --esd-seed N (the district's seed), --esd-students N (its size, default 200).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from mock_esd.app import create_app
from mock_esd.context import AppConfig
from mock_esd.control_client import ControlClient, Credentials
from mock_esd.generator import DistrictSpec
from mock_esd.inprocess import DEFAULT_BASE_URL, routed
from mock_esd.server import LiveServer
from mock_esd.tenants import DEFAULT_TENANT, default_clients


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


def _spec(config: pytest.Config) -> DistrictSpec:
    return DistrictSpec(seed=config.getoption("--esd-seed"), students=config.getoption("--esd-students"))


@pytest.fixture(scope="session")
def esd_live_server(pytestconfig: pytest.Config) -> Iterator[LiveServer]:
    """One live mock per test session (per xdist worker), stopped at the end."""
    with LiveServer(create_app(AppConfig(spec=_spec(pytestconfig)))) as server:
        yield server


@pytest.fixture
def esd_server(
    esd_live_server: LiveServer, pytestconfig: pytest.Config, request: pytest.FixtureRequest
) -> Iterator[EsdDistrict]:
    """A fresh tenant on the live server, deleted after the test."""
    spec = _spec(pytestconfig)
    with requests.Session() as session:
        admin = ControlClient(session, esd_live_server.root_url)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.nodeid)[-80:]
        created = admin.call("POST", "/tenants", json={"name": name, "seed": spec.seed, "students": spec.students})
        custom, standard = (Credentials(c["clientId"], c["clientSecret"]) for c in created["clients"])
        control = ControlClient(session, esd_live_server.root_url, created["tenant"])
        try:
            yield EsdDistrict(esd_live_server.base_url, created["tenant"], custom, standard, control)
        finally:
            admin.call("DELETE", f"/tenants/{created['tenant']}")


@pytest.fixture
def esd_inprocess(pytestconfig: pytest.Config) -> Iterator[EsdDistrict]:
    """A fresh district behind `http://esd.invalid/api`, reached in-process (no socket)."""
    app = create_app(AppConfig(spec=_spec(pytestconfig)))
    custom, standard = default_clients(DEFAULT_TENANT)
    with routed(app), requests.Session() as session:
        root = DEFAULT_BASE_URL.removesuffix("/api")
        yield EsdDistrict(
            DEFAULT_BASE_URL, DEFAULT_TENANT, Credentials(custom.client_id, custom.secret),
            Credentials(standard.client_id, standard.secret), ControlClient(session, root),
        )  # fmt: skip
