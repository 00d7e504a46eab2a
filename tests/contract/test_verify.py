"""The verifier passes against the mock, and each check fails alone against a server broken for it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from mock_esd.district.generator import DistrictSpec
from mock_esd.server.app import create_app
from mock_esd.server.inprocess import DEFAULT_BASE_URL, Reply, routed
from mock_esd.state.config import AppConfig
from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.checks import CHECKS
from mock_esd_contracts.endpoints import ENDPOINTS
from mock_esd_contracts.errors import CannotRun
from mock_esd_contracts.probe import Target
from mock_esd_contracts.verifier import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    failed,
    json_report,
    junit_report,
    verdict,
    verify,
)
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
        ("enrolled-id-format", ["/v1/operoo/students record", "enrolledId is not 8 digits (a string of 3 characters"]),
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


# ----- a broken listing stops nothing else ------------------------------------------------------------

LISTING_CHECKS = ("records-schema", "paging-complete", "paging-stable-order", "paging-past-end", "vocabulary")


def schools_500(request: requests.PreparedRequest, reply: Reply) -> Reply:
    """/v1/schools breaks once past authentication (a failing database, say): 500 for every valid token."""
    return problem(500) if path_of(request) == "/v1/schools" and reply[0] == 200 else reply


def both(*tampers: Tamper) -> Tamper:
    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        for one in tampers:
            reply = one(request, reply)
        return reply

    return tamper


def test_a_listing_answering_500_leaves_every_other_check_its_own_verdict(app: Flask) -> None:
    results = run(app, schools_500)
    verdicts = {name: r.status for name, r in results.items()}
    assert verdicts == {
        **{c.name: PASS for c in CHECKS}, "endpoints-reachable": FAIL, "integrity-schools": SKIP
    }, verdicts  # fmt: skip
    said = "x (detail of 6 characters, not quoted)"  # a problem's title; its detail (may name a person) never
    assert results["endpoints-reachable"].reasons == [f"GET /v1/schools page 1: 500 {said}"]
    assert "/v1/schools" in results["integrity-schools"].reasons[0]  # skipped, naming what it needed
    for name in LISTING_CHECKS:  # judged on the four other listings; the one it could not read is named
        assert results[name].not_judged == [
            f"/v1/schools (could not be read: GET /v1/schools page 1: 500 {said}; see endpoints-reachable)"
        ], name
    assert all(not r.not_judged for n, r in results.items() if n not in (*LISTING_CHECKS, "integrity-schools"))


def flip_order(path: str, key: str) -> Tamper:
    """Every second walk of `path` lists its records in reverse."""
    calls = [0]

    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        if path_of(request) != path or reply[0] != 200 or query(request).get("pageNo") != "1":
            return reply
        calls[0] += 1
        body = json.loads(reply[2])
        if calls[0] % 2 == 0:
            body[key].reverse()
        return ok(body)

    return tamper


BROKEN_ELSEWHERE: dict[str, Callable[[Flask], Tamper]] = {  # each listing check's fault, not on /v1/schools
    "records-schema": BROKEN["records-schema"],
    "paging-complete": BROKEN["paging-complete"],
    "paging-stable-order": lambda app: flip_order("/v1/operoo/contacts", "contacts"),
    "paging-past-end": BROKEN["paging-past-end"],
    "vocabulary": BROKEN["vocabulary"],
}


@pytest.mark.parametrize("name", LISTING_CHECKS)
def test_a_listing_check_still_fails_on_another_listing_while_schools_answers_500(app: Flask, name: str) -> None:
    results = run(app, both(schools_500, BROKEN_ELSEWHERE[name](app)))
    assert results[name].status == FAIL, results[name]
    assert not any("/v1/schools" in reason for reason in results[name].reasons)
    assert results[name].not_judged[0].startswith("/v1/schools (could not be read")


def fail_page_2(path: str) -> Tamper:
    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        return problem(503) if path_of(request) == path and query(request).get("pageNo") == "2" else reply

    return tamper


def test_a_listing_that_fails_partway_is_judged_on_the_pages_it_read(app: Flask) -> None:
    broken = edit("/v1/students", first("students", lambda r: True, lambda r: r.update(grade=12)))  # page 1
    results = run(app, both(fail_page_2("/v1/students"), broken))
    assert results["records-schema"].status == FAIL
    assert results["records-schema"].reasons[0].startswith("/v1/students record")
    assert (
        "/v1/students pages 2 on (could not be read: GET /v1/students page 2: 503"
        in results["records-schema"].not_judged[0]
    )
    assert results["filters"].status == PASS  # the contacts' filter judged; the students' needed every page
    assert results["filters"].not_judged == [
        "/v1/students (could not be read: GET /v1/students page 2: 503 x (detail of 6 characters, not quoted); "
        "see endpoints-reachable)"
    ]


def test_every_listing_unreadable_skips_the_listing_checks_naming_each(app: Flask) -> None:
    def all_500(request: requests.PreparedRequest, reply: Reply) -> Reply:
        return problem(500) if path_of(request) in {e.path for e in ENDPOINTS} and reply[0] == 200 else reply

    results = run(app, all_500)
    for name in LISTING_CHECKS:
        assert results[name].status == SKIP
        assert all(e.path in results[name].reasons[0] for e in ENDPOINTS), results[name].reasons
    assert results["token-form"].status == results["auth-required"].status == PASS


def test_a_connection_lost_midway_is_a_finding_naming_the_request_and_every_check_still_runs(app: Flask) -> None:
    def drop_by_id(request: requests.PreparedRequest, reply: Reply) -> Reply:
        if path_of(request).startswith("/v1/students/"):
            raise requests.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'reset'))")
        return reply

    results = run(app, drop_by_id)
    assert set(results) == {c.name for c in CHECKS}  # the run went on past the dropped connection
    by_id = results["student-by-id"]
    assert by_id.status == FAIL and len(by_id.reasons) == 1, by_id
    assert re.fullmatch(r"GET /v1/students/\d{8}: connection failed \(ConnectionError\)", by_id.reasons[0])
    assert by_id.not_judged == [f"what it asks after {by_id.reasons[0].split(': ')[0]}"]
    assert by_id.evidence[0] is not None and by_id.evidence[0].request.startswith("GET /api/v1/students/")
    assert all(r.status == PASS for n, r in results.items() if n != "student-by-id"), results


def test_a_token_endpoint_that_cannot_be_reached_stops_the_run_saying_why() -> None:
    from xml.etree import ElementTree as ET

    with requests.Session() as session, pytest.raises(CannotRun) as stopped:
        verify(Target("http://127.0.0.1:9/api", "id", "secret"), session)
    assert str(stopped.value).startswith("POST http://127.0.0.1:9/api/v1/auth/token: connection refused")
    suite = ET.fromstring(junit_report([], stopped=str(stopped.value)))
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {c.name for c in CHECKS} | {"could-not-run"}
    assert cases["could-not-run"].find("failure").text == str(stopped.value)  # type: ignore[union-attr]
    assert all(cases[c.name].find("skipped") is not None for c in CHECKS)


def test_a_relationship_outside_the_vocabulary_is_named_by_its_type_never_quoted(app: Flask) -> None:
    """Free text may be a person's ("Grandma Woodard"): the vocabulary check says what it is, not what it says."""
    planted = edit(
        "/v1/operoo/contacts",
        first(
            "contacts",
            lambda c: bool(c["students"]),
            lambda c: c["students"][0].update(relationship="PIIREL Grandma Woodard"),
        ),
    )
    results = run(app, planted)
    (reason,) = [r for r in results["vocabulary"].reasons if "relationship" in r]
    assert reason.endswith(
        "students.relationship is not one of " + ", ".join(esd.RELATIONSHIPS) + " (got a string of 22 characters)"
    )
    from xml.etree import ElementTree as ET

    shown = " ".join(
        [
            *(r for res in results.values() for r in res.reasons),
            ET.tostring(ET.fromstring(junit_report(list(results.values()))), encoding="unicode"),
        ]
    )
    assert "PIIREL" not in shown and "Woodard" not in shown


def test_an_enrolled_id_that_is_no_id_is_never_asked_for_by_id_nor_quoted(app: Flask) -> None:
    """A listing whose enrolledId holds text (a name, say): `enrolled-id-format` fails naming the record, and
    `student-by-id` neither sends the text in a path nor repeats it in a reason."""
    asked: list[str] = []
    mangle = edit(
        "/v1/students", first(esd.STUDENTS_KEY, lambda r: True, lambda r: r.update(enrolledId="PII Jane Doe"))
    )

    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        asked.append(request.url or "")
        return mangle(request, reply)

    results = run(app, tamper)
    assert results["enrolled-id-format"].status == "fail"
    assert not any("PII" in url or "Jane" in url for url in asked), "the text was sent in a path"
    assert results["student-by-id"].status == PASS
    assert not any("Jane" in reason for r in results.values() for reason in r.reasons)
