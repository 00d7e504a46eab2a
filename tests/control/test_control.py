"""The /_mock control API: each action, tenants, scenarios, the journal, and turning it off."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from tests.conftest import CUSTOM, SMALL, tenant_headers, token_for, walk


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.data
    return response.json


def students(http: FlaskClient, headers: dict[str, str], path: str = "/api/v1/students") -> dict[int, dict[str, Any]]:
    return {s["id"]: s for page in walk(http, path, headers, "students", 1000) for s in page["students"]}


def test_reset_to_another_seed_changes_the_district(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    before = http.get("/api/v1/students?pageSize=5", headers=custom_headers).data
    ok(http.post("/_mock/reset", json={"seed": 99, "students": 50}))
    after = http.get("/api/v1/students?pageSize=5", headers=custom_headers).json
    assert after is not None and after["pagingInfo"]["totalCount"] < 50 and before != after
    ok(http.post("/_mock/reset", json={"seed": SMALL.seed, "students": SMALL.students}))
    assert http.get("/api/v1/students?pageSize=5", headers=custom_headers).data == before


def test_a_new_tenant_is_isolated(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    created = ok(http.post("/_mock/tenants", json={"name": "qa1", "seed": 3, "students": 40}), 201)
    other = tenant_headers(http, created)
    default_before = students(http, custom_headers)
    ok(http.post("/_mock/students/2/withdraw?tenant=qa1"))
    assert students(http, custom_headers) == default_before
    assert students(http, other)[2]["studentStatus"] == "Withdrawn"
    assert http.delete("/_mock/tenants/qa1").status_code == 204
    assert http.get("/api/v1/students", headers=other).status_code == 401


def test_schools_create_and_delete(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    ok(http.post("/_mock/schools", json={"id": "0501", "name": "New High", "schoolType": "High"}), 201)
    ids = [s["id"] for p in walk(http, "/api/v1/schools", custom_headers, "schools", 100) for s in p["schools"]]
    assert "0501" in ids
    assert http.delete("/_mock/schools/0501").status_code == 204
    busy = http.delete("/_mock/schools/0900")
    assert busy.status_code == 409 and "still has students" in busy.json["detail"]  # type: ignore[index]


def test_students_create_patch_delete_with_validation(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    created = ok(
        http.post("/_mock/students", json={"enrolledId": "99992226", "studentStatus": "Enrolled", "schoolId": "0101"}),
        201,
    )
    assert students(http, custom_headers)[created["id"]]["enrolledId"] == "99992226"
    ok(http.patch(f"/_mock/students/{created['id']}", json={"firstName": "Zoë"}))
    assert http.get("/api/v1/students/99992226", headers=custom_headers).json["firstName"] == "Zoë"  # type: ignore[index]
    assert http.post("/_mock/students", json={"studentStatus": "Sleeping"}).status_code == 400
    assert http.post("/_mock/students", json={"schoolId": "7777"}).status_code == 409
    assert http.post("/_mock/students", json={"enrolledId": "99992226"}).status_code == 409
    assert http.delete(f"/_mock/students/{created['id']}").status_code == 204
    assert http.get("/api/v1/students/99992226", headers=custom_headers).status_code == 404


def test_the_application_workflow(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    applied = ok(http.post("/_mock/applications", json={"firstName": "Ada", "lastName": "Lovelace"}), 201)
    pid = applied["id"]
    operoo = students(http, custom_headers, "/api/v1/operoo/students")
    assert operoo[pid]["enrolledId"] is None and operoo[pid]["studentStatus"] == "Pre-enrolled"
    accepted = ok(http.post(f"/_mock/students/{pid}/accept", json={"schoolId": "0900"}))
    assert accepted["studentStatus"] == "Pre-enrolled" and len(accepted["enrolledId"]) == 8
    assert students(http, custom_headers)[pid]["enrolledId"] == accepted["enrolledId"]
    assert students(http, custom_headers, "/api/v1/operoo/students")[pid]["enrolledId"] == accepted["enrolledId"], (
        "recently accepted"
    )
    moved = ok(http.post(f"/_mock/students/{pid}/move", json={"schoolId": "0101"}))
    assert moved["schoolId"] == "0101"
    assert ok(http.post(f"/_mock/students/{pid}/withdraw"))["studentStatus"] == "Withdrawn"
    assert pid not in students(http, custom_headers, "/api/v1/operoo/students")
    assert http.post(f"/_mock/students/{pid}/accept", json={"schoolId": "nope"}).status_code == 400


def test_contacts_create_and_delete(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    target = next(iter(students(http, custom_headers)))
    made = ok(
        http.post(
            "/_mock/contacts", json={"students": [{"studentId": target, "relationship": "Guardian", "priority": 1}]}
        ),
        201,
    )
    linked = [
        c
        for p in walk(http, "/api/v1/contacts", custom_headers, "contacts", 1000, studentId=target)
        for c in p["contacts"]
    ]
    assert made["id"] in {c["id"] for c in linked}
    assert (
        http.post(
            "/_mock/contacts", json={"students": [{"studentId": 999999, "relationship": "Mother", "priority": 1}]}
        ).status_code
        == 409
    )
    assert http.delete(f"/_mock/contacts/{made['id']}").status_code == 204


SCENARIO = """
today: 2026-09-01
schools:
  - {id: "0101", name: Lincoln Elementary}
  - {id: "0900", name: Document School, schoolType: Holding}
students:
  - {id: 1009, studentStatus: Pre-enrolled}
  - {id: 12, enrolledId: "99992226", studentStatus: Pre-enrolled, schoolId: "0900"}
contacts:
  - {id: 7, students: [{studentId: 1009, relationship: Mother, priority: 1}]}
"""


def test_a_yaml_scenario_replaces_the_district_and_exports_back(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    ok(http.post("/_mock/scenario", data=SCENARIO, content_type="application/yaml"))
    assert set(students(http, custom_headers)) == {12}
    assert set(students(http, custom_headers, "/api/v1/operoo/students")) == {1009}
    exported = ok(http.get("/_mock/scenario"))
    created = ok(http.post("/_mock/tenants", json={"name": "copy", "scenario": exported}), 201)
    assert created["tenant"] == "copy"
    assert ok(http.get("/_mock/scenario?tenant=copy")) == exported
    assert "Document School" in http.get("/_mock/scenario?format=yaml").get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("students: [{id: 1, studentStatus: Sleeping}]", "students.0.studentStatus"),
        ("students: [{id: 1, schoolId: '0404'}]", "unknown schoolId '0404'"),
        ("contacts: [{id: 1, students: [{studentId: 5, relationship: Mother, priority: 1}]}]", "unknown studentId 5"),
        ("schools: [unclosed", "neither YAML nor JSON"),
        ("colour: blue", "colour: unknown field"),
    ],
)
def test_a_bad_scenario_is_refused_with_reasons_and_changes_nothing(
    http: FlaskClient, custom_headers: dict[str, str], text: str, message: str
) -> None:
    before = students(http, custom_headers)
    response = http.post("/_mock/scenario", data=text, content_type="application/yaml")
    assert response.status_code == 400 and message in response.json["detail"]  # type: ignore[index]
    assert students(http, custom_headers) == before


def test_the_journal_records_filters_and_clears(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    http.delete("/_mock/requests")
    http.get("/api/v1/students?pageNo=2", headers=custom_headers)
    http.get("/api/v1/schools", headers=custom_headers)
    http.get("/api/v1/students?pageSize=0", headers=custom_headers)
    entries = ok(http.get("/_mock/requests"))
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v1/students", 200), ("GET", "/v1/schools", 200), ("GET", "/v1/students", 400),
    ]  # fmt: skip
    assert (
        entries[0]["query"] == "pageNo=2"
        and entries[0]["client"] == CUSTOM.client_id
        and entries[0]["tenant"] == "default"
    )
    # one notation, the fault rules' (/v1/...), is stored; a filter may use either
    assert len(ok(http.get("/_mock/requests?path=/v1/students"))) == 2
    assert len(ok(http.get("/_mock/requests?path=/api/v1/students"))) == 2
    assert len(ok(http.get("/_mock/requests?path=/v1/s*"))) == 3
    assert len(ok(http.get("/_mock/requests?path=/api/v1/s*"))) == 3
    assert len(ok(http.get("/_mock/requests?status=400"))) == 1
    assert http.get("/_mock/requests?colour=red").status_code == 400
    http.delete("/_mock/requests")
    assert ok(http.get("/_mock/requests")) == []


def test_no_control_means_404_everywhere() -> None:
    http = create_app(AppConfig(spec=SMALL, control=False)).test_client()
    for path in ("/_mock/", "/_mock/faults", "/_mock/requests"):
        response = http.get(path)
        assert response.status_code == 404 and response.content_type == "application/problem+json"
    assert http.post("/_mock/reset").status_code == 404


def test_control_refuses_non_loopback_callers(app: Flask) -> None:
    http = app.test_client()
    response = http.post("/_mock/reset", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 404 and "loopback" in response.json["detail"]  # type: ignore[index]
    assert token_for(http, CUSTOM)


def test_an_accepted_applicant_never_gets_a_deleted_student_s_enrolled_id(http: FlaskClient) -> None:
    first = ok(
        http.post(
            "/_mock/students/" + str(ok(http.post("/_mock/applications", json={}), 201)["id"]) + "/accept",
            json={"schoolId": "0101"},
        )
    )
    assert http.delete(f"/_mock/students/{first['id']}").status_code == 204
    second = ok(
        http.post(
            "/_mock/students/" + str(ok(http.post("/_mock/applications", json={}), 201)["id"]) + "/accept",
            json={"schoolId": "0101"},
        )
    )
    assert int(second["enrolledId"]) > int(first["enrolledId"])
