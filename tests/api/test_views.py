"""The browser view (`/guru/`) through Flask's test client: what each page shows, filters, errors, buttons."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mock_esd.district.browse import PAGE_SIZE
from mock_esd.district.store import DistrictStore
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from mock_esd_contracts import vocabulary as v
from mock_esd_workbench import with_rule_paths
from tests.conftest import SMALL, Clock
from tests.html import parse, table


@pytest.fixture
def app(clock: Clock) -> Flask:
    """The mock as `mock-esd serve` composes it: its student page lent the sync's rule replay."""
    return create_app(with_rule_paths(AppConfig(spec=SMALL, clock=clock, token_ttl=600)))


def store(app: Flask) -> DistrictStore:
    return app.extensions["mock_esd"].registry.store("default")  # type: ignore[no-any-return]


def csrf_token(html: str) -> str:
    """The CSRF token the page's forms carry (every form carries the same one)."""
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def page(http: FlaskClient, url: str, **query: Any) -> str:
    response = http.get(url, query_string=query or None)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def listed(html: str) -> list[dict[str, str]]:
    """The student list's rows as dicts by column header."""
    head, *rows = table(html, "student-list")
    return [dict(zip(head, row, strict=True)) for row in rows if len(row) == len(head)]


def test_the_root_leads_to_the_overview(http: FlaskClient) -> None:
    response = http.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/guru/")


def test_the_overview_counts_every_person_by_school_and_status(app: Flask, http: FlaskClient) -> None:
    html = page(http, "/guru/")
    head, *rows = table(html, "schools")
    people = store(app).all_students()
    expected = Counter((s["schoolId"] or "(none)", s["studentStatus"]) for s in people)
    shown = {(row[0], status): int(row[head.index(status)]) for row in rows for status in v.STUDENT_STATUSES}
    assert {k: n for k, n in shown.items() if n} == dict(expected)
    assert sum(int(row[-1]) for row in rows) == len(people)
    assert f'id="count-applications">{sum(s["enrolledId"] is None for s in people)}<' in html
    assert f'id="count-contacts">{len(store(app).all_contacts())}<' in html


def test_the_student_list_filters_by_status_school_and_enrolled_id(app: Flask, http: FlaskClient) -> None:
    people = store(app).all_students()
    applicants = [s for s in people if s["enrolledId"] is None and s["schoolId"] is None]
    html = page(http, "/guru/students", status=v.Status.PRE_ENROLLED, school="none", enrolled="without")
    rows = listed(html)
    want = [s for s in applicants if s["studentStatus"] == v.Status.PRE_ENROLLED]
    assert [int(r["person id"]) for r in rows] == [s["id"] for s in want][:PAGE_SIZE]
    assert f"{len(want)} persons match" in html
    assert all(r["studentStatus"] == v.Status.PRE_ENROLLED and r["school"] == "" for r in rows)


def test_the_text_search_finds_a_student_by_enrolled_id_or_name(app: Flask, http: FlaskClient) -> None:
    person = next(s for s in store(app).all_students() if s["enrolledId"])
    assert [r["person id"] for r in listed(page(http, "/guru/students", q=person["enrolledId"]))] == [str(person["id"])]
    by_name = listed(page(http, "/guru/students", q=person["lastName"].upper()))
    assert str(person["id"]) in [r["person id"] for r in by_name]


def test_the_list_pages_through_every_match_keeping_its_filters(app: Flask, http: FlaskClient) -> None:
    enrolled = [s["id"] for s in store(app).all_students() if s["studentStatus"] == v.Status.ENROLLED]
    seen: list[int] = []
    url: str | None = f"/guru/students?status={v.Status.ENROLLED}"
    while url:
        html = page(http, url)
        seen += [int(r["person id"]) for r in listed(html)]
        following = re.search(r'rel="next" href="([^"]+)"', html)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert seen == enrolled
    past_the_end = page(http, "/guru/students", status=v.Status.ENROLLED, page=999)
    assert "No person matches these filters." in past_the_end


def test_bad_filters_are_a_400_naming_each_problem(http: FlaskClient) -> None:
    response = http.get(
        "/guru/students", query_string={"status": "Expelled", "page": "0", "school": "9999", "colour": "red"}
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    detail = response.json["detail"]  # type: ignore[index]
    for problem in ('"colour"', '"Expelled"', '"9999"', 'page "0"'):
        assert problem in detail


@pytest.mark.parametrize("path", ["/guru/", "/guru/activity", "/guru/students/1"])
def test_a_page_refuses_a_query_parameter_it_does_not_read(http: FlaskClient, path: str) -> None:
    response = http.get(path, query_string={"tenant": "default", "tennant": "qa"})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.json["detail"] == f'{path} takes no query parameter "tennant"; it takes tenant'  # type: ignore[index]


def test_a_student_page_shows_fields_contacts_and_the_paths_it_can_match(app: Flask, http: FlaskClient) -> None:
    district = store(app)
    applicant = next(
        s for s in district.operoo_students().records
        if s["enrolledId"] is None and s["studentStatus"] == v.Status.PRE_ENROLLED
        and any(link["studentId"] == s["id"] for c in district.all_contacts() for link in c["students"])
    )  # fmt: skip
    html = page(http, f"/guru/students/{applicant['id']}")
    for key, value in applicant.items():
        assert f"<dt>{key}</dt>" in html
        assert value is None or str(value) in html
    paths = {row[0]: row for row in table(html, "paths")[1:]}
    assert "not synced" in paths["building (R3)"][2]
    assert f"synced as student-operoo-{applicant['id']}" in paths["custom endpoints (R1)"][2]
    links = [
        (link["relationship"], str(link["priority"]))
        for c in district.all_contacts() for link in c["students"] if link["studentId"] == applicant["id"]
    ]  # fmt: skip
    head, *rows = table(html, "contacts")
    assert sorted((r[head.index("relationship")], r[head.index("priority")]) for r in rows) == sorted(links)


def test_a_withdrawn_student_matches_no_path(app: Flask, http: FlaskClient) -> None:
    withdrawn = next(
        s for s in store(app).all_students() if s["studentStatus"] == v.Status.WITHDRAWN and s["enrolledId"]
    )
    rows = table(page(http, f"/guru/students/{withdrawn['id']}"), "paths")[1:]
    assert [row[2] for row in rows] == ["not synced", "not synced"]
    assert "studentStatus is Withdrawn -> not synced by R3" in rows[0][3]


def test_the_mock_alone_leaves_the_paths_panel_out(clock: Clock) -> None:
    alone = create_app(AppConfig(spec=SMALL, clock=clock))
    person = store(alone).all_students()[0]
    html = page(alone.test_client(), f"/guru/students/{person['id']}")
    assert 'id="paths"' not in html
    assert '<h2 id="contacts">' in html


def test_an_unknown_student_is_a_404_problem(http: FlaskClient) -> None:
    response = http.get("/guru/students/987654")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_names_are_escaped_not_run(app: Flask, http: FlaskClient) -> None:
    person = store(app).all_students()[0]
    store(app).put_student({**person, "firstName": "<script>alert(1)</script>"})
    for html in (page(http, "/guru/students"), page(http, f"/guru/students/{person['id']}")):
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)" in html


def test_activity_lists_requests_and_faults_and_the_buttons_clear_them(http: FlaskClient) -> None:
    http.post("/_mock/faults", json={"endpoint": "/v1/students", "kind": "status", "params": {"status": 503}})
    http.post("/_mock/faults", json={"endpoint": "/v1/schools", "kind": "latency", "params": {"ms": 500}})
    http.get("/api/v1/schools")
    html = page(http, "/guru/activity")
    assert [row[2] for row in table(html, "faults")[1:]] == ["status", "latency"]
    # the journal rows use the fault rules' notation, so a row and the rule that hit it read alike
    assert [row[3] for row in table(html, "journal")[1:]] == ["/v1/schools"]
    assert [row[1] for row in table(html, "faults")[1:]] == ["/v1/students", "/v1/schools"]

    first = http.get("/_mock/faults").json[0]["id"]  # type: ignore[index]
    form = {"csrf_token": csrf_token(html)}  # the buttons post the token of the page they are on
    removed = http.post(f"/guru/faults/{first}/delete", data=form)
    assert removed.status_code == 303
    assert [r["kind"] for r in http.get("/_mock/faults").json] == ["latency"]  # type: ignore[union-attr]
    assert http.post("/guru/faults/clear", data=form).status_code == 303
    assert http.get("/_mock/faults").json == []
    assert http.post("/guru/journal/clear", data=form, follow_redirects=True).status_code == 200
    assert http.get("/_mock/requests").json == []
    assert 'id="no-faults"' in page(http, "/guru/activity")


def test_without_the_control_api_the_view_reads_but_cannot_clear() -> None:
    app = create_app(AppConfig(spec=SMALL, control=False))
    app.extensions["mock_esd"].faults.add({"endpoint": "/v1/students", "kind": "status"})
    http = app.test_client()
    html = page(http, "/guru/activity")
    assert parse(html).forms == []
    assert http.post("/guru/faults/clear").status_code == 404
    assert len(app.extensions["mock_esd"].faults.rules()) == 1


def test_only_loopback_callers_may_clear(http: FlaskClient, app: Flask) -> None:
    http.post("/_mock/faults", json={"endpoint": "/v1/students", "kind": "status"})
    remote = app.test_client().post("/guru/faults/clear", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 404
    assert remote.mimetype == "application/problem+json"
    assert len(http.get("/_mock/faults").json) == 1  # type: ignore[arg-type]


def test_each_tenant_has_its_own_view(http: FlaskClient) -> None:
    http.post("/_mock/tenants", json={"name": "tiny", "seed": 3, "students": 12})
    html = page(http, "/guru/", tenant="tiny")
    assert 'id="count-students">12<' in html
    assert "/guru/students?tenant=tiny" in html.replace("&amp;", "&")
    assert http.get("/guru/", query_string={"tenant": "nope"}).status_code == 404
    http.post("/_mock/tenants", json={"name": "bigger", "seed": 3, "students": 120})
    listing = page(http, "/guru/students", tenant="bigger")
    following = re.search(r'rel="next" href="([^"]+)"', listing)
    assert following and "tenant=bigger" in following.group(1), "paging stays in the district"
    assert 'name="tenant" value="bigger"' in listing, "so does filtering"
