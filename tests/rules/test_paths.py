"""`possible_paths` (the browser view's "which rule paths can this student match") agrees with `decide`.

Exhaustive over the shapes a person can have: every status, with and without enrolledId, school and
enrollmentDate, on either endpoint; each verdict is checked against `decide` under every setting.
"""

from __future__ import annotations

import itertools

from mock_esd_contracts import vocabulary as v
from mock_esd_sync import vocabulary as o
from mock_esd_sync.records import Person, Student
from mock_esd_sync.rules import BUILDING, CUSTOM, decide, possible_paths
from mock_esd_sync.settings import Settings


def persons() -> list[Person]:
    out = []
    shapes = itertools.product(
        v.STUDENT_STATUSES, (None, "10000001"), (None, "0101"), (None, "2026-10-01"), (False, True)
    )
    for status, enrolled_id, school, date, recently_accepted in shapes:
        record = Student(1, enrolled_id, status, school, date, "Ada", "Lovelace")
        on_operoo = enrolled_id is None or recently_accepted
        out.append(Person(1, record if enrolled_id else None, record if on_operoo else None))
    return out


def every_setting() -> list[Settings]:
    subsets = [frozenset(c) for n in range(4) for c in itertools.combinations(o.OPTIONS, n)]
    return [Settings(custom_endpoints=custom, schools={"0101": s}) for custom in (False, True) for s in subsets]


def test_a_path_said_possible_is_taken_under_its_condition_and_one_said_impossible_never_is() -> None:
    for person in persons():
        verdicts = {p.path: p for p in possible_paths(person)}
        outcomes = [decide(person, s)[0] for s in every_setting()]
        for path in (BUILDING, CUSTOM):
            taken = [d for d in outcomes if d is not None and d.path == path]
            said = verdicts[path].decision
            assert (said is not None) == bool(taken), (person, path, verdicts[path].trace)
            if said is not None:
                assert said in taken


def test_the_condition_names_the_option_the_status_needs() -> None:
    pre_registered = Student(7, "10000007", v.Status.PRE_REGISTERED, "0101", "2026-10-01", "Ada", "Lovelace")
    building, custom = possible_paths(Person(7, pre_registered, None))
    assert building.condition == f"school 0101 selected with {o.Option.FUTURE}"
    assert building.decision is not None and building.decision.status == o.Option.FUTURE
    assert custom.decision is None and "not on /v1/operoo/students" in custom.trace[0]


def test_pre_registered_without_a_date_shows_the_warning_in_its_trace() -> None:
    undated = Student(8, "10000008", v.Status.PRE_REGISTERED, "0101", None, "Ada", "Lovelace")
    building, _ = possible_paths(Person(8, undated, None))
    assert building.decision is None
    assert "without an enrollmentDate" in building.trace[-1]


def test_a_person_without_a_school_is_said_to_have_none_never_school_none() -> None:
    for person in persons():
        for check in possible_paths(person):
            shown = " ".join((check.condition, *check.trace))
            assert "None" not in shown, shown
            if person.record.school_id is None and check.path == BUILDING:
                assert check.condition == "no school: the building path needs one"
