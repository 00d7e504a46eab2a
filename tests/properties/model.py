"""An independent, deliberately simple statement of R1-R9: which students and contacts Operoo holds, with
every stored field, and which groups.

Written from the rules alone (docs/rules.md), with plain sets and comprehensions and its own literal strings,
sharing no code with `sync/`: if the sync core and this model agree on random districts, it is not
because they share a mistake. `stored_*` read the Operoo database with plain SQL, not with the sync's reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from mock_esd.district.generator import District

Key = tuple[str, str | None]
# A student as Operoo stores it: (operooId, esdId, status, schoolId, firstName, lastName, archived).
StudentRow = tuple[str, str | None, str, str | None, str, str, bool]
# A contact as Operoo stores it: (firstName, lastName, email, archived, {operooId: permission}).
ContactRow = tuple[str, str, str | None, bool, dict[str, str]]
# Per contact id, the doNotContact each listing shows when the two disagree (otherwise the record's own).
Flags = Mapping[int, Mapping[str, bool]]
STANDARD_CONTACTS, OPEROO_CONTACTS = "/v1/contacts", "/v1/operoo/contacts"

AS_OPEROO = {"Enrolled": "Enrolled", "Pre-enrolled": "Pre-Enrolled", "Pre-Registered": "Future"}
DISTRICT = {
    "Enrolled": "All District Enrolled Students",
    "Pre-Enrolled": "All District Pre-Enrolled Students",
    "Future": "All District Future Students",
}
BUILDING = {
    "Enrolled": "All Enrolled Students",
    "Pre-Enrolled": "All Pre-Enrolled Students",
    "Future": "All Future Students",
}


def students(district: District, settings: dict[str, Any]) -> dict[int, StudentRow]:
    """Person id -> the active student record the rules ask for, every stored field."""
    selected = {school: set(options) for school, options in settings["schools"].items() if options}
    standard = [p for p in district.students if p["enrolledId"] is not None]
    operoo = [p for p in district.students if p["enrolledId"] is None or p["id"] in district.recently_accepted]
    building = {
        p["id"]: (p["enrolledId"], p["enrolledId"], AS_OPEROO[p["studentStatus"]], p)
        for p in standard
        if p["schoolId"] in selected and AS_OPEROO.get(p["studentStatus"]) in selected[p["schoolId"]]
        and (p["studentStatus"] != "Pre-Registered" or p["enrollmentDate"])
    }  # fmt: skip
    custom = {
        p["id"]: (f"student-operoo-{p['id']}", None, "Pre-Enrolled", p)
        for p in operoo
        if settings["custom_endpoints"] and p["enrolledId"] is None and p["studentStatus"] == "Pre-enrolled"
    }
    return {
        pid: (oid, esd_id, status, p["schoolId"], p["firstName"], p["lastName"], False)
        for pid, (oid, esd_id, status, p) in {**custom, **building}.items()
    }


def model(district: District, settings: dict[str, Any]) -> tuple[dict[int, str], dict[Key, set[str]]]:
    """(person id -> Operoo ID, group -> members) that the rules ask for."""
    selected = {school: set(options) for school, options in settings["schools"].items() if options}
    synced = {pid: (row[0], row[2], row[3]) for pid, row in students(district, settings).items()}
    groups: dict[Key, set[str]] = {("All District Students", None): {oid for oid, _, _ in synced.values()}}
    for status, name in DISTRICT.items():
        groups[(name, None)] = {oid for oid, st, _ in synced.values() if st == status}
    for school, options in selected.items():
        groups[("All Students", school)] = {oid for oid, st, sch in synced.values() if sch == school and st in options}
        for option in options:
            groups[(BUILDING[option], school)] = {
                oid for oid, st, sch in synced.values() if sch == school and st == option
            }
    return {pid: oid for pid, (oid, _, _) in synced.items()}, groups


def permission(link: dict[str, Any], settings: dict[str, Any]) -> str:
    """R9, from the settings' [contacts] table (defaults: relationship, Mother/Father/Guardian, priority 2)."""
    c = settings.get("contacts", {})
    if c.get("permission_source") == "priority":
        allowed = link["priority"] <= c.get("max_priority", 2)
    else:
        allowed = link["relationship"] in c.get("relationships", ["Mother", "Father", "Guardian"])
    return "View and Update" if allowed else "No Permission"


def contacts(district: District, settings: dict[str, Any], flags: Flags | None = None) -> dict[int, ContactRow]:
    """Contact id -> the active contact the rules ask for: not doNotContact on any listing read that shows
    it, linked to at least one synced student; its links to synced students, with R9's permission."""
    ids = {pid: row[0] for pid, row in students(district, settings).items()}
    visible = {STANDARD_CONTACTS: {p["id"] for p in district.students if p["enrolledId"] is not None}}
    if settings["custom_endpoints"]:
        visible[OPEROO_CONTACTS] = {
            p["id"] for p in district.students if p["enrolledId"] is None or p["id"] in district.recently_accepted
        }
    out: dict[int, ContactRow] = {}
    for c in district.contacts:
        shown_on = [path for path, persons in visible.items() if any(x["studentId"] in persons for x in c["students"])]
        if any((flags or {}).get(c["id"], {}).get(path, c["doNotContact"]) for path in shown_on):
            continue
        links = {ids[x["studentId"]]: permission(x, settings) for x in c["students"] if x["studentId"] in ids}
        if links:
            out[c["id"]] = (c["firstName"], c["lastName"], c["email"], False, links)
    return out


def after_sync(
    before: tuple[dict[int, StudentRow], dict[int, ContactRow]],
    wanted: tuple[dict[int, StudentRow], dict[int, ContactRow]],
) -> tuple[dict[int, StudentRow], dict[int, ContactRow]]:
    """The whole stored state after an applied sync (R7): what the rules ask for, and every record they no
    longer ask for archived as it last was (a contact without its links)."""
    students_before, contacts_before = before
    students_wanted, contacts_wanted = wanted
    archived = {pid: (*row[:6], True) for pid, row in students_before.items() if pid not in students_wanted}
    gone = {cid: (*row[:3], True, {}) for cid, row in contacts_before.items() if cid not in contacts_wanted}
    return {**archived, **students_wanted}, {**gone, **contacts_wanted}  # type: ignore[dict-item]


def r4_valid(settings: dict[str, Any]) -> bool:
    """R4: with custom endpoints off, no school selects both Enrolled and Pre-Enrolled."""
    return settings["custom_endpoints"] or all(
        not {"Enrolled", "Pre-Enrolled"} <= set(o) for o in settings["schools"].values()
    )


# ----- what the Operoo database holds, read with plain SQL ------------------------------------------------


def stored_students(conn: sqlite3.Connection) -> dict[int, StudentRow]:
    return {
        pid: (oid, esd_id, status, school or None, first, last, bool(archived))
        for pid, oid, esd_id, status, school, first, last, archived in conn.execute(
            "SELECT person_id, operoo_id, esd_id, status, school_id, first_name, last_name, archived FROM students"
        )
    }


def stored_contacts(conn: sqlite3.Connection) -> dict[int, ContactRow]:
    links: dict[int, dict[str, str]] = {}
    for cid, oid, perm in conn.execute(
        "SELECT l.contact_id, s.operoo_id, l.permission FROM contact_links l JOIN students s USING (record_id)"
    ):
        links.setdefault(cid, {})[oid] = perm
    return {
        cid: (first, last, email, bool(archived), links.get(cid, {}))
        for cid, first, last, email, archived in conn.execute(
            "SELECT contact_id, first_name, last_name, email, archived FROM contacts"
        )
    }
