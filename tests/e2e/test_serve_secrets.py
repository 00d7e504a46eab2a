"""`mock-esd serve --secret-key`: client secrets a user fixes, stable across starts and not derivable from the name."""

from __future__ import annotations

import pytest
import requests

from mock_esd.tenants import default_clients
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
