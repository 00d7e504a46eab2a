"""Shared fixtures and the Hypothesis profiles (`HYPOTHESIS_PROFILE`: dev, ci, thorough)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.layout import REINSTALL, stale_install

# Before anything of the project is imported: new modules reach a strict editable install only when it runs again.
if (_stale := stale_install()) is not None:
    raise pytest.UsageError(f"{_stale}: install again with `{REINSTALL}`")

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.tenants import DEFAULT_TENANT, Client, default_clients
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# For a whole session under one mutation (MOCK_ESD_MUTATION, tests/properties/conftest.py); test_teeth.py
# sets its own bounded search whatever the profile.
settings.register_profile(
    "teeth", max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SMALL = DistrictSpec(seed=7, students=300)
CUSTOM, STANDARD = default_clients(DEFAULT_TENANT)


class Clock:
    """A hand-moved clock, so token expiry never depends on wall-clock time."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Flask:
    return create_app(AppConfig(spec=SMALL, clock=clock, token_ttl=600))


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def token_for(http: FlaskClient, client: Client) -> str:
    form = {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": client.secret}
    response = http.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.data
    return str(response.json["access_token"])  # type: ignore[index]


@pytest.fixture
def custom_headers(http: FlaskClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}


@pytest.fixture
def standard_headers(http: FlaskClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(http, STANDARD)}"}


def walk(
    http: FlaskClient, path: str, headers: dict[str, str], key: str, page_size: int, **query: Any
) -> Iterator[dict[str, Any]]:
    """Every page of a list endpoint, as parsed JSON bodies."""
    page_no = 1
    while True:
        response = http.get(path, headers=headers, query_string={"pageNo": page_no, "pageSize": page_size, **query})
        assert response.status_code == 200, response.data
        body = response.json
        assert body is not None
        yield body
        if page_no >= body["pagingInfo"]["pageCount"]:
            return
        page_no += 1


def tenant_headers(http: FlaskClient, created: dict[str, Any]) -> dict[str, str]:
    """Bearer headers for the custom client of a tenant made with POST /_mock/tenants."""
    client = created["clients"][0]
    form = {
        "grant_type": "client_credentials",
        "client_id": client["clientId"],
        "client_secret": client["clientSecret"],
    }
    return {"Authorization": f"Bearer {http.post('/api/v1/auth/token', data=form).json['access_token']}"}  # type: ignore[index]
