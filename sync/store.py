"""Operoo's state in SQLite: a versioned schema, loading it as plain data, applying a plan atomically.

A plan is applied in one transaction (BEGIN IMMEDIATE ... COMMIT): a sync killed halfway leaves the
old state. Students are archived, never deleted (R7); a record keeps its `record_id` across re-keys
(R8), and memberships and contact links hang on that id.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from mock_esd_sync.errors import BusyError, StateError, WriteError
from mock_esd_sync.mirror import NO_MIRROR_CHANGES, Digests, MirrorChanges, decode_person
from mock_esd_sync.plan import Plan
from mock_esd_sync.records import Person
from mock_esd_sync.shapes import Scope
from mock_esd_sync.state import GroupKey, State, StoredContact, StoredStudent

SCHEMA_VERSION = 5
_MIRROR_4 = """
CREATE TABLE IF NOT EXISTS esd_persons (person_id INTEGER PRIMARY KEY, digest INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS esd_contacts (contact_id INTEGER PRIMARY KEY, digest INTEGER NOT NULL);
"""
_MIRROR = """
CREATE TABLE IF NOT EXISTS esd_persons (       -- what eSD said of each person at the last applied sync
    person_id INTEGER PRIMARY KEY,
    standard  BLOB,                            -- its record on /v1/students as eSD gave it (JSON), if listed
    operoo    BLOB                             -- its record on /v1/operoo/students, if listed
);
CREATE TABLE IF NOT EXISTS esd_digests (       -- a digest of every record of the student and contact listings
    listing TEXT PRIMARY KEY,                  -- its path, e.g. '/v1/students'
    ids     BLOB NOT NULL,                     -- record ids, packed (array 'q'): read at once on a re-sync
    digests BLOB NOT NULL                      -- the digest of each (array 'Q'): a re-sync decides again only
);                                             -- the persons and contacts whose records' digests changed
"""
_MIGRATIONS = {  # from version N to N + 1
    1: "ALTER TABLE sync_runs ADD COLUMN input_digest TEXT; ALTER TABLE sync_runs ADD COLUMN warnings TEXT;",
    # The mirror now holds each person's records as parsed. The old one is dropped, and so are the R10
    # digests, so that the next sync plans again and writes a new mirror.
    2: "DELETE FROM esd_mirror; UPDATE sync_runs SET input_digest = NULL;",
    # The mirror is now a row per person and a digest per contact (one blob could not be updated in part);
    # the first sync after this decides everyone again (it finds no digests) and writes them.
    3: f"DROP TABLE esd_mirror; {_MIRROR_4} UPDATE sync_runs SET input_digest = NULL;",
    # The mirror now holds each person's records as eSD gave them, and the digests are of each record's
    # bytes, packed in a row per listing (read in milliseconds, not row by row); the next sync decides everyone again.
    4: f"DROP TABLE esd_persons; DROP TABLE esd_contacts; {_MIRROR} UPDATE sync_runs SET input_digest = NULL;",
}

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS students (
    record_id   INTEGER PRIMARY KEY,
    operoo_id   TEXT NOT NULL UNIQUE,
    person_id   INTEGER NOT NULL UNIQUE,
    esd_id      TEXT,
    status      TEXT NOT NULL,
    school_id   TEXT,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    archived    INTEGER NOT NULL DEFAULT 0,
    created_run INTEGER NOT NULL,
    updated_run INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS buildings (school_id TEXT PRIMARY KEY, name TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS groups_ (
    group_id  INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    school_id TEXT NOT NULL DEFAULT '',   -- '' for district groups, so UNIQUE holds
    UNIQUE (name, school_id)
);
CREATE TABLE IF NOT EXISTS memberships (
    group_id  INTEGER NOT NULL REFERENCES groups_ (group_id) ON DELETE CASCADE,
    record_id INTEGER NOT NULL REFERENCES students (record_id),
    PRIMARY KEY (group_id, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contacts (
    contact_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    email      TEXT,
    archived   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS contact_links (
    contact_id INTEGER NOT NULL REFERENCES contacts (contact_id),
    record_id  INTEGER NOT NULL REFERENCES students (record_id),
    permission TEXT NOT NULL,
    PRIMARY KEY (contact_id, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_runs (
    run_id   INTEGER PRIMARY KEY,
    started  TEXT NOT NULL,
    finished TEXT,
    status   TEXT NOT NULL,
    counts   TEXT,
    settings TEXT NOT NULL,
    message  TEXT,
    input_digest TEXT,                   -- what eSD answered and the settings, for an applied run
    warnings TEXT
);
"""
    + _MIRROR
)

OPEROO_TABLES = ("students", "buildings", "groups_", "memberships", "contacts", "contact_links")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if new) an Operoo state database with the current schema."""
    if not Path(path).absolute().parent.is_dir():
        raise StateError(f"{path}: the directory {Path(path).absolute().parent} does not exist")
    try:
        conn = sqlite3.connect(str(path), isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        version = _schema_version(conn)
    except sqlite3.OperationalError as exc:  # locked, read-only, cannot be opened: not a question of format
        raise _unusable(path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise StateError(f"{path} is not an Operoo state database ({exc})") from None
    try:
        if version is None:  # IF NOT EXISTS and OR IGNORE: two processes creating one database both succeed
            conn.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
            )
        while version is not None and version in _MIGRATIONS:
            conn.executescript(
                f"BEGIN; {_MIGRATIONS[version]} UPDATE meta SET value = '{version + 1}' WHERE key = 'schema_version'; COMMIT;"
            )
            version += 1
    except sqlite3.OperationalError as exc:  # a full disk, say: SQLite rolled the script's transaction back
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise _unusable(path, exc) from None
    if version is not None and version != SCHEMA_VERSION:
        raise StateError(f"{path} has schema version {version}; this mock-esd reads version {SCHEMA_VERSION}")
    return conn


def _unusable(path: str | Path, exc: sqlite3.OperationalError) -> StateError:
    if "locked" in str(exc) or "busy" in str(exc):
        return BusyError(f"{path} is locked by another program ({exc}); nothing was done")
    if _write_failed(exc):
        return WriteError(f"{_write_failure(path, exc)}; nothing was changed")
    return StateError(f"{path} cannot be used ({exc})")


def _write_failed(exc: sqlite3.Error) -> bool:
    """Whether SQLite could not write the file: a full disk (SQLITE_FULL), or a write refused or failed (a disk
    quota, a file size limit, a failing disk: SQLITE_IOERR)."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or str(
        getattr(exc, "sqlite_errorname", "")
    ).startswith("SQLITE_IOERR")


def _write_failure(path: str | Path, exc: sqlite3.Error) -> str:
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return f"the disk holding {path} is full ({exc})"
    if _write_failed(exc):
        return f"{path} could not be written ({exc}: a disk quota or file size limit reached, or a failing disk)"
    return f"{path}: {exc}"


def check_writable(conn: sqlite3.Connection, path: str | Path) -> None:
    """StateError unless the open database can be written; BusyError if another program holds it locked."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")  # a write, undone
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise _unusable(path, exc) from None


def check_directory_writable(path: str | Path, what: str) -> None:
    """StateError unless a file can be created beside `path` (said before a sync fetches anything)."""
    directory = Path(path).absolute().parent
    if not directory.is_dir():
        raise StateError(f"{what} {path}: the directory {directory} does not exist")
    try:
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        raise StateError(f"{what} {path}: cannot write in {directory} ({exc.strerror or exc})") from None


@contextmanager
def sync_lock(path: str | Path) -> Iterator[None]:
    """Hold the exclusive lock of the database at `path` (the file `PATH.lock`, beside the file the path leads
    to after every symbolic link) for a whole run.

    BusyError at once if another process holds it: two syncs interleaving read, plan and apply would
    leave a state that matches neither. The lock is keyed on the real path, so two syncs reaching one
    database by two paths (a symlink, `./o.db` and its absolute path) are two syncs on one database. The
    file stays (removing it would race with the next locker).
    """
    fd = os.open(f"{os.path.realpath(path)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"another sync is running on {path}; this one did nothing") from None
        yield
    finally:
        os.close(fd)


def open_existing(path: str | Path) -> sqlite3.Connection:
    """Open a database that must already exist (for export and explain)."""
    if not Path(path).is_file():
        raise StateError(f"{path} does not exist; run `mock-esd sync --db {path}` first")
    return connect(path)


def _schema_version(conn: sqlite3.Connection) -> int | None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise sqlite3.DatabaseError("it has tables but no meta table")
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def load_state(conn: sqlite3.Connection, scope: Scope | None = None) -> State:
    """The stored Operoo state as plain data: all of it, or the students and contacts of `scope`
    (with every group, each holding only the students loaded, and every building)."""
    students: dict[int, StoredStudent] = {}
    operoo_ids: dict[int, str] = {}
    where, args = (
        ("", ()) if scope is None else (" WHERE person_id IN (SELECT value FROM json_each(?))", _ids(scope.persons))
    )
    for record_id, *row in conn.execute(
        "SELECT record_id, operoo_id, person_id, esd_id, status, school_id, first_name, last_name, archived FROM students"
        + where,
        args,
    ):
        student = StoredStudent(*row)
        students[student.person_id] = student
        operoo_ids[record_id] = student.operoo_id
    buildings = dict(conn.execute("SELECT school_id, name FROM buildings WHERE archived = 0").fetchall())
    keys: dict[int, GroupKey] = {
        gid: (n, s or None) for gid, n, s in conn.execute("SELECT group_id, name, school_id FROM groups_")
    }
    members: dict[int, list[str]] = {gid: [] for gid in keys}
    # The key is (group_id, record_id): naming the groups lets SQLite seek each pair instead of reading them all.
    where, args = (
        ("", ())
        if scope is None
        else (
            " WHERE group_id IN (SELECT group_id FROM groups_) AND record_id IN (SELECT value FROM json_each(?))",
            _ids(operoo_ids),
        )
    )
    for group_id, record_id in conn.execute("SELECT group_id, record_id FROM memberships" + where, args):
        members[group_id].append(operoo_ids[record_id])
    groups = {keys[gid]: frozenset(m) for gid, m in members.items()}
    active = conn.execute("SELECT count(*) FROM students WHERE archived = 0").fetchone()[0]
    return State(students, buildings, groups, _load_contacts(conn, scope), active)


def _load_contacts(conn: sqlite3.Connection, scope: Scope | None) -> dict[int, StoredContact]:
    where, args = (
        ("", ()) if scope is None else (" WHERE contact_id IN (SELECT value FROM json_each(?))", _ids(scope.contacts))
    )
    links: dict[int, dict[str, str]] = defaultdict(dict)
    for contact_id, operoo_id, permission in conn.execute(
        "SELECT contact_id, operoo_id, permission FROM contact_links JOIN students USING (record_id)" + where, args
    ):
        links[contact_id][operoo_id] = permission
    return {
        cid: StoredContact(cid, first, last, email, bool(archived), links.get(cid, {}))
        for cid, first, last, email, archived in conn.execute(
            "SELECT contact_id, first_name, last_name, email, archived FROM contacts" + where, args
        )
    }


def _ids(ids: Iterable[int]) -> tuple[str]:
    """Ids as the one parameter of `IN (SELECT value FROM json_each(?))`."""
    return (json.dumps(sorted(ids)),)


def load_digests(conn: sqlite3.Connection) -> dict[str, Digests]:
    """The ids and digests of every record at the last applied sync in reading order, by listing (see
    `mock_esd_sync.mirror.mirror_changes`)."""
    return {
        listing: (array("q", ids), array("Q", digests))
        for listing, ids, digests in conn.execute("SELECT listing, ids, digests FROM esd_digests")
    }


def load_listing_keys(conn: sqlite3.Connection) -> dict[str, str]:
    """Each listing's key as the last applied sync that wrote the mirror left it, written with its digests
    (see `mock_esd_sync.listing.listing_key`): none before that."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'listing_keys'").fetchone()
    return dict(json.loads(row[0])) if row else {}


def has_digests(conn: sqlite3.Connection) -> bool:
    """Whether the last applied sync left the digests a re-sync compares with (a migration drops them)."""
    return conn.execute("SELECT 1 FROM esd_digests WHERE length(ids) > 0").fetchone() is not None


def holders_of(conn: sqlite3.Connection, operoo_ids: Iterable[str]) -> set[int]:
    """The persons whose stored records have any of these Operoo IDs."""
    ids = (json.dumps(sorted(operoo_ids)),)
    rows = conn.execute("SELECT person_id FROM students WHERE operoo_id IN (SELECT value FROM json_each(?))", ids)
    return {pid for (pid,) in rows}


def active_ids(conn: sqlite3.Connection, person_ids: Iterable[int]) -> dict[int, str]:
    """The Operoo ID of each of these persons that has an active (not archived) record."""
    rows = conn.execute(
        "SELECT person_id, operoo_id FROM students WHERE archived = 0 AND person_id IN (SELECT value FROM json_each(?))",
        _ids(person_ids),
    )
    return dict(rows.fetchall())


def building_names(conn: sqlite3.Connection) -> dict[str, str]:
    """Every building's name by school id, removed ones too (for reports)."""
    return dict(conn.execute("SELECT school_id, name FROM buildings").fetchall())


def load_mirror(conn: sqlite3.Connection) -> dict[int, Person]:
    """What eSD said of each person at the last applied sync."""
    rows = conn.execute("SELECT person_id, standard, operoo FROM esd_persons")
    return {pid: decode_person(pid, standard, operoo) for pid, standard, operoo in rows}


def begin_run(conn: sqlite3.Connection, started: str, settings: dict[str, Any]) -> int:
    """Log the start of a sync run; its own small transaction. WriteError if the database cannot be written."""
    try:
        cursor = conn.execute(
            "INSERT INTO sync_runs (started, status, settings) VALUES (?, 'running', ?)",
            (started, json.dumps(settings)),
        )
    except sqlite3.OperationalError as exc:
        if not _write_failed(exc):
            raise
        raise WriteError(f"{write_failure(conn, exc)}; nothing was changed") from None
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def latest_run(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """The id and status of the last run logged, if any."""
    row = conn.execute("SELECT run_id, status FROM sync_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def write_failure(conn: sqlite3.Connection, exc: sqlite3.Error) -> str:
    """What an error of SQLite on `conn` means, for a user: a full disk named as such, with the database's path."""
    path = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()[0]
    return _write_failure(path, exc)


def mark_interrupted(conn: sqlite3.Connection, now: str) -> list[tuple[int, str]]:
    """Mark runs left `running` by a process that died as `interrupted`; their ids and start times.

    Only correct while holding `sync_lock`: then no other run can be running.
    """
    stale = conn.execute("SELECT run_id, started FROM sync_runs WHERE status = 'running' ORDER BY run_id").fetchall()
    conn.execute(
        "UPDATE sync_runs SET status = 'interrupted', finished = ?, "
        "message = 'the process ended before the run was recorded as finished' WHERE status = 'running'",
        (now,),
    )
    return [(run_id, started) for run_id, started in stale]


def finish_run(
    conn: sqlite3.Connection, run_id: int, finished: str, status: str, counts: dict[str, int], message: str,
    input_digest: str | None = None, warnings: tuple[str, ...] = (), pages: tuple[str, ...] = (),
) -> None:  # fmt: skip
    """Record how a run ended; for an applied one, also the digest of each page it read (see `last_pages`).

    Only a run still `running` is changed: one recorded as ended (an applied run, with its apply) stays so."""
    updated = conn.execute(
        "UPDATE sync_runs SET finished = ?, status = ?, counts = ?, message = ?, input_digest = ?, warnings = ? "
        "WHERE run_id = ? AND status = 'running'",
        (finished, status, json.dumps(counts), message, input_digest, json.dumps(list(warnings)), run_id),
    )
    if input_digest is not None and updated.rowcount:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('page_digests', ?)", (json.dumps(pages),))


def last_pages(conn: sqlite3.Connection) -> tuple[str, ...]:
    """The page digests of the last applied sync, in reading order (empty if none were recorded).

    Only a hint of where eSD's answers start to differ (EsdClient.fetch_raw): whether a sync changes
    anything is decided by the input digest alone."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'page_digests'").fetchone()
    return tuple(json.loads(row[0])) if row else ()


def last_applied(conn: sqlite3.Connection) -> tuple[str | None, tuple[str, ...]]:
    """The input digest and warnings of the last applied sync (None if there was none)."""
    row = conn.execute(
        "SELECT input_digest, warnings FROM sync_runs WHERE status = 'applied' ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    return (row[0], tuple(json.loads(row[1] or "[]"))) if row else (None, ())


def last_settings(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The settings of the last applied sync, or None if there was none."""
    row = conn.execute(
        "SELECT settings FROM sync_runs WHERE status = 'applied' ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    return json.loads(row[0]) if row else None


# A plan writing fewer rows than this has each reference checked as it is written (foreign_keys on): a 1%
# re-sync writes a few thousand, and checking the whole database once would cost more (~0.1 s at 100,000
# students). From this many on (a first sync writes ~900,000 at 100,000 students) they are checked once over
# the result: the same guarantee, a seventh of the cost. The same size decides whether the record ids the
# memberships and links need are read all at once or only those.
ROWS_CHECKED_ONE_BY_ONE = 20_000


def apply_plan(
    conn: sqlite3.Connection, plan: Plan, run_id: int, *, mirror: MirrorChanges = NO_MIRROR_CHANGES,
    then: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """Apply `plan`, and write `mirror` (what eSD said that differs from the stored eSD mirror, see
    `mirror.mirror_changes`), in one transaction: all of it or none of it; a reference to a missing record
    rolls it back. `then` writes what must be committed with it (the run's end, `finish_run`): a process
    killed right after the commit leaves a run recorded as applied, never one that seems never to have ended."""
    links = sum(len(c.after.links) for c in plan.contacts)
    members = sum(len(ids) for _, ids in plan.members_add) + sum(len(ids) for _, ids in plan.members_remove)
    rows = len(plan.students) + len(plan.contacts) + members + links
    small = rows < ROWS_CHECKED_ONE_BY_ONE
    needed = _operoo_ids_needed(plan) if small else None
    if not small:
        conn.execute("PRAGMA foreign_keys = OFF")  # may only change outside a transaction
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            created, was_empty = _apply_students(conn, plan, run_id)
            _apply_buildings_and_groups(conn, plan)
            # The record ids of the students that memberships and contact links name, read after the students
            # are written: every student's (~0.1 s at 100,000) when many are needed. Into an empty store (a
            # first sync) every student is created here, with the record ids just given: nothing to read.
            records = created
            if not was_empty and (needed is None or needed):
                records = _record_ids(conn, needed)
            _apply_memberships(conn, plan, records)
            _apply_contacts(conn, plan, records)
            _apply_mirror(conn, mirror)
            if not small:
                _check_references(conn)
            if then is not None:
                then()
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back already (a full disk does): ROLLBACK then would fail with "cannot
            # rollback - no transaction is active", hiding the cause.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _operoo_ids_needed(plan: Plan) -> set[str]:
    """The Operoo IDs whose record ids the plan's memberships and contact links are written with."""
    needed = {operoo_id for _, members in plan.members_add for operoo_id in members}
    needed.update(operoo_id for _, members in plan.members_remove for operoo_id in members)
    needed.update(operoo_id for c in plan.contacts for operoo_id in c.after.links)
    return needed


def _check_references(conn: sqlite3.Connection) -> None:
    dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
    if dangling:
        table, rowid, parent, _ = dangling[0]
        raise sqlite3.IntegrityError(
            f"{len(dangling)} row(s) would reference missing records, e.g. {table} row {rowid} -> {parent}"
        )


def _apply_students(conn: sqlite3.Connection, plan: Plan, run_id: int) -> tuple[dict[str, int], bool]:
    """Write the plan's students; (the record id given to each created one by Operoo ID, whether the store
    held no student before). A created record gets the id SQLite would give it (the largest plus one:
    students are never deleted), so that its memberships and links need not read it back."""
    # Bound as exact str and int: sqlite3 binds those directly, but looks up an adapter for a subclass
    # (a StrEnum status costs ~1 µs more a row, a bool ~0.35 µs; a first sync binds 100,000 of each).
    creates = [c.after for c in plan.students if c.before is None]
    last = conn.execute("SELECT max(record_id) FROM students").fetchone()[0]
    first_id = (last or 0) + 1
    updates = [c.after for c in plan.students if c.before is not None]
    # Two steps, so that two records swapping IDs never collide on UNIQUE(operoo_id).
    conn.executemany(
        "UPDATE students SET operoo_id = '~rekey~' || record_id WHERE person_id = ?",
        [(c.person_id,) for c in plan.students if c.before is not None and c.before.operoo_id != c.after.operoo_id],
    )
    conn.executemany(
        "UPDATE students SET operoo_id = ?1, esd_id = ?2, status = ?3, school_id = ?4, first_name = ?5, "
        "last_name = ?6, archived = ?7, updated_run = ?9 WHERE person_id = ?8",
        _student_rows(updates, run_id),
    )
    conn.executemany(
        "INSERT INTO students (operoo_id, esd_id, status, school_id, first_name, last_name, archived, person_id, "
        "updated_run, created_run, record_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
        [(*row, record_id) for record_id, row in enumerate(_student_rows(creates, run_id), first_id)],
    )
    return {s.operoo_id: record_id for record_id, s in enumerate(creates, first_id)}, last is None


def _student_rows(students: list[StoredStudent], run_id: int) -> list[tuple[Any, ...]]:
    """Each student's columns as both statements bind them: Operoo ID, eSD ID, status, school, first and last
    name, archived, person id, run."""
    return [
        (s.operoo_id, s.esd_id, str(s.status), s.school_id, s.first_name, s.last_name, 1 if s.archived else 0,
         s.person_id, run_id)
        for s in students
    ]  # fmt: skip


def _apply_buildings_and_groups(conn: sqlite3.Connection, plan: Plan) -> None:
    conn.executemany(
        "INSERT INTO buildings (school_id, name, archived) VALUES (?, ?, 0) "
        "ON CONFLICT (school_id) DO UPDATE SET name = excluded.name, archived = 0",
        plan.buildings_upsert,
    )
    conn.executemany("UPDATE buildings SET archived = 1 WHERE school_id = ?", [(s,) for s in plan.buildings_remove])
    removed = [(n, s or "") for n, s in plan.groups_remove]
    conn.executemany(  # what ON DELETE CASCADE would do, with foreign keys off during apply
        "DELETE FROM memberships WHERE group_id IN (SELECT group_id FROM groups_ WHERE name = ? AND school_id = ?)",
        removed,
    )
    conn.executemany("DELETE FROM groups_ WHERE name = ? AND school_id = ?", removed)
    conn.executemany(
        "INSERT INTO groups_ (name, school_id) VALUES (?, ?)", [(n, s or "") for n, s in plan.groups_create]
    )


def _record_ids(conn: sqlite3.Connection, operoo_ids: set[str] | None) -> dict[str, int]:
    """The record id of each student (of those with these Operoo IDs, when given)."""
    if operoo_ids is None:
        return dict(conn.execute("SELECT operoo_id, record_id FROM students").fetchall())
    where = " WHERE operoo_id IN (SELECT value FROM json_each(?))"
    return dict(conn.execute("SELECT operoo_id, record_id FROM students" + where, (json.dumps(sorted(operoo_ids)),)))


def _apply_memberships(conn: sqlite3.Connection, plan: Plan, records: dict[str, int]) -> None:
    """A statement per group and direction, its members' record ids one JSON array (`json_each`), in key
    order: a first sync adds ~3.6 memberships per student, and a row bound from Python costs ~1 µs more."""
    if not (plan.members_add or plan.members_remove):
        return
    group_ids = {(n, s or None): gid for gid, n, s in conn.execute("SELECT group_id, name, school_id FROM groups_")}
    for sql, changes in (
        (
            "DELETE FROM memberships WHERE group_id = ? AND record_id IN (SELECT value FROM json_each(?))",
            plan.members_remove,
        ),
        ("INSERT INTO memberships (group_id, record_id) SELECT ?, value FROM json_each(?)", plan.members_add),
    ):
        for key, members in changes:
            conn.execute(sql, (group_ids[key], orjson.dumps(sorted([records[m] for m in members])).decode()))


def _apply_contacts(conn: sqlite3.Connection, plan: Plan, records: dict[str, int]) -> None:
    if not plan.contacts:
        return
    conn.executemany(
        "INSERT INTO contacts (contact_id, first_name, last_name, email, archived) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (contact_id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name, "
        "email = excluded.email, archived = excluded.archived",
        [
            (c.contact_id, c.after.first_name, c.after.last_name, c.after.email, 1 if c.after.archived else 0)
            for c in plan.contacts
        ],
    )
    conn.executemany(
        "DELETE FROM contact_links WHERE contact_id = ?", [(c.contact_id,) for c in plan.contacts if c.before]
    )
    conn.executemany(
        "INSERT INTO contact_links (contact_id, record_id, permission) VALUES (?, ?, ?)",
        [(c.contact_id, records[operoo_id], perm) for c in plan.contacts for operoo_id, perm in c.after.links.items()],
    )


def _apply_mirror(conn: sqlite3.Connection, m: MirrorChanges) -> None:
    if m.is_empty():
        return
    conn.executemany("INSERT OR REPLACE INTO esd_persons (person_id, standard, operoo) VALUES (?, ?, ?)", m.persons_put)
    conn.executemany("DELETE FROM esd_persons WHERE person_id = ?", [(pid,) for pid in m.persons_drop])
    conn.executemany(
        "INSERT OR REPLACE INTO esd_digests (listing, ids, digests) VALUES (?, ?, ?)",
        [(listing, ids.tobytes(), digests.tobytes()) for listing, (ids, digests) in m.digests.items()],
    )
    # In the same transaction as the digests they are tied to: a key never outlives its digests.
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('listing_keys', ?)", (json.dumps(m.keys),))


def snapshot_tables(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the Operoo tables, sorted: to show that a failed sync changed nothing."""
    return {
        table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        for table in (*OPEROO_TABLES, "esd_persons", "esd_digests")
    }
