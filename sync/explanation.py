"""Why a student is or is not synced: the rules replayed on what eSD said at the last sync."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

from mock_esd_sync.errors import StateError
from mock_esd_sync.records import Person
from mock_esd_sync.rulebook import ARCHIVED_GONE, ARCHIVED_UNMATCHED, ARCHIVED_UNREAD, R5, R6
from mock_esd_sync.rules import decide, groups_of
from mock_esd_sync.settings import parse_settings
from mock_esd_sync.state import StoredStudent
from mock_esd_sync.store import last_settings, load_mirror, load_state


class Explainer:
    """The last applied sync's settings, stored students and eSD mirror, loaded once to explain many students."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        raw_settings = last_settings(conn)
        if raw_settings is None:
            raise StateError("no sync has been applied to this database yet; run `mock-esd sync` first")
        self.settings = parse_settings(raw_settings, source="settings of the last sync")
        self.state = load_state(conn)
        self.mirror = load_mirror(conn)

    def find(self, ident: str) -> tuple[StoredStudent | None, Person | None]:
        """The stored student and eSD's last word on the person named by an Operoo ID, enrolledId or person id."""
        stored = _find_stored(self.state.students.values(), ident)
        mirror = _find_mirror(self.mirror.values(), ident, stored)
        if stored is None and mirror is None:
            raise StateError(
                f"no student {ident!r}: not an Operoo ID, eSD enrolledId or person id seen by the last sync"
            )
        return stored, mirror

    def everyone(self) -> Iterator[tuple[StoredStudent | None, Person | None]]:
        """Every person the last sync saw or Operoo keeps, by person id."""
        for person_id in sorted(self.state.students.keys() | self.mirror.keys()):
            yield self.state.students.get(person_id), self.mirror.get(person_id)

    def lines(self, stored: StoredStudent | None, mirror: Person | None) -> list[str]:
        """Why the person is or is not synced, rule by rule."""
        lines = []
        if mirror is None and stored is not None and stored.esd_id is None and not self.settings.custom_endpoints:
            lines.append(
                f"person {stored.person_id} ({stored.first_name} {stored.last_name}) was not read at the last sync: "
                "custom endpoints are off, and a student without an enrolledId is listed only on /v1/operoo/students"
            )
            lines.append(ARCHIVED_UNREAD)
        elif mirror is None:
            assert stored is not None
            lines.append(
                f"person {stored.person_id} ({stored.first_name} {stored.last_name}) was not in eSD's listings at the last sync"
            )
            lines.append(ARCHIVED_GONE)
        else:
            r = mirror.record
            lines.append(
                f"person {mirror.person_id} ({r.first_name} {r.last_name}): enrolledId {_show(r.enrolled_id)}, "
                f"studentStatus {r.status}, schoolId {_show(r.school_id)}; listed on {_listed_on(mirror)}"
            )
            trace: list[str] = []
            decision, _ = decide(mirror, self.settings, trace)
            lines += [f"  {line}" for line in trace]
            if decision is None:
                lines.append("=> not synced by any rule")
                if stored is not None:
                    lines.append(ARCHIVED_UNMATCHED)
            else:
                groups = ", ".join(f"{n} ({s})" if s else n for n, s in groups_of(decision, self.settings.selected))
                lines.append(f"=> synced as {decision.operoo_id} ({decision.status}); groups ({R5}, {R6}): {groups}")
        if stored is not None:
            state_word = "archived" if stored.archived else "active"
            lines.append(f"Operoo record: {stored.operoo_id}, {stored.status}, {state_word}")
        return lines


def explain(conn: sqlite3.Connection, ident: str) -> list[str]:
    """Lines explaining the student named by an Operoo ID, an eSD enrolledId or a person id."""
    explainer = Explainer(conn)
    return explainer.lines(*explainer.find(ident))


def _listed_on(person: Person) -> str:
    listed = (("/v1/students", person.standard), ("/v1/operoo/students", person.operoo))
    return ", ".join(endpoint for endpoint, record in listed if record is not None)


def _show(value: str | None) -> str:
    return "null" if value is None else value


def _find_stored(students: Iterable[StoredStudent], ident: str) -> StoredStudent | None:
    rows = list(students)
    for field in ("operoo_id", "esd_id", "person_id"):
        found = [s for s in rows if str(getattr(s, field)) == ident]
        if found:
            return found[0]
    return None


def _find_mirror(rows: Iterable[Person], ident: str, stored: StoredStudent | None) -> Person | None:
    mirror = list(rows)
    if stored is not None:
        return next((m for m in mirror if m.person_id == stored.person_id), None)
    return next((m for m in mirror if m.record.enrolled_id == ident or str(m.person_id) == ident), None)
