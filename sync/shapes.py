"""What the rules decide over: eSD's records joined by person and by contact, and the scope of a partial plan.

Plain data and pure functions, no I/O. The rules and the plan read these shapes; the reader
(`reader.RecordReader`) makes them, packed, from what eSD sends, and the mirror's digest diff
(`mirror.mirror_changes`) says which persons and contacts a re-sync decides again (`Scope`).

May import: `records`, `errors` and the contracts' vocabulary. Never the reader, the mirror, the client
or the store: `rules` and `plan` import this module, and import-linter keeps them from reaching I/O.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_esd_contracts import endpoints
from mock_esd_sync.records import Contact, Person, Snapshot

# The listings a sync reads, by path (the contract's table: mock_esd_contracts.endpoints).
SCHOOLS, STUDENTS, CONTACTS = endpoints.SCHOOLS.path, endpoints.STUDENTS.path, endpoints.CONTACTS.path
OPEROO_STUDENTS, OPEROO_CONTACTS = endpoints.OPEROO_STUDENTS.path, endpoints.OPEROO_CONTACTS.path


@dataclass(frozen=True)
class EsdRecords:
    """A snapshot's records joined by id: each person's two student records, each contact's two contact records.

    The reader's `ReadRecords` are these too, with each record's JSON and digest beside them; their
    `persons` and `contacts` then parse a record when it is first looked up."""

    persons: Mapping[int, Person]  # by person id, in id order
    contacts: Mapping[int, tuple[Contact | None, Contact | None]]  # by contact id: (/v1/contacts, /v1/operoo/contacts)
    schools: Mapping[str, str]  # school id -> name
    custom_endpoints_read: bool


@dataclass(frozen=True)
class Scope:
    """The persons and contacts a plan decides again; `known` gives the Operoo ID of each synced person a
    contact in scope links to that is not itself in scope (unchanged, so as stored)."""

    persons: frozenset[int]
    contacts: frozenset[int]
    known: Mapping[int, str] = field(default_factory=dict)


def esd_records(snapshot: Snapshot) -> EsdRecords:
    """Join a snapshot's listings by person id and by contact id."""
    standard = {s.person_id: s for s in snapshot.students}
    operoo = {s.person_id: s for s in snapshot.operoo_students or ()}
    persons = {pid: Person(pid, standard.get(pid), operoo.get(pid)) for pid in sorted(standard.keys() | operoo.keys())}
    contacts: dict[int, tuple[Contact | None, Contact | None]] = {c.contact_id: (c, None) for c in snapshot.contacts}
    for c in snapshot.operoo_contacts or ():
        contacts[c.contact_id] = (contacts.get(c.contact_id, (None, None))[0], c)
    return EsdRecords(
        persons, contacts, {s.school_id: s.name for s in snapshot.schools}, snapshot.operoo_students is not None
    )


def contacts_linking(
    records: EsdRecords, persons: set[int] | frozenset[int], links: list[tuple[Any, Any]] | None = None
) -> set[int]:
    """The contacts whose records (in either listing) link to any of `persons`. `links`, when given, are
    the (person id, contact id) of every link as read, unparsed (`ReadRecords.links`): then no contact
    record need be parsed."""
    if links is not None:
        try:
            return {cid for pid, cid in links if pid in persons}
        except TypeError:  # a studentId that is an array or an object: its contact, parsed, says where (RecordError)
            for cid in sorted({cid for pid, cid in links if not isinstance(pid, Hashable)}):
                records.contacts[cid]  # (parsed: its RecordError is the one to raise)
            raise
    return {
        cid
        for cid, pair in records.contacts.items()
        if any(link.person_id in persons for c in pair if c is not None for link in c.links)
    }


def linked_persons(records: EsdRecords, contacts: set[int] | frozenset[int]) -> set[int]:
    """The persons the records of `contacts` link to."""
    return {
        link.person_id
        for cid in contacts
        for c in records.contacts.get(cid, (None, None))
        if c is not None
        for link in c.links
    }
