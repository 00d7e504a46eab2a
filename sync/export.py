"""The Operoo state as JSON (its shape: sync/export.schema.json; docs/developers/sync.md), sorted for stable diffs."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from importlib import resources
from typing import Any

from mock_esd_sync.plan import group_sort_key
from mock_esd_sync.store import load_state


def export_state(conn: sqlite3.Connection) -> dict[str, Any]:
    """Students (archived too), groups with sorted members, contacts with their links' permissions."""
    state = load_state(conn)
    students = sorted(state.students.values(), key=lambda s: s.operoo_id)
    contacts = sorted(state.contacts.values(), key=lambda c: c.contact_id)
    return {
        "students": [
            {
                "operooId": s.operoo_id,
                "personId": s.person_id,
                "esdId": s.esd_id,
                "status": s.status,
                "schoolId": s.school_id,
                "archived": bool(s.archived),  # SQLite gives 0/1
            }
            for s in students
        ],
        "groups": [
            {"name": name, "schoolId": school, "members": sorted(state.groups[(name, school)])}
            for name, school in sorted(state.groups, key=group_sort_key)
        ],
        "contacts": [
            {
                "contactId": c.contact_id,
                "archived": bool(c.archived),
                "students": [{"operooId": k, "permission": v} for k, v in sorted(c.links.items())],
            }
            for c in contacts
        ],
    }


def export_schema() -> dict[str, Any]:
    """The JSON Schema of `export_state`'s output (sync/export.schema.json, shipped with the package)."""
    return json.loads(resources.files("mock_esd_sync").joinpath("export.schema.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def group_sizes(conn: sqlite3.Connection) -> list[tuple[str, str | None, int]]:
    """(group, school, member count) for every group, district groups first."""
    sizes: dict[tuple[str, str | None], int] = defaultdict(int)
    for name, school in conn.execute("SELECT name, school_id FROM groups_"):
        sizes[(name, school or None)] += 0
    for name, school, count in conn.execute(
        "SELECT g.name, g.school_id, count(*) FROM memberships m JOIN groups_ g USING (group_id) GROUP BY g.group_id"
    ):
        sizes[(name, school or None)] = count
    return [(n, s, sizes[(n, s)]) for n, s in sorted(sizes, key=group_sort_key)]
