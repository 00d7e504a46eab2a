"""The record parsers' fast paths agree with their careful paths on any shape eSD could send: the same
record, or the same RecordError. A fast path that took a shape the careful one refuses would let a
malformed listing through (R11); one that refused a good record would abort a sync for nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from mock_esd_sync.errors import RecordError
from mock_esd_sync.records import _parse_contact_carefully, _parse_student_carefully, parse_contact, parse_student

DROPPED = object()  # the field left out
# JSON values a field's check must tell apart (bool is not int, "" and {} are not lists, 1.0 is not 1...).
ODD = st.sampled_from([
    DROPPED, None, True, False, 0, 1, 7, -1, 1 << 62, 1.0, 0.5, "", "x", "Mother", "12345678", "1234567",
    "Enrolled", "Pre-enrolled", "2026-09-01", [], {}, [1], {"studentId": 7}, ["x"], [None],
])  # fmt: skip
STUDENT = {
    "id": 7, "enrolledId": "12345678", "studentStatus": "Enrolled", "schoolId": "0101",
    "enrollmentDate": "2026-09-01", "firstName": "Ada", "lastName": "Byron",
}  # fmt: skip
LINK = {"studentId": 7, "relationship": "Mother", "priority": 1}
CONTACT = {"id": 3, "firstName": "Mo", "lastName": "Byron", "email": None, "doNotContact": False, "students": [LINK]}


def outcome(parse: Any, raw: Any, endpoint: str) -> tuple[str, Any]:
    try:
        return "parsed", parse(raw, endpoint)
    except RecordError as exc:
        return "refused", str(exc)


def with_field(record: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name} if value is DROPPED else {**record, name: value}


@given(
    name=st.sampled_from(sorted(STUDENT)), value=ODD, endpoint=st.sampled_from(["/v1/students", "/v1/operoo/students"])
)
def test_a_student_record_with_one_odd_field_is_parsed_alike_by_both_paths(
    name: str, value: Any, endpoint: str
) -> None:
    raw = with_field(STUDENT, name, value)
    assert outcome(parse_student, raw, endpoint) == outcome(_parse_student_carefully, raw, endpoint)


@given(
    name=st.sampled_from(sorted(CONTACT) + [f"link {field}" for field in sorted(LINK)]),
    value=ODD,
    endpoint=st.sampled_from(["/v1/contacts", "/v1/operoo/contacts"]),
)
@example(name="students", value={}, endpoint="/v1/contacts")  # no links, but not the list the contract says
@example(name="students", value="", endpoint="/v1/contacts")
def test_a_contact_record_with_one_odd_field_is_parsed_alike_by_both_paths(
    name: str, value: Any, endpoint: str
) -> None:
    if name.startswith("link "):
        raw = {**CONTACT, "students": [LINK, with_field(LINK, name.removeprefix("link "), value)]}
    else:
        raw = with_field(CONTACT, name, value)
    assert outcome(parse_contact, raw, endpoint) == outcome(_parse_contact_carefully, raw, endpoint)
