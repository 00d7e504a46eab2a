"""Hypothesis strategies for eSD districts, for users' own property tests (settings: `mock_esd_sync.strategies`).

    from mock_esd.strategies import districts
    from mock_esd_sync.strategies import settings
    @given(districts(), settings())
    def test_my_sync(district, settings): ...

Districts hold every status, with and without enrolledId and school, recently accepted applicants,
Pre-Registered students with and without an enrollmentDate, contacts shared among siblings, and odd
but valid data (unicode names, empty strings, null optional fields).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mock_esd_contracts.extras import require

require("testing", "mock_esd.strategies")  # Hypothesis: one line naming the extra, not "No module named"

from hypothesis import strategies as st  # noqa: E402

from mock_esd.district import builders  # noqa: E402
from mock_esd.district.generator import District, Record  # noqa: E402
from mock_esd_contracts import vocabulary as v  # noqa: E402

# School ids and types the districts draw from; `mock_esd_sync.strategies.SCHOOL_IDS` are the same ids.
SCHOOLS: dict[str, str] = {
    "0101": v.SchoolType.ELEMENTARY,
    "0102": v.SchoolType.ELEMENTARY,
    "0201": v.SchoolType.MIDDLE,
    "0900": v.SchoolType.HOLDING,
}
names = st.text(st.characters(codec="utf-8", categories=["L", "M", "Zs", "Pd"]), max_size=12)


@st.composite
def students(draw: st.DrawFn, person_id: int, school_ids: Sequence[str]) -> Record:
    """One student record of id `person_id`: any status, with or without an enrolledId, a school of `school_ids`
    or none, odd but valid names; a Pre-Registered one mostly has an enrollmentDate."""
    status = draw(
        st.sampled_from([*v.STUDENT_STATUSES, v.Status.ENROLLED, v.Status.PRE_ENROLLED, v.Status.PRE_REGISTERED])
    )  # the synced ones twice
    enrolled = draw(st.booleans())
    date = draw(st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2027, 12, 31)).map(dt.date.isoformat)))
    if status == v.Status.PRE_REGISTERED and draw(st.integers(0, 9)) > 0:
        date = date or "2026-10-01"  # mostly well-formed; sometimes without a date, which the sync skips
    return builders.student(
        person_id,
        enrolled_id=f"{10_000_000 + person_id}" if enrolled else None,
        status=status,
        school_id=draw(st.none() | st.sampled_from(list(school_ids))) if school_ids else None,
        enrollment_date=date,
        first_name=draw(names) or "A",
        last_name=draw(names),
        middleName=draw(st.one_of(st.none(), st.just(""), names)),
        email=draw(st.one_of(st.none(), st.just(""))),
    )


@st.composite
def districts(draw: st.DrawFn, max_students: int = 12, max_contacts: int = 8) -> District:
    """A small district exercising every path of the sync rules."""
    school_ids = draw(st.lists(st.sampled_from(sorted(SCHOOLS)), min_size=1, max_size=len(SCHOOLS), unique=True))
    schools = [builders.school(s, f"School {s}", SCHOOLS[s]) for s in sorted(school_ids)]
    count = draw(st.integers(0, max_students) | st.integers(4, max_students))  # empty districts, but mostly busy ones
    people = [draw(students(pid, school_ids)) for pid in range(1, count + 1)]
    with_id = [p["id"] for p in people if p["enrolledId"]]
    accepted = draw(st.sets(st.sampled_from(with_id))) if with_id else set()
    contacts = []
    for contact_id in range(1, draw(st.integers(0, max_contacts if people else 0)) + 1):
        family = draw(st.lists(st.sampled_from([p["id"] for p in people]), min_size=1, max_size=3, unique=True))
        relationship = draw(st.sampled_from(v.RELATIONSHIPS))
        links = [(pid, relationship, draw(st.integers(1, 3))) for pid in family]
        contacts.append(builders.contact(contact_id, links, do_not_contact=draw(st.booleans()), firstName=draw(names)))
    return builders.district(schools, people, contacts, accepted)
