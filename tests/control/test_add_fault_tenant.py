"""`ControlClient.add_fault` arms a rule for the client's own district unless asked for every tenant: one live
district's `esd.control` never breaks another's calls, nor counts another's traffic as its rule firing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mock_esd import EsdDistrict, mock_district
from mock_esd.testing import Districts, district_spec


def schools_status(esd: EsdDistrict) -> int:
    with requests.Session() as http:
        form = {"grant_type": "client_credentials", "client_id": esd.custom.client_id}
        form["client_secret"] = esd.custom.client_secret
        token = http.post(f"{esd.base_url}/v1/auth/token", data=form, timeout=10).json()["access_token"]
        return http.get(
            f"{esd.base_url}/v1/schools", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).status_code


@pytest.fixture(scope="module")
def districts() -> Iterator[Districts]:
    with Districts() as districts:
        yield districts


def test_a_rule_from_one_districts_control_stays_in_that_district(districts: Districts) -> None:
    spec = district_spec(students=5)
    with districts.live(spec) as a, districts.live(spec) as b:
        a.control.add_fault("/v1/schools", "status", params={"status": 503})
        assert schools_status(b) == 200
        with pytest.raises(AssertionError, match="never fired"):  # b's calls are not a's rule firing
            a.control.assert_faults_fired()
        assert schools_status(a) == 503
        assert [(r["tenant"], r["fired"]) for r in a.control.assert_faults_fired()] == [(a.tenant, 1)]


def test_a_rule_for_every_tenant_is_asked_for_and_reaches_them_all(districts: Districts) -> None:
    spec = district_spec(students=5)
    with districts.live(spec) as a, districts.live(spec) as b:
        a.control.add_fault("/v1/schools", "status", params={"status": 503}, every_tenant=True)
        assert schools_status(b) == 503 and schools_status(a) == 503
        assert [r["tenant"] for r in a.control.faults()] == [None]


def test_the_mapping_form_is_the_clients_tenant_too_unless_it_says_none(districts: Districts) -> None:
    spec = district_spec(students=5)
    with districts.live(spec) as a, districts.live(spec) as b:
        own = a.control.add_fault({"endpoint": "/v1/schools", "kind": "status"})
        every = a.control.add_fault({"endpoint": "/v1/contacts", "kind": "status", "tenant": None})
        also_every = a.control.add_fault({"endpoint": "/v1/students", "kind": "status"}, every_tenant=True)
        named = a.control.add_fault("/v1/schools", "latency", params={"ms": 1}, tenant=b.tenant)
        tenants = {r["id"]: r["tenant"] for r in a.control.faults()}
        assert tenants == {own: a.tenant, every: None, also_every: None, named: b.tenant}


def test_every_tenant_with_a_tenant_named_is_refused_before_calling() -> None:
    with mock_district(students=5) as esd:
        with pytest.raises(TypeError, match="every_tenant=True, or tenant='default', not both"):
            esd.control.add_fault("/v1/schools", "status", tenant="default", every_tenant=True)
        with pytest.raises(TypeError, match="not both"):
            esd.control.add_fault({"endpoint": "/v1/schools", "kind": "status", "tenant": "default"}, every_tenant=True)
        assert esd.control.faults() == []


def test_over_raw_http_a_rule_without_a_tenant_is_still_every_tenants(districts: Districts) -> None:
    spec = district_spec(students=5)
    with districts.live(spec) as a, districts.live(spec) as b:
        root = a.base_url.removesuffix("/api")
        answer = requests.post(f"{root}/_mock/faults", json={"endpoint": "/v1/schools", "kind": "status"}, timeout=10)
        assert answer.status_code == 201, answer.text
        assert answer.json()["tenant"] is None
        assert schools_status(a) == schools_status(b) == 500
