"""The scenario check's compiled tables say what jsonschema says: the same problems, at the same paths, for a
scenario with any field (a record's, a link's, the scenario's own) set to an odd value, dropped or added; and a
sound scenario never reaches jsonschema at all (what makes a recorded district start fast).

A table that took a value the schema refuses would let a broken record into a district; one that refused a
good record would only be slow, and is caught here too: its problems would differ from none.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mock_esd.district import scenario, scenario_check
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.store import DistrictStore
from mock_esd_contracts.schema import body_problems
from mock_esd_contracts.vocabulary import SchoolType


class Level(enum.IntEnum):
    ONE = 1


DROPPED = object()
# Values each keyword must tell apart: bool is no integer, 1.0 is none either, a StrEnum member is a string, a
# date must be a real one, an enrolledId eight digits (a trailing newline passes `$`), strings past the limit.
ODD = st.sampled_from([
    DROPPED, None, True, False, 0, 1, 2, -1, 1000, 1001, 2**53 - 1, 2**53, 1.0, 0.5, "", "x", "Mother",
    "12345678", "1234567", "12345678\n", "Enrolled", "Pre-enrolled", "Holding", SchoolType.HOLDING, Level.ONE,
    "2026-09-01", "2026-02-30", "2026-9-1", "custom", "standard", "x" * 25, "x" * 1001, [], {}, [1], ["custom"],
    ["custom", "custom"], {"studentId": 7}, [{}], {"a": [{"b": [{"c": [1]}]}]}, {"seed": 1}, ("custom",),
])  # fmt: skip
NAMES = st.sampled_from(["id", "students", "firstName", "schoolType", "enrolledId", "priority", "bogus", 7, "y" * 30])


def sample() -> dict[str, Any]:
    """A sound scenario with every part the format has: a recorded district's records and the scenario's own fields."""
    store = DistrictStore(DistrictSpec(seed=5, students=12, schools=3))
    data: dict[str, Any] = orjson.loads(orjson.dumps(scenario.export(store)))
    contact = data["contacts"][0]["id"]
    others = [
        {"id": contact, "firstName": "Other"},
        {"id": data["contacts"][1]["id"], "email": None, "doNotContact": True},
    ]
    extra = {"operooContacts": others}
    own = {"name": "n", "description": "d", "base": {"seed": 1, "students": 0, "schools": 2}, "clients": ["custom"]}
    data["students"][0]["recentlyAccepted"] = True
    return {**own, **data, **extra}


SAMPLE = sample()


def places(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every place a value sits in `data`, as the keys and indexes that lead there."""
    out: list[tuple[Any, ...]] = []

    def walk(node: Any, where: tuple[Any, ...]) -> None:
        out.append(where)
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, child in children:
            walk(child, (*where, key))

    walk(data, ())
    return out[1:]


PLACES = places(SAMPLE)


def changed(data: dict[str, Any], where: tuple[Any, ...], value: Any, add: Any = None) -> dict[str, Any]:
    """`data` with the value at `where` set (or dropped, or a field named `add` put beside it)."""
    out = copy.deepcopy(data)
    parent = out
    for key in where[:-1]:
        parent = parent[key]
    if add is not None and isinstance(parent, dict):
        parent[add] = value if value is not DROPPED else None
    elif value is DROPPED:
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    return out


def agree(data: Any, max_depth: int = 32, max_chars: int = 1000, limit: int = 100) -> None:
    fast = scenario_check.problems(data, max_depth, limit, max_chars)
    careful = body_problems("scenario", data, max_depth, limit, max_chars)
    assert list(fast) == list(careful) and fast.more == careful.more


@given(where=st.sampled_from(PLACES), value=ODD)
@example(where=("students", 0, "enrolledId"), value="12345678\n")
@example(where=("clients",), value=["custom", "custom"])
@example(where=("students", 3, "schoolId"), value=SchoolType.HOLDING)
@example(where=("contacts", 0, "students", 0, "priority"), value=1001)
@example(where=("operooContacts", 0, "firstName"), value=DROPPED)  # an id alone: fewer fields than minProperties
def test_a_scenario_with_one_odd_value_has_the_problems_jsonschema_finds(where: tuple[Any, ...], value: Any) -> None:
    agree(changed(SAMPLE, where, value))


@given(where=st.sampled_from(PLACES), name=NAMES, value=ODD)
def test_a_scenario_with_a_field_added_anywhere_has_the_problems_jsonschema_finds(
    where: tuple[Any, ...], name: Any, value: Any
) -> None:
    agree(changed(SAMPLE, where, value, add=name))


@given(
    changes=st.lists(st.tuples(st.sampled_from(PLACES), ODD), max_size=4),
    max_depth=st.sampled_from([4, 5, 6, 7, 32]),
    max_chars=st.sampled_from([10, 16, 24, 1000]),
    limit=st.sampled_from([1, 3, 100]),
)
def test_the_limits_it_checks_within_give_the_same_problems(
    changes: list[tuple[tuple[Any, ...], Any]], max_depth: int, max_chars: int, limit: int
) -> None:
    data = SAMPLE
    for where, value in changes:
        try:
            data = changed(data, where, value)
        except (KeyError, IndexError, TypeError):  # an earlier change took that place away
            continue
    fast = scenario_check.problems(data, max_depth, limit, max_chars)
    careful = body_problems("scenario", data, max_depth, limit, max_chars)
    if careful.more:  # past the limit, both say "and more" and list `limit` of the problems there are
        assert fast.more and len(fast) == len(careful) == limit
    else:
        assert list(fast) == list(careful) and not fast.more


@pytest.mark.parametrize("data", [[], "scenario", None, {"students": "x"}, {"students": [1, {"id": 1}]}, {1: 2}])
def test_what_is_no_scenario_has_the_problems_jsonschema_finds(data: Any) -> None:
    agree(data)


def test_a_sound_scenario_never_reaches_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the tables: a recorded district (every record sound) is checked without jsonschema."""
    data = {**SAMPLE, "students": SAMPLE["students"] * 50}
    monkeypatch.setattr(scenario_check, "body_problems", lambda *args: pytest.fail("jsonschema was asked"))
    assert scenario_check.problems(data, 32, 100, 1000) == []
    scenario.check_scenario(data)


def test_jsonschema_sees_only_the_records_that_break_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    data = changed({**SAMPLE, "students": [dict(s) for s in SAMPLE["students"] * 50]}, ("students", 430, "grade"), 3)
    seen: list[Any] = []

    def careful(name: str, pruned: Any, *args: Any) -> Any:
        seen.append(pruned)
        return body_problems(name, pruned, *args)

    monkeypatch.setattr(scenario_check, "body_problems", careful)
    found = scenario_check.problems(data, 32, 100, 1000)
    assert [p["path"] for p in found] == ["students.430.grade"], "the record named by its place in the scenario"
    assert len(seen[0]["students"]) == 1 and seen[0]["contacts"] == []


def test_the_tables_refuse_a_keyword_they_do_not_know() -> None:
    with pytest.raises(ValueError, match="does not know"):
        scenario_check._compile({"type": "string", "maxLength": 3}, 1000)
    with pytest.raises(ValueError, match="does not know"):
        scenario_check._compile({"type": "object", "additionalProperties": True}, 1000)
