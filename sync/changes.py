"""Which of eSD's records changed since the last applied sync, and so which persons and contacts to decide again.

Each record is read once, as it arrives (`RecordReader`): its JSON as eSD gave it is kept and digested,
and only then, if at all, parsed. The store keeps the digest of every record of the student and contact
listings as eSD gave it at the last applied sync. A person whose records (in both student listings) have
the same digests, under the same settings, gets the same decision as then, and the state already holds
it: only the others are decided again (plus the few whose rows they touch, see `run`), and only their
records are parsed. An unchanged record was parsed and checked whole by the sync that stored its digest.
Pure functions, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import xxhash

from contracts import vocabulary as esd
from sync.records import ENDPOINTS, Contact, Person, Snapshot, parse_contact, parse_school, parse_student

Digests = Mapping[int, int]  # person or contact id -> 64-bit digest of its records
# The mirror's row of a person: its id, its records on /v1/students and /v1/operoo/students as eSD gave them.
PersonRow = tuple[int, bytes | None, bytes | None]
SCHOOLS, STUDENTS, CONTACTS, OPEROO_STUDENTS, OPEROO_CONTACTS = (path for path, _ in ENDPOINTS)
_KEYS = dict(ENDPOINTS)
_PRE_REGISTERED = esd.Status.PRE_REGISTERED.value
T = TypeVar("T")


@dataclass(frozen=True)
class EsdRecords:
    """A snapshot's records joined by id: each person's two student records, each contact's two contact records.

    Read by a `RecordReader`, `raw` holds each record's JSON and digest; its `persons` and `contacts` then
    parse a record when it is first looked up (all of them up front when read with `parse=True`).
    """

    persons: Mapping[int, Person]  # by person id, in id order
    contacts: Mapping[int, tuple[Contact | None, Contact | None]]  # by contact id: (/v1/contacts, /v1/operoo/contacts)
    schools: Mapping[str, str]  # school id -> name
    custom_endpoints_read: bool
    raw: RawRecords | None = None


@dataclass(frozen=True)
class RawRecords:
    """What a re-sync needs to know of every record without parsing it: digests, and the scope's inputs."""

    digests: Mapping[str, Digests]  # by listing (the four of students and contacts): record id -> digest
    person_row: Callable[[int], PersonRow]  # a person's two student records as eSD gave them (the mirror's row)
    may_warn: frozenset[int]  # persons whose standard record is Pre-Registered without an enrollmentDate
    contacts_of: Mapping[int, list[int]] | None  # person id -> the contacts whose records link to it (not parsed)


@dataclass(frozen=True)
class MirrorChanges:
    """The rows of the eSD mirror a plan writes: each person's records where they changed, every digest."""

    persons_put: tuple[PersonRow, ...] = ()  # in id order
    persons_drop: tuple[int, ...] = ()
    contacts_put: tuple[int, ...] = ()  # contacts whose records changed
    contacts_drop: tuple[int, ...] = ()
    digests: Mapping[str, Digests] = field(default_factory=dict)  # every record's, by listing (RawRecords)

    def is_empty(self) -> bool:
        return not (self.persons_put or self.persons_drop or self.contacts_put or self.contacts_drop)

    def changed_persons(self) -> set[int]:
        return {row[0] for row in self.persons_put} | set(self.persons_drop)

    def changed_contacts(self) -> set[int]:
        return set(self.contacts_put) | set(self.contacts_drop)


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


# ----- reading records as they arrive ----------------------------------------------------------------


class _Listing:
    """One listing's records in reading order: each one's JSON and its digest, parsed records where parsed."""

    __slots__ = ("bodies", "digests", "parsed")

    def __init__(self) -> None:
        self.bodies: dict[Any, bytes] = {}
        self.digests: dict[Any, int] = {}
        self.parsed: dict[Any, Any] = {}

    def update(self, later: _Listing) -> None:
        self.bodies.update(later.bodies)
        self.digests.update(later.digests)
        self.parsed.update(later.parsed)


class RecordReader:
    """Reads each page's records as they arrive: keeps each record's JSON (`orjson.dumps` of what eSD sent,
    compact), notes what the scope needs (R3's undated Pre-Registered, each contact's links), and parses
    the record at once when `parse` (a first sync, `--full`, changed settings: everyone is decided) or when
    it is not even shaped well enough to be noted, so that RecordError names it as it arrives."""

    def __init__(self, custom_endpoints: bool, parse: bool) -> None:
        self.custom_endpoints, self.parse = custom_endpoints, parse
        self.listings: dict[str, _Listing] = {path: _Listing() for path, _ in ENDPOINTS[1:]}
        self.schools: list[Any] = []
        self.may_warn: set[int] = set()
        self.links: list[tuple[Any, Any]] = []  # (person id, contact id)

    def read(self, path: str, items: list[Any]) -> None:
        """Read one page's records (already checked whole by the client), in reading order."""
        if path == SCHOOLS:
            self.schools += [parse_school(item, path) for item in items]
            return
        listing, dumps, hashed, parse = self.listings[path], orjson.dumps, xxhash.xxh3_64_intdigest, self.parse
        contacts = path in (CONTACTS, OPEROO_CONTACTS)
        bodies, digests, parsed = listing.bodies, listing.digests, listing.parsed
        # A record's JSON is kept to parse it later, and a student's for the mirror (contacts have none there).
        keep = not (parse and contacts)
        parser = parse_contact if contacts else parse_student
        for item in items:
            ident = item.get("id")
            if parse or type(ident) is not int:
                parsed[ident] = parser(item, path)  # RecordError unless the id is an integer
            body = dumps(item)
            digests[ident] = hashed(body)
            if keep:  # a copy of its size: the bytes orjson returns hold a 4 KB buffer each (400 MB per 100,000)
                bodies[ident] = bytes(memoryview(body))
            if contacts and not parse:  # the scope's input (a whole plan has the parsed links)
                try:
                    self.links += [(link["studentId"], ident) for link in item["students"]]
                except (KeyError, TypeError):
                    parsed[ident] = parser(item, path)  # not a contact record: RecordError says why
            if path == STUDENTS and item.get("studentStatus") == _PRE_REGISTERED and not item.get("enrollmentDate"):
                self.may_warn.add(ident)

    def read_pages(self, pages: Mapping[str, list[bytes]]) -> None:
        """Read the pages the client kept as bytes; they come before any page of their listing read on arrival."""
        for path, bodies in pages.items():
            if not bodies:
                continue
            if path == SCHOOLS:
                later_schools, self.schools = self.schools, []
            else:
                later, self.listings[path] = self.listings[path], _Listing()
            for body in bodies:
                self.read(path, orjson.loads(body)[_KEYS[path]])
            if path == SCHOOLS:
                self.schools += later_schools
            else:
                self.listings[path].update(later)

    def records(self) -> EsdRecords:
        """The records read, joined by person and by contact, with each one's digest."""
        std, op = self.listings[STUDENTS], self.listings[OPEROO_STUDENTS]
        persons = _Persons(std, op)
        contacts = _Contacts(self.listings[CONTACTS], self.listings[OPEROO_CONTACTS])
        contacts_of: dict[int, list[int]] | None = None
        if not self.parse:
            contacts_of = defaultdict(list)
            for pid, cid in self.links:
                contacts_of[pid].append(cid)
        raw = RawRecords(
            {path: listing.digests for path, listing in self.listings.items()},
            persons.row,
            frozenset(self.may_warn),
            contacts_of,
        )
        schools = {s.school_id: s.name for s in self.schools}
        if self.parse:  # every record parsed: plain dicts, as `esd_records` joins a snapshot
            first, second = std.parsed, op.parsed
            persons_now = {pid: Person(pid, first.get(pid), second.get(pid)) for pid in persons}
            first, second = self.listings[CONTACTS].parsed, self.listings[OPEROO_CONTACTS].parsed
            contacts_now = {cid: (first.get(cid), second.get(cid)) for cid in contacts}
            return EsdRecords(persons_now, contacts_now, schools, self.custom_endpoints, raw)
        return EsdRecords(persons, contacts, schools, self.custom_endpoints, raw)


class _Joined(Mapping[int, T]):
    """Records of two listings joined by id, each parsed when first looked up."""

    def __init__(self, first: _Listing, second: _Listing, ids: list[int]) -> None:
        self.first, self.second, self.ids = first, second, ids

    def row(self, ident: int) -> PersonRow:
        """The id and records as eSD gave them (None for a listing without it): the bytes read, not a copy."""
        return ident, self.first.bodies.get(ident), self.second.bodies.get(ident)

    def __contains__(self, ident: object) -> bool:
        return ident in self.first.digests or ident in self.second.digests

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def _parsed(listing: _Listing, ident: int, path: str, parse: Callable[[Any, str], T]) -> T | None:
    record = listing.parsed.get(ident)
    if record is None:
        body = listing.bodies.get(ident)
        if body is None:
            return None
        record = listing.parsed[ident] = parse(orjson.loads(body), path)
    return record


class _Persons(_Joined[Person]):
    def __init__(self, standard: _Listing, operoo: _Listing) -> None:
        super().__init__(standard, operoo, sorted(standard.digests.keys() | operoo.digests.keys()))

    def __getitem__(self, pid: int) -> Person:
        if pid not in self:
            raise KeyError(pid)
        standard = _parsed(self.first, pid, STUDENTS, parse_student)
        return Person(pid, standard, _parsed(self.second, pid, OPEROO_STUDENTS, parse_student))


class _Contacts(_Joined[tuple[Contact | None, Contact | None]]):
    def __init__(self, standard: _Listing, operoo: _Listing) -> None:
        ids = [*standard.digests, *(cid for cid in operoo.digests if cid not in standard.digests)]
        super().__init__(standard, operoo, ids)

    def __getitem__(self, cid: int) -> tuple[Contact | None, Contact | None]:
        if cid not in self:
            raise KeyError(cid)
        return (
            _parsed(self.first, cid, CONTACTS, parse_contact),
            _parsed(self.second, cid, OPEROO_CONTACTS, parse_contact),
        )


# ----- what changed ----------------------------------------------------------------------------------


def mirror_changes(records: EsdRecords, stored: Mapping[str, Digests]) -> MirrorChanges:
    """The mirror rows that differ from the `stored` digests (by listing, as `RawRecords.digests`)."""
    raw = records.raw
    assert raw is not None, "records read by a RecordReader carry their digests"
    changed: dict[str, set[int]] = {}
    for path, digests in raw.digests.items():
        then = stored.get(path, {})
        changed[path] = {i for i, d in digests.items() if then.get(i) != d} | (then.keys() - digests.keys())
    persons = sorted(changed[STUDENTS] | changed[OPEROO_STUDENTS])
    contacts = sorted(changed[CONTACTS] | changed[OPEROO_CONTACTS])
    return MirrorChanges(
        tuple(raw.person_row(pid) for pid in persons if pid in records.persons),
        tuple(pid for pid in persons if pid not in records.persons),
        tuple(cid for cid in contacts if cid in records.contacts),
        tuple(cid for cid in contacts if cid not in records.contacts),
        raw.digests,
    )


def contacts_linking(records: EsdRecords, persons: set[int] | frozenset[int]) -> set[int]:
    """The contacts whose records (in either listing) link to any of `persons`."""
    index = records.raw.contacts_of if records.raw is not None else None
    if index is not None:
        return {cid for pid in persons for cid in index.get(pid, ())}
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


def decode_person(person_id: int, standard: bytes | None, operoo: bytes | None) -> Person:
    """The person whose records the mirror kept (a `PersonRow`)."""
    return Person(
        person_id,
        None if standard is None else parse_student(orjson.loads(standard), STUDENTS),
        None if operoo is None else parse_student(orjson.loads(operoo), OPEROO_STUDENTS),
    )
