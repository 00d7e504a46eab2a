"""The journal's filters, and `assert_requests`' criteria, are strict: one no request could match is an error
naming it, never an empty answer that `assert_requests(0, ...)` passes on whatever the client did."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from mock_esd import EsdDistrict, mock_district
from tests.conftest import CUSTOM


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("status=abc", 'status: a status is a number from 100 to 599, got "abc"'),
        ("status=99999", "status: a status is a number from 100 to 599, got 99999"),
        ("status=99", "status: a status is a number from 100 to 599, got 99"),
        ("status=%EF%BC%92%EF%BC%90%EF%BC%90", "status: a status is a number from 100 to 599"),  # fullwidth 200
        ("method=GTE", 'method: not an HTTP method, got "GTE"; one of GET, HEAD, POST'),
        ("path=/v1/studnets", 'path: the mock serves no "/v1/studnets"; it serves /v1/auth/token, /v1/schools'),
        ("path=/v2/*", 'path: the mock serves no "/v2/*"'),
        ("path=v1/students", 'path: the mock serves no "v1/students"'),
        ("tenant=nope", 'tenant: no tenant "nope"; tenants: default'),
        ("client=nobody", 'client: no tenant has a client "nobody"'),
    ],
)
def test_a_filter_no_entry_could_match_is_a_400_naming_it(http: FlaskClient, query: str, said: str) -> None:
    answer = http.get(f"/_mock/requests?{query}")
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"
    assert said in answer.json["detail"]
    (problem,) = answer.json["errors"]
    assert problem["path"] == query.split("=")[0]


@pytest.mark.parametrize(
    "query",
    [
        "status=200", "status=599", "method=GET", "method=get", "path=/v1/students", "path=/api/v1/students",
        "path=/v1/students/38179657", "path=/v1/*", "path=/v1/stu*", "tenant=default", f"client={CUSTOM.client_id}",
    ],
)  # fmt: skip
def test_a_filter_that_can_match_is_taken(http: FlaskClient, custom_headers: dict[str, str], query: str) -> None:
    http.get("/api/v1/students", headers=custom_headers)
    answer = http.get(f"/_mock/requests?{query}")
    assert answer.status_code == 200, answer.json


@pytest.fixture(scope="module")
def esd() -> Iterator[EsdDistrict]:
    """A district whose journal holds one page of students, read by the custom client."""
    with mock_district(students=5) as district, requests.Session() as session:
        token = session.post(
            f"{district.base_url}/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(district.custom.client_id, district.custom.client_secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        session.get(f"{district.base_url}/v1/students", params={"pageNo": 1}, headers=headers).raise_for_status()
        yield district


@pytest.mark.parametrize(
    ("criteria", "said"),
    [
        ({"path": "/v1/studnets"}, 'path: the mock serves no "/v1/studnets"'),
        ({"method": "GTE"}, 'method: not an HTTP method, got "GTE"'),
        ({"status": 99999}, "status: a status is a number from 100 to 599, got 99999"),
        ({"status": "abc"}, 'status: a status is a number from 100 to 599, got "abc"'),
        (
            {"path": "/v1/students", "query": {"pagNo": 2}},
            "query.pagNo: /v1/students does not read it; it reads pageNo",
        ),
        ({"path": "/v1/schools", "query": "studentId=3"}, "query.studentId: /v1/schools does not read it"),
        ({"query": {"pagNo": 2}}, "query.pagNo: no path under /* reads it"),
        ({"client": "nobody"}, 'client: no tenant has a client "nobody"'),
    ],
)
def test_assert_requests_refuses_a_criterion_no_request_could_match(
    esd: EsdDistrict, criteria: dict[str, Any], said: str
) -> None:
    with pytest.raises(ValueError, match="assert_requests cannot match: ") as caught:
        esd.control.assert_requests(0, **criteria)
    assert said in str(caught.value)


def test_assert_requests_still_counts_what_it_can_match(esd: EsdDistrict) -> None:
    esd.control.assert_requests(1, path="/v1/students", query={"pageNo": 1}, method="get", status=200)
    esd.control.assert_requests(0, path="/v1/students", query={"pageNo": 2})
    esd.control.assert_requests(1, query="pageNo=1", client=esd.custom.client_id)
    esd.control.assert_requests(0, path="/v1/operoo/*", query={"studentId": "1"})
