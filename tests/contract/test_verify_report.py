"""What verify's reports show beside each reason (the request, the status, the record quoted), and what they never
show (a personal value, a field the contract does not name, more than a named size): JSON, JUnit and HTML."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import requests
from flask import Flask

from mock_esd.server.app import create_app
from mock_esd.server.inprocess import Reply
from mock_esd.state.config import AppConfig
from mock_esd_contracts.checks import CHECKS
from mock_esd_contracts.evidence import MAX_EVIDENCE, MAX_QUOTE_CHARS
from mock_esd_contracts.html_report import Run, render_html
from mock_esd_contracts.verifier import FAIL, Result, json_report, junit_report
from tests.contract.test_verify import (
    BROKEN,
    SPEC,
    TARGET,
    Tamper,
    applicant,
    both,
    edit,
    first,
    run,
    schools_500,
)
from tests.html import table

PERSONAL = ("firstName", "middleName", "lastName", "email", "address", "dateOfBirth")


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(AppConfig(spec=SPEC))


@pytest.fixture(scope="module")
def victim(app: Flask) -> dict[str, Any]:
    """The applicant whose record the broken server mangles, as the mock serves it."""
    seen: dict[str, Any] = {}

    def keep(request: requests.PreparedRequest, reply: Reply) -> Reply:
        if "/v1/operoo/students" in (request.url or "") and reply[0] == 200 and not seen:
            seen.update(next(r for r in json.loads(reply[2])["students"] if applicant(r)))
        return reply

    run(app, keep)
    return seen


def mangle(record: dict[str, Any]) -> None:
    record["lastName"] = ["Zelda", "Quuxley"]  # a personal field of the wrong type, holding personal text
    record["ssn"] = "123-45-6789"  # a field the contract does not name


BROKEN_SERVER: Tamper = both(
    schools_500,
    edit("/v1/operoo/students", first("students", applicant, mangle)),
    BROKEN["vocabulary"](create_app()),
)


@pytest.fixture(scope="module")
def results(app: Flask) -> list[Result]:
    return list(run(app, BROKEN_SERVER).values())


def by_name(results: list[Result]) -> dict[str, Result]:
    return {r.name: r for r in results}


def secrets_of(victim: dict[str, Any]) -> list[str]:
    return ["Zelda", "Quuxley", "123-45-6789"] + [str(victim[f]) for f in PERSONAL if victim.get(f)]


def test_a_record_finding_quotes_its_request_status_and_record_with_nothing_personal(
    results: list[Result], victim: dict[str, Any]
) -> None:
    schema = by_name(results)["records-schema"]
    assert schema.reasons == [f"/v1/operoo/students record {victim['id']}: lastName: expected string, got array"]
    evidence = schema.evidence[0]
    assert evidence is not None
    assert evidence.request == "GET /api/v1/operoo/students?pageNo=1&pageSize=100" and evidence.status == 200
    quoted = json.loads(evidence.quote or "")
    assert quoted["id"] == victim["id"] and quoted["studentStatus"] == "Applied"  # the contract's fields, as sent
    assert quoted["lastName"] == "<array>" and quoted["ssn"] == "<string>"  # the type found, not the value
    assert all(quoted[f] == "<string>" for f in PERSONAL if f != "lastName" and isinstance(victim[f], str))


def test_no_report_repeats_a_personal_value(results: list[Result], victim: dict[str, Any]) -> None:
    pages = {
        "json": json.dumps(json_report(results, TARGET)),
        "junit": junit_report(results).decode(),
        "html": render_html(results, Run(TARGET)),
    }
    assert "<array>" in pages["json"]  # the record is quoted, redacted
    for kind, page in pages.items():
        leaked = [value for value in secrets_of(victim) if value in page]
        assert not leaked, f"{kind} repeats {leaked}"


def test_the_junit_failure_carries_the_evidence(results: list[Result]) -> None:
    suite = ET.fromstring(junit_report(results))
    case = next(c for c in suite.iter("testcase") if c.get("name") == "records-schema")
    text = case.findtext("failure") or ""
    assert "  request: GET /api/v1/operoo/students?pageNo=1&pageSize=100\n  status: 200\n  record:\n" in text
    assert '"lastName": "<array>"' in text
    reachable = next(c for c in suite.iter("testcase") if c.get("name") == "endpoints-reachable")
    assert "request: GET /api/v1/schools?pageNo=1&pageSize=100" in (reachable.findtext("failure") or "")
    quoted = reachable.findtext("failure") or ""
    assert '"title": "x"' in quoted and '"detail": "<string>"' in quoted  # the problem body, its detail as its type
    passed = next(c for c in suite.iter("testcase") if c.get("name") == "vocabulary")
    assert passed.find("failure") is not None  # broken for it, and judged beside the 500
    schema_out = case.findtext("failure") or ""
    assert "not judged: /v1/schools (could not be read" in schema_out


def test_the_json_report_keeps_its_shape_and_adds_what_was_not_judged_and_the_evidence(results: list[Result]) -> None:
    report = json_report(results, TARGET)
    assert set(report) == {"url", "passed", "verdict", "strict", "stopped", "checks", "warnings"}
    assert report["stopped"] is None  # the run went through every check
    check = next(c for c in report["checks"] if c["check"] == "records-schema")
    assert set(check) == {"check", "description", "result", "reasons", "notJudged", "evidence"}
    assert check["notJudged"][0].startswith("/v1/schools (could not be read")
    assert check["evidence"][0]["reason"] == check["reasons"][0]
    assert check["evidence"][0]["request"].startswith("GET /api/v1/operoo/students?")


def test_evidence_is_quoted_for_the_first_reasons_only_and_each_quote_is_cut_to_size(app: Flask) -> None:
    def long_names(body: dict[str, Any]) -> None:
        for school in body["schools"]:
            school["name"] = "Long Name " * 1000  # a contract field, quoted as sent, up to the cut
            school["isHoldingSchool"] = "maybe"

    schema = run(app, edit("/v1/schools", long_names))["records-schema"]
    assert len(schema.reasons) > MAX_EVIDENCE and len(schema.evidence) == MAX_EVIDENCE
    quote = schema.evidence[0].quote or ""  # type: ignore[union-attr]
    assert re.search(r" \[\.\.\. \d+ more characters\]$", quote)
    assert len(quote) <= MAX_QUOTE_CHARS + len(" [... 100000 more characters]")


def test_the_html_report_shows_every_check_its_verdict_reasons_and_evidence(results: list[Result]) -> None:
    page = render_html(results, Run(TARGET, started="2025-03-01T09:30:00Z"))
    rows = table(page, "check-table")
    assert [row[0] for row in rows[1:]] == [c.name for c in CHECKS]
    verdicts = {row[0]: row[1] for row in rows[1:]}
    assert verdicts["records-schema"] == verdicts["vocabulary"] == verdicts["endpoints-reachable"] == "FAIL"
    assert verdicts["integrity-schools"] == "SKIP" and verdicts["token-form"] == "PASS"
    for r in results:
        assert f'id="check-{r.name}"' in page
    assert "GET /api/v1/operoo/students?pageNo=1&amp;pageSize=100" in page and "<dd>200</dd>" in page
    assert "&#34;lastName&#34;: &#34;&lt;array&gt;&#34;" in page  # the quote, escaped
    assert "Not judged" in page and "shown as their type, never as sent" in page
    assert "The contract is broken" in page and "2025-03-01T09:30:00Z" in page


def test_the_html_report_is_self_contained(results: list[Result]) -> None:
    page = render_html(results, Run(TARGET))
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert re.findall(r'(?:href|src)="([^"#][^"]*)"', page) == []  # every link is to the page itself
    assert ".banner.bad" in page  # the house stylesheet, inlined


def test_a_stopped_run_says_why_and_lists_what_did_not_run() -> None:
    why = "POST http://127.0.0.1:9/api/v1/auth/token: connection refused: is a server listening there?"
    page = render_html([], Run(TARGET, stopped=why))
    assert "The server could not be judged: " + why in " ".join(page.split())
    assert [row[1] for row in table(page, "check-table")[1:]] == ["NOT RUN"] * len(CHECKS)
    suite = ET.fromstring(junit_report([], stopped=why))
    assert suite.get("failures") == "1" and suite.get("skipped") == str(len(CHECKS))
    failure = next(c for c in suite.iter("testcase") if c.get("name") == "could-not-run").find("failure")
    assert failure is not None and failure.get("message") == why


def test_a_warning_carries_its_evidence_too(app: Flask) -> None:
    dates = run(app, BROKEN["pre-registered-dates"](app))["pre-registered-dates"]
    suite = ET.fromstring(junit_report([dates]))
    out = suite.find("testcase/system-out")
    assert out is not None and (out.text or "").startswith("warning: /v1/students record")
    assert "  request: GET /api/v1/students?pageNo=" in (out.text or "") and dates.status != FAIL
