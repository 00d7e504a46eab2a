"""Build district records by hand, in the API's exact shapes, with sensible defaults for the rest.

For tests and scenarios: `student(12, enrolled_id="99992226", status="Enrolled", school_id="0101")`.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import EllipsisType
from typing import Any

from mock_esd.district.generator import District, Record
from mock_esd_contracts import vocabulary as v


def school(school_id: str, name: str | None = None, school_type: str = v.SchoolType.ELEMENTARY) -> Record:
    """A school record; a `Holding` type makes it the holding school."""
    return {
        "id": school_id,
        "name": name or f"School {school_id}",
        "schoolType": school_type,
        "isHoldingSchool": school_type == v.SchoolType.HOLDING,
    }


def student(
    person_id: int,
    *,
    enrolled_id: str | None = None,
    status: str = v.Status.ENROLLED,
    school_id: str | None = None,
    enrollment_date: str | EllipsisType | None = ...,
    grade: str = "3",
    first_name: str | None = None,
    last_name: str = "Student",
    **extra: Any,
) -> Record:
    """A student record; unless given, Pre-Registered students get a future enrollmentDate, others none."""
    if enrollment_date is ...:
        enrollment_date = "2026-10-01" if status == v.Status.PRE_REGISTERED else None
    record: Record = {
        "id": person_id,
        "enrolledId": enrolled_id,
        "studentStatus": status,
        "schoolId": school_id,
        "enrollmentDate": enrollment_date,
        "grade": grade,
        "firstName": first_name or f"Kid{person_id}",
        "middleName": None,
        "lastName": last_name,
        "dateOfBirth": "2017-05-01",
        "gender": "X",
        "email": f"kid{person_id}@example.com",
        "address": "1 Main St, Springfield, NY 12345",
        "lastModified": "2026-09-01T00:00:00Z",
    }
    record.update(extra)
    return record


def contact(
    contact_id: int, links: Iterable[tuple[int, str, int]], do_not_contact: bool = False, **extra: Any
) -> Record:
    """A contact linked to students: links are (person id, relationship, priority)."""
    record: Record = {
        "id": contact_id,
        "firstName": f"Parent{contact_id}",
        "lastName": "Contact",
        "email": f"parent{contact_id}@example.com",
        "mobilePhone": "555-000-0000",
        "homePhone": None,
        "doNotContact": do_not_contact,
        "students": [
            {"studentId": pid, "relationship": rel, "priority": prio, "livesWith": True, "hasCustody": True}
            for pid, rel, prio in links
        ],
    }
    record.update(extra)
    return record


def contact_from(given: Record) -> Record:
    """A contact from the scenario or control-API shape: defaults filled in, every given field kept."""
    links = [(x["studentId"], x["relationship"], x["priority"]) for x in given["students"]]
    record = contact(given["id"], links, **{k: val for k, val in given.items() if k not in ("id", "students")})
    for built, raw in zip(record["students"], given["students"], strict=True):
        built.update(raw)
    return record


def district(
    schools: Iterable[Record],
    students: Iterable[Record],
    contacts: Iterable[Record] = (),
    recently_accepted: Iterable[int] = (),
) -> District:
    return District(list(schools), list(students), list(contacts), set(recently_accepted))
