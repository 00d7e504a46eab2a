"""R11: an incomplete or inconsistent read changes nothing; a mass removal is held; apply is atomic.

Faults are made with the `responses` library: the in-process mock's replies are tampered with.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_esd.district.builders import contact, district, school, student
from mock_esd.server.inprocess import Reply
from mock_esd_contracts import vocabulary as v
from mock_esd_sync import run as run_module
from mock_esd_sync import store as sync_store
from mock_esd_sync.plan import Plan
from tests.world import World, settings

SETTINGS = settings(custom=True, schools={"0101": ["Enrolled"]})


def big_district(n: int = 40) -> Any:
    students = [student(i, enrolled_id=f"{10000000 + i}", school_id="0101") for i in range(1, n + 1)]
    students += [student(100 + i, status=v.Status.PRE_ENROLLED) for i in range(1, 6)]
    return district([school("0101")], students, [contact(i, [(i, "Mother", 1)]) for i in range(1, n + 1)])


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(big_district(), tmp_path / "operoo.db")
    assert w.sync(SETTINGS).status == "applied"
    # a change waiting in eSD, so that an aborted sync that applied anything would show
    w.store.delete_student(40)
    w.put(student(41, enrolled_id="10000041", school_id="0101"))
    return w


def on(path: str, page: int | None = None, times: int | None = None) -> Callable[[requests.PreparedRequest], bool]:
    """A matcher for requests to `path` (and page), firing at most `times` times."""
    fired = [0]

    def match(request: requests.PreparedRequest) -> bool:
        hit = request.path_url.split("?")[0].endswith(path) and (
            page is None or f"pageNo={page}&" in request.path_url + "&"
        )
        if hit and (times is None or fired[0] < times):
            fired[0] += 1
            return True
        return False

    return match


def tamper_with(
    match: Callable[[requests.PreparedRequest], bool], change: Callable[[Reply], Reply]
) -> Callable[[requests.PreparedRequest, Reply], Reply]:
    return lambda request, reply: change(reply) if match(request) else reply


def body_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Reply], Reply]:
    def change(reply: Reply) -> Reply:
        body = json.loads(reply[2])
        edit(body)
        return reply[0], reply[1], json.dumps(body).encode()

    return change


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[Reply], Reply]:
    return lambda reply: (
        code,
        {"Content-Type": "application/problem+json", **(headers or {})},
        b'{"title": "x", "status": %d, "detail": "injected"}' % code,
    )


def clean_result(tmp_path: Path) -> dict[str, Any]:
    w = World(big_district(), tmp_path / "clean.db")
    w.sync(SETTINGS)
    w.store.delete_student(40)
    w.put(student(41, enrolled_id="10000041", school_id="0101"))
    w.sync(SETTINGS)
    return w.export()


# Factories: each test gets fresh matchers, whose "fire N times" counters must not leak between tests.
RECOVERABLE: dict[str, Callable[[], Any]] = {
    "a 500 on page 3, once": lambda: tamper_with(on("/v1/students", 3, times=1), status(500)),
    "an expired token mid-walk": lambda: tamper_with(on("/v1/students", 2, times=1), status(401)),
    "a 429 storm with Retry-After": lambda: tamper_with(on("/v1/schools", times=3), status(429, {"Retry-After": "2"})),
    "a truncated body, once": lambda: tamper_with(on("/v1/contacts", 2, times=1), lambda r: (200, r[1], r[2][:40])),
}

FATAL = {
    "a 500 on page 3, always": (tamper_with(on("/v1/students", 3), status(500)), "gave up after 4 attempts; last: 500"),
    "a short page": (
        tamper_with(on("/v1/students", 2), body_edit(lambda b: b["students"].pop())),
        "page 2 of 8 has 4 records, expected 5",
    ),
    # Every page but the last has a size to check; the last one only the count of records read against totalCount.
    "a short last page": (
        tamper_with(on("/v1/students", 8), body_edit(lambda b: b["students"].pop())),
        "/v1/students: read 39 records but totalCount is 40",
    ),
    "a short last page of a one-page listing": (
        tamper_with(on("/v1/schools"), body_edit(lambda b: b["schools"].pop())),
        "/v1/schools: read 0 records but totalCount is 1",
    ),
    "a short listing": (
        tamper_with(
            on("/v1/students"),
            body_edit(lambda b: b["pagingInfo"].update(totalCount=b["pagingInfo"]["totalCount"] + 1)),
        ),
        "pageCount",
    ),
    "a duplicate id across pages": (
        tamper_with(
            on("/v1/students", 2), body_edit(lambda b: b["students"].__setitem__(0, {**b["students"][0], "id": 1}))
        ),
        "record 1 appears twice",
    ),
    "a malformed record": (
        tamper_with(on("/v1/operoo/students", 1), body_edit(lambda b: b["students"][0].pop("studentStatus"))),
        "field 'studentStatus': missing",
    ),
    "a bad enrolledId": (
        tamper_with(on("/v1/students", 1), body_edit(lambda b: b["students"][0].update(enrolledId="12"))),
        "field 'enrolledId': expected 8 digits",
    ),
    # /v1/students lists only students with an enrolledId (the contract); one without would reach R3 with no ID
    "a standard student record without its enrolledId": (
        tamper_with(on("/v1/students", 1), body_edit(lambda b: b["students"][0].update(enrolledId=None))),
        "/v1/students: record 1: field 'enrolledId': expected string, got null",
    ),
    "a contact's link without its studentId": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0]["students"][0].pop("studentId"))),
        "/v1/contacts: record 1: field 'studentId': missing",
    ),
    "a contact's link with its priority as text": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0]["students"][0].update(priority="1"))),
        "/v1/contacts: record 1: field 'priority': expected integer, got string",
    ),
    "a contact's link with a number for its relationship": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0]["students"][0].update(relationship=3))),
        "/v1/contacts: record 1: field 'relationship': expected string, got integer",
    ),
    # (An object or a string has no items to take as links, but neither is the list of links the contract says.)
    "a contact's links as an empty object": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0].update(students={}))),
        "/v1/contacts: record 1: field 'students': expected array, got object",
    ),
    "a contact's links as an empty string": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0].update(students=""))),
        "/v1/contacts: record 1: field 'students': expected array, got string",
    ),
    "a contact's link that is not an object": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0].update(students=["x"]))),
        "/v1/contacts: record 1: field 'students': expected an object per link, got string",
    ),
    "a contact's link whose studentId is an array": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0]["students"][0].update(studentId=[7]))),
        "/v1/contacts: record 1: field 'studentId': expected integer, got array",
    ),
    "a record whose id is an array": (
        tamper_with(on("/v1/students", 1), body_edit(lambda b: b["students"][0].update(id=[1]))),
        "/v1/students: record ?: field 'id': expected integer, got array",
    ),
    "a contact whose id is an object": (
        tamper_with(on("/v1/contacts", 1), body_edit(lambda b: b["contacts"][0].update(id={"id": 1}))),
        "/v1/contacts: record ?: field 'id': expected integer, got object",
    ),
    "a record whose id is past 64 bits": (
        tamper_with(on("/v1/operoo/students", 1), body_edit(lambda b: b["students"][0].update(id=1 << 63))),
        f"/v1/operoo/students: record {1 << 63}: field 'id': expected a 64-bit integer, got {1 << 63}",
    ),
    "records inserted between pages": (
        tamper_with(
            on("/v1/contacts", 2),
            body_edit(
                lambda b: b["pagingInfo"].update(
                    totalCount=b["pagingInfo"]["totalCount"] + 5, pageCount=b["pagingInfo"]["pageCount"] + 1
                )
            ),
        ),
        "the listing changed while it was read",
    ),
    "a page size that changes between pages": (  # a re-sync finds record n of an unread listing by it
        tamper_with(on("/v1/contacts", 2), body_edit(lambda b: b["pagingInfo"].update(pageSize=7))),
        "page 2 says pageSize 7; page 1 said",
    ),
    "a 429 that never ends": (tamper_with(on("/v1/schools"), status(429, {"Retry-After": "1"})), "429: rate limited"),
    "HTML instead of JSON": (
        tamper_with(on("/v1/schools"), lambda r: (200, {"Content-Type": "text/html"}, b"<html>oops</html>")),
        "not JSON",
    ),
    "a 403 on the custom endpoints": (
        tamper_with(on("/v1/operoo/contacts"), status(403)),
        "403: x (detail of 8 characters, not quoted)",  # the title; the detail may name a person
    ),
}


@pytest.mark.parametrize("fault", list(RECOVERABLE))
def test_recoverable_faults_end_in_the_fault_free_state(world: World, tmp_path: Path, fault: str) -> None:
    report = world.sync(SETTINGS, tamper=RECOVERABLE[fault]())
    assert report.status == "applied", report.errors
    assert world.sleeps, "the fault never fired, or was not retried"
    assert world.export() == clean_result(tmp_path)


def test_retry_after_is_honoured(world: World) -> None:
    world.sync(SETTINGS, tamper=RECOVERABLE["a 429 storm with Retry-After"]())
    assert world.sleeps == [2.0, 2.0, 2.0], "Retry-After, not the backoff, decides the wait"


@pytest.mark.parametrize("fault", list(FATAL))
def test_unrecoverable_faults_abort_a_first_sync_too(tmp_path: Path, fault: str) -> None:
    """A first sync parses each page as it arrives (not after the whole read): a fault still aborts it
    with the same reason, and not one Operoo row is written."""
    tamper, reason = FATAL[fault]
    w = World(big_district(), tmp_path / "operoo.db")
    report = w.sync(SETTINGS, tamper=tamper)
    assert report.status == "aborted"
    assert report.errors and "nothing changed" in report.errors[0] and reason in report.errors[0], report.errors
    assert not any(w.tables().values())


@pytest.mark.parametrize("fault", list(FATAL))
def test_unrecoverable_faults_abort_and_change_nothing(world: World, fault: str) -> None:
    tamper, reason = FATAL[fault]
    before = world.tables()
    report = world.sync(SETTINGS, tamper=tamper)
    assert report.status == "aborted"
    assert report.errors and "nothing changed" in report.errors[0] and reason in report.errors[0], report.errors
    assert world.tables() == before


def test_a_mass_removal_is_held_with_the_plan_unless_allowed(world: World) -> None:
    for i in range(1, 20):
        world.store.delete_student(i)
    before = world.tables()
    report = world.sync(SETTINGS)
    assert report.status == "held"
    assert "R11: this sync would archive 20 of 45 synced students" in report.errors[0]
    assert report.plan is not None and report.plan.counts()["archived"] == 20
    assert world.tables() == before
    assert world.sync(SETTINGS, allow_mass_removal=True).status == "applied"
    assert len(world.archived()) == 20


def test_fewer_than_ten_removals_are_never_held(tmp_path: Path) -> None:
    w = World(
        district([school("0101")], [student(i, enrolled_id=f"{10000000 + i}", school_id="0101") for i in range(1, 6)]),
        tmp_path / "o.db",
    )
    w.sync(SETTINGS)
    for i in range(1, 6):
        w.store.delete_student(i)
    assert w.sync(SETTINGS).status == "applied"
    assert len(w.archived()) == 5


def test_dry_run_reports_the_plan_and_changes_nothing(world: World) -> None:
    before = world.tables()
    report = world.sync(SETTINGS, dry_run=True)
    assert report.status == "dry-run" and report.plan is not None
    assert report.plan.counts()["archived"] == 1 and report.plan.counts()["created"] == 1
    assert world.tables() == before


@pytest.mark.parametrize("step", ["_apply_memberships", "_apply_contacts", "_apply_mirror"])
@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_an_apply_killed_halfway_leaves_the_old_state(
    world: World, monkeypatch: pytest.MonkeyPatch, step: str, error: BaseException
) -> None:
    before = world.tables()

    def boom(*args: Any) -> None:
        raise error

    monkeypatch.setattr(sync_store, step, boom)
    with pytest.raises(type(error)):
        world.sync(SETTINGS)
    assert world.tables() == before
    monkeypatch.undo()
    assert world.sync(SETTINGS).status == "applied"


def test_an_enrolled_id_reused_for_another_person_aborts_with_both_named(world: World) -> None:
    world.store.delete_student(1)
    world.sync(SETTINGS)
    before = world.tables()
    world.put(student(77, enrolled_id="10000001", school_id="0101"))
    report = world.sync(SETTINGS)
    assert report.status == "aborted"
    assert "eSD gives ID 10000001 to person 77, but Operoo's record 10000001 belongs to person 1" in report.errors[0]
    assert world.tables() == before


@pytest.mark.parametrize(
    ("rows_checked_one_by_one", "said"),
    [(sync_store.ROWS_CHECKED_ONE_BY_ONE, "FOREIGN KEY constraint failed"),  # a small plan: as each row is written
     (0, "would reference missing records, e.g. memberships")],  # a large one: once over the result
)  # fmt: skip
def test_an_apply_that_would_leave_a_dangling_reference_is_rolled_back(
    world: World, monkeypatch: pytest.MonkeyPatch, rows_checked_one_by_one: int, said: str
) -> None:
    monkeypatch.setattr(sync_store, "ROWS_CHECKED_ONE_BY_ONE", rows_checked_one_by_one)
    world.sync(SETTINGS)
    world.store.delete_student(1)
    before = world.tables()
    apply_memberships = sync_store._apply_memberships

    def and_a_stray_row(conn: sqlite3.Connection, plan: Any, *rest: Any) -> None:
        apply_memberships(conn, plan, *rest)
        conn.execute("INSERT INTO memberships (group_id, record_id) VALUES (1, 999999)")

    monkeypatch.setattr(sync_store, "_apply_memberships", and_a_stray_row)
    report = world.sync(SETTINGS)
    assert report.status == "aborted"
    assert said in report.errors[0] and "rolled back, nothing changed" in report.errors[0]
    assert world.tables() == before


def test_apply_leaves_reference_enforcement_on(tmp_path: Path) -> None:
    conn = sync_store.connect(tmp_path / "operoo.db")
    sync_store.apply_plan(conn, Plan(), sync_store.begin_run(conn, "2026-09-01T00:00:00Z", {}))
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    conn.close()


def test_a_disk_that_fills_during_the_apply_is_named_and_nothing_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's own SQLITE_FULL (a database that may not grow past its pages: what a full disk answers) rolls the
    transaction back itself: the error says the disk is full, not "cannot rollback - no transaction is active"."""
    before = world.tables()
    connect = sync_store.connect

    def on_a_full_disk(path: Any) -> sqlite3.Connection:
        conn = connect(path)
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        return conn

    monkeypatch.setattr("tests.world.connect", on_a_full_disk)
    world.store.delete_student(1)  # a change waiting, so that the apply has pages to add
    for i in range(50, 90):
        world.put(student(i, enrolled_id=f"{10000000 + i}", school_id="0101"))
    report = world.sync(SETTINGS)
    assert report.status == "aborted"
    assert report.errors == [
        "applying the plan failed and was rolled back, nothing changed: the disk holding "
        f"{world.db} is full (database or disk is full)"
    ]
    monkeypatch.undo()
    assert world.tables() == before
    conn = world.conn()
    try:
        assert conn.execute("SELECT status, message FROM sync_runs ORDER BY run_id DESC LIMIT 1").fetchone() == (
            "aborted",
            report.errors[0],
        )
    finally:
        conn.close()


def test_an_applied_run_is_logged_in_the_apply_s_own_transaction(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's end is written before the COMMIT: a process that dies right after it leaves an applied run."""
    logged: list[tuple[str, bool]] = []
    finish_run = run_module.finish_run

    def watching(conn: sqlite3.Connection, run_id: int, finished: str, status: str, *rest: Any) -> None:
        logged.append((status, conn.in_transaction))
        finish_run(conn, run_id, finished, status, *rest)

    monkeypatch.setattr(run_module, "finish_run", watching)
    assert world.sync(SETTINGS).status == "applied"
    assert logged == [("applied", True), ("applied", False)], (
        "in the transaction; the second, after it, changes nothing"
    )
    conn = world.conn()
    try:
        assert [s for (s,) in conn.execute("SELECT status FROM sync_runs ORDER BY run_id")] == ["applied", "applied"]
    finally:
        conn.close()
