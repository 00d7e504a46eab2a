"""The eSD API of the mock, through Flask's test client: shapes, paging, filters, determinism."""

from __future__ import annotations

from collections import Counter

import pytest
from flask.testing import FlaskClient

from mock_esd.district.generator import DistrictSpec
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from mock_esd_contracts import vocabulary as v
from tests.conftest import CUSTOM, SMALL, token_for, walk

ENDPOINTS = [
    ("/api/v1/schools", "schools"),
    ("/api/v1/students", "students"),
    ("/api/v1/contacts", "contacts"),
    ("/api/v1/operoo/students", "students"),
    ("/api/v1/operoo/contacts", "contacts"),
]


def fetch_all_bytes(spec: DistrictSpec) -> list[bytes]:
    http = create_app(AppConfig(spec=spec)).test_client()
    headers = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    out = []
    for path, _ in ENDPOINTS:
        for page_no in (1, 2):
            out.append(http.get(path, headers=headers, query_string={"pageNo": page_no, "pageSize": 10}).data)
    out.append(http.get("/api/v1/students?studentStatus=Pre-Registered", headers=headers).data)
    return out


def test_same_seed_gives_byte_identical_responses_from_two_apps() -> None:
    assert fetch_all_bytes(SMALL) == fetch_all_bytes(SMALL)


def test_another_seed_gives_other_responses() -> None:
    first, other = fetch_all_bytes(SMALL), fetch_all_bytes(DistrictSpec(seed=SMALL.seed + 1, students=300))
    assert all(a != b for a, b in zip(first[2:], other[2:], strict=True))


@pytest.mark.parametrize(("path", "key"), ENDPOINTS)
@pytest.mark.parametrize("page_size", [1, 7, 100, 1000])
def test_walking_all_pages_returns_totalcount_records_once_each(
    http: FlaskClient, custom_headers: dict[str, str], path: str, key: str, page_size: int
) -> None:
    if page_size == 1 and path != "/api/v1/schools":
        page_size = 37  # a 1-record walk of 300 students is slow and proves nothing more
    pages = list(walk(http, path, custom_headers, key, page_size))
    records = [r for p in pages for r in p[key]]
    info = pages[0]["pagingInfo"]
    ids = [r["id"] for r in records]
    assert len(records) == info["totalCount"] > 0
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "not in a stable order"
    assert info["pageCount"] == -(-info["totalCount"] // page_size) == len(pages)
    assert all(p["pagingInfo"]["pageSize"] == page_size for p in pages)
    assert all(len(p[key]) == page_size for p in pages[:-1])


def test_page_size_defaults_to_100(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    body = http.get("/api/v1/students", headers=custom_headers).json
    assert body is not None
    assert body["pagingInfo"]["pageSize"] == 100 and len(body["students"]) == 100


def test_a_page_past_the_end_is_empty_not_an_error(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    body = http.get("/api/v1/schools?pageNo=99", headers=custom_headers).json
    assert body is not None
    assert body["schools"] == [] and body["pagingInfo"]["pageCount"] == 1


def test_student_shape_is_the_spec_s(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    body = http.get("/api/v1/students?pageSize=1", headers=custom_headers).json
    assert body is not None
    assert list(body["students"][0]) == [
        "id", "enrolledId", "studentStatus", "schoolId", "enrollmentDate", "grade", "firstName",
        "middleName", "lastName", "dateOfBirth", "gender", "email", "address", "lastModified",
    ]  # fmt: skip
    assert list(body["pagingInfo"]) == ["pageNo", "pageSize", "pageCount", "totalCount"]


def test_standard_students_all_have_an_enrolled_id_and_operoo_ones_are_applications(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    standard = [s for p in walk(http, "/api/v1/students", custom_headers, "students", 1000) for s in p["students"]]
    operoo = [s for p in walk(http, "/api/v1/operoo/students", custom_headers, "students", 1000) for s in p["students"]]
    assert all(s["enrolledId"] for s in standard)
    with_id = [s for s in operoo if s["enrolledId"]]
    assert with_id, "no recently accepted applicant on the operoo endpoint"
    assert {s["id"] for s in with_id} <= {s["id"] for s in standard}
    assert len(operoo) > len(with_id)


@pytest.mark.parametrize("status", v.STUDENT_STATUSES)
def test_status_filter_returns_exactly_the_matching_students(
    http: FlaskClient, custom_headers: dict[str, str], status: str
) -> None:
    every = [s for p in walk(http, "/api/v1/students", custom_headers, "students", 1000) for s in p["students"]]
    only = [
        s
        for p in walk(http, "/api/v1/students", custom_headers, "students", 1000, studentStatus=status)
        for s in p["students"]
    ]
    assert only == [s for s in every if s["studentStatus"] == status]


def test_school_and_status_filters_combine(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    every = [s for p in walk(http, "/api/v1/students", custom_headers, "students", 1000) for s in p["students"]]
    counts = Counter(s["schoolId"] for s in every)
    for school_id in counts:
        got = [
            s
            for p in walk(
                http,
                "/api/v1/students",
                custom_headers,
                "students",
                50,
                schoolId=school_id,
                studentStatus=v.Status.ENROLLED,
            )
            for s in p["students"]
        ]
        assert got == [s for s in every if s["schoolId"] == school_id and s["studentStatus"] == v.Status.ENROLLED]


@pytest.mark.parametrize(
    ("path", "persons"),
    [("/api/v1/contacts", "/api/v1/students"), ("/api/v1/operoo/contacts", "/api/v1/operoo/students")],
)
def test_contacts_link_only_persons_of_their_endpoint_and_filter_by_student(
    http: FlaskClient, custom_headers: dict[str, str], path: str, persons: str
) -> None:
    ids = {s["id"] for p in walk(http, persons, custom_headers, "students", 1000) for s in p["students"]}
    contacts = [c for p in walk(http, path, custom_headers, "contacts", 1000) for c in p["contacts"]]
    assert contacts and all(link["studentId"] in ids for c in contacts for link in c["students"])
    student_id = contacts[0]["students"][0]["studentId"]
    only = [c for p in walk(http, path, custom_headers, "contacts", 1000, studentId=student_id) for c in p["contacts"]]
    assert only == [c for c in contacts if any(link["studentId"] == student_id for link in c["students"])]


def test_one_student_by_enrolled_id_equals_its_list_record(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    listed = http.get("/api/v1/students?pageSize=5", headers=custom_headers).json
    assert listed is not None
    for record in listed["students"]:
        assert http.get(f"/api/v1/students/{record['enrolledId']}", headers=custom_headers).json == record
