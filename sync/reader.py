"""Reading eSD's records as they arrive: the sync's fast path, behind plain records.

Each record is read once, as its page arrives (`RecordReader`): its JSON as eSD gave it is kept and
digested, and only then, if at all, parsed. The store keeps the digest of every record of the student and
contact listings as eSD gave it at the last applied sync (`mirror`): a re-sync parses only the records of
the persons and contacts it decides again, when first looked up. An unchanged record was parsed and
checked whole by the sync that stored its digest, and a listing whose pages are all as they were is not
read record by record at all (`listing.Listing`).

The speed tricks live here and in `listing`, behind `ReadRecords` (plain `EsdRecords` to the rules), each
with its measured why: a listing's records packed (`listing.Listing`, its spool `listing.Spool`), records
read a page at a time, persons made as tuples at once.

May import: `listing`, `shapes`, `records`, `errors` and the contracts' vocabulary; not the client, the
store or the run.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from mock_esd_contracts.endpoints import ENDPOINTS
from mock_esd_sync.listing import Listing
from mock_esd_sync.records import Contact, Person, new_tuple, parse_contact, parse_school, parse_student
from mock_esd_sync.shapes import CONTACTS, OPEROO_CONTACTS, OPEROO_STUDENTS, SCHOOLS, STUDENTS, EsdRecords

# The mirror's row of a person: its id, its records on /v1/students and /v1/operoo/students as eSD gave them.
PersonRow = tuple[int, bytes | None, bytes | None]
_KEYS = {e.path: e.key for e in ENDPOINTS}
T = TypeVar("T")


@dataclass(frozen=True)
class ReadRecords(EsdRecords):
    """Records as a `RecordReader` read them: each record's JSON and digest, and the scope's inputs, known
    of every record without parsing it; `persons` and `contacts` parse a record when first looked up
    (all of them up front when read with `parse=True`)."""

    listings: Mapping[str, Listing]  # the four of students and contacts: ids, digests, JSON where kept

    @property
    def may_warn(self) -> frozenset[int]:
        """Persons whose standard record is Pre-Registered without an enrollmentDate (R3 may warn)."""
        return frozenset(self.listings[STUDENTS].may_warn)

    @property
    def links(self) -> list[tuple[Any, Any]] | None:
        """(person id, contact id) of each link of each contact record, unparsed (None when every record was
        parsed): read once per scope, where an index by person cost a re-sync more to build (150,000 links
        at 100,000 students) than it saved. Reads a contact listing kept unread (`Listing`)."""
        first, second = self.listings[CONTACTS].links, self.listings[OPEROO_CONTACTS].links
        return None if first is None or second is None else first + second


class RecordReader:
    """Reads each page's records as they arrive: keeps each record's JSON (`orjson.dumps` of what eSD sent,
    compact) in its listing's buffer, notes what the scope needs (R3's undated Pre-Registered, each
    contact's links), and parses the record at once when `parse` (a first sync, `--full`, changed settings:
    everyone is decided) or when it is not even shaped well enough to be noted, so that RecordError names
    it as it arrives."""

    def __init__(self, custom_endpoints: bool, parse: bool) -> None:
        self.custom_endpoints, self.parse = custom_endpoints, parse
        self.listings: dict[str, Listing] = {e.path: self._listing(e.path) for e in ENDPOINTS if e.path != SCHOOLS}
        self.schools: list[Any] = []

    def _listing(self, path: str) -> Listing:
        # Everyone is decided: the students' JSON is kept only for the mirror, written at the end (spooled).
        return Listing(path, self.parse, spool=self.parse and path in (STUDENTS, OPEROO_STUDENTS))

    def read(self, path: str, items: list[Any]) -> None:
        """Read one page's records (already checked whole by the client), in reading order."""
        if path == SCHOOLS:
            self.schools += [parse_school(item, path) for item in items]
        else:
            self.listings[path].read(items)

    def read_pages(
        self, pages: Mapping[str, list[bytes]], listing_pages: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        """Read the pages the client kept as bytes; they come before any page of their listing read on arrival.

        With `listing_pages` (each listing's page digests, `RawSnapshot.listing_pages`), a listing whose
        every page was kept (each as at the last applied sync: `EsdClient.fetch_raw`) waits unread, unless
        every record is parsed now (`Listing`)."""
        for path, bodies in pages.items():
            if not bodies:
                continue
            if path == SCHOOLS:
                later_schools, self.schools = self.schools, []
                for body in bodies:
                    self.read(path, orjson.loads(body)[_KEYS[path]])
                self.schools += later_schools
                continue
            if not self.parse and listing_pages is not None and len(bodies) == len(listing_pages.get(path, ())):
                self.listings[path].wait_unread(bodies)  # (none of its pages arrived, so nothing was read into it)
                continue
            later, self.listings[path] = self.listings[path], self._listing(path)
            for body in bodies:
                self.read(path, orjson.loads(body)[_KEYS[path]])
            self.listings[path].extend(later)
        for path, listing in self.listings.items():
            listing.pages = tuple((listing_pages or {}).get(path, ()))

    def records(self) -> ReadRecords:
        """The records read, joined by person and by contact, with each one's digest. The reader is spent:
        it lets go of what it read, so that a caller holding only the records can let them go in turn."""
        listings, self.listings = self.listings, {}
        std, op = listings[STUDENTS], listings[OPEROO_STUDENTS]
        contacts = _Contacts(listings[CONTACTS], listings[OPEROO_CONTACTS])
        schools = {s.school_id: s.name for s in self.schools}
        if not self.parse:
            return ReadRecords(_Persons(std, op), contacts, schools, self.custom_endpoints, listings)
        # Every record parsed: the persons in a plain dict (the rules go through all of them), the only
        # reference to their records, so that they go once decided (`run.make_plan`).
        first, second = std.parsed, op.parsed
        ids = sorted(first.keys() | second.keys())
        # Person(pid, first.get(pid), second.get(pid)) for each, made at once (see records.py) and in bulk
        records = zip(ids, map(first.get, ids), map(second.get, ids), strict=True)
        persons = dict(zip(ids, map(new_tuple, itertools.repeat(Person), records), strict=True))
        std.release_parsed()
        op.release_parsed()
        return ReadRecords(persons, contacts, schools, self.custom_endpoints, listings)


class _Persons(Mapping[int, Person]):
    """A person's records from both student listings, each parsed when first looked up."""

    def __init__(self, standard: Listing, operoo: Listing) -> None:
        self.first, self.second = standard, operoo
        self._ids: list[int] | None = None

    def __contains__(self, ident: object) -> bool:
        return ident in self.first or ident in self.second

    def __getitem__(self, pid: int) -> Person:
        standard = _parsed(self.first, pid, STUDENTS, parse_student)
        operoo = _parsed(self.second, pid, OPEROO_STUDENTS, parse_student)
        if standard is None and operoo is None:
            raise KeyError(pid)
        return Person(pid, standard, operoo)

    def __iter__(self) -> Iterator[int]:
        if self._ids is None:
            self._ids = sorted(set(self.first.ids).union(self.second.ids))
        return iter(self._ids)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Contacts(Mapping[int, tuple[Contact | None, Contact | None]]):
    """A contact's records from both contact listings (parsed when first looked up), in reading order:
    /v1/contacts', then those only on /v1/operoo/contacts. Made one at a time, not held as pairs."""

    def __init__(self, standard: Listing, operoo: Listing) -> None:
        self.first, self.second = standard, operoo
        self._ids: array[int] | None = None

    @property
    def ids(self) -> array[int]:
        """Every contact's id, made when first needed (a partial plan looks contacts up by id)."""
        if self._ids is None:
            standard = self.first
            self._ids = array("q", standard.ids)
            self._ids.extend(cid for cid in self.second.ids if cid not in standard)
        return self._ids

    def __contains__(self, ident: object) -> bool:
        return ident in self.first or ident in self.second

    def __getitem__(self, cid: int) -> tuple[Contact | None, Contact | None]:
        first, second = self.first, self.second
        standard = first.parsed.get(cid)
        if standard is None and not first.complete:
            standard = _parsed(first, cid, CONTACTS, parse_contact)
        operoo = second.parsed.get(cid)
        if operoo is None and not second.complete:
            operoo = _parsed(second, cid, OPEROO_CONTACTS, parse_contact)
        if standard is None and operoo is None:
            raise KeyError(cid)
        return standard, operoo

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def values(self) -> ValuesView[tuple[Contact | None, Contact | None]]:
        return _ContactPairs(self)


class _ContactPairs(ValuesView[tuple[Contact | None, Contact | None]]):
    """The pairs of `_Contacts`, in its order; taken straight from the parsed records when both listings were
    parsed whole (a first sync goes through all of them), without a lookup apiece."""

    def __init__(self, contacts: _Contacts) -> None:
        super().__init__(contacts)
        self.contacts = contacts

    def __iter__(self) -> Iterator[tuple[Contact | None, Contact | None]]:
        contacts = self.contacts
        first, second, ids = contacts.first, contacts.second, contacts.ids
        if first.complete and second.complete:
            return zip(map(first.parsed.get, ids), map(second.parsed.get, ids), strict=True)
        return (contacts[cid] for cid in ids)


def _parsed(listing: Listing, ident: int, path: str, parse: Callable[[Any, str], T]) -> T | None:
    record: T | None = listing.parsed.get(ident)
    if record is None and not listing.complete:
        body = listing.body(ident)
        if body is None:
            return None
        record = listing.parsed[ident] = parse(orjson.loads(body), path)
    return record


class PersonRows:
    """The mirror's rows of some persons, or of everyone listed: (person id, its JSON on /v1/students, on
    /v1/operoo/students), made one at a time as they are written, from the listings' buffers (no copy
    is held). In id order; equal rows make equal PersonRows."""

    __slots__ = ("_count", "_ids", "_operoo", "_standard")

    def __init__(self, standard: Listing, operoo: Listing, ids: Iterable[int] | None, count: int = 0) -> None:
        self._standard, self._operoo = standard, operoo
        self._ids = None if ids is None else array("q", ids)  # None: everyone listed, `count` persons
        self._count = count if self._ids is None else len(self._ids)

    def ids(self) -> Iterator[int]:
        return (pid for pid, _, _ in _join(self._standard, self._operoo)) if self._ids is None else iter(self._ids)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[PersonRow]:
        standard, operoo = self._standard, self._operoo
        if self._ids is not None:
            return ((pid, standard.body(pid), operoo.body(pid)) for pid in self._ids)
        standard.read_whole()
        operoo.read_whole()
        std, op = standard._body_at, operoo._body_at
        return ((pid, None if n < 0 else std(n), None if m < 0 else op(m)) for pid, n, m in _join(standard, operoo))

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, PersonRows) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PersonRows({list(self)!r})"


def _join(standard: Listing, operoo: Listing) -> Iterator[tuple[int, int, int]]:
    """(person id, position in each listing or -1) of everyone listed, by id: the two listings merged."""
    if not operoo.ids:
        yield from ((pid, n, -1) for pid, n in standard.in_id_order())
        return
    if not standard.ids:
        yield from ((pid, -1, m) for pid, m in operoo.in_id_order())
        return
    end = 1 << 63  # past every id
    first, second = standard.in_id_order(), operoo.in_id_order()
    (a, n), (b, m) = next(first), next(second)
    while a != end or b != end:
        if a < b:
            yield a, n, -1
            a, n = next(first, (end, -1))
        elif b < a:
            yield b, -1, m
            b, m = next(second, (end, -1))
        else:
            yield a, n, m
            (a, n), (b, m) = next(first, (end, -1)), next(second, (end, -1))
