"""Fault rules aimed like WireMock's matchers (query, client, method), refused when they cannot fire, and the
rules a test armed that never fired named with the nearest requests (`assert_faults_fired`)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from mock_esd import EsdDistrict, mock_district
from mock_esd.qa.client import ControlError
from mock_esd_sync import EsdClient, FetchError, RetryPolicy
from tests.conftest import STANDARD, token_for


def add(http: FlaskClient, **rule: Any) -> Any:
    return http.post("/_mock/faults", json=rule)


def page_statuses(http: FlaskClient, headers: dict[str, str], pages: int, **query: str) -> list[int]:
    return [
        http.get("/api/v1/students", headers=headers, query_string={"pageNo": n, "pageSize": 100, **query}).status_code
        for n in range(1, pages + 1)
    ]


def test_a_query_rule_fires_on_page_2_only(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    assert (
        add(http, endpoint="/v1/students", kind="status", params={"status": 503}, query={"pageNo": "2"}).status_code
        == 201
    )
    assert page_statuses(http, custom_headers, 3) == [200, 503, 200]
    (rule,) = http.get("/_mock/faults").json  # type: ignore[misc]
    assert (rule["query"], rule["calls"], rule["fired"]) == ({"pageNo": "2"}, 1, 1)


def test_every_named_parameter_must_be_given_with_its_value(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/students", kind="status", query={"pageNo": "1", "pageSize": "1000"})
    assert page_statuses(http, custom_headers, 1) == [200]  # pageSize 100, not 1000
    ok = http.get("/api/v1/students", headers=custom_headers, query_string={"pageNo": 1, "pageSize": 1000})
    assert ok.status_code == 500


def test_a_client_rule_fires_for_that_client_only(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    standard = {"Authorization": f"Bearer {token_for(http, STANDARD)}"}
    add(http, endpoint="/v1/schools", kind="status", params={"status": 502}, client=STANDARD.client_id)
    assert http.get("/api/v1/schools", headers=custom_headers).status_code == 200
    assert http.get("/api/v1/schools", headers=standard).status_code == 502


def test_a_method_rule_leaves_other_methods_alone(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/schools", kind="status", method="HEAD")
    assert http.get("/api/v1/schools", headers=custom_headers).status_code == 200
    assert http.head("/api/v1/schools", headers=custom_headers).status_code == 500


@pytest.mark.parametrize(
    "endpoint",
    ["/v1/students", "/v1/students/99992226", "/v1/students/*", "/v1/operoo/*", "/v1/*", "/*", "/v1/auth/token"],
)
def test_an_endpoint_the_mock_serves_is_taken(http: FlaskClient, endpoint: str) -> None:
    assert add(http, endpoint=endpoint, kind="latency").status_code == 201


@pytest.mark.parametrize(
    "endpoint", ["/v1/studnets", "/v1/students/1/contacts", "/api/v1/students", "/v2/*", "/v1/schools/0101"]
)
def test_an_endpoint_the_mock_does_not_serve_is_a_400_naming_those_it_does(http: FlaskClient, endpoint: str) -> None:
    answer = add(http, endpoint=endpoint, kind="status")
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"
    (problem,) = answer.json["errors"]  # type: ignore[index]
    assert problem["path"] == "endpoint"
    assert "it serves /v1/auth/token, /v1/schools, /v1/students, /v1/students/{enrolledId}" in problem["message"]
    assert http.get("/_mock/faults").json == []  # nothing armed


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"endpoint": "/v1/auth/token", "kind": "status", "client": "x"}, "client"),
        ({"endpoint": "/v1/students", "kind": "status", "query": {"pageNo": 2}}, "query.pageNo"),
        ({"endpoint": "/v1/students", "kind": "status", "query": "pageNo=2"}, "query"),
        ({"endpoint": "/v1/students", "kind": "status", "clinet": "x"}, "clinet"),
    ],
)
def test_what_a_rule_cannot_match_on_is_refused_naming_it(http: FlaskClient, rule: dict[str, Any], path: str) -> None:
    answer = add(http, **rule)
    assert answer.status_code == 400
    assert [p["path"] for p in answer.json["errors"]] == [path]  # type: ignore[index]
    assert http.get("/_mock/faults").json == []


# ----- ControlClient.add_fault: what it takes --------------------------------------------------------------


def test_add_fault_takes_the_rule_as_arguments_or_as_one_mapping() -> None:
    with mock_district(students=5) as esd:
        first = esd.control.add_fault("/v1/schools", "status", params={"status": 503}, query={"pageNo": "1"})
        second = esd.control.add_fault({"endpoint": "/v1/schools", "kind": "latency", "params": {"ms": 1}})
        assert [r["id"] for r in esd.control.faults()] == [first, second]
        assert esd.control.faults()[0]["query"] == {"pageNo": "1"}


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (
            lambda c: c.add_fault({"endpoint": "/v1/schools", "kind": "status"}, "status"),
            "as one mapping or as arguments",
        ),
        (lambda c: c.add_fault({"endpoint": "/v1/schools", "kind": "status", "paramz": {}}), "no field 'paramz'"),
        (lambda c: c.add_fault("/v1/schools"), "needs the kind of fault"),
        (lambda c: c.add_fault("/v1/schools", "status", parms={}), "unexpected keyword argument 'parms'"),
    ],
)
def test_add_fault_refuses_what_it_does_not_know_before_calling(call: Any, said: str) -> None:
    with mock_district(students=5) as esd:
        with pytest.raises(TypeError, match=re.escape(said)):
            call(esd.control)
        assert esd.control.faults() == []


def test_a_rule_the_mock_refuses_is_a_control_error_naming_the_field() -> None:
    with mock_district(students=5) as esd, pytest.raises(ControlError, match="endpoint: the mock serves no") as caught:
        esd.control.add_fault("/v1/studnets", "status")
    assert caught.value.status == 400


# ----- assert_faults_fired --------------------------------------------------------------------------------


def sync_walk(esd: EsdDistrict) -> None:
    """Read every listing as the sync does (1,000 records a page)."""
    with requests.Session() as session:
        client = EsdClient(session, esd.base_url, esd.custom.client_id, esd.custom.client_secret, sleep=lambda _: None)
        client.fetch_snapshot(True)


def test_a_rule_for_a_page_the_sync_never_reads_fails_naming_it_and_the_nearest_requests() -> None:
    """The issue's case: "503 on page 2" for a 300-student district never fires, the sync reads 1,000 a page."""
    with mock_district(students=300) as esd:
        rule = esd.control.add_fault("/v1/students", "status", params={"status": 503}, query={"pageNo": "2"})
        sync_walk(esd)
        with pytest.raises(AssertionError) as caught:
            esd.control.assert_faults_fired()
    said = str(caught.value)
    assert "1 of 1 fault rule(s) never fired" in said
    assert f"rule {rule} (status on path=/v1/students query=pageNo=2): no call matched it" in said
    assert (
        "GET /v1/students?pageNo=1&pageSize=1000 -> 200" in said
        and "query pageNo=1&pageSize=1000, wanted pageNo=2" in said
    )


def test_a_rule_that_fired_passes_and_an_nth_beyond_the_calls_says_so() -> None:
    with mock_district(students=30) as esd:
        esd.control.add_fault("/v1/schools", "status", mode="times", n=1, params={"status": 503})
        sync_walk(esd)  # the client retries the 503
        assert len(esd.control.assert_faults_fired()) == 1
        esd.control.add_fault("/v1/schools", "status", mode="nth", n=5)
        sync_walk(esd)
        with pytest.raises(AssertionError, match=r"it matched 1 call\(s\) and fires on call 5"):
            esd.control.assert_faults_fired()


def test_rules_of_another_tenant_are_not_this_districts() -> None:
    with mock_district(students=5) as esd:
        esd.control.call("POST", "/tenants", json={"name": "other", "students": 3})
        esd.control.add_fault("/v1/schools", "status", tenant="other")
        assert esd.control.assert_faults_fired() == []


def test_mock_district_can_fail_a_block_that_leaves_a_rule_unfired() -> None:
    district = mock_district(students=5, unfired_faults="fail")
    with pytest.raises(AssertionError, match="never fired"), district as esd:
        esd.control.add_fault("/v1/contacts", "status")
    with mock_district(students=5, unfired_faults="fail") as esd:  # fired: nothing to say
        esd.control.add_fault("/v1/contacts", "status", mode="times", n=1)
        sync_walk(esd)
    with pytest.raises(ValueError, match="unfired_faults must be one of ignore, fail"):
        mock_district(unfired_faults="fial")


def test_a_fault_the_sync_cannot_get_past_is_its_error_not_the_unfired_check() -> None:
    """A block that raises ends with its own error, even when `unfired_faults="fail"` finds rules unfired."""
    with pytest.raises(FetchError), mock_district(students=5, unfired_faults="fail") as esd:  # noqa: PT012
        esd.control.add_fault("/v1/schools", "status", params={"status": 503})
        esd.control.add_fault("/v1/contacts", "status")
        with requests.Session() as session:
            EsdClient(session, esd.base_url, esd.custom.client_id, esd.custom.client_secret,
                      retry=RetryPolicy(attempts=2), sleep=lambda _: None).fetch_snapshot(True)  # fmt: skip
