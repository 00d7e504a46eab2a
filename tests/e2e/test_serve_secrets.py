"""`mock-esd serve --secret-key`: client secrets a user fixes, stable across starts and not derivable from the name."""

from __future__ import annotations

import pytest
import requests

from mock_esd.district.tenants import default_clients
from tests.e2e.conftest import serving

pytestmark = pytest.mark.e2e


def test_a_secret_key_gives_its_own_stable_secrets() -> None:
    with serving("--students", "30", "--secret-key", "team-key") as (server, _):
        expected = default_clients("default", b"team-key")[0]
        assert server.custom == (expected.client_id, expected.secret)
        assert expected.secret != default_clients("default")[0].secret
        assert requests.get(f"{server.base_url}/v1/schools", headers=server.bearer(), timeout=30).status_code == 200


def test_on_loopback_without_a_key_the_secrets_are_the_name_derived_ones() -> None:
    with serving("--students", "30") as (server, _):
        expected = default_clients("default")[0]
        assert server.custom == (expected.client_id, expected.secret)


def test_allowed_host_adds_a_name_the_server_answers_for() -> None:
    with serving("--students", "30", "--allowed-host", "mock.lan") as (server, _):
        url = f"{server.base_url}/v1/schools"
        named = requests.get(url, headers={**server.bearer(), "Host": "mock.lan"}, timeout=30)
        other = requests.get(url, headers={**server.bearer(), "Host": "evil.example"}, timeout=30)
    assert named.status_code == 200
    assert other.status_code == 421 and "--allowed-host" in other.json()["detail"]
