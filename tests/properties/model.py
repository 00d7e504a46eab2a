"""An independent, deliberately simple statement of R1-R9: which Operoo ID and which groups.

Written from the rules alone (docs/rules.md), with plain sets and comprehensions and its own literal strings,
sharing no code with `sync/`: if the sync core and this model agree on random districts, it is not
because they share a mistake.
"""

from __future__ import annotations

from typing import Any

from mock_esd.generator import District

Key = tuple[str, str | None]
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


def model(district: District, settings: dict[str, Any]) -> tuple[dict[int, str], dict[Key, set[str]]]:
    """(person id -> Operoo ID, group -> members) that the rules ask for."""
    selected = {school: set(options) for school, options in settings["schools"].items() if options}
    standard = [p for p in district.students if p["enrolledId"] is not None]
    operoo = [p for p in district.students if p["enrolledId"] is None or p["id"] in district.recently_accepted]
    building = {
        p["id"]: (p["enrolledId"], AS_OPEROO[p["studentStatus"]], p["schoolId"])
        for p in standard
        if p["schoolId"] in selected and AS_OPEROO.get(p["studentStatus"]) in selected[p["schoolId"]]
        and (p["studentStatus"] != "Pre-Registered" or p["enrollmentDate"])
    }  # fmt: skip
    custom = {
        p["id"]: (f"student-operoo-{p['id']}", "Pre-Enrolled", p["schoolId"])
        for p in operoo
        if settings["custom_endpoints"] and p["enrolledId"] is None and p["studentStatus"] == "Pre-enrolled"
    }
    synced = {**custom, **building}
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


def r4_valid(settings: dict[str, Any]) -> bool:
    """R4: with custom endpoints off, no school selects both Enrolled and Pre-Enrolled."""
    return settings["custom_endpoints"] or all(
        not {"Enrolled", "Pre-Enrolled"} <= set(o) for o in settings["schools"].values()
    )
