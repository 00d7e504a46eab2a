"""`/guru/` beyond loopback (issue 26): no page may be framed by another site, and personal data is for this
machine's eyes unless the server was told otherwise (`serve --show-personal-data`)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from mock_esd.district.generator import DistrictSpec
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from mock_esd_contracts import vocabulary as v

REMOTE = {"REMOTE_ADDR": "192.0.2.7"}  # another machine (TEST-NET-1), asking for the server's address
SERVED_AT = {"Host": "192.0.2.1:8080"}
SPEC = DistrictSpec(seed=3, students=60)
PAGES = ["/guru/", "/guru/students", "/guru/students/1", "/guru/activity"]


def _app(show_personal_data: bool = False) -> Flask:
    return create_app(AppConfig(spec=SPEC, bind_host="0.0.0.0", show_personal_data=show_personal_data))


def _personal_values(app: Flask, person_id: int) -> list[str]:
    """The personal values the pages of `person_id` would show: the student's and each contact's."""
    scenario = app.test_client().get("/_mock/scenario").get_json()
    student = next(s for s in scenario["students"] if s["id"] == person_id)
    contacts = [c for c in scenario["contacts"] if any(link["studentId"] == person_id for link in c["students"])]
    values = [str(r[k]) for r in (student, *contacts) for k in v.PERSONAL_FIELDS if r.get(k)]
    assert len(values) > 8 and contacts
    return values


@pytest.mark.parametrize("path", PAGES)
def test_no_page_can_be_framed_and_none_loads_anything_from_elsewhere(path: str) -> None:
    response = _app().test_client().get(path, environ_base=REMOTE, headers=SERVED_AT)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in policy and "script-src" not in policy  # the pages run no script at all


def test_the_policy_admits_the_pages_own_stylesheet_by_its_hash() -> None:
    import base64
    import hashlib

    response = _app().test_client().get("/guru/")
    style = re.search(r"<style>(.*?)</style>", response.get_data(as_text=True), re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.headers["Content-Security-Policy"]


def test_beyond_loopback_a_student_s_page_hides_every_personal_value() -> None:
    app = _app()
    values = _personal_values(app, 1)
    remote = app.test_client().get("/guru/students/1", environ_base=REMOTE, headers=SERVED_AT).get_data(as_text=True)
    leaked = [value for value in values if value in remote]
    assert not leaked, f"shown beyond loopback: {len(leaked)} personal values"
    assert "(hidden)" in remote and "--show-personal-data" in remote
    local = app.test_client().get("/guru/students/1").get_data(as_text=True)
    assert all(value in local for value in values if "@" in value or value.isalpha()), "this machine sees them"


def test_beyond_loopback_the_list_hides_names_and_its_search_does_not_match_them() -> None:
    app = _app()
    student = app.test_client().get("/_mock/students/1").get_json()
    listing = app.test_client().get("/guru/students", environ_base=REMOTE, headers=SERVED_AT).get_data(as_text=True)
    assert student["lastName"] not in listing and student["firstName"] not in listing
    search = (
        app.test_client()
        .get(f"/guru/students?q={student['lastName']}", environ_base=REMOTE, headers=SERVED_AT)
        .get_data(as_text=True)
    )
    assert "0 persons match" in search, "a match would tell the hidden name"
    by_id = app.test_client().get(
        f"/guru/students?q={student['enrolledId'] or 1}", environ_base=REMOTE, headers=SERVED_AT
    )
    assert "0 persons match" not in by_id.get_data(as_text=True)
    local = app.test_client().get(f"/guru/students?q={student['lastName']}").get_data(as_text=True)
    assert student["lastName"] in local and "0 persons match" not in local


def test_the_flag_shows_personal_data_beyond_loopback() -> None:
    app = _app(show_personal_data=True)
    values = _personal_values(app, 1)
    remote = app.test_client().get("/guru/students/1", environ_base=REMOTE, headers=SERVED_AT).get_data(as_text=True)
    assert all(value in remote for value in values if "@" in value or value.isalpha())
    assert "(hidden)" not in remote and "--show-personal-data" not in remote


def test_the_flag_s_help_says_what_it_exposes_and_to_whom() -> None:
    from click.testing import CliRunner

    from mock_esd_workbench.commands.serve import serve

    shown = " ".join(CliRunner().invoke(serve, ["--help"], terminal_width=200).output.split())
    assert "--show-personal-data" in shown
    assert "names, dates of birth, emails, addresses and phones in /guru/ to every machine that can reach" in shown


@pytest.mark.parametrize("path", ["/guru/nope", "/guru/students/nope/more", "/guru", "/guru/students?colour=blue"])
def test_every_answer_under_guru_refuses_framing_a_404_too(path: str) -> None:
    """Not only the pages: the view's 404s, redirects and 400s are answers of the view, and are not framed either."""
    response = _app().test_client().get(path, environ_base=REMOTE, headers=SERVED_AT)
    assert response.status_code in (308, 400, 404)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
