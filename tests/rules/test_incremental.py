"""Incremental re-sync: only the persons whose eSD records changed are decided again, the plan is the one
deciding everyone would make (`--full`), and `--full` stays the escape hatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mock_esd_sync.listing
import mock_esd_sync.reader
import mock_esd_sync.run
from mock_esd_contracts import vocabulary as v
from mock_esd_sync import rules
from mock_esd_sync.client import Fetch
from mock_esd_sync.listing import Listing
from mock_esd_sync.mirror import mirror_changes
from mock_esd_sync.reader import RecordReader
from mock_esd_sync.records import RawSnapshot
from mock_esd_sync.shapes import OPEROO_STUDENTS, STUDENTS
from tests.rules.test_rules import E, F, P, base_district
from tests.rules.test_safety import body_edit, on, tamper_with
from tests.world import World, settings

SETTINGS = settings(custom=True, schools={"0101": [E, P, F], "0201": [E], "0900": [P]})


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(base_district(), tmp_path / "operoo.db")  # type: ignore[arg-type]
    assert w.sync(SETTINGS).status == "applied"
    return w


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The person ids `decide` is called for (the rules' one place of decision)."""
    calls: list[int] = []
    original = rules.decide

    def counting(person: rules.Person, *args: object, **kw: object) -> object:
        calls.append(person.person_id)
        return original(person, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rules, "decide", counting)
    return calls


def same_plan_both_ways(world: World) -> None:
    partial, whole = world.sync(SETTINGS, dry_run=True), world.sync(SETTINGS, dry_run=True, full=True)
    assert partial.plan == whole.plan and partial.errors == whole.errors


def test_a_re_sync_decides_again_only_the_persons_whose_records_changed(world: World, decided: list[int]) -> None:
    world.put({**world.store.get_person(5), "lastName": "Renamed"})
    same_plan_both_ways(world)
    decided.clear()
    report = world.sync(SETTINGS)
    assert report.status == "applied" and report.plan is not None
    assert [c.person_id for c in report.plan.students] == [5] and report.plan.counts()["updated"] == 1
    # person 5, and person 4: Pre-Registered without an enrollmentDate, whose data warning is said again
    assert sorted(set(decided)) == [4, 5]
    assert report.plan.warnings and "person 4" in report.plan.warnings[0]


def test_full_decides_everyone_and_ends_in_the_same_state(world: World, tmp_path: Path, decided: list[int]) -> None:
    world.put({**world.store.get_person(7), "firstName": "Changed"})
    other = World(base_district(), tmp_path / "other.db")  # type: ignore[arg-type]
    other.sync(SETTINGS)
    other.put({**other.store.get_person(7), "firstName": "Changed"})
    decided.clear()
    assert world.sync(SETTINGS, full=True).status == "applied"
    assert len(set(decided)) == 11, "--full decides every person again"
    assert other.sync(SETTINGS).status == "applied"
    assert world.tables() == other.tables()


def test_a_contact_follows_a_person_who_stops_syncing(world: World) -> None:
    world.store.withdraw(1)  # linked from contacts 1 and 2, whose own records do not change
    same_plan_both_ways(world)
    world.sync(SETTINGS)
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert contacts[2]["archived"] and [s["operooId"] for s in contacts[1]["students"]] == ["10000005"]


def test_a_changed_contact_and_a_deleted_one(world: World) -> None:
    world.store.put_contact({**world.store.get_contact(1), "doNotContact": True})
    world.store.delete_contact(2)
    same_plan_both_ways(world)
    report = world.sync(SETTINGS)
    assert report.plan is not None and report.plan.counts()["contactsArchived"] == 2


def test_a_changed_setting_decides_everyone_again(world: World, decided: list[int]) -> None:
    changed = settings(custom=True, schools={"0101": [E, P], "0201": [E], "0900": [P]})
    assert world.sync(changed).status == "applied"
    assert len(set(decided)) == 11


def test_an_undated_pre_registration_warns_in_every_partial_plan(world: World) -> None:
    world.put({**world.store.get_person(3), "studentStatus": v.Status.PRE_REGISTERED, "enrollmentDate": None})
    same_plan_both_ways(world)
    report = world.sync(SETTINGS)
    assert report.plan is not None and len(report.plan.warnings) == 2


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, int], dict[str, int]]]:
    """For each sync, as its fetch returned them: the pages kept as bytes and the records read on arrival
    (by listing)."""
    fetched: list[tuple[dict[str, int], dict[str, int]]] = []
    original = Fetch.fetch_rest

    def spying(self: Fetch, last_pages: Any = None, read: Any = None) -> RawSnapshot:
        arrived: dict[str, int] = {}

        def counting(path: str, items: list[Any]) -> None:
            arrived[path] = arrived.get(path, 0) + len(items)
            read(path, items)

        raw = original(self, last_pages, counting if read else None)
        fetched.append(({path: len(bodies) for path, bodies in raw.pages.items() if bodies}, arrived))
        return raw

    monkeypatch.setattr(Fetch, "fetch_rest", spying)
    return fetched


def test_pages_are_read_as_they_arrive_from_the_first_one_that_changed(
    world: World, tmp_path: Path, read: list[tuple[dict[str, int], dict[str, int]]]
) -> None:
    everything = {"/v1/schools", "/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts"}
    # unchanged: every page kept as bytes, to be digested and dropped (R10), not one record read
    assert world.sync(SETTINGS).status == "applied"
    kept, arrived = read[-1]
    assert set(kept) == everything and not arrived
    # person 6 changed: in its listing the pages before its page are kept, its page and every later one read
    # on arrival; the other listings are page for page as they were, every page kept
    world.put({**world.store.get_person(6), "firstName": "Changed"})
    assert world.sync(SETTINGS).status == "applied"
    kept, arrived = read[-1]
    assert kept == {path: 1 for path in everything}, "page 2 of /v1/students (5 a page) holds person 6"
    assert arrived == {"/v1/students": 2}  # of 7 with an enrolledId
    # a first sync reads every page on arrival, and ends where the page-by-page reading did
    other = World(base_district(), tmp_path / "other.db")  # type: ignore[arg-type]
    other.put({**other.store.get_person(6), "firstName": "Changed"})
    assert other.sync(SETTINGS).status == "applied"
    kept, arrived = read[-1]
    assert not kept and set(arrived) == everything
    assert other.export() == world.export()
    # so does --full, which decides everyone again
    assert world.sync(SETTINGS, full=True).status == "applied" and not read[-1][0]


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(listing, id) of each student or contact record parsed from eSD's JSON."""
    calls: list[tuple[str, int]] = []
    for module in (mock_esd_sync.reader, mock_esd_sync.listing):  # parsed when looked up, or as read
        for name in ("parse_student", "parse_contact"):
            original = getattr(module, name)

            def counting(raw: Any, endpoint: str, original: Any = original) -> Any:
                calls.append((endpoint, raw["id"]))
                return original(raw, endpoint)

            monkeypatch.setattr(module, name, counting)
    return calls


def test_a_re_sync_parses_only_the_records_it_decides_again(world: World, parsed: list[tuple[str, int]]) -> None:
    world.put({**world.store.get_person(5), "lastName": "Renamed"})
    assert world.sync(SETTINGS).status == "applied"
    # person 5, person 4 (Pre-Registered without an enrollmentDate: its warning is said again); not contact 1,
    # which links person 5: a rename leaves person 5's Operoo ID, all R9 asks of it
    assert sorted(set(parsed)) == [("/v1/students", 4), ("/v1/students", 5)]
    parsed.clear()
    assert world.sync(SETTINGS, full=True).status == "applied"
    assert {pid for path, pid in parsed if path.endswith("/students")} == set(range(1, 12)), "--full parses everyone"


def test_a_malformed_record_aborts_a_re_sync(world: World) -> None:
    before = world.tables()
    world.put({**world.store.get_person(5), "lastName": 42})
    report = world.sync(SETTINGS)
    assert report.status == "aborted" and "/v1/students: record 5: field 'lastName'" in report.errors[0]
    assert world.tables() == before


def _student(pid: int, last: str) -> dict[str, Any]:
    return {
        "id": pid, "enrolledId": f"{10000000 + pid}", "studentStatus": "Enrolled", "schoolId": "0101",
        "enrollmentDate": "2024-09-01", "firstName": "Ada", "lastName": last, "grade": "3",
    }  # fmt: skip


@pytest.mark.parametrize("parse", [True, False], ids=["first sync (spooled)", "re-sync (kept in memory)"])
def test_the_mirror_rows_are_each_persons_records_as_listed_across_pages_and_out_of_id_order(parse: bool) -> None:
    """What `explain` replays: the bytes of each person's two student records, whichever page they came on."""
    import orjson

    standard = [[_student(5, "Five"), _student(2, "Two")], [_student(9, "Nine" * 50)], [_student(1, "One")]]
    operoo = [[_student(7, "Seven"), _student(2, "Two bis")]]
    reader = RecordReader(True, parse)
    for page in standard:
        reader.read(STUDENTS, page)
    for page in operoo:
        reader.read(OPEROO_STUDENTS, page)
    records = reader.records()
    rows = list(mirror_changes(records, {}).persons_put)

    def listed(pages: list[list[dict[str, Any]]], pid: int) -> bytes | None:
        return next((orjson.dumps(s) for page in pages for s in page if s["id"] == pid), None)

    assert [pid for pid, _, _ in rows] == [1, 2, 5, 7, 9]
    assert rows == [(pid, listed(standard, pid), listed(operoo, pid)) for pid in (1, 2, 5, 7, 9)]


def test_a_spool_that_cannot_be_written_aborts_the_first_sync_naming_it_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under TMPDIR: one error naming the spool (the CLI prints it on one line), no row written."""
    import errno

    w = World(base_district(), tmp_path / "operoo.db")  # type: ignore[arg-type]
    before = w.tables()

    def disk_full(*_: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mock_esd_sync.listing.os, "pwrite", disk_full)
    with pytest.raises(OSError, match=r"spool for the mirror in .* \(TMPDIR\): .*No space left on device"):
        w.sync(SETTINGS)
    assert w.tables() == before
    monkeypatch.undo()
    assert w.sync(SETTINGS).status == "applied"


def test_identity_conflicts_stop_the_partial_plan_naming_each_as_the_whole_does(world: World) -> None:
    """Two clashes: eSD gives person 5 the ID person 1 (unchanged) holds, and persons 2 and 6 one new ID.
    The partial plan must not stop at the clash among the changed persons before it has brought in person 1."""
    given = {5: "10000001", 2: "10000099", 6: "10000099"}

    def reuse(body: dict[str, Any]) -> None:
        for record in body["students"]:
            record["enrolledId"] = given.get(record["id"], record["enrolledId"])

    tamper = tamper_with(on("/v1/students"), body_edit(reuse))
    before = world.tables()
    partial = world.sync(SETTINGS, dry_run=True, tamper=tamper)
    whole = world.sync(SETTINGS, dry_run=True, full=True, tamper=tamper)
    assert whole.status == "aborted" and "ID 10000001 to both person 1 and person 5" in whole.errors[0]
    assert "ID 10000099 to both person 2 and person 6" in whole.errors[0]
    assert (partial.status, partial.errors) == (whole.status, whole.errors)
    assert world.tables() == before


# ----- what a re-sync leaves unread and undecided, and why the plan is still the whole's --------------------


@pytest.fixture
def records_read(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many records of each listing were read (kept and digested, one by one) by the syncs since cleared."""
    counts: dict[str, int] = {}
    original = Listing.read

    def counting(self: Listing, items: list[Any]) -> None:
        counts[self.path] = counts.get(self.path, 0) + len(items)
        original(self, items)

    monkeypatch.setattr(Listing, "read", counting)
    return counts


def exported_as_a_first_sync_would(world: World, tmp_path: Path) -> None:
    """The state the re-syncs left is the one a first sync of today's district gives."""
    fresh = World(world.store.snapshot(), tmp_path / f"fresh{len(list(tmp_path.iterdir()))}.db")
    assert fresh.sync(SETTINGS).status == "applied"
    assert world.export() == fresh.export()


def test_a_listing_whose_pages_are_as_they_were_is_not_read_record_by_record(
    world: World, tmp_path: Path, records_read: dict[str, int]
) -> None:
    """Person 5 renamed: only /v1/students changed. The other listings' pages are byte for byte the last
    sync's, so their records' ids and digests are the stored ones, and none of their records is needed."""
    world.put({**world.store.get_person(5), "lastName": "Renamed"})
    same_plan_both_ways(world)
    records_read.clear()
    report = world.sync(SETTINGS)
    assert report.status == "applied" and report.plan is not None and report.plan.counts()["updated"] == 1
    assert records_read == {"/v1/students": 7}, "the contacts and the applications are not read one by one"
    exported_as_a_first_sync_would(world, tmp_path)
    records_read.clear()
    world.put({**world.store.get_person(5), "lastName": "Again"})
    assert world.sync(SETTINGS, full=True).status == "applied"
    assert set(records_read) == {"/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts"}


def test_a_contact_changed_on_one_listing_is_read_from_the_other_without_reading_it_whole(
    world: World, tmp_path: Path, records_read: dict[str, int], parsed: list[tuple[str, int]]
) -> None:
    """Contact 6 links person 1 (enrolled: /v1/contacts shows that link) and applicant 7 (/v1/operoo/contacts
    shows both). Its link to 7 changes: only its /v1/operoo/contacts record does, but the contact is made from
    both records, so its /v1/contacts record is needed, from a listing that is as it was."""
    links = [
        {"studentId": 1, "relationship": "Father", "priority": 1},
        {"studentId": 7, "relationship": "Aunt", "priority": 3},
    ]
    world.store.put_contact({**world.store.get_contact(1), "id": 6, "students": links})
    assert world.sync(SETTINGS).status == "applied"
    world.store.put_contact(
        {**world.store.get_contact(6), "students": [links[0], {**links[1], "relationship": "Mother"}]}
    )
    same_plan_both_ways(world)
    records_read.clear()
    parsed.clear()
    report = world.sync(SETTINGS)
    assert report.status == "applied" and report.plan is not None
    assert [(c.contact_id, c.after.links) for c in report.plan.contacts] == [
        (6, {"10000001": "View and Update", "student-operoo-7": "View and Update"})
    ]
    assert "/v1/contacts" not in records_read, "its /v1/contacts record is taken from its page alone"
    assert ("/v1/contacts", 6) in parsed
    exported_as_a_first_sync_would(world, tmp_path)


def test_a_contact_of_a_person_who_starts_syncing_is_decided_again_though_its_records_did_not_change(
    world: World, tmp_path: Path
) -> None:
    """Applicant 9 (Denied) becomes Pre-enrolled: R1 syncs it with a temporary ID, and contact 5, whose
    records (the mother of 9) did not change, is made with that link."""
    world.put({**world.store.get_person(9), "studentStatus": v.Status.PRE_ENROLLED})
    same_plan_both_ways(world)
    report = world.sync(SETTINGS)
    assert report.plan is not None and [c.contact_id for c in report.plan.contacts] == [5]
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert contacts[5]["students"] == [{"operooId": "student-operoo-9", "permission": "View and Update"}]
    exported_as_a_first_sync_would(world, tmp_path)


def test_a_contact_follows_a_student_archived_then_restored(world: World, tmp_path: Path) -> None:
    """Person 5 withdrawn (archived), then enrolled again (restored): contact 1's records say the same all
    along (it links persons 1 and 5 either way), but its link to 5 goes and comes back."""
    enrolled = world.store.get_person(5)
    world.store.withdraw(5)
    same_plan_both_ways(world)
    world.sync(SETTINGS)
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert [s["operooId"] for s in contacts[1]["students"]] == ["10000001"]
    world.put(enrolled)
    same_plan_both_ways(world)
    report = world.sync(SETTINGS)
    assert report.plan is not None and report.plan.counts()["restored"] == 1
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert [s["operooId"] for s in contacts[1]["students"]] == ["10000001", "10000005"]
    exported_as_a_first_sync_would(world, tmp_path)


def test_a_contact_follows_an_application_accepted_and_re_keyed(world: World, tmp_path: Path) -> None:
    """Applicant 7 accepted into school 0101 (R8: its record re-keyed to its eSD ID): contact 3's link to it
    follows the new ID."""
    accepted = world.store.accept(7, "0101")
    same_plan_both_ways(world)
    report = world.sync(SETTINGS)
    assert report.plan is not None and report.plan.counts()["rekeyed"] == 1
    contacts = {c["contactId"]: c for c in world.export()["contacts"]}
    assert [s["operooId"] for s in contacts[3]["students"]] == [accepted["enrolledId"]]
    exported_as_a_first_sync_would(world, tmp_path)


def test_a_sync_killed_after_its_apply_leaves_the_next_one_seeing_every_change(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync killed right after its apply committed (with the run's end, in the same transaction): a listing
    changed back to the pages the sync before it read is not the one whose digests are stored, and must be
    read (the stored digests are tied to the pages they were read from)."""
    original = world.store.get_contact(1)
    world.store.put_contact({**original, "doNotContact": True})
    apply_plan = mock_esd_sync.run.apply_plan

    def killed(*args: Any, **kwargs: Any) -> None:
        apply_plan(*args, **kwargs)
        raise KeyboardInterrupt  # as if the process were killed here

    with monkeypatch.context() as patch:
        patch.setattr(mock_esd_sync.run, "apply_plan", killed)
        with pytest.raises(KeyboardInterrupt):
            world.sync(SETTINGS)
    assert {c["contactId"]: c for c in world.export()["contacts"]}[1]["archived"], "the apply was committed"
    world.store.put_contact(original)  # /v1/contacts as the last logged sync read it
    world.put({**world.store.get_person(7), "lastName": "Renamed"})  # (so that the answers are not all as then)
    same_plan_both_ways(world)
    assert world.sync(SETTINGS).status == "applied"
    exported_as_a_first_sync_would(world, tmp_path)


@pytest.mark.parametrize("order", [[1, 2, 5, 9], [9, 5, 2, 1], [2, 9, 1, 5]], ids=["in order", "reversed", "mixed"])
def test_a_re_sync_finds_each_record_by_id_whatever_order_the_listing_gives(order: list[int]) -> None:
    """eSD lists by id, and a listing in order is searched by bisection; any other order by an index."""
    reader = RecordReader(True, False)
    for pid in order:
        reader.read(STUDENTS, [_student(pid, f"Name{pid}")])
    records = reader.records()
    assert [pid for pid in range(11) if pid in records.persons] == [1, 2, 5, 9]
    assert all(records.persons[pid].standard.last_name == f"Name{pid}" for pid in order)  # type: ignore[union-attr]
    assert "5" not in records.persons and None not in records.persons
    with pytest.raises(KeyError):
        records.persons[3]
