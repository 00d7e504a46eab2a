"""The seeded district: deterministic, realistic, clock-free."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import orjson
import pytest

from mock_esd.district.generator import CATEGORY_SHARES, DistrictSpec, category_plan, generate_district
from mock_esd_contracts import vocabulary as v


def as_bytes(spec: DistrictSpec) -> bytes:
    d = generate_district(spec)
    return orjson.dumps([d.schools, d.students, d.contacts, sorted(d.recently_accepted)])


def test_same_spec_gives_the_same_bytes() -> None:
    assert as_bytes(DistrictSpec(seed=3, students=500)) == as_bytes(DistrictSpec(seed=3, students=500))


def test_another_seed_gives_another_district() -> None:
    assert as_bytes(DistrictSpec(seed=3, students=500)) != as_bytes(DistrictSpec(seed=4, students=500))


def test_every_date_derives_from_the_reference_date() -> None:
    base = generate_district(DistrictSpec(seed=5, students=400, today=dt.date(2026, 9, 1)))
    later = generate_district(DistrictSpec(seed=5, students=400, today=dt.date(2027, 9, 1)))
    for a, b in zip(base.students, later.students, strict=True):
        assert dt.date.fromisoformat(b["dateOfBirth"]) - dt.date.fromisoformat(a["dateOfBirth"]) == dt.timedelta(
            days=365
        )
        assert a["firstName"] == b["firstName"]


def test_default_district_has_every_category_the_sync_rules_care_about() -> None:
    d = generate_district(DistrictSpec())
    schools = {s["id"]: s for s in d.schools}
    kinds = Counter(s["schoolType"] for s in d.schools)
    assert (
        len(d.schools) == 6
        and kinds[v.SchoolType.HOLDING] == 1
        and {v.SchoolType.ELEMENTARY, v.SchoolType.MIDDLE, v.SchoolType.HIGH} <= set(kinds)
    )
    assert 1900 <= len(d.students) <= 2000
    today = dt.date(2026, 9, 1)

    def some(pred: object) -> int:
        return sum(1 for s in d.students if pred(s))  # type: ignore[operator]

    assert (
        some(
            lambda s: (
                s["studentStatus"] == v.Status.ENROLLED
                and s["enrolledId"]
                and not schools[s["schoolId"]]["isHoldingSchool"]
            )
        )
        > 1000
    )
    assert (
        some(
            lambda s: (
                s["studentStatus"] == v.Status.PRE_ENROLLED
                and s["enrolledId"]
                and schools[s["schoolId"]]["isHoldingSchool"]
            )
        )
        > 10
    )
    applications = [s for s in d.students if s["enrolledId"] is None]
    assert {v.Status.PRE_ENROLLED, v.Status.DENIED} <= {s["studentStatus"] for s in applications}
    with_school = sum(1 for s in applications if s["schoolId"])
    assert 0 < with_school < len(applications) / 2
    assert d.recently_accepted and all(d.students[i - 1]["enrolledId"] for i in d.recently_accepted)
    future = [s for s in d.students if s["studentStatus"] == v.Status.PRE_REGISTERED]
    assert future and all(s["enrolledId"] and dt.date.fromisoformat(s["enrollmentDate"]) > today for s in future)
    assert some(lambda s: s["studentStatus"] == v.Status.WITHDRAWN and s["enrolledId"]) > 0


def test_every_student_has_one_to_three_contacts_shared_among_siblings() -> None:
    d = generate_district(DistrictSpec(seed=2, students=1000))
    per_student = Counter(link["studentId"] for c in d.contacts for link in c["students"])
    assert set(per_student) == {s["id"] for s in d.students}
    assert set(per_student.values()) <= {1, 2, 3}
    assert any(len(c["students"]) > 1 for c in d.contacts), "no siblings share a contact"
    assert any(c["doNotContact"] for c in d.contacts)
    links = [link for c in d.contacts for link in c["students"]]
    assert {link["relationship"] for link in links} <= set(v.RELATIONSHIPS)
    assert {link["priority"] for link in links} == {1, 2, 3}


def test_enrolled_ids_are_unique_eight_digit_strings() -> None:
    ids = [s["enrolledId"] for s in generate_district(DistrictSpec(seed=9, students=3000)).students if s["enrolledId"]]
    assert len(ids) == len(set(ids))
    assert all(len(i) == 8 and i.isdigit() for i in ids)


@pytest.mark.parametrize("count", [0, 1, 7, 8, 100, 2001])
def test_category_plan_allocates_exactly(count: int) -> None:
    plan = category_plan(count, random.Random(0))
    assert len(plan) == count
    if count >= len(CATEGORY_SHARES):
        assert set(plan) == set(CATEGORY_SHARES)


def test_bad_sizes_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="schools must be >= 2"):
        DistrictSpec(schools=1)
    with pytest.raises(ValueError, match="students must be >= 0"):
        DistrictSpec(students=-1)


def test_settings_strategies_draw_from_the_schools_the_district_strategies_make() -> None:
    from mock_esd.strategies import SCHOOLS
    from mock_esd_sync.strategies import SCHOOL_IDS

    assert tuple(SCHOOLS) == SCHOOL_IDS
