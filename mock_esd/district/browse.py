"""What the browser view shows of a district: counts, filtered pages of students, one student in full.

Plain Python over a `DistrictStore`; `mock_esd.http.pages` is the thin Flask layer that renders it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mock_esd.district.generator import Record
from mock_esd.district.store import DistrictStore
from mock_esd.errors import BadRequest
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.schema import shown

PAGE_SIZE = 50
NO_SCHOOL = "none"  # the school filter's value for persons without a school (most applicants)
ENROLLED_FILTERS = ("", "with", "without")
QUERY_KEYS = ("tenant", "status", "school", "enrolled", "q", "page")


@dataclass(frozen=True)
class SchoolRow:
    school_id: str | None  # None: persons without a school
    name: str
    school_type: str
    counts: Mapping[str, int]  # studentStatus -> persons

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Overview:
    schools: list[SchoolRow]
    students: int
    applications: int  # persons without an enrolledId
    recently_accepted: int
    contacts: int


def overview(store: DistrictStore) -> Overview:
    """Schools with their persons counted by status, then the district's totals."""
    by_school: dict[str | None, Counter[str]] = {}
    applications = 0
    students = store.all_students()
    for s in students:
        by_school.setdefault(s["schoolId"], Counter())[s["studentStatus"]] += 1
        applications += s["enrolledId"] is None
    rows = [
        SchoolRow(s["id"], s["name"], s["schoolType"], by_school.pop(s["id"], Counter()))
        for s in store.schools().records
    ]
    unassigned = by_school.pop(None, Counter())
    rows += [SchoolRow(school, "(unknown school)", "", counts) for school, counts in sorted(by_school.items())]
    if unassigned:
        rows.append(SchoolRow(None, "(no school)", "", unassigned))
    return Overview(rows, len(students), applications, len(store.recently_accepted()), len(store.all_contacts()))


@dataclass(frozen=True)
class StudentQuery:
    """The student list's filters, as the query string gives them ("" means any)."""

    status: str = ""
    school: str = ""
    enrolled: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str], school_ids: set[str]) -> StudentQuery:
        """Parse and check every filter; a bad one is a 400 naming all that are wrong."""
        problems = [f"unknown parameter {shown(k)}" for k in sorted(set(args) - set(QUERY_KEYS))]
        status, school, enrolled = args.get("status", ""), args.get("school", ""), args.get("enrolled", "")
        if status and status not in v.STUDENT_STATUSES:
            problems.append(f"status {shown(status)} is not one of {', '.join(v.STUDENT_STATUSES)}")
        if school and school != NO_SCHOOL and school not in school_ids:
            problems.append(f"school {shown(school)} is not a school of this district (or {shown(NO_SCHOOL)})")
        if enrolled not in ENROLLED_FILTERS:
            problems.append(f'enrolled {shown(enrolled)} must be "with", "without" or empty')
        raw_page = args.get("page", "1")
        page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 10 else 0
        if page < 1:
            problems.append(f"page {shown(raw_page)} must be a whole number from 1")
        if problems:
            raise BadRequest("; ".join(problems))
        return cls(status, school, enrolled, args.get("q", "").strip(), page)

    def matches(self, s: Record, personal: bool = True) -> bool:
        """True when `s` passes every filter; without `personal`, the search looks at ids only (not names, emails)."""
        if self.status and s["studentStatus"] != self.status:
            return False
        if self.school and (s["schoolId"] or NO_SCHOOL) != self.school:
            return False
        if self.enrolled and (s["enrolledId"] is not None) != (self.enrolled == "with"):
            return False
        return not self.q or self.q.casefold() in _haystack(s, personal)

    def link(self, **changes: str | int) -> dict[str, str | int]:
        """Query parameters for a link to another page of the same list (empty filters left out)."""
        params: dict[str, str | int] = {
            "status": self.status, "school": self.school, "enrolled": self.enrolled, "q": self.q, "page": self.page,
        }  # fmt: skip
        params.update(changes)
        return {k: val for k, val in params.items() if val != "" and not (k == "page" and val == 1)}


def _haystack(s: Record, personal: bool = True) -> str:
    fields = ("id", "enrolledId", "firstName", "middleName", "lastName", "email") if personal else ("id", "enrolledId")
    return " ".join(str(s[k] or "") for k in fields).casefold()


@dataclass(frozen=True)
class StudentPage:
    students: list[Record]
    total: int
    page: int
    pages: int


def find_students(store: DistrictStore, query: StudentQuery, personal: bool = True) -> StudentPage:
    """One page of the persons matching every filter, by person id; a page past the end is empty.

    Without `personal`, the text search matches person ids and enrolledIds only.
    """
    found = [s for s in store.all_students() if query.matches(s, personal)]
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    start = (query.page - 1) * PAGE_SIZE
    return StudentPage(found[start : start + PAGE_SIZE], len(found), query.page, pages)


@dataclass(frozen=True)
class ContactLine:
    contact: Record
    relationship: str
    priority: int
    lives_with: bool
    has_custody: bool
    others: list[int]  # the contact's other students (siblings, usually)


@dataclass(frozen=True)
class PathRow:
    """One row of the student page's "sync paths" panel: a path, the setting it was tried under, its outcome."""

    title: str  # e.g. "building (R3)"
    condition: str
    outcome: str | None  # "synced as ..."; None: the path does not take the person
    trace: tuple[str, ...]


# Given a person's record and whether /v1/students and /v1/operoo/students list it, the rows to show.
PathsFor = Callable[[Record, bool, bool], Sequence[PathRow]]


@dataclass(frozen=True)
class StudentDetail:
    record: Record
    school_name: str | None
    on_standard: bool  # listed on /v1/students
    on_operoo: bool  # listed on /v1/operoo/students
    recently_accepted: bool
    contacts: list[ContactLine]
    paths: Sequence[PathRow] | None  # None: no one lent the view a way to replay the sync's rules


def student_detail(store: DistrictStore, person_id: int, paths_for: PathsFor | None = None) -> StudentDetail:
    """A person with every field, their contacts by priority, and (given `paths_for`) the sync paths they match."""
    record = store.get_person(person_id)
    on_standard = record["enrolledId"] is not None
    on_operoo = any(s["id"] == person_id for s in store.operoo_students().records)
    contacts = []
    for contact in store.all_contacts():
        for link in contact["students"]:
            if link["studentId"] == person_id:
                others = sorted(x["studentId"] for x in contact["students"] if x["studentId"] != person_id)
                contacts.append(
                    ContactLine(
                        contact, link["relationship"], link["priority"], link["livesWith"], link["hasCustody"], others
                    )
                )
    contacts.sort(key=lambda c: (c.priority, c.contact["id"]))
    schools = {s["id"]: s["name"] for s in store.schools().records}
    return StudentDetail(
        record, schools.get(record["schoolId"]), on_standard, on_operoo, person_id in store.recently_accepted(),
        contacts, paths_for(record, on_standard, on_operoo) if paths_for else None,
    )  # fmt: skip
