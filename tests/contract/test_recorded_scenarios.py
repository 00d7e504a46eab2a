"""Scenarios hold what a recorded server may show that the mock would not derive: `operooContacts`,
a contact that /v1/operoo/contacts shows with other values than /v1/contacts. Strictly validated."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import walk

SCENARIO: dict[str, Any] = {
    "today": "2026-09-01",
    "schools": [{"id": "0900", "name": "Holding", "schoolType": "Holding"}],
    "students": [
        {
            "id": 1,
            "enrolledId": "20000001",
            "studentStatus": "Pre-enrolled",
            "schoolId": "0900",
            "recentlyAccepted": True,
        },
        {"id": 2, "enrolledId": None, "studentStatus": "Pre-enrolled"},
    ],
    "contacts": [
        {"id": 7, "doNotContact": False, "students": [{"studentId": 1, "relationship": "Mother", "priority": 1}]},
        {"id": 8, "students": [{"studentId": 2, "relationship": "Father", "priority": 1}]},
    ],
    "operooContacts": [{"id": 7, "doNotContact": True, "email": None}],
}


def contacts(http: FlaskClient, headers: dict[str, str], path: str) -> dict[int, dict[str, Any]]:
    return {c["id"]: c for page in walk(http, path, headers, "contacts", 100) for c in page["contacts"]}


def test_the_custom_listing_shows_the_contact_otherwise_and_the_scenario_exports_it(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    assert http.post("/_mock/scenario", json=SCENARIO).status_code == 200
    standard = contacts(http, custom_headers, "/api/v1/contacts")
    custom = contacts(http, custom_headers, "/api/v1/operoo/contacts")
    assert standard[7]["doNotContact"] is False and standard[7]["email"] == "parent7@example.com"
    assert custom[7]["doNotContact"] is True and custom[7]["email"] is None
    assert custom[8]["doNotContact"] is False and "operooContacts" not in standard[7]
    exported = http.get("/_mock/scenario").json
    assert exported is not None and exported["operooContacts"] == SCENARIO["operooContacts"]


def test_a_contact_put_anew_shows_alike_on_both_listings(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    assert http.post("/_mock/scenario", json=SCENARIO).status_code == 200
    again = {"id": 7, "students": [{"studentId": 1, "relationship": "Mother", "priority": 1}]}
    assert http.post("/_mock/contacts", json=again).status_code == 201
    assert contacts(http, custom_headers, "/api/v1/operoo/contacts")[7]["doNotContact"] is False
    assert "operooContacts" not in (http.get("/_mock/scenario").json or {})


@pytest.mark.parametrize(
    ("differing", "message"),
    [
        ([{"id": 7, "students": []}], "operooContacts.0.students: unknown field"),
        ([{"id": 7, "doNotContact": "yes"}], "operooContacts.0.doNotContact: expected true or false"),
        ([{"id": 7}], "operooContacts.0: expected at least 2 fields"),
        ([{"id": 99, "doNotContact": True}], "operooContacts 99: no such contact"),
    ],
)
def test_a_bad_operoo_contact_is_refused_and_changes_nothing(
    http: FlaskClient, custom_headers: dict[str, str], differing: list[dict[str, Any]], message: str
) -> None:
    before = contacts(http, custom_headers, "/api/v1/operoo/contacts")
    response = http.post("/_mock/scenario", json={**SCENARIO, "operooContacts": differing})
    assert response.status_code == 400 and message in response.json["detail"]  # type: ignore[index]
    assert contacts(http, custom_headers, "/api/v1/operoo/contacts") == before
