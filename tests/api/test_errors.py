"""Authentication and every error answer: the right status and an RFC 7807 problem+json body."""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import CUSTOM, STANDARD, Clock


def assert_problem(response: TestResponse, status: int, detail_part: str = "") -> None:
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.json
    assert body is not None
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert detail_part in body["detail"]


def test_token_from_form_body(http: FlaskClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": CUSTOM.client_id, "client_secret": CUSTOM.secret}
    body = http.post("/api/v1/auth/token", data=form).json
    assert body is not None
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600 and body["access_token"]


def test_token_from_http_basic(http: FlaskClient) -> None:
    basic = base64.b64encode(f"{STANDARD.client_id}:{STANDARD.secret}".encode()).decode()
    response = http.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    token = response.json["access_token"]  # type: ignore[index]
    assert http.get("/api/v1/schools", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "detail"),
    [
        (
            {"grant_type": "client_credentials", "client_id": CUSTOM.client_id, "client_secret": "wrong"},
            401,
            "invalid client credentials",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": CUSTOM.secret},
            401,
            "invalid client credentials",
        ),
        ({"grant_type": "client_credentials"}, 401, "invalid client credentials"),
        ({"grant_type": "password", "client_id": CUSTOM.client_id, "client_secret": CUSTOM.secret}, 400, "grant_type"),
    ],
)
def test_bad_token_requests(http: FlaskClient, form: dict[str, str], status: int, detail: str) -> None:
    assert_problem(http.post("/api/v1/auth/token", data=form), status, detail)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer not-a-token",
        "Basic abc",
        "Bearer " + base64.urlsafe_b64encode(b"x|9999999999|forged").decode(),
    ],
)
def test_missing_or_invalid_token_is_401(http: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = http.get("/api/v1/students", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_expires(http: FlaskClient, custom_headers: dict[str, str], clock: Clock) -> None:
    assert http.get("/api/v1/schools", headers=custom_headers).status_code == 200
    clock.now += 600
    assert_problem(http.get("/api/v1/schools", headers=custom_headers), 401, "expired")


def test_auth_is_checked_before_parameters(http: FlaskClient) -> None:
    assert_problem(http.get("/api/v1/students?pageSize=abc"), 401)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("pageNo=0", "pageNo must be at least 1"),
        ("pageNo=-3", "pageNo must be at least 1"),
        ("pageNo=1072122034508632340561920", "pageNo must be at most 2147483647"),
        ("pageSize=5000", "pageSize must be at most 1000"),
        ("pageSize=abc", "pageSize must be an integer"),
        ("pageSize=0", "pageSize must be at least 1"),
        ("studentStatus=Enroled", "unknown studentStatus 'Enroled'"),
        ("schoolID=0101", "unknown query parameter schoolID"),
    ],
)
def test_bad_parameters_are_400(http: FlaskClient, custom_headers: dict[str, str], query: str, detail: str) -> None:
    assert_problem(http.get(f"/api/v1/students?{query}", headers=custom_headers), 400, detail)


def test_bad_student_id_filter_is_400(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    assert_problem(
        http.get("/api/v1/contacts?studentId=abc", headers=custom_headers), 400, "studentId must be an integer"
    )


@pytest.mark.parametrize("path", ["/api/v1/operoo/students", "/api/v1/operoo/contacts"])
def test_custom_endpoints_are_403_without_the_flag(
    http: FlaskClient, standard_headers: dict[str, str], path: str
) -> None:
    assert_problem(http.get(path, headers=standard_headers), 403, "custom endpoints")


def test_unknown_ids_and_routes_are_404(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    assert_problem(http.get("/api/v1/students/00000000", headers=custom_headers), 404, "00000000")
    assert_problem(http.get("/api/v1/teachers", headers=custom_headers), 404)


def test_wrong_method_is_405_with_allow(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    response = http.delete("/api/v1/students", headers=custom_headers)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_an_unknown_school_filter_is_an_empty_listing_not_an_error(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    body = http.get("/api/v1/students?schoolId=9999", headers=custom_headers).json
    assert body is not None
    assert body["students"] == [] and body["pagingInfo"]["totalCount"] == 0
