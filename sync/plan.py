"""The plan: the difference between the Operoo state the rules ask for and the one stored, as data.

`compute_plan` is pure and its output is frozen and sorted, so two runs on the same inputs give the
same plan, a plan can be printed for `--dry-run`, and applying it then planning again gives nothing.
It holds only what Operoo users see change: the eSD mirror's rows go from the run to `store.apply_plan`
on their own, and an import-linter contract keeps this module from the reader, the mirror, the client and
the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import compress
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from mock_esd_sync import vocabulary as o
from mock_esd_sync.errors import IdentityConflict
from mock_esd_sync.records import new_tuple
from mock_esd_sync.rulebook import ARCHIVED_GONE, ARCHIVED_UNMATCHED, ARCHIVED_UNREAD
from mock_esd_sync.rules import Decision, Desired
from mock_esd_sync.state import GroupKey, State, StoredContact, StoredStudent


class ChangeKind(StrEnum):
    """What a sync did to one student's record (a change may be several: re-keyed and updated)."""

    CREATED = "created"
    UPDATED = "updated"
    ARCHIVED = "archived"
    RESTORED = "restored"
    REKEYED = "rekeyed"


# ----- the plan --------------------------------------------------------------------------------


class StudentChange(NamedTuple):
    """One student's row before and after; the kind of change follows from the two.

    A named tuple, not a dataclass: a first sync builds one per student, and a frozen dataclass costs
    a call per field to build (100,000 of them took 0.1 s)."""

    person_id: int
    before: StoredStudent | None
    after: StoredStudent
    reason: str

    @property
    def kinds(self) -> tuple[ChangeKind, ...]:
        b, a = self.before, self.after
        if b is None:
            return (ChangeKind.CREATED,)
        kinds = []
        if a.archived and not b.archived:
            kinds.append(ChangeKind.ARCHIVED)
        if b.archived and not a.archived:
            kinds.append(ChangeKind.RESTORED)
        if b.operoo_id != a.operoo_id:
            kinds.append(ChangeKind.REKEYED)
        if b._replace(operoo_id=a.operoo_id, archived=a.archived) != a:
            kinds.append(ChangeKind.UPDATED)
        return tuple(kinds)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"personId": self.person_id, "operooId": self.after.operoo_id, "kinds": list(self.kinds)}
        if self.before is not None and self.before.operoo_id != self.after.operoo_id:
            out["previousOperooId"] = self.before.operoo_id
        out["reason"] = self.reason
        return out


class ContactChange(NamedTuple):
    contact_id: int
    before: StoredContact | None
    after: StoredContact


_BEFORE, _AFTER, _ARCHIVED = attrgetter("before"), attrgetter("after"), attrgetter("archived")

# Memberships by group, in group order, each group's Operoo IDs sorted: a first sync adds some 3.6 per
# student, and a (group, ID) pair apiece would cost 64 bytes where a member of a group's tuple costs 8.
Members = tuple[tuple[GroupKey, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Plan:
    students: tuple[StudentChange, ...] = ()
    buildings_upsert: tuple[tuple[str, str], ...] = ()
    buildings_remove: tuple[str, ...] = ()
    groups_create: tuple[GroupKey, ...] = ()
    groups_remove: tuple[GroupKey, ...] = ()
    members_add: Members = ()
    members_remove: Members = ()
    contacts: tuple[ContactChange, ...] = ()
    warnings: tuple[str, ...] = ()
    active_before: int = 0

    def is_empty(self) -> bool:
        """True when applying would change nothing that Operoo users see."""
        return not (
            self.students or self.buildings_upsert or self.buildings_remove or self.groups_create
            or self.groups_remove or self.members_add or self.members_remove or self.contacts
        )  # fmt: skip

    def counts(self) -> dict[str, int]:
        # In bulk where a first sync has ~10^5 of a kind (and a sync counts its plan two or three times):
        # a change with nothing before is a creation and nothing else, the others' kinds are counted one by one.
        befores = list(map(_BEFORE, self.students))
        kinds = [k for change in self.students if change.before is not None for k in change.kinds]
        counted = {kind.value: kinds.count(kind) for kind in ChangeKind}
        counted[ChangeKind.CREATED.value] += befores.count(None)
        archived = list(compress(self.contacts, map(_ARCHIVED, map(_AFTER, self.contacts))))
        return {
            **counted,
            "groupsCreated": len(self.groups_create),
            "groupsRemoved": len(self.groups_remove),
            "membershipsAdded": sum(len(members) for _, members in self.members_add),
            "membershipsRemoved": sum(len(members) for _, members in self.members_remove),
            "contactsChanged": len(self.contacts) - len(archived),
            "contactsArchived": sum(1 for c in archived if not (c.before and c.before.archived)),
        }


_GROUP_RANK = {
    name: rank
    for rank, name in enumerate(
        (o.ALL_DISTRICT_STUDENTS, *o.DISTRICT_STATUS_GROUP.values(), o.ALL_STUDENTS, *o.BUILDING_STATUS_GROUP.values())
    )
}


def group_sort_key(key: GroupKey) -> tuple[str, int, str]:
    """District groups first, then by school; "All ..." before the status groups, in option order."""
    name, school = key
    return (school or "", _GROUP_RANK.get(name, len(_GROUP_RANK)), name)


def compute_plan(desired: Desired, state: State) -> Plan:
    """What to change in `state` so that it becomes `desired` (R7 archive, R8 re-key by person id)."""
    students = _student_changes(desired, state)
    renamed = {
        c.before.operoo_id: c.after.operoo_id
        for c in (students if state.students else ())  # (nothing stored: nothing re-keyed)
        if c.before and c.before.operoo_id != c.after.operoo_id
    }
    current_groups = {key: frozenset(renamed.get(m, m) for m in members) for key, members in state.groups.items()}
    adds, removes = _member_changes(desired.groups, current_groups)
    return Plan(
        students=students,
        buildings_upsert=tuple(sorted((k, v) for k, v in desired.buildings.items() if state.buildings.get(k) != v)),
        buildings_remove=tuple(sorted(set(state.buildings) - set(desired.buildings))),
        groups_create=tuple(sorted(set(desired.groups) - set(state.groups), key=group_sort_key)),
        groups_remove=tuple(sorted(set(state.groups) - set(desired.groups), key=group_sort_key)),
        members_add=adds,
        members_remove=removes,
        contacts=_contact_changes(desired, state, renamed),
        warnings=desired.warnings,
        active_before=state.active,
    )


def _student_changes(desired: Desired, state: State) -> tuple[StudentChange, ...]:
    if not state.students:  # a first sync: every decision is a create, nothing to compare or archive
        created = [
            new_tuple(StudentChange, (d.student.person_id, None, d.student, d.reason))
            for d in desired.students.values()
        ]
        created.sort(key=_BY_ID)
        return tuple(created)
    changes: list[StudentChange] = []
    wanted = {d.person_id: d for d in desired.students.values()}
    _check_identities(wanted, state)
    for person_id, decision in wanted.items():
        before = state.students.get(person_id)
        after = decision.student
        if before != after:
            changes.append(StudentChange(person_id, before, after, decision.reason))
    for person_id, before in state.students.items():
        if person_id not in wanted and not before.archived:
            changes.append(
                StudentChange(person_id, before, before._replace(archived=True), _why_archived(before, desired))
            )
    changes.sort(key=_BY_ID)
    return tuple(changes)


_BY_ID = itemgetter(0)  # a change's person id or contact id


def _check_identities(wanted: Mapping[int, Decision], state: State) -> None:
    """An Operoo ID names one person for life: eSD giving a kept record's ID to another person is an error."""
    holders = {s.operoo_id: s.person_id for s in state.students.values() if s.person_id not in wanted}
    clashes = [(d.operoo_id, pid, holders[d.operoo_id]) for pid, d in sorted(wanted.items()) if d.operoo_id in holders]
    if clashes:
        raise IdentityConflict(
            "; ".join(
                f"eSD gives ID {oid} to person {pid}, but Operoo's record {oid} belongs to person {other}"
                for oid, pid, other in clashes[:5]
            )
            + " (an enrolledId must never be reused)"
        )


def _why_archived(before: StoredStudent, desired: Desired) -> str:
    if before.person_id not in desired.persons:
        unread = before.esd_id is None and not desired.custom_endpoints_read
        return ARCHIVED_UNREAD if unread else ARCHIVED_GONE
    return ARCHIVED_UNMATCHED


def _member_changes(
    desired: Mapping[GroupKey, tuple[str, ...]], current: Mapping[GroupKey, frozenset[str]]
) -> tuple[Members, Members]:
    """The memberships to add and remove, by group; `desired`'s members are sorted, so the additions are."""
    adds: list[tuple[GroupKey, tuple[str, ...]]] = []
    removes: list[tuple[GroupKey, tuple[str, ...]]] = []
    for key in sorted(set(desired) | set(current), key=group_sort_key):
        want, have = desired.get(key, ()), current.get(key, frozenset())
        if added := tuple(sorted(frozenset(want) - have)) if have else want:
            adds.append((key, added))
        if key in desired and have and (removed := tuple(sorted(have.difference(want)))):
            removes.append((key, removed))  # (a removed group takes its memberships with it)
    return tuple(adds), tuple(removes)


def _contact_changes(desired: Desired, state: State, renamed: Mapping[str, str]) -> tuple[ContactChange, ...]:
    if not state.contacts:  # a first sync: every contact is created
        created = [
            new_tuple(
                ContactChange,
                (cid, None, new_tuple(StoredContact, (cid, w.first_name, w.last_name, w.email, False, w.links))),
            )
            for cid, w in desired.contacts.items()
        ]
        created.sort(key=_BY_ID)
        return tuple(created)
    changes: list[ContactChange] = []
    for contact_id, want in desired.contacts.items():
        before = state.contacts.get(contact_id)
        # The desired links as they are, not a copy: neither is changed after (a first sync has ~10^5 of them).
        after = StoredContact(contact_id, want.first_name, want.last_name, want.email, False, want.links)
        if before is None or _renamed(before, renamed) != after:
            changes.append(ContactChange(contact_id, before, after))
    for contact_id, before in state.contacts.items():
        if contact_id not in desired.contacts and not before.archived:
            changes.append(ContactChange(contact_id, before, before._replace(archived=True, links={})))
    changes.sort(key=_BY_ID)
    return tuple(changes)


def _renamed(contact: StoredContact, renamed: Mapping[str, str]) -> StoredContact:
    if not renamed or not any(k in renamed for k in contact.links):
        return contact
    return contact._replace(links={renamed.get(k, k): v for k, v in contact.links.items()})
