"""One test (at least) per sync rule R1-R10, each on a small hand-built district, groups written out.

Runs the real client, plan and SQLite apply, with the mock in-process (no socket).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from mock_esd.district.builders import contact, district, school, student
from mock_esd_contracts import vocabulary as v
from mock_esd_sync.errors import SettingsError
from mock_esd_sync.settings import load_settings
from tests.world import STANDARD, World, settings

E, P, F = "Enrolled", "Pre-Enrolled", "Future"
ADS, ADE, ADP, ADF = (
    "All District Students",
    "All District Enrolled Students",
    "All District Pre-Enrolled Students",
    "All District Future Students",
)
AS, AE, AP, AF = "All Students", "All Enrolled Students", "All Pre-Enrolled Students", "All Future Students"


def base_district() -> object:
    return district(
        [
            school("0101", "Lincoln Elementary"),
            school("0201", "District Middle School", v.SchoolType.MIDDLE),
            school("0900", "Document School", v.SchoolType.HOLDING),
        ],
        [
            student(1, enrolled_id="10000001", status=v.Status.ENROLLED, school_id="0101"),
            student(2, enrolled_id="10000002", status=v.Status.PRE_ENROLLED, school_id="0101"),
            student(
                3,
                enrolled_id="10000003",
                status=v.Status.PRE_REGISTERED,
                school_id="0101",
                enrollment_date="2026-10-01",
            ),
            student(4, enrolled_id="10000004", status=v.Status.PRE_REGISTERED, school_id="0101", enrollment_date=None),
            student(5, enrolled_id="10000005", status=v.Status.ENROLLED, school_id="0201"),
            student(6, enrolled_id="10000006", status=v.Status.PRE_ENROLLED, school_id="0900"),
            student(7, status=v.Status.PRE_ENROLLED),
            student(8, status=v.Status.PRE_ENROLLED, school_id="0101"),
            student(9, status=v.Status.DENIED),
            student(10, enrolled_id="10000010", status=v.Status.WITHDRAWN, school_id="0101"),
            student(11, status=v.Status.PRE_ENROLLED, school_id="0900"),
        ],
        [
            contact(1, [(1, "Mother", 1), (5, "Mother", 1)]),
            contact(2, [(1, "Father", 2)]),
            contact(3, [(7, "Grandparent", 1)]),
            contact(4, [(7, "Mother", 2)], do_not_contact=True),
            contact(5, [(9, "Mother", 1)]),
        ],
    )


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(base_district(), tmp_path / "operoo.db")  # type: ignore[arg-type]


def tmp(*ids: int) -> set[str]:
    return {f"student-operoo-{i}" for i in ids}


def test_r1_custom_path_takes_null_enrolled_id_pre_enrolled_with_or_without_school(world: World) -> None:
    report = world.sync(settings(custom=True))
    assert report.status == "applied"
    assert world.groups() == {ADS: tmp(7, 8, 11), ADE: set(), ADP: tmp(7, 8, 11), ADF: set()}


def test_r1_custom_path_is_off_without_custom_endpoints_and_never_calls_them(world: World) -> None:
    world.sync(settings(custom=False), client=STANDARD)
    assert world.groups() == {ADS: set(), ADE: set(), ADP: set(), ADF: set()}
    assert not [r for r in world.requests if "/operoo/" in r]


def test_r2_temporary_ids_come_from_the_person_id_and_stay_stable(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E]}))
    ids = world.record_ids()
    world.put({**world.store.get_person(7), "firstName": "Renamed", "lastName": "Applicant"})
    world.sync(settings(custom=True, schools={"0101": [E]}))
    assert world.record_ids() == ids
    assert {i for i in ids if i.startswith("student-operoo-")} == tmp(7, 8, 11)
    assert "10000001" in ids, "building-path students keep their eSD ID"


def test_r3_building_path_per_option_with_future_needing_an_enrollment_date(world: World) -> None:
    report = world.sync(settings(custom=False, schools={"0101": [E, F], "0900": [P]}), client=STANDARD)
    assert world.groups() == {
        ADS: {"10000001", "10000003", "10000006"},
        ADE: {"10000001"},
        ADP: {"10000006"},
        ADF: {"10000003"},
        (AS, "0101"): {"10000001", "10000003"},
        (AE, "0101"): {"10000001"},
        (AF, "0101"): {"10000003"},
        (AS, "0900"): {"10000006"},
        (AP, "0900"): {"10000006"},
    }
    assert report.plan is not None
    assert [w for w in report.plan.warnings if "10000004" in w and "enrollmentDate" in w]


def test_r3_works_the_same_with_custom_endpoints_on(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E, F], "0900": [P]}))
    groups = world.groups()
    assert groups[(AS, "0101")] == {"10000001", "10000003"}
    assert groups[(AS, "0900")] == {"10000006"} | tmp(11)
    assert groups[ADS] == {"10000001", "10000003", "10000006"} | tmp(7, 8, 11)


def test_r4_enrolled_and_pre_enrolled_together_need_custom_endpoints() -> None:
    with pytest.raises(SettingsError, match=r"R4: school 0101 selects both Enrolled and Pre-Enrolled"):
        settings(custom=False, schools={"0101": [E, P]})
    assert settings(custom=True, schools={"0101": [E, P, F]}).selected["0101"] == {E, P, F}
    assert settings(custom=False, schools={"0101": [P, F], "0201": [E, F]}).selected


def test_r4_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as err:
        settings(
            custom=False, schools={"0101": [E, P], "0201": ["Enroled"], "0301": [E, P]}, safety={"max_archive_share": 3}
        )
    message = str(err.value)
    assert (
        "school 0101" in message
        and "school 0301" in message
        and "'Enroled'" in message
        and "max_archive_share" in message
    )


def test_relationships_must_be_esds_and_a_typo_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(SettingsError) as err:
        settings(custom=True, schools={"0101": [E]}, contacts={"relationships": ["mother", "Guardian", "Aunty"]})
    message = str(err.value)
    assert "unknown relationship 'mother' (did you mean 'Mother'?), 'Aunty'" in message
    assert "eSD's relationships: " + ", ".join(v.RELATIONSHIPS) in message


@pytest.mark.parametrize(
    "text", ["", "custom_endpoints = false\n", '[schools]\n"0101" = []\n', "[contacts]\nmax_priority = 1\n"]
)
def test_a_settings_file_that_selects_nothing_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=r"s\.toml: selects nothing: no school in \[schools\] has an option"):
        load_settings(path)
    path.write_text("custom_endpoints = true\n")  # the custom endpoints alone take the unassigned applicants
    assert load_settings(path).custom_endpoints


def test_r4_a_selected_school_unknown_to_esd_is_an_error_and_nothing_changes(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E]}))
    before = world.tables()
    with pytest.raises(SettingsError, match="R4: selected school 0404 is not known to eSD"):
        world.sync(settings(custom=True, schools={"0101": [E], "0404": [E]}))
    assert world.tables() == before


def test_r5_every_synced_student_is_in_all_district_and_exactly_one_status_group(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E, P, F], "0201": [E], "0900": [P]}))
    groups = world.groups()
    synced = world.active()
    assert groups[ADS] == synced
    for operoo_id in synced:
        assert sum(operoo_id in groups[g] for g in (ADE, ADP, ADF)) == 1
    assert groups[ADE] | groups[ADP] | groups[ADF] == synced


def test_r6_building_groups_for_selected_options_and_custom_students_of_a_pre_enrolled_building(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E, P]}))
    groups = world.groups()
    assert groups[(AS, "0101")] == {"10000001", "10000002"} | tmp(8)
    assert groups[(AP, "0101")] == {"10000002"} | tmp(8)
    assert groups[(AE, "0101")] == {"10000001"}
    assert (AF, "0101") not in groups, "no group for an option that is not selected"
    assert not [k for k in groups if k[1] in ("0201", "0900")], "no groups for unselected buildings"


def test_r6_custom_student_stays_out_of_a_building_selected_without_pre_enrolled(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E]}))
    assert world.groups()[(AS, "0101")] == {"10000001"}
    assert tmp(8) <= world.groups()[ADP]


def test_r7_removed_student_is_archived_then_restored_as_the_same_record(world: World) -> None:
    s = settings(custom=True, schools={"0101": [E]})
    world.sync(s)
    record = world.record_ids()["10000001"]
    saved = world.store.get_person(1)
    world.store.delete_student(1)
    report = world.sync(s)
    assert report.plan is not None and report.plan.counts()["archived"] == 1
    assert "10000001" in world.archived()
    assert all("10000001" not in members for members in world.groups().values())
    world.put(saved)
    report = world.sync(s)
    assert report.plan is not None and report.plan.counts()["restored"] == 1
    assert world.record_ids()["10000001"] == record
    assert "10000001" in world.groups()[(AS, "0101")]


def test_r7_status_change_archives(world: World) -> None:
    s = settings(custom=True, schools={"0101": [E]})
    world.sync(s)
    world.put({**world.store.get_person(1), "studentStatus": v.Status.WITHDRAWN})
    world.sync(s)
    assert "10000001" in world.archived()


def test_r7_three_white_crosses_remove_the_building_its_groups_and_students_but_not_custom_ones(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E, P], "0201": [E]}))
    report = world.sync(settings(custom=True, schools={"0101": [], "0201": [E]}))
    groups = world.groups()
    assert not [k for k in groups if k[1] == "0101"]
    assert world.archived() == {"10000001", "10000002"}
    assert groups[ADS] == {"10000005"} | tmp(7, 8, 11), "custom-path students are unaffected by building selection"
    assert report.plan is not None and report.plan.buildings_remove == ("0101",)


def test_removing_a_group_removes_its_memberships(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E, P]}))
    assert world.groups()[(AP, "0101")] == {"10000002"} | tmp(8)
    assert world.sync(settings(custom=True, schools={"0101": [E]})).status == "applied"
    assert (AP, "0101") not in world.groups()
    conn = world.conn()
    try:
        orphans = conn.execute("SELECT count(*) FROM memberships WHERE group_id NOT IN (SELECT group_id FROM groups_)")
        assert orphans.fetchone() == (0,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_r8_an_accepted_application_is_rekeyed_not_recreated(world: World) -> None:
    s = settings(custom=True, schools={"0900": [P]})
    world.sync(s)
    record = world.record_ids()["student-operoo-7"]
    world.put({**world.store.get_person(7), "enrolledId": "10000077", "schoolId": "0900"})
    report = world.sync(s)
    assert report.plan is not None
    counts = report.plan.counts()
    assert (counts["rekeyed"], counts["created"], counts["archived"]) == (1, 0, 0)
    ids = world.record_ids()
    assert "student-operoo-7" not in ids and ids["10000077"] == record
    assert "10000077" in world.groups()[(AP, "0900")]
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert contacts[3]["students"] == [{"operooId": "10000077", "permission": "No Permission"}], (
        "contacts follow the re-key"
    )


def test_r9_contact_permissions_by_relationship_and_do_not_contact(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E], "0201": [E]}))
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert contacts[1]["students"] == [
        {"operooId": "10000001", "permission": "View and Update"},
        {"operooId": "10000005", "permission": "View and Update"},
    ]
    assert contacts[2]["students"] == [{"operooId": "10000001", "permission": "View and Update"}]
    assert contacts[3]["students"] == [{"operooId": "student-operoo-7", "permission": "No Permission"}]
    assert 4 not in contacts, "doNotContact"
    assert 5 not in contacts, "linked only to a student that does not sync"


def test_r9_permission_by_priority_and_archive_when_unlinked(world: World) -> None:
    s = settings(custom=True, schools={"0101": [E]}, contacts={"permission_source": "priority", "max_priority": 1})
    world.sync(s)
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert contacts[2]["students"] == [{"operooId": "10000001", "permission": "No Permission"}]
    assert contacts[3]["students"] == [{"operooId": "student-operoo-7", "permission": "View and Update"}]
    world.store.delete_student(1)
    world.sync(s)
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert contacts[2] == {"contactId": 2, "archived": True, "students": []}


@pytest.mark.parametrize("full", [True, False], ids=["planned-again", "unchanged-input-shortcut"])
def test_r10_a_second_sync_with_no_change_changes_nothing(world: World, full: bool) -> None:
    s = settings(custom=True, schools={"0101": [E, P, F], "0201": [E], "0900": [P]})
    first = world.sync(s)
    before = world.tables()
    report = world.sync(s, full=full)
    assert report.status == "applied" and report.plan is not None
    assert report.plan.is_empty() and report.mirror.is_empty()
    assert set(report.plan.counts().values()) == {0}
    assert world.tables() == before
    assert first.plan is not None and report.plan.warnings == first.plan.warnings != (), "warnings are still reported"


def test_the_mirror_holds_every_persons_records_and_every_contacts_digest_as_esd_listed_them(world: World) -> None:
    """What `explain` replays and what a re-sync compares with: the rows packed in one buffer come out whole."""
    from mock_esd.server.inprocess import DEFAULT_BASE_URL, routed
    from mock_esd_sync.client import EsdClient
    from mock_esd_sync.shapes import CONTACTS, OPEROO_CONTACTS, OPEROO_STUDENTS, STUDENTS, esd_records
    from mock_esd_sync.store import load_digests, load_mirror
    from tests.world import CUSTOM

    world.sync(settings(custom=True, schools={"0101": [E]}))
    with routed(world.app), requests.Session() as session:
        records = esd_records(
            EsdClient(session, DEFAULT_BASE_URL, CUSTOM.client_id, CUSTOM.secret).fetch_snapshot(True)
        )
    conn = world.conn()
    try:
        mirror, stored = load_mirror(conn), load_digests(conn)
    finally:
        conn.close()
    ids = {listing: set(listed) for listing, (listed, _) in stored.items()}
    assert mirror == dict(records.persons) and len(mirror) > 5
    assert ids[STUDENTS] | ids[OPEROO_STUDENTS] == mirror.keys()
    assert ids[CONTACTS] | ids[OPEROO_CONTACTS] == records.contacts.keys() and records.contacts
    assert all(len(set(digests)) == len(digests) == len(listed) for listed, digests in stored.values()), (
        "one digest per record"
    )


def test_r10_shortcut_is_not_taken_when_settings_change(world: World) -> None:
    world.sync(settings(custom=True, schools={"0101": [E]}))
    report = world.sync(settings(custom=True, schools={"0101": [E, F]}))
    assert report.plan is not None and report.plan.counts()["created"] == 1


def test_the_streamed_json_report_equals_the_report(world: World) -> None:
    import io
    import json

    from mock_esd_sync.run import write_json

    report = world.sync(settings(custom=True, schools={"0101": [E, F], "0900": [P]}))
    out = io.BytesIO()
    write_json(report, out)
    streamed = json.loads(out.getvalue())
    assert streamed == report.as_json() and len(streamed["changes"]) > 5


def test_an_applicant_archived_because_custom_endpoints_went_off_is_told_so(world: World) -> None:
    from mock_esd_sync.explanation import explain
    from mock_esd_sync.rulebook import ARCHIVED_UNREAD

    world.sync(settings(custom=True, schools={"0101": [E], "0900": [P]}))
    report = world.sync(settings(custom=False, schools={"0101": [E]}), allow_mass_removal=True)
    assert report.plan is not None
    reasons = {c.after.operoo_id: c.reason for c in report.plan.students}
    assert reasons["student-operoo-11"] == ARCHIVED_UNREAD and "no longer in eSD" not in ARCHIVED_UNREAD
    conn = world.conn()
    try:
        lines = explain(conn, "student-operoo-11")
    finally:
        conn.close()
    assert "custom endpoints are off" in lines[0] and lines[1] == ARCHIVED_UNREAD


@pytest.mark.parametrize(
    ("holders", "said"),
    [((1, 2), "both person 1 and person 2"), ((1, 2, 4), "persons 1, 2 and 4")],
)
def test_an_id_given_to_two_persons_in_one_read_aborts_naming_them(
    tmp_path: Path, holders: tuple[int, ...], said: str
) -> None:
    """eSD giving one enrolledId to two persons (or more) at once is an identity conflict, as across syncs:
    applied, the ID would land in every such person's groups (here the building groups of 0101 and 0201)."""
    twice = district(
        [school("0101"), school("0201")],
        [
            student(
                pid,
                enrolled_id="10000001" if pid in holders else f"1000000{pid}",
                status=v.Status.ENROLLED,
                school_id="0101" if pid % 2 else "0201",
            )
            for pid in (1, 2, 3, 4)
        ],
        [],
    )
    world = World(twice, tmp_path / "operoo.db")
    before = world.tables()
    report = world.sync(settings(schools={"0101": [E], "0201": [E]}))
    assert report.status == "aborted"
    assert f"eSD gives ID 10000001 to {said} (an enrolledId must never be reused)" in report.errors[0]
    assert world.tables() == before


def test_more_than_five_ids_given_twice_are_counted_past_the_five_named(tmp_path: Path) -> None:
    """Seven enrolledIds each given to two persons: five named in person order, the other two counted."""
    pairs = [
        student(pid, enrolled_id=f"{10000000 + (pid + 1) // 2}", status=v.Status.ENROLLED, school_id="0101")
        for pid in range(1, 15)
    ]
    world = World(district([school("0101")], pairs, []), tmp_path / "operoo.db")
    report = world.sync(settings(schools={"0101": [E]}), dry_run=True)
    assert report.status == "aborted"
    named = [f"eSD gives ID {10000000 + n} to both person {2 * n - 1} and person {2 * n}" for n in range(1, 6)]
    assert report.errors[0].endswith("; ".join(named) + " (and 2 more) (an enrolledId must never be reused)")
    assert not any(world.tables().values())
