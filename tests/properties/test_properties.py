"""Properties of the real sync (client, plan, SQLite apply) over generated districts and settings.

Each compares what the sync stored, every field of every student and contact, with the independent model
(model.py). Each also runs under deliberate mutations of the sync (mutations.py, test_teeth.py) and must
fail there. The explicit `@example`s are districts that expose those mutations, so that every run covers
them whatever the search draws; `hypothesis.event` counts how often the search draws such districts
(`pytest --hypothesis-show-statistics tests/properties`).
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import event, example, given
from hypothesis import strategies as st

from mock_esd.district import builders
from mock_esd.district.generator import District
from mock_esd.server.inprocess import Reply
from mock_esd.strategies import districts
from mock_esd_sync.errors import SettingsError
from mock_esd_sync.settings import parse_settings
from mock_esd_sync.strategies import settings_dicts
from tests.properties.model import (
    OPEROO_CONTACTS,
    STANDARD_CONTACTS,
    ContactRow,
    Flags,
    Key,
    StudentRow,
    after_sync,
    contacts,
    model,
    r4_valid,
    stored_contacts,
    stored_students,
    students,
)
from tests.world import World

World_input = tuple[District, dict[str, Any], Flags]
Expected = tuple[dict[int, StudentRow], dict[int, ContactRow]]


@st.composite
def listing_flags(draw: st.DrawFn, district: District) -> dict[int, dict[str, bool]]:
    """For about one contact in two, the two contact listings disagree on doNotContact."""
    flags: dict[int, dict[str, bool]] = {}
    for c in district.contacts:
        if draw(st.booleans()):
            on_standard = draw(st.booleans())
            flags[c["id"]] = {STANDARD_CONTACTS: on_standard, OPEROO_CONTACTS: not on_standard}
    return flags


@st.composite
def worlds(draw: st.DrawFn) -> World_input:
    """A district, settings, and the contact listings' doNotContact where they disagree.

    Half of them also hold a family across both listings, with custom endpoints on: an enrolled student
    synced by its school, a sibling applicant (no enrolledId, Pre-enrolled) in a selected school or in
    none, and a contact of both whose link priorities sit at max_priority (half of them under a priority
    permission source). Random districts rarely hold one, and it is where R6, R9's boundary and the merge
    of the two listings show. (Hypothesis mixes the constants of the modules a process has imported into
    what it draws, so a derandomized search still differs with what ran before it: exposures must be common,
    not lucky.)"""
    district = draw(districts())
    raw = draw(settings_dicts([s["id"] for s in district.schools]))
    if draw(st.booleans()):
        add_family(draw, district, raw)
    return district, raw, draw(listing_flags(district))


def add_family(draw: st.DrawFn, district: District, raw: dict[str, Any]) -> None:
    school = draw(st.sampled_from([s["id"] for s in district.schools]))
    options = raw["schools"].get(school) or draw(st.sampled_from([["Enrolled"], ["Enrolled", "Future"]]))
    raw["schools"][school] = options
    raw["custom_endpoints"] = True
    status = {"Enrolled": "Enrolled", "Pre-Enrolled": "Pre-enrolled", "Future": "Pre-Registered"}[options[0]]
    older, younger = len(district.students) + 1, len(district.students) + 2
    district.students.append(builders.student(older, enrolled_id=f"{10_000_000 + older}", status=status,
                                              school_id=school))  # fmt: skip
    district.students.append(
        builders.student(younger, status="Pre-enrolled", school_id=draw(st.sampled_from([school, None])))
    )
    if draw(st.booleans()):  # R9's boundary shows only under a priority source: half the families have one
        raw["contacts"] = {"permission_source": "priority", "max_priority": draw(st.integers(1, 3))}
    priority = raw.get("contacts", {}).get("max_priority", 2)
    relationship = draw(st.sampled_from(["Mother", "Father", "Aunt"]))
    links = [(older, relationship, priority), (younger, relationship, draw(st.sampled_from([priority, priority + 1])))]
    district.contacts.append(builders.contact(len(district.contacts) + 1, links))


def tamper_flags(flags: Flags) -> Any:
    """A reply tamper making each contact listing say the doNotContact that `flags` give it."""

    def tamper(request: requests.PreparedRequest, reply: Reply) -> Reply:
        path = urlsplit(request.url or "").path.removeprefix("/api")
        if path not in (STANDARD_CONTACTS, OPEROO_CONTACTS) or reply[0] != 200 or not flags:
            return reply
        body = json.loads(reply[2])
        for c in body["contacts"]:
            c["doNotContact"] = flags.get(c["id"], {}).get(path, c["doNotContact"])
        return reply[0], reply[1], json.dumps(body).encode()

    return tamper


def sync(world: World, raw: dict[str, Any], flags: Flags | None = None, **kw: Any) -> Any:
    return world.sync(parse_settings(raw), page_size=100, tamper=tamper_flags(flags or {}), **kw)


def synced(district: District, raw: dict[str, Any], db: Path, flags: Flags | None = None) -> World:
    """Sync `district` into `db` with the real client, plan and apply."""
    world = World(copy.deepcopy(district), db, shared=True)
    report = sync(world, raw, flags, allow_mass_removal=True)
    assert report.status == "applied", report.errors
    return world


def groups_of(world: World) -> dict[Key, set[str]]:
    return {(g["name"], g["schoolId"]): set(g["members"]) for g in world.export()["groups"]}


def stored(world: World) -> Expected:
    conn = world.conn()
    try:
        return stored_students(conn), stored_contacts(conn)
    finally:
        conn.close()


def wanted(district: District, raw: dict[str, Any], flags: Flags | None = None) -> Expected:
    return students(district, raw), contacts(district, raw, flags)


def assert_state(world: World, expected: Expected) -> None:
    """Every field of every student and contact, archived ones too, as the model says."""
    got_students, got_contacts = stored(world)
    want_students, want_contacts = expected
    for pid in sorted(got_students.keys() | want_students.keys()):
        assert got_students.get(pid) == want_students.get(pid), f"person {pid}: stored, then the model's"
    for cid in sorted(got_contacts.keys() | want_contacts.keys()):
        assert got_contacts.get(cid) == want_contacts.get(cid), f"contact {cid}: stored, then the model's"


def fresh_dir() -> tempfile.TemporaryDirectory[str]:
    """A directory per Hypothesis example (examples share no pytest fixtures)."""
    return tempfile.TemporaryDirectory()


@contextmanager
def synced_fresh(district: District, raw: dict[str, Any], flags: Flags | None = None) -> Iterator[World]:
    """`district` synced with `raw` settings into a new database."""
    with fresh_dir() as name:
        yield synced(district, raw, Path(name) / "o.db", flags)


def note_exposures(district: District, raw: dict[str, Any], flags: Flags) -> None:
    """Count the districts that expose the mutations' classes (shown by --hypothesis-show-statistics)."""
    selected = {s: set(o) for s, o in raw["schools"].items() if o}
    synced_ids = students(district, raw)
    for p in district.students:
        custom = p["enrolledId"] is None and p["studentStatus"] == "Pre-enrolled" and raw["custom_endpoints"]
        if custom and p["schoolId"] is None:
            event("a custom-path student without a school")
        if custom and p["schoolId"] in selected and "Pre-Enrolled" not in selected[p["schoolId"]]:
            event("R6: a custom-path student in a school selected without Pre-Enrolled")
    persons = {p["id"]: p for p in district.students}
    for c in district.contacts:
        linked = [x for x in c["students"] if x["studentId"] in synced_ids]
        if c["id"] in flags and raw["custom_endpoints"]:
            seen = {persons[x["studentId"]]["enrolledId"] is None for x in c["students"]}
            if linked and seen == {True, False}:
                event("a synced contact on both listings, doNotContact on one only")
        if c["students"] and not linked:
            event("a contact of students none of whom is synced")
        priority = raw.get("contacts", {}).get("max_priority")
        if raw.get("contacts", {}).get("permission_source") == "priority" and any(
            x["priority"] == priority for x in linked
        ):
            event("R9: a link at exactly max_priority")


# ----- explicit examples: districts that expose the mutations -------------------------------------------

RICH = builders.district(
    [builders.school("0101"), builders.school("0900", "Document School", "Holding")],
    [
        builders.student(1, enrolled_id="10000001", school_id="0101"),
        builders.student(2, status="Pre-enrolled"),  # custom path, no school
        builders.student(3, status="Pre-enrolled", school_id="0101"),  # custom path in a school without Pre-Enrolled
        builders.student(4, enrolled_id="10000004", status="Pre-Registered", school_id="0101"),  # not synced
    ],
    [
        builders.contact(1, [(1, "Mother", 1), (2, "Mother", 1)]),  # on both listings
        builders.contact(2, [(1, "Father", 2), (3, "Father", 3)]),  # on both listings
        builders.contact(3, [(4, "Guardian", 1)]),  # of a student not synced
        builders.contact(4, [(1, "Aunt", 2), (3, "Uncle", 3)]),  # priority exactly max_priority
    ],
)
RICH_SETTINGS = {
    "custom_endpoints": True,
    "schools": {"0101": ["Enrolled"]},
    "contacts": {"permission_source": "priority", "max_priority": 2},
}
RICH_FLAGS = {
    1: {STANDARD_CONTACTS: False, OPEROO_CONTACTS: True},
    2: {STANDARD_CONTACTS: True, OPEROO_CONTACTS: False},
}


@given(worlds())
@example((RICH, RICH_SETTINGS, RICH_FLAGS))
def test_the_sync_s_students_contacts_and_groups_equal_the_model_s(world_input: World_input) -> None:
    district, raw, flags = world_input
    note_exposures(district, raw, flags)
    with synced_fresh(district, raw, flags) as world:
        assert groups_of(world) == model(district, raw)[1]
        assert_state(world, wanted(district, raw, flags))


@given(worlds())
@example((RICH, RICH_SETTINGS, RICH_FLAGS))
def test_every_synced_student_is_in_all_district_students_and_one_status_group(world_input: World_input) -> None:
    with synced_fresh(*world_input) as world:
        groups = groups_of(world)
        active = world.active()
        assert groups[("All District Students", None)] == active
        statuses = [
            groups[(g, None)]
            for g in (
                "All District Enrolled Students",
                "All District Pre-Enrolled Students",
                "All District Future Students",
            )
        ]
        for operoo_id in active:
            assert sum(operoo_id in members for members in statuses) == 1, operoo_id
        assert set().union(*statuses) == active


@given(worlds())
@example((RICH, RICH_SETTINGS, RICH_FLAGS))
def test_temporary_ids_exactly_for_custom_path_students(world_input: World_input) -> None:
    district, raw, flags = world_input
    with synced_fresh(district, raw, flags) as world:
        synced_students = {s["personId"]: s for s in world.export()["students"] if not s["archived"]}
        by_person = {p["id"]: p for p in district.students}
        for pid, s in synced_students.items():
            person = by_person[pid]
            custom_path = person["enrolledId"] is None
            assert s["operooId"].startswith("student-operoo-") == custom_path, s
            if custom_path:
                assert (
                    s["operooId"] == f"student-operoo-{pid}"
                    and raw["custom_endpoints"]
                    and person["studentStatus"] == "Pre-enrolled"
                )
            else:
                assert s["operooId"] == person["enrolledId"]


@given(worlds())
def test_building_groups_only_for_selected_schools_and_options(world_input: World_input) -> None:
    district, raw, flags = world_input
    with synced_fresh(district, raw, flags) as world:
        selected = {s: set(o) for s, o in raw["schools"].items() if o}
        names = {
            "Enrolled": "All Enrolled Students",
            "Pre-Enrolled": "All Pre-Enrolled Students",
            "Future": "All Future Students",
        }
        for name, school in groups_of(world):
            if school is not None:
                assert school in selected, (name, school)
                assert name == "All Students" or name in {names[o] for o in selected[school]}, (name, school)


@given(settings_dicts(valid=None))
@example({"custom_endpoints": False, "schools": {"0101": ["Enrolled", "Pre-Enrolled"]}})
def test_r4_rejects_exactly_the_invalid_settings(raw: dict[str, Any]) -> None:
    if r4_valid(raw):
        parse_settings(raw)
    else:
        with pytest.raises(SettingsError, match="R4: school"):
            parse_settings(raw)


@given(worlds())
def test_r10_a_second_sync_changes_nothing(world_input: World_input) -> None:
    district, raw, flags = world_input
    with synced_fresh(district, raw, flags) as world:
        before = world.tables()
        report = sync(world, raw, flags, full=True)  # plan again, no shortcut
        assert report.plan is not None and report.plan.is_empty() and world.tables() == before


History = tuple[District, dict[str, Any], District, dict[str, Any]]


@st.composite
def histories(draw: st.DrawFn) -> History:
    """An earlier district and settings, then a later district and settings over the same schools.

    The same person ids recur: about half of those in both are the later record with one field changed
    (status, school or name), the others unrelated records. Kept students change."""
    district, raw, _ = draw(worlds())
    earlier = copy.deepcopy(draw(districts()))
    earlier.schools = copy.deepcopy(district.schools)
    known = {s["id"] for s in earlier.schools}
    later = {p["id"]: p for p in district.students}
    for i, s in enumerate(earlier.students):
        if s["id"] in later and draw(st.booleans()):
            s = earlier.students[i] = copy.deepcopy(later[s["id"]])
            field = draw(st.sampled_from(["studentStatus", "schoolId", "firstName", "lastName"]))
            s[field] = draw(
                {
                    "studentStatus": st.sampled_from(["Enrolled", "Pre-enrolled", "Pre-Registered", "Withdrawn"]),
                    "schoolId": st.sampled_from([None, *sorted(known)]),
                    "firstName": st.sampled_from(["Ann", "Bea"]),
                    "lastName": st.sampled_from(["Ng", "Öz"]),
                }[field]
            )
        s["schoolId"] = s["schoolId"] if s["schoolId"] in known else None
    earlier.recently_accepted &= {p["id"] for p in earlier.students if p["enrolledId"]}
    return earlier, draw(settings_dicts(sorted(known))), district, raw


KEPT = (
    builders.district(
        [builders.school("0101")],
        [builders.student(1, enrolled_id="10000001", school_id="0101", first_name="Ann"),
         builders.student(2, enrolled_id="10000002", school_id="0101")],
        [builders.contact(1, [(2, "Mother", 1)]), builders.contact(2, [(1, "Father", 1), (2, "Father", 1)])],
    ),
    {"custom_endpoints": False, "schools": {"0101": ["Enrolled"]}},
    builders.district(
        [builders.school("0101")],
        [builders.student(1, enrolled_id="10000001", school_id="0101", first_name="Bea"),
         builders.student(2, enrolled_id="10000002", status="Withdrawn", school_id="0101")],
        [builders.contact(1, [(2, "Mother", 1)]), builders.contact(2, [(1, "Father", 1), (2, "Father", 1)])],
    ),
    {"custom_endpoints": False, "schools": {"0101": ["Enrolled"]}},
)  # fmt: skip


@given(histories())
@example(KEPT)
@example(
    (
        builders.district(
            [builders.school("0101"), builders.school("0201")],
            [builders.student(1, enrolled_id="10000001", school_id="0201")],
        ),
        {"custom_endpoints": False, "schools": {"0101": ["Enrolled"], "0201": ["Enrolled"]}},
        builders.district([builders.school("0101"), builders.school("0201")], []),
        {"custom_endpoints": False, "schools": {"0101": ["Enrolled"]}},
    )
)  # a school deselected: its groups go
def test_a_sync_from_any_earlier_state_stores_what_the_model_asks_for(history: History) -> None:
    """Kept students updated, the others archived as they were, contacts as the model says; groups as
    a sync from scratch makes them."""
    earlier, earlier_raw, district, raw = history
    with fresh_dir() as name:
        tmp = Path(name)
        synced(earlier, earlier_raw, tmp / "after.db")
        before = wanted(earlier, earlier_raw)
        kept = set(before[0]) & set(students(district, raw))
        if any(before[0][pid][1:6] != students(district, raw)[pid][1:6] for pid in kept):
            event("a kept student whose eSD fields changed")
        from_scratch = groups_of(synced(district, raw, tmp / "scratch.db"))
        world = synced(district, raw, tmp / "after.db")  # eSD is now `district`; the database is the earlier one
        assert groups_of(world) == from_scratch
        assert_state(world, after_sync(before, wanted(district, raw)))


@st.composite
def pre_registered_worlds(draw: st.DrawFn) -> tuple[District, dict[str, Any]]:
    """Districts of Pre-Registered students only, each in a school: R3's Future option decides everything."""
    district = draw(districts())
    ids = [s["id"] for s in district.schools]
    for i, person in enumerate(district.students):
        person.update(
            studentStatus="Pre-Registered", enrolledId=f"{20_000_000 + i}", schoolId=draw(st.sampled_from(ids))
        )
    district.recently_accepted.clear()
    return district, draw(settings_dicts(ids))


@given(pre_registered_worlds())
@example(
    (
        builders.district(
            [builders.school("0101")],
            [builders.student(1, enrolled_id="10000001", status="Pre-Registered", school_id="0101")],
        ),
        {"custom_endpoints": False, "schools": {"0101": ["Enrolled"]}},
    )
)
def test_r3_pre_registered_students_sync_exactly_where_future_is_selected(
    world_input: tuple[District, dict[str, Any]],
) -> None:
    district, raw = world_input
    with synced_fresh(district, raw) as world:
        active = world.active()
        for p in district.students:
            want = "Future" in raw["schools"].get(p["schoolId"], []) and bool(p["enrollmentDate"])
            assert (p["enrolledId"] in active) == want, (p["enrolledId"], p["schoolId"], raw["schools"])


# ----- settings changed, and changed back ---------------------------------------------------------------

Settings_change = tuple[District, dict[str, Any], dict[str, Any]]


@st.composite
def settings_changes(draw: st.DrawFn) -> Settings_change:
    district, raw, _ = draw(worlds())
    return district, raw, draw(settings_dicts([s["id"] for s in district.schools]))


DESELECTED = (
    builders.district(
        [builders.school("0101"), builders.school("0201")],
        [builders.student(1, enrolled_id="10000001", school_id="0101"),
         builders.student(2, enrolled_id="10000002", school_id="0201")],
        [builders.contact(1, [(1, "Mother", 1)])],
    ),
    {"custom_endpoints": False, "schools": {"0101": ["Enrolled"], "0201": ["Enrolled"]}},
    {"custom_endpoints": False, "schools": {"0101": ["Enrolled"], "0201": []}},
)  # fmt: skip


@given(settings_changes())
@example(DESELECTED)
def test_settings_changed_and_changed_back_restore_every_record(change: Settings_change) -> None:
    """eSD stays byte for byte the same while the settings change (R10's shortcut must not apply), then
    change back: students archived by the change are restored, each on its own record (R7, R8)."""
    district, raw, other = change
    with synced_fresh(district, raw) as world:
        first, records = wanted(district, raw), world.record_ids()
        expected = after_sync(first, wanted(district, other))
        if expected != first:
            event("the settings change changes the stored state")
        assert sync(world, other, allow_mass_removal=True).status == "applied"
        assert_state(world, expected)
        assert sync(world, raw, allow_mass_removal=True).status == "applied"
        assert_state(world, after_sync(expected, first))
        assert {oid: rid for oid, rid in world.record_ids().items() if oid in records} == records


# ----- R11: the hold --------------------------------------------------------------------------------------

EIGHTHS = [0.0, 0.125, 0.25, 0.375, 0.5, 1.0]  # shares whose products with these sizes are exact


@st.composite
def removals(draw: st.DrawFn) -> tuple[int, float, int]:
    """(synced students, max_archive_share, students then removed from eSD), around both of the hold's
    boundaries: exactly max_archive_share of them, and exactly ten."""
    active = draw(st.sampled_from([16, 24, 40, 80]))
    share = draw(st.sampled_from(EIGHTHS))
    at_share = int(share * active)
    removed = draw(st.sampled_from(sorted({9, 10, 11, at_share - 1, at_share, at_share + 1} & set(range(active + 1)))))
    return active, share, removed


@given(removals())
@example((40, 0.25, 10))  # exactly max_archive_share, and exactly ten: not held
@example((80, 0.0, 9))  # below ten: never held
@example((80, 0.0, 10))  # ten, more than no share at all: held
def test_r11_holds_a_sync_exactly_when_it_would_archive_ten_or_more_and_more_than_max_archive_share(
    case: tuple[int, float, int],
) -> None:
    active, share, removed = case
    held = removed >= 10 and Fraction(removed, active) > Fraction(share)  # exact: no rounding at the boundary
    event("held" if held else "not held")
    district = builders.district(
        [builders.school("0101")],
        [builders.student(i, enrolled_id=f"{10_000_000 + i}", school_id="0101") for i in range(1, active + 1)],
    )
    raw = {"custom_endpoints": False, "schools": {"0101": ["Enrolled"]}, "safety": {"max_archive_share": share}}
    with synced_fresh(district, raw) as world:
        for pid in range(1, removed + 1):
            world.store.delete_student(pid)
        before = world.tables()
        report = sync(world, raw)
        if held:
            assert report.status == "held", f"{removed} of {active} archived, max_archive_share {share}"
            assert f"would archive {removed} of {active} synced students" in report.errors[0]
            assert world.tables() == before
        else:
            assert report.status == "applied", (removed, active, share, report.errors)
            assert len(world.archived()) == removed


# ----- identity: an enrolledId is one person's for life -------------------------------------------------


@st.composite
def reused_ids(draw: st.DrawFn) -> tuple[District, dict[str, Any], int, dict[str, Any]]:
    """A synced district, one of whose building-path students leaves eSD, and a new person given its
    enrolledId (synced by the settings, or not; the leaver too: its school may be selected without Enrolled)."""
    district, raw, _ = draw(worlds())
    school = draw(st.sampled_from([s["id"] for s in district.schools]))
    raw["schools"][school] = raw["schools"].get(school) or ["Enrolled"]
    pid = len(district.students) + 1
    district.students.append(builders.student(pid, enrolled_id="19999999", school_id=school))
    newcomer = builders.student(
        pid + 1,
        enrolled_id="19999999",
        status=draw(st.sampled_from(["Enrolled", "Pre-enrolled", "Withdrawn"])),
        school_id=draw(st.sampled_from([school, None])),
    )
    return district, raw, pid, newcomer


@given(reused_ids())
@example(
    (
        builders.district([builders.school("0101")], [builders.student(1, enrolled_id="19999999", school_id="0101")]),
        {"custom_endpoints": False, "schools": {"0101": ["Enrolled"]}},
        1,
        builders.student(2, enrolled_id="19999999", school_id="0101"),
    )
)
@example(
    (
        builders.district([builders.school("0101")], [builders.student(1, enrolled_id="19999999", school_id="0101")]),
        {"custom_endpoints": False, "schools": {"0101": ["Pre-Enrolled"]}},
        1,
        builders.student(2, enrolled_id="19999999", status="Pre-enrolled", school_id="0101"),
    )
)  # found by the thorough profile: the leaver was never synced, so its ID was free for the newcomer
def test_an_enrolled_id_given_to_another_person_aborts_the_sync_naming_both(
    case: tuple[District, dict[str, Any], int, dict[str, Any]],
) -> None:
    district, raw, leaver, newcomer = case
    with synced_fresh(district, raw) as world:
        # Operoo holds the ID only if the settings synced the leaver (a school selected without Enrolled did not)
        held = "19999999" in {row[0] for row in students(world.store.snapshot(), raw).values()}
        world.store.delete_student(leaver)
        assert sync(world, raw, allow_mass_removal=True).status == "applied"
        before = world.tables()
        world.put(newcomer)
        conflict = held and "19999999" in {row[0] for row in students(world.store.snapshot(), raw).values()}
        event("the newcomer is synced: a conflict" if conflict else "the newcomer is not synced, or the ID was free")
        report = sync(world, raw, allow_mass_removal=True)
        if conflict:
            assert report.status == "aborted"
            message = f"eSD gives ID 19999999 to person {newcomer['id']}, but Operoo's record 19999999 belongs to person {leaver}"
            assert message in report.errors[0], report.errors
            assert world.tables() == before
        else:
            assert report.status == "applied", report.errors
