"""Integer query parameters are ASCII digits only, and no parameter may be given twice (issue 13 §3)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.api.test_errors import assert_problem


@pytest.mark.parametrize("value", ["1_0", " 1", "1 ", "+1", "\u0661", "\uff11", "1.0", "0x1"])
def test_integer_parameters_take_ascii_digits_only(
    http: FlaskClient, custom_headers: dict[str, str], value: str
) -> None:
    response = http.get("/api/v1/students", headers=custom_headers, query_string={"pageSize": value})
    assert_problem(response, 400, "pageSize must be an integer in ASCII digits")


def test_leading_zeros_are_still_a_number(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    body = http.get("/api/v1/students?pageSize=007", headers=custom_headers).json
    assert body is not None and body["pagingInfo"]["pageSize"] == 7


def test_a_huge_number_is_out_of_range_and_not_quoted_whole(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    response = http.get("/api/v1/students", headers=custom_headers, query_string={"pageNo": "9" * 5000})
    assert_problem(response, 400, "pageNo must be at most 2147483647")
    assert len(response.data) < 500


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("pageNo=1&pageNo=2", "pageNo"),
        ("schoolId=0101&schoolId=0102", "schoolId"),
        ("studentId=3&studentId=3", "studentId"),
    ],
)
def test_a_repeated_parameter_is_refused_by_name(
    http: FlaskClient, custom_headers: dict[str, str], query: str, name: str
) -> None:
    path = "/api/v1/contacts" if name == "studentId" else "/api/v1/students"
    assert_problem(http.get(f"{path}?{query}", headers=custom_headers), 400, f"query parameter {name} given 2 times")


def test_unknown_and_repeated_are_both_named(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    response = http.get("/api/v1/schools?pageNo=1&pageNo=1&schoolID=1", headers=custom_headers)
    assert_problem(response, 400, "unknown query parameter schoolID")
    assert "pageNo given 2 times" in response.json["detail"]  # type: ignore[index]
