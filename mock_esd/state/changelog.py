"""State shared by worker processes (`mock-esd serve --workers N`): a change log, fault rules, journal.

Every worker generates the same district from the same seed, then replays the change log (kept in
one SQLite file) before each request, so a change made through the control API on one worker is
seen by all. Changes are made under an exclusive file lock (`fcntl.flock`), after catching up, so
every worker applies the same operations in the same order.

The serving path asks SQLite nothing it can skip: two counters in a small file every worker maps
(`Counters`: the latest operation, the number of fault rules) say whether there is anything to replay
or any rule to match, and a request's journal entry is one line appended to a file of the worker's own
(`SharedJournal`), moved into SQLite in batches, by whoever reads the journal or when the file is full.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import mmap
import os
import secrets
import sqlite3
import struct
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from mock_esd import heap
from mock_esd.district import scenario
from mock_esd.district.defaults import DEFAULT_SCHOOLS, DEFAULT_STUDENTS
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.scenario_cache import ScenarioCache
from mock_esd.district.store import DistrictStore, replay_mode
from mock_esd.district.tenants import Recipe, Registry
from mock_esd.limits import Limits
from mock_esd.qa.faults import FaultRule, parse_rule, rule_from
from mock_esd.qa.journal import Entry, check_filters, matching

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, op TEXT NOT NULL, args TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faults (rule_id INTEGER PRIMARY KEY, body TEXT NOT NULL, calls INTEGER NOT NULL DEFAULT 0,
                                   fired INTEGER NOT NULL DEFAULT 0, changes TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, time REAL, method TEXT, path TEXT, query TEXT,
                                    client TEXT, tenant TEXT, status INTEGER);
CREATE TABLE IF NOT EXISTS journal_files (name TEXT PRIMARY KEY, offset INTEGER NOT NULL);
"""


logger = logging.getLogger(__name__)
JOURNAL_FLUSH_BYTES = 256 * 1024  # a worker moves its journal file's lines to the shared table at this size


class Counters:
    """Numbers every worker process reads without a query: a 16-byte file mapped shared (`mmap`).

    Written only under `ChangeLog.exclusive()`; read without a lock (an aligned 8-byte value is read whole).
    """

    LATEST_OP = 0  # seq of the latest logged operation
    FAULT_RULES = 1  # how many fault rules there are

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 16:
                os.ftruncate(fd, 16)
            self._map = mmap.mmap(fd, 16)  # MAP_SHARED: forked workers see each other's writes
        finally:
            os.close(fd)

    def get(self, slot: int) -> int:
        return int(struct.unpack_from("Q", self._map, slot * 8)[0])

    def set(self, slot: int, value: int) -> None:
        struct.pack_into("Q", self._map, slot * 8, value)


def build_store(
    recipe: Recipe, base: DistrictStore | None = None, limits: Limits | None = None, beside: int = 0
) -> DistrictStore:
    """A district from its recipe: a generator spec, or a scenario (merged onto `base` if asked).

    With `limits`, a district larger than they allow is refused (a generated base before it is generated),
    and so is one that takes the persons of every district over `max_total_students`, counting `beside`
    persons in the others. Without, the recipe is one a server already took (replayed from the log):
    checked against its schema with the default limits' depth, never refused for its size.
    """
    if limits is not None:
        sizes = recipe["scenario"].get("base") if isinstance(recipe.get("scenario"), dict) else recipe.get("spec")
        if isinstance(sizes, dict):
            students = _size(sizes, "students", DEFAULT_STUDENTS)
            limits.check_district(students, _size(sizes, "schools", DEFAULT_SCHOOLS))
            limits.check_total(beside, students)
    if "scenario" in recipe:
        store = scenario.build_store(recipe["scenario"], base if recipe.get("merge") else None, limits or _REPLAYED)
    else:
        spec = dict(recipe["spec"])
        store = DistrictStore(DistrictSpec(**{**spec, "today": dt.date.fromisoformat(spec["today"])}))
    if limits is not None:
        _check_size(store, limits, beside)
    return store


def scenario_recipe(
    text: bytes, source: str, cache: ScenarioCache, limits: Limits, beside: int = 0, file: bool = False
) -> tuple[Recipe, DistrictStore]:
    """A scenario's recipe and district from its text (YAML or JSON; a `file`'s must be UTF-8, a body's is
    read as HTTP reads it), within `limits`, counting `beside` persons in the other districts: parsed and
    built once per `cache`, each load a fork of it (its size checked again every time: the other districts
    may have grown meanwhile)."""

    def build() -> tuple[dict[str, Any], DistrictStore]:
        data = scenario.parse_text(text if file else text.decode("utf-8", "replace"), source, limits)
        return data, build_store({"scenario": data}, limits=limits, beside=beside)

    if file:  # refused before the cache: a body of the same bytes (read leniently) may be kept there
        scenario.utf8(text, source)
    data, store = cache.load(text, limits, build)
    _check_size(store, limits, beside)
    return {"scenario": data, "merge": False}, store


def _check_size(store: DistrictStore, limits: Limits, beside: int) -> None:
    persons = len(store.all_students())
    limits.check_district(persons, len(store.schools().records))
    limits.check_total(beside, persons)


# A logged scenario passed its server's checks: replayed, only its shape matters (the limits a server was
# given may be above the defaults, and every worker must apply what the first one took).
_REPLAYED = Limits(max_field_chars=2**62, max_body_depth=2**62)


def _size(sizes: dict[str, Any], name: str, default: int) -> int:
    """A size as given (or its default); a value of the wrong type is left to the scenario's schema check."""
    value = sizes.get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


EMPTY_RECIPE: Recipe = {"scenario": {}}  # a district of nothing: what a removed tenant's addition is replayed as


def _replaces(recipe: Any) -> bool:
    """True for a recipe whose district does not build on the one it replaces (anything but a merge)."""
    return isinstance(recipe, dict) and not recipe.get("merge")


def spec_recipe(spec: DistrictSpec) -> Recipe:
    return {
        "spec": {"seed": spec.seed, "students": spec.students, "schools": spec.schools, "today": spec.today.isoformat()}
    }


def replay(registry: Registry, tenant: str, op: str, args: list[Any]) -> None:
    """Apply one logged operation without logging it again."""
    with replay_mode():
        if op == "add_tenant":
            if tenant in registry.tenants():  # an earlier tenant of that name whose removal the log dropped
                registry.remove_tenant(tenant)
            registry.add_tenant(tenant, build_store(args[0]), args[0])
        elif op == "replace_store":
            registry.replace_store(tenant, build_store(args[0], registry.store(tenant)), args[0])
        elif op == "remove_tenant":
            registry.remove_tenant(tenant)
        else:
            getattr(registry.store(tenant), op)(*args)


class ChangeLog:
    """The SQLite file and lock file that worker processes share."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._thread_lock = threading.RLock()
        self.seen = 0
        with sqlite3.connect(self.path) as conn:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table: pages compaction frees go back
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
        self.counters = Counters(self.path.with_suffix(".counters"))

    def connection(self) -> sqlite3.Connection:
        """One connection per thread, opened lazily (so also after a fork)."""
        conn, pid = getattr(self._local, "conn", None), getattr(self._local, "pid", None)
        if conn is None or pid != os.getpid():  # a connection never crosses a fork
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the change lock across processes (flock) and threads; re-entrant within a thread."""
        with self._thread_lock:
            if getattr(self._local, "depth", 0):
                self._local.depth += 1
                try:
                    yield
                finally:
                    self._local.depth -= 1
                return
            with open(self.path.with_suffix(".lock"), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._local.depth = 1
                try:
                    yield
                finally:
                    self._local.depth = 0
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, tenant: str, op: str, args: list[Any]) -> None:
        """Log one operation (called under `exclusive()`), dropping those of `tenant` it makes moot.

        A district replaced by a recipe that does not build on it (a reset, a scenario that is no merge)
        makes every operation on it since the tenant was added moot, and a removed tenant every one since
        too: they go, so the log holds what the districts are now, not every change ever made. A worker
        that had not read them yet replays the replacement (or the removal) all the same.
        """
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute("INSERT INTO ops (tenant, op, args) VALUES (?, ?, ?)", (tenant, op, json.dumps(args)))
            seq = int(cursor.lastrowid or 0)
            compacted = False
            if op == "add_tenant":  # replayed over whatever a worker still holds of an earlier tenant of that name
                compacted = self._drop_moot(conn, tenant, seq, since=0)
            elif op == "remove_tenant" or (op == "replace_store" and args and _replaces(args[0])):
                compacted = self._drop_moot(conn, tenant, seq, removed=op == "remove_tenant")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if compacted:
            conn.execute("PRAGMA incremental_vacuum")
        self.seen = seq or self.seen
        self.counters.set(Counters.LATEST_OP, self.seen)

    @staticmethod
    def _drop_moot(
        conn: sqlite3.Connection, tenant: str, seq: int, removed: bool = False, since: int | None = None
    ) -> bool:
        """Delete `tenant`'s operations after `since` (default: its latest addition) and before `seq`; True if any went."""
        if since is None:
            (since,) = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM ops WHERE tenant = ? AND seq < ? AND op = 'add_tenant'",
                (tenant, seq),
            ).fetchone()
        gone = conn.execute("DELETE FROM ops WHERE tenant = ? AND seq > ? AND seq < ?", (tenant, since, seq)).rowcount
        if removed and since:  # a worker that never built the removed district builds an empty one, not its recipe
            gone += conn.execute(
                "UPDATE ops SET args = ? WHERE seq = ? AND op = 'add_tenant'", (json.dumps([EMPTY_RECIPE]), since)
            ).rowcount
        return gone > 0

    def catch_up(self, registry: Registry) -> None:
        """Replay every operation this process has not applied yet (nothing to ask when none was logged since)."""
        if self.counters.get(Counters.LATEST_OP) <= self.seen:
            return
        conn = self.connection()
        latest = conn.execute("SELECT max(seq) FROM ops").fetchone()[0] or 0
        if latest <= self.seen:
            return
        with self._thread_lock:
            for seq, tenant, op, args in conn.execute(
                "SELECT seq, tenant, op, args FROM ops WHERE seq > ? ORDER BY seq", (self.seen,)
            ):
                replay(registry, tenant, op, json.loads(args))
                self.seen = seq
            heap.settle()


class SharedFaults:
    """FaultBook's interface over the shared file: counters are shared, so 'the 3rd call' is global."""

    def __init__(self, log: ChangeLog) -> None:
        self.log = log

    def add(self, body: Any) -> FaultRule:
        with self.log.exclusive():
            conn = self.log.connection()
            rule_id = (conn.execute("SELECT max(rule_id) FROM faults").fetchone()[0] or 0) + 1
            rule = parse_rule(rule_id, body)
            conn.execute("INSERT INTO faults (rule_id, body) VALUES (?, ?)", (rule_id, json.dumps(body)))
            self._count()
            return rule

    def remove(self, rule_id: int) -> bool:
        return self.take(rule_id) is not None

    def take(self, rule_id: int) -> FaultRule | None:
        with self.log.exclusive():
            rule = next((r for r in self.rules() if r.rule_id == rule_id), None)
            self.log.connection().execute("DELETE FROM faults WHERE rule_id = ?", (rule_id,))
            self._count()
            return rule

    def clear(self) -> list[FaultRule]:
        with self.log.exclusive():
            removed = self.rules()
            self.log.connection().execute("DELETE FROM faults")
            self._count()
            return removed

    def _count(self) -> None:
        """Publish how many rules there are (under the lock), so a request with none asks nothing."""
        count = self.log.connection().execute("SELECT count(*) FROM faults").fetchone()[0]
        self.log.counters.set(Counters.FAULT_RULES, int(count))

    def record_changes(self, rule_id: int, changes: list[dict[str, Any]]) -> None:
        with self.log.exclusive():
            conn = self.log.connection()
            row = conn.execute("SELECT changes FROM faults WHERE rule_id = ?", (rule_id,)).fetchone()
            if row is not None:
                merged = json.dumps([*json.loads(row[0]), *changes])
                conn.execute("UPDATE faults SET changes = ? WHERE rule_id = ?", (merged, rule_id))

    def rules(self) -> list[FaultRule]:
        rows = (
            self.log.connection()
            .execute("SELECT rule_id, body, calls, fired, changes FROM faults ORDER BY rule_id")
            .fetchall()
        )
        out = []
        for rule_id, body, calls, fired, changes in rows:
            rule = rule_from(rule_id, json.loads(body))
            rule.calls, rule.fired, rule.changes = calls, fired, json.loads(changes)
            out.append(rule)
        return out

    def armed(self) -> bool:
        return bool(self.log.counters.get(Counters.FAULT_RULES))

    def firing(
        self, path: str, method: str, tenant: str | None, query: Mapping[str, list[str]], client: str | None
    ) -> list[FaultRule]:
        if not self.log.counters.get(Counters.FAULT_RULES):
            return []
        conn = self.log.connection()
        with self.log.exclusive():
            matched = [r for r in self.rules() if r.matches(path, method, tenant, query, client)]
            fired = [r for r in matched if r.should_fire()]  # counts calls and firings on the loaded rules
            conn.executemany(
                "UPDATE faults SET calls = ?, fired = ? WHERE rule_id = ?",
                [(r.calls, r.fired, r.rule_id) for r in matched],
            )
            return fired


class SharedJournal:
    """The journal (`journal.Requests`) across worker processes, keeping the latest `limit` entries as Journal does.

    A worker appends each request to a file of its own (one `write` of one JSON line, before the answer
    is sent), so recording takes no lock another worker holds and a killed worker loses nothing it
    answered. Whoever reads or clears the journal first moves every worker's new lines into the shared
    `journal` table (under the change lock, in time order, each line once: `journal_files` keeps how far
    each file was read), so a read sees every request answered before it, whichever worker answered it.
    A worker also moves its own lines once its file holds `flush_bytes`, and empties the file, so no file
    grows past that however long nobody reads.
    """

    def __init__(self, log: ChangeLog, limit: int = 10_000, flush_bytes: int = JOURNAL_FLUSH_BYTES) -> None:
        self.log, self.limit, self.flush_bytes = log, limit, flush_bytes
        self._prefix = f"{log.path.stem}.journal-"
        self._lock = threading.Lock()  # this process's appends against its own flush (which empties the file)
        self._fd, self._pid, self._written, self._file_name = -1, 0, 0, ""

    def _own_file(self) -> int:
        """This process's file, opened on its first record (so after a fork: every worker its own)."""
        if self._pid != os.getpid():
            name = f"{self._prefix}{os.getpid()}-{secrets.token_hex(4)}"  # two apps in one process: two files
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd, self._file_name = os.open(self.log.path.parent / name, flags, 0o600), name
            self._pid, self._written = os.getpid(), 0
        return self._fd

    def record(
        self, time: float, method: str, path: str, query: str, client: str | None, tenant: str | None, status: int
    ) -> None:
        line = orjson.dumps([time, method, path, query, client, tenant, status]) + b"\n"
        with self._lock:
            fd = self._own_file()
            view = memoryview(line)
            try:
                while view:  # a regular file takes the whole line at once; a short write is finished, not dropped
                    view = view[os.write(fd, view) :]
            except OSError:  # the disk is full: no half line stays (the next line would follow it, unreadable)
                os.ftruncate(fd, self._written)  # the file held `_written` bytes, all of them this worker's
                raise
            self._written += len(line)
            if self._written >= self.flush_bytes:
                try:
                    self._flush(fd)
                except (OSError, sqlite3.Error) as exc:  # the line is written: the request is answered, and journaled
                    logger.warning("journal: %s kept its lines (%s); moved at a later request", self._file_name, exc)

    def _flush(self, fd: int) -> None:
        """Move every line into the table and empty this worker's file (called under `self._lock`)."""
        with self.log.exclusive():
            self._move_lines()
            conn = self.log.connection()
            conn.execute("UPDATE journal_files SET offset = 0 WHERE name = ?", (self._file_name,))
            # Emptied only once its offset is 0: a failed update leaves the file and its offset as they were
            # (emptied first, the offset would skip the next lines, then read from the middle of one).
            os.ftruncate(fd, 0)
        self._written = 0

    def _move_lines(self) -> None:
        """Move every worker's unread lines into the table, oldest first, and drop the oldest rows past `limit`.

        Called under `ChangeLog.exclusive()`. Only whole lines are read (a line being written is left for
        the next read); the file of a worker that has ended is removed once read to its end.
        """
        conn = self.log.connection()
        offsets: dict[str, int] = dict(conn.execute("SELECT name, offset FROM journal_files").fetchall())
        rows: list[tuple[float, str, int, list[Any]]] = []
        read_to: dict[str, int] = {}
        ended: list[Path] = []
        for path in sorted(self.log.path.parent.glob(f"{self._prefix}*")):
            start = offsets.get(path.name, 0)
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
            end = data.rfind(b"\n") + 1
            for n, line in enumerate(data[:end].splitlines()):
                entry = orjson.loads(line)
                rows.append((float(entry[0]), path.name, n, entry))
            read_to[path.name] = start + end
            if not _alive(_pid_of(path.name, self._prefix)):
                ended.append(path)
        rows.sort(key=lambda row: row[:3])  # by time; lines of one file at the same time in their order
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO journal (time, method, path, query, client, tenant, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [row[3] for row in rows],
            )
            conn.executemany(
                "INSERT INTO journal_files (name, offset) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET offset = excluded.offset",
                list(read_to.items()),
            )
            conn.execute(
                "DELETE FROM journal WHERE seq <= (SELECT coalesce(max(seq), 0) FROM journal) - ?", (self.limit,)
            )
            conn.executemany("DELETE FROM journal_files WHERE name = ?", [(path.name,) for path in ended])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for path in ended:
            path.unlink(missing_ok=True)

    def clear(self, tenant: str | None = None) -> None:
        with self.log.exclusive():
            self._move_lines()  # what was answered before the clear goes with it
            if tenant is None:
                self.log.connection().execute("DELETE FROM journal")
            else:
                self.log.connection().execute("DELETE FROM journal WHERE tenant = ?", (tenant,))

    def entries(self, filters: Mapping[str, str]) -> list[Entry]:
        check_filters(filters)
        with self.log.exclusive():
            self._move_lines()
            rows = self.log.connection().execute(
                "SELECT seq, time, method, path, query, client, tenant, status FROM journal ORDER BY seq"
            )
            return matching([Entry(*row) for row in rows], filters)


def _pid_of(name: str, prefix: str) -> int:
    return int(name.removeprefix(prefix).split("-", 1)[0])


def _alive(pid: int) -> bool:
    """True while a process `pid` exists (a worker whose journal file may still grow)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
