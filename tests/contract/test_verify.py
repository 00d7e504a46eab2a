"""The verifier passes against the mock, and each check fails alone against a server broken for it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from mock_esd.app import create_app
from mock_esd.context import AppConfig
from mock_esd.generator import DistrictSpec
from mock_esd.inprocess import DEFAULT_BASE_URL, Reply, routed
from mock_esd_contracts.checks import CHECKS
from mock_esd_contracts.probe import Target
from mock_esd_contracts.verifier import FAIL, PASS, WARN, failed, json_report, junit_report, verdict, verify
from tests.conftest import CUSTOM, STANDARD

Tamper = Callable[[requests.PreparedRequest, Reply], Reply]
TARGET = Target(DEFAULT_BASE_URL, CUSTOM.client_id, CUSTOM.secret, STANDARD.client_id, STANDARD.secret)
SPEC = DistrictSpec(seed=21, students=300)


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(AppConfig(spec=SPEC))


def run(app: Flask, tamper: Tamper | None = None, target: Target = TARGET) -> dict[str, Any]:
    with routed(app, tamper=tamper), requests.Session() as session:
        return {r.name: r for r in verify(target, session)}


def test_the_mock_passes_every_check(app: Flask) -> None:
    results = run(app)
    assert {name: r.status for name, r in results.items()} == {c.name: PASS for c in CHECKS}


def test_custom_forbidden_is_skipped_without_standard_credentials(app: Flask) -> None:
    results = run(app, target=Target(DEFAULT_BASE_URL, CUSTOM.client_id, CUSTOM.secret))
    assert results["custom-forbidden"].status == "skip"
    assert "--client-id-standard" in results["custom-forbidden"].reasons[0]


# ----- deliberately broken servers: a tamper per check ----------------------------------------------


def path_of(request: requests.PreparedRequest) -> str:
    return urlsplit(request.url or "").path.removeprefix("/api")


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}


def edit(path: str, change: Callable[[dict[str, Any]], None]) -> Tamper:
    """Change the JSON body of every 200 answer on `path`."""

    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        if path_of(request) != path or reply[0] != 200:
            return reply
        body = json.loads(reply[2])
        change(body)
        return reply[0], reply[1], json.dumps(body).encode()

    return tamper


def first(
    key: str, pred: Callable[[dict[str, Any]], bool], change: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        for record in body[key]:
            if pred(record):
                change(record)
                return

    return apply


def problem(status: int) -> Reply:
    return (
        status,
        {"Content-Type": "application/problem+json"},
        json.dumps({"type": "about:blank", "title": "x", "status": status, "detail": "broken"}).encode(),
    )


def ok(body: dict[str, Any]) -> Reply:
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


EMPTY_PAGE = {"students": [], "pagingInfo": {"pageNo": 1, "pageSize": 100, "pageCount": 0, "totalCount": 0}}


def token_call(request: requests.PreparedRequest) -> bool:
    return path_of(request) == "/v1/auth/token"


def refuse_form_credentials(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return problem(401) if token_call(request) and "client_id=" in str(request.body) else reply


def refuse_basic(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return (
        problem(401) if token_call(request) and request.headers.get("Authorization", "").startswith("Basic") else reply
    )


def accept_any_secret(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return (
        ok({"access_token": "anything", "token_type": "Bearer", "expires_in": 60})
        if token_call(request) and reply[0] == 401
        else reply
    )


def no_auth(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return ok(EMPTY_PAGE) if not token_call(request) and reply[0] == 401 else reply


def fail_operoo_contacts(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return problem(500) if path_of(request) == "/v1/operoo/contacts" and query(request).get("pageNo") == "1" else reply


def flip_schools_order() -> Tamper:
    calls = [0]

    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        if path_of(request) != "/v1/schools" or reply[0] != 200:
            return reply
        calls[0] += 1
        body = json.loads(reply[2])
        if calls[0] % 2 == 0:
            body["schools"].reverse()
        return ok(body)

    return tamper


def past_end_404(request: requests.PreparedRequest, reply: Reply) -> Reply:
    if reply[0] == 200 and not token_call(request) and "pagingInfo" in (body := json.loads(reply[2])):
        info = body["pagingInfo"]
        return problem(404) if info["pageNo"] > max(info["pageCount"], 1) else reply
    return reply


def accept_page_size_0(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return ok(EMPTY_PAGE) if query(request).get("pageSize") == "0" else reply


def ignore_status_filter(app: Flask) -> Tamper:
    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        q = query(request)
        if path_of(request) != "/v1/students" or "studentStatus" not in q:
            return reply
        q.pop("studentStatus")
        response = app.test_client().get(
            "/api/v1/students", query_string=q, headers={"Authorization": request.headers["Authorization"]}
        )
        return response.status_code, {"Content-Type": "application/json"}, response.get_data()

    return tamper


def pre_registered_without_date(request: requests.PreparedRequest, reply: Reply) -> Reply:
    if reply[0] != 200 or not path_of(request).startswith("/v1/students"):
        return reply
    body = json.loads(reply[2])
    for record in body.get("students", [body]):
        if record.get("studentStatus") == "Pre-Registered":
            record["enrollmentDate"] = None
    return ok(body)


def by_id_differs(request: requests.PreparedRequest, reply: Reply) -> Reply:
    if reply[0] == 200 and path_of(request).startswith("/v1/students/"):
        return ok({**json.loads(reply[2]), "firstName": "Somebody Else"})
    return reply


def custom_open_to_all(request: requests.PreparedRequest, reply: Reply) -> Reply:
    return ok(EMPTY_PAGE) if reply[0] == 403 else reply


def applicant(record: dict[str, Any]) -> bool:
    return record.get("enrolledId") is None


BROKEN: dict[str, Callable[[Flask], Tamper]] = {
    "token-form": lambda app: refuse_form_credentials,
    "token-basic": lambda app: refuse_basic,
    "token-bad-secret": lambda app: accept_any_secret,
    "auth-required": lambda app: no_auth,
    "endpoints-reachable": lambda app: fail_operoo_contacts,
    "records-schema": lambda app: edit(
        "/v1/operoo/students", first("students", applicant, lambda r: r.update(lastName=42))
    ),
    "paging-complete": lambda app: edit(
        "/v1/contacts", lambda b: b["pagingInfo"].update(totalCount=b["pagingInfo"]["totalCount"] - 1)
    ),
    "paging-stable-order": lambda app: flip_schools_order(),
    "paging-past-end": lambda app: past_end_404,
    "paging-bad-params": lambda app: accept_page_size_0,
    "filters": ignore_status_filter,
    "integrity-schools": lambda app: edit(
        "/v1/operoo/students", first("students", applicant, lambda r: r.update(schoolId="9999"))
    ),
    "integrity-contacts": lambda app: edit(
        "/v1/operoo/contacts", first("contacts", lambda c: True, lambda c: c["students"][0].update(studentId=999999))
    ),
    "vocabulary": lambda app: edit(
        "/v1/operoo/students", first("students", applicant, lambda r: r.update(studentStatus="Applied"))
    ),
    "pre-registered-dates": lambda app: pre_registered_without_date,
    "enrolled-id-format": lambda app: edit(
        "/v1/operoo/students", first("students", applicant, lambda r: r.update(enrolledId="123"))
    ),
    "student-by-id": lambda app: by_id_differs,
    "custom-forbidden": lambda app: custom_open_to_all,
}


def test_every_check_has_a_broken_server() -> None:
    assert set(BROKEN) == {c.name for c in CHECKS}


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_check_fails_alone_against_the_server_broken_for_it(app: Flask, name: str) -> None:
    results = run(app, BROKEN[name](app))
    assert {n for n, r in results.items() if r.status in (FAIL, WARN)} == {name}, {
        n: r.reasons[:2] for n, r in results.items() if r.status != PASS
    }
    assert results[name].status == (WARN if name in WARNING_CHECKS else FAIL)
    assert all(reason for reason in results[name].reasons)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("records-schema", ["/v1/operoo/students record", "lastName: expected string, got integer"]),
        ("integrity-schools", ["/v1/operoo/students record", "schoolId '9999'"]),
        ("paging-complete", ["/v1/contacts", "totalCount"]),
        ("enrolled-id-format", ["/v1/operoo/students record", "enrolledId '123'"]),
    ],
)
def test_a_failure_names_endpoint_record_and_field(app: Flask, name: str, words: list[str]) -> None:
    reason = run(app, BROKEN[name](app))[name].reasons[0]
    assert all(w in reason for w in words), reason


WARNING_CHECKS = {"pre-registered-dates"}  # data the sync skips, not a broken contract


def test_only_data_findings_are_warnings() -> None:
    assert {c.name for c in CHECKS if c.warning} == WARNING_CHECKS


def test_a_data_warning_passes_a_conforming_server_unless_strict(app: Flask) -> None:
    from xml.etree import ElementTree as ET

    results = list(run(app, BROKEN["pre-registered-dates"](app)).values())
    assert not failed(results) and verdict(results) == WARN and failed(results, strict=True)
    report = json_report(results, TARGET)
    assert report["passed"] and report["verdict"] == "warn" and report["warnings"]
    assert all(w.startswith("pre-registered-dates: /v1/students record") for w in report["warnings"])
    assert json_report(results, TARGET, strict=True)["verdict"] == "fail"
    suite = ET.fromstring(junit_report(results))
    case = next(c for c in suite.iter("testcase") if c.get("name") == "pre-registered-dates")
    assert suite.get("failures") == "0" and case.find("failure") is None
    assert "the sync skips it" in (case.findtext("system-out") or "")
    assert case.find("properties/property[@name='verdict']").get("value") == "warn"  # type: ignore[union-attr]
    strict = ET.fromstring(junit_report(results, strict=True))
    assert strict.get("failures") == "1"


def test_junit_report_lists_each_check_and_its_failure(app: Flask) -> None:
    from xml.etree import ElementTree as ET

    results = list(run(app, BROKEN["vocabulary"](app)).values())
    suite = ET.fromstring(junit_report(results))
    assert suite.get("tests") == str(len(CHECKS)) and suite.get("failures") == "1"
    failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["vocabulary"]
    assert "Applied" in (failures[0].find("failure").text or "")  # type: ignore[union-attr]


def walk_all(app: Flask, path: str, key: str, token: str) -> Iterator[dict[str, Any]]:
    client = app.test_client()
    page = 1
    while True:
        body = client.get(
            f"/api{path}", query_string={"pageNo": page, "pageSize": 1000}, headers={"Authorization": f"Bearer {token}"}
        ).json
        assert body is not None
        yield body
        if page >= body["pagingInfo"]["pageCount"]:
            return
        page += 1
