"""Client secrets stay on this machine (issue 13 §3): hidden from other addresses, random when serving beyond loopback."""

from __future__ import annotations

from flask import Flask

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.tenants import default_clients
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from tests.api.test_views import page
from tests.conftest import CUSTOM

TINY = DistrictSpec(seed=7, students=40)


def test_the_overview_shows_secrets_on_loopback_only(app: Flask) -> None:
    assert CUSTOM.secret in page(app.test_client(), "/guru/")
    remote = app.test_client().get("/guru/", environ_base={"REMOTE_ADDR": "192.168.1.20"})
    html = remote.get_data(as_text=True)
    assert remote.status_code == 200 and CUSTOM.client_id in html
    assert CUSTOM.secret not in html and "shown on loopback only" in html


def _secret(config: AppConfig) -> str:
    return create_app(config).extensions["mock_esd"].registry.clients("default")[0].secret  # type: ignore[no-any-return]


def test_secrets_are_name_derived_on_loopback_and_random_beyond() -> None:
    assert _secret(AppConfig(spec=TINY)) == default_clients("default")[0].secret
    assert _secret(AppConfig(spec=TINY, bind_host="::1")) == default_clients("default")[0].secret
    everywhere = {_secret(AppConfig(spec=TINY, bind_host="0.0.0.0")) for _ in range(3)}
    assert len(everywhere) == 3 and default_clients("default")[0].secret not in everywhere


def test_a_secret_key_makes_them_stable_and_private() -> None:
    fixed = [_secret(AppConfig(spec=TINY, bind_host="0.0.0.0", secret_key="k1")) for _ in range(2)]
    assert fixed[0] == fixed[1] != default_clients("default")[0].secret
    assert _secret(AppConfig(spec=TINY, bind_host="0.0.0.0", secret_key="k2")) != fixed[0]


def test_a_new_tenant_beyond_loopback_gets_secrets_nobody_can_derive() -> None:
    http = create_app(AppConfig(spec=TINY, bind_host="0.0.0.0")).test_client()
    created = http.post("/_mock/tenants", json={"name": "qa", "students": 3}).json
    assert created is not None
    assert created["clients"][0]["clientSecret"] != default_clients("qa")[0].secret
