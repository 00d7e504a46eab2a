"""Drift: students inserted or removed between two page requests, recorded so that one call undoes them.

Plain Python over a `DistrictStore` and the `Registry`; every change goes through store operations,
so worker processes replay the drift and its undo from the shared change log.
"""

from __future__ import annotations

import copy
from typing import Any

from mock_esd.district.store import DistrictStore
from mock_esd.district.tenants import Registry
from mock_esd.errors import Conflict, EsdError, NotFound

Change = dict[str, Any]  # {"tenant", "inserted": id, "lastModified"} or {"tenant", "removed": id, "record", ...}


def apply(store: DistrictStore, tenant: str, insert: int, remove: int, operoo: bool) -> list[Change]:
    """Insert then remove students on the listing a client is reading; the changes, for undoing them."""
    changes: list[Change] = []
    for _ in range(insert):
        record = store.submit_application() if operoo else store.enroll(min(store.school_ids()))
        changes.append({"tenant": tenant, "inserted": record["id"], "lastModified": record["lastModified"]})
    view = store.operoo_students() if operoo else store.students()
    for record in list(view.records[:remove]):
        links = [
            [contact["id"], index, link]
            for contact in store.all_contacts()
            for index, link in enumerate(contact["students"])
            if link["studentId"] == record["id"]
        ]
        accepted = record["id"] in store.recently_accepted()
        removed = copy.deepcopy(record)
        store.delete_student(record["id"])
        changes.append({"tenant": tenant, "removed": record["id"], "record": removed, "recentlyAccepted": accepted,
                        "links": copy.deepcopy(links)})  # fmt: skip
    return changes


def revert(registry: Registry, changes: list[Change]) -> dict[str, list[Any]]:
    """Undo changes, newest first: delete what was inserted, put back what was removed (with its contact links).

    A change the district has moved on from (the inserted student edited since, the removed id taken
    again, the tenant gone or reset) is skipped and said so, never forced.
    """
    done: dict[str, list[Any]] = {"deleted": [], "restored": [], "skipped": []}
    for change in reversed(changes):
        try:
            store = registry.store(change["tenant"])
            if "inserted" in change:
                _delete_inserted(store, change)
                done["deleted"].append(change["inserted"])
            else:
                store.restore_student(change["record"], change["recentlyAccepted"], change["links"])
                done["restored"].append(change["removed"])
        except EsdError as exc:
            done["skipped"].append(f"tenant {change['tenant']}: {exc.detail}")
    return done


def _delete_inserted(store: DistrictStore, change: Change) -> None:
    person_id = change["inserted"]
    try:
        person = store.get_person(person_id)
    except NotFound:
        raise Conflict(f"student {person_id}, inserted by the drift, is gone already") from None
    if person["lastModified"] != change["lastModified"]:
        raise Conflict(f"student {person_id}, inserted by the drift, changed since; left as it is")
    store.delete_student(person_id)
