"""Hypothesis strategies for eSD districts and Operoo settings, for users' own property tests.

    from mock_esd.strategies import districts, settings
    @given(districts(), settings())
    def test_my_sync(district, settings): ...

Districts hold every status, with and without enrolledId and school, recently accepted applicants,
Pre-Registered students with and without an enrollmentDate, contacts shared among siblings, and odd
but valid data (unicode names, empty strings, null optional fields).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from contracts import vocabulary as v
from mock_esd import builders
from mock_esd.generator import District, Record
from sync import vocabulary as o
from sync.settings import Settings, parse_settings

SCHOOLS: dict[str, str] = {"0101": v.ELEMENTARY, "0102": v.ELEMENTARY, "0201": v.MIDDLE, "0900": v.HOLDING}
names = st.text(st.characters(codec="utf-8", categories=["L", "M", "Zs", "Pd"]), max_size=12)


@st.composite
def students(draw: st.DrawFn, person_id: int, school_ids: Sequence[str]) -> Record:
    status = draw(
        st.sampled_from([*v.STUDENT_STATUSES, v.ENROLLED, v.PRE_ENROLLED, v.PRE_REGISTERED])
    )  # the synced ones twice
    enrolled = draw(st.booleans())
    date = draw(st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2027, 12, 31)).map(dt.date.isoformat)))
    if status == v.PRE_REGISTERED and draw(st.integers(0, 9)) > 0:
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


def is_valid(raw: dict[str, Any]) -> bool:
    """R4 in one line: without custom endpoints no school may select both Enrolled and Pre-Enrolled."""
    return bool(raw["custom_endpoints"]) or not any(
        {o.ENROLLED, o.PRE_ENROLLED} <= set(opts) for opts in raw["schools"].values()
    )


@st.composite
def settings_dicts(
    draw: st.DrawFn, school_ids: Sequence[str] = tuple(SCHOOLS), valid: bool | None = True
) -> dict[str, Any]:
    """Raw settings (as parsed from TOML); `valid` True, False or None (either)."""
    chosen = draw(st.lists(st.sampled_from(list(school_ids)), unique=True)) if school_ids else []
    schools: dict[str, list[str]] = {
        s: draw(st.lists(st.sampled_from(o.OPTIONS), unique=True, max_size=3)) for s in chosen
    }
    raw: dict[str, Any] = {
        "custom_endpoints": draw(st.booleans()),
        "schools": schools,
        "contacts": draw(
            st.sampled_from([{}, {"permission_source": "priority", "max_priority": 1}, {"relationships": ["Guardian"]}])
        ),
    }
    if valid is not None and is_valid(raw) != valid:
        if valid:
            raw["custom_endpoints"] = True
        else:
            raw["custom_endpoints"] = False
            schools[draw(st.sampled_from(list(school_ids)))] = [o.ENROLLED, o.PRE_ENROLLED]
    return raw


def settings(school_ids: Sequence[str] = tuple(SCHOOLS)) -> st.SearchStrategy[Settings]:
    """Valid Settings objects."""
    return settings_dicts(school_ids, valid=True).map(parse_settings)
