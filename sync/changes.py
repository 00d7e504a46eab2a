"""Which of eSD's records changed since the last applied sync, and so which persons and contacts to decide again.

The store keeps a digest of each person's records (from both student listings) and of each contact's
(from both contact listings) as eSD gave them at the last applied sync. A person whose digest is the
same, under the same settings, gets the same decision as then, and the state already holds it: only
the others are decided again (plus the few whose rows they touch, see `run`). Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from sync.records import Contact, Person, Snapshot
from sync.state import encode_person

Digests = Mapping[int, int]  # person or contact id -> 64-bit digest of its records


@dataclass(frozen=True)
class EsdRecords:
    """A snapshot's records joined by id: each person's two student records, each contact's two contact records."""

    persons: Mapping[int, Person]  # by person id, in id order
    contacts: Mapping[int, tuple[Contact | None, Contact | None]]  # by contact id: (/v1/contacts, /v1/operoo/contacts)
    schools: Mapping[str, str]  # school id -> name
    custom_endpoints_read: bool


class PersonRows:
    """(person id, digest, records as JSON) rows, packed: two 8-byte integers and the JSON's bytes in shared
    buffers, where a tuple of three objects costs ~130 bytes beside its JSON (a first sync holds one a
    person until it is applied). Iterating gives the rows as tuples; equal rows make equal PersonRows."""

    __slots__ = ("_bodies", "_ends", "_ids")

    def __init__(self, rows: Iterable[tuple[int, int, bytes]] = ()) -> None:
        self._ids, self._ends, self._bodies = array("q"), array("q"), bytearray()  # ids and digests alternate
        for person_id, digest, body in rows:
            self.append(person_id, digest, body)

    def append(self, person_id: int, digest: int, body: bytes) -> None:
        self._ids.append(person_id)
        self._ids.append(digest)
        self._bodies += body
        self._ends.append(len(self._bodies))

    def __len__(self) -> int:
        return len(self._ends)

    def ids(self) -> memoryview:
        """The person ids, without their bodies."""
        return memoryview(self._ids)[::2]

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        start, ids, bodies = 0, self._ids, memoryview(self._bodies)
        for n, end in enumerate(self._ends):
            yield ids[2 * n], ids[2 * n + 1], bytes(bodies[start:end])
            start = end

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PersonRows):
            return NotImplemented
        return (self._ids, self._ends, self._bodies) == (other._ids, other._ends, other._bodies)

    __hash__ = None  # type: ignore[assignment]  # mutable while it is built

    def __repr__(self) -> str:
        return f"PersonRows({list(self)!r})"


class ContactRows:
    """(contact id, digest) rows packed in one array: 16 bytes a row, where a tuple of two costs ~90."""

    __slots__ = ("_ids",)

    def __init__(self, rows: Iterable[tuple[int, int]] = ()) -> None:
        self._ids = array("q")
        for contact_id, digest in rows:
            self.append(contact_id, digest)

    def append(self, contact_id: int, digest: int) -> None:
        self._ids.append(contact_id)
        self._ids.append(digest)

    def __len__(self) -> int:
        return len(self._ids) // 2

    def ids(self) -> memoryview:
        """The contact ids."""
        return memoryview(self._ids)[::2]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        ids = iter(self._ids)
        return zip(ids, ids, strict=True)

    def __eq__(self, other: object) -> bool:
        return self._ids == other._ids if isinstance(other, ContactRows) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ContactRows({list(self)!r})"


@dataclass(frozen=True)
class MirrorChanges:
    """The rows of the eSD mirror a plan writes: each person's and contact's digest where it changed."""

    persons_put: PersonRows = field(default_factory=PersonRows)  # in id order
    persons_drop: tuple[int, ...] = ()
    contacts_put: ContactRows = field(default_factory=ContactRows)  # in id order
    contacts_drop: tuple[int, ...] = ()

    def is_empty(self) -> bool:
        return not (self.persons_put or self.persons_drop or self.contacts_put or self.contacts_drop)

    def changed_persons(self) -> set[int]:
        return set(self.persons_put.ids()) | set(self.persons_drop)

    def changed_contacts(self) -> set[int]:
        return set(self.contacts_put.ids()) | set(self.contacts_drop)


NO_MIRROR_CHANGES = MirrorChanges()


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


def digest(body: bytes) -> int:
    """A stable 64-bit digest (SQLite's INTEGER is signed)."""
    return int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "big", signed=True)


def _contact_row(c: Contact | None) -> tuple[Any, ...] | None:
    if c is None:
        return None
    links = [(k.person_id, k.relationship, k.priority) for k in c.links]
    return (c.first_name, c.last_name, c.email, c.do_not_contact, links)


def mirror_changes(records: EsdRecords, persons: Digests, contacts: Digests) -> MirrorChanges:
    """The mirror rows that differ from the stored digests `persons` and `contacts`."""
    put = PersonRows()
    for pid, person in records.persons.items():
        body = encode_person(person)
        d = digest(body)
        if persons.get(pid) != d:
            put.append(pid, d, body)
    contacts_put = ContactRows()
    for cid in sorted(records.contacts):
        first, second = records.contacts[cid]
        d = digest(orjson.dumps((cid, _contact_row(first), _contact_row(second))))
        if contacts.get(cid) != d:
            contacts_put.append(cid, d)
    return MirrorChanges(
        put,
        tuple(sorted(persons.keys() - records.persons.keys())),
        contacts_put,
        tuple(sorted(contacts.keys() - records.contacts.keys())),
    )


def contacts_linking(records: EsdRecords, persons: set[int] | frozenset[int]) -> set[int]:
    """The contacts whose records (in either listing) link to any of `persons`."""
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
