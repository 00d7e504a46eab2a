"""Reading eSD's records as they arrive, packed: the sync's fast path, with its spool (temporary files).

Each record is read once, as its page arrives (`RecordReader`): its JSON as eSD gave it is kept and
digested, and only then, if at all, parsed. The store keeps the digest of every record of the student and
contact listings as eSD gave it at the last applied sync (`mirror`): a re-sync parses only the records of
the persons and contacts it decides again, when first looked up. An unchanged record was parsed and
checked whole by the sync that stored its digest.

The speed tricks live here, behind `ReadRecords` (plain `EsdRecords` to the rules), each with its measured
why: ids and digests in packed arrays and JSON in one buffer (`Listing`), a first sync's student JSON
spooled to an unlinked temporary file (`Spool`: I/O, in TMPDIR), records read a page at a time, persons
made as tuples at once.

May import: `shapes`, `records`, `errors` and the contracts' vocabulary; not the client, the store or the run.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import os
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import xxhash

from mock_esd_contracts import vocabulary as esd
from mock_esd_sync.errors import RecordError
from mock_esd_sync.records import ENDPOINTS, Contact, Person, new_tuple, parse_contact, parse_school, parse_student
from mock_esd_sync.shapes import CONTACTS, OPEROO_CONTACTS, OPEROO_STUDENTS, SCHOOLS, STUDENTS, EsdRecords

# The mirror's row of a person: its id, its records on /v1/students and /v1/operoo/students as eSD gave them.
PersonRow = tuple[int, bytes | None, bytes | None]
_KEYS = dict(ENDPOINTS)
_PRE_REGISTERED = esd.Status.PRE_REGISTERED.value
_REPEAT_PRE_REGISTERED = itertools.repeat(_PRE_REGISTERED)
_INT = frozenset({int})
T = TypeVar("T")
SPOOL_READ_AHEAD = 1 << 20  # bytes a spool reads at once when read in order (see `Spool`)


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


class Spool:
    """Bytes appended to an unlinked temporary file (in TMPDIR) and read back by offset: what a first sync
    keeps of each student record for the mirror (~0.4 KB a student) waits in the file system's cache, which
    the kernel may write out, not in the sync's memory. Reads in order are served from a block read ahead."""

    __slots__ = ("__weakref__", "_block", "_block_start", "_fd", "_last_end", "size")

    def __init__(self) -> None:
        try:
            fd, path = tempfile.mkstemp(prefix="mock-esd-sync-")
            os.unlink(path)
        except OSError as exc:
            raise OSError(f"the sync's spool for the mirror in {tempfile.gettempdir()} (TMPDIR): {exc}") from None
        self._fd, self.size = fd, 0
        self._block, self._block_start, self._last_end = b"", 0, 0
        weakref.finalize(self, os.close, fd)  # closed (and its space freed) when the spool is let go

    def write(self, data: bytes | bytearray) -> None:
        with memoryview(data) as whole:
            done = 0
            while done < len(whole):
                try:
                    done += os.pwrite(self._fd, whole[done:], self.size + done)
                except OSError as exc:  # the disk full, say: one line naming the spool, nothing applied
                    raise OSError(
                        f"the sync's spool for the mirror in {tempfile.gettempdir()} (TMPDIR): {exc}"
                    ) from None
        self.size += len(data)

    def read(self, start: int, end: int) -> bytes:
        """The bytes from `start` to `end`."""
        sequential, self._last_end = start == self._last_end, end
        offset = start - self._block_start
        if offset >= 0 and end - self._block_start <= len(self._block):
            return self._block[offset : end - self._block_start]
        self._block = os.pread(self._fd, max(end - start, SPOOL_READ_AHEAD if sequential else 0), start)
        self._block_start = start
        if len(self._block) < end - start:
            raise OSError(f"the sync's spool file ended at {start + len(self._block)}, before {end}")
        return self._block[: end - start]


def listing_key(pages: Sequence[str], ids: array[int], digests: array[int]) -> str:
    """What ties a listing's pages to its records' ids and digests, as the store keeps them beside the
    digests (`store.load_listing_keys`): the xxh3-128 of the pages' digests (`RawSnapshot.listing_pages`)
    and of both arrays. A re-sync whose listing has the same pages, and the same stored arrays, has the same
    key: then the arrays are what reading its records would give (`Listing.take_stored`)."""
    key = xxhash.xxh3_128("\n".join(pages).encode())
    key.update(ids)
    key.update(digests)
    return key.hexdigest()


class Listing:
    """One listing's records in reading order, packed: ids and digests in arrays, the JSON (when kept) in
    one buffer (or a `Spool`) with where each record's ends, and the records parsed so far by id. About 24
    bytes a record beside its JSON, where a dict entry, a `bytes` object and an int apiece cost some 150 (a
    first sync of 1,000,000 students holds two million student records until the mirror is written).

    A listing every page of which the client kept as bytes, each one the same as at the last applied sync
    (`RecordReader.read_pages`), waits *unread*: its pages are read only when something needs its records.
    If its pages are those the stored ids and digests were read from (`take_stored`, by their key), those
    are its ids and digests, and its JSON is read only when one of its records is (measured at 100,000
    students: after 1% of the students were renamed, reading both contact listings, 101,000 records, took
    about 0.15 s of a 1.4 s re-sync, and nothing of them is needed). Whatever else asks an unread listing
    for its records (`ids`, `links`, a record's JSON) has it read first, so it behaves as one read on arrival.
    """

    __slots__ = (
        "_buffer", "_digests", "_ends", "_ids", "_index", "_last_page", "_links", "_may_warn", "_ordered", "_page_size",
        "_stored", "_unread", "complete", "pages", "parse", "parsed", "path", "spool",
    )  # fmt: skip

    def __init__(self, path: str = STUDENTS, parse: bool = False, spool: bool = False) -> None:
        self.path, self.parse = path, parse  # parse: each record parsed as it is read (everyone is decided)
        self._ids, self._digests = array("q"), array("Q")  # each record's id and the xxh3 digest of its JSON
        # The kept JSON, one after the other: the first `spool.size` bytes in the spool, the rest in `_buffer`.
        self._ends, self._buffer = array("q"), bytearray()
        self.spool = Spool() if spool else None
        self.parsed: dict[Any, Any] = {}
        self.complete = parse  # every record is in `parsed` (until `release_parsed`)
        self._index: dict[int, int] | None = None  # position by id, when the ids are not in order
        self._ordered: bool | None = None  # whether the ids are strictly increasing (None: not known yet)
        # The scope's inputs, noted from the raw records: each contact record's links (not when parsed: the
        # records have them), the persons R3 may warn about (a student listing's Pre-Registered, undated).
        self._links: list[tuple[Any, Any]] | None = None if parse else []
        self._may_warn: set[int] = set()
        self.pages: tuple[str, ...] = ()  # the digest of each of its pages (`RawSnapshot.listing_pages`)
        self._unread: list[bytes] | None = None  # the bytes of its pages, while it waits unread
        self._stored = False  # its ids and digests are the stored ones (`take_stored`), its pages still unread
        self._page_size = 0  # records on each page but the last, once known
        self._last_page: tuple[int, list[Any]] = (-1, [])  # the last page parsed (its number, its records)

    @property
    def ids(self) -> array[int]:
        if self._unread is not None and not self._stored:
            self._read_unread()
        return self._ids

    @property
    def digests(self) -> array[int]:
        if self._unread is not None and not self._stored:
            self._read_unread()
        return self._digests

    @property
    def links(self) -> list[tuple[Any, Any]] | None:
        """(person id, contact id) of each link of a contact listing's records, as read (None: parsed)."""
        if self._unread is not None:
            self._read_unread()
        return self._links

    @property
    def may_warn(self) -> set[int]:
        """The persons of /v1/students whose record is Pre-Registered without an enrollmentDate."""
        if self._unread is not None:
            self._read_unread()
        return self._may_warn

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, ident: object) -> bool:
        return ident in self.parsed or (not self.complete and self.position(ident) is not None)

    def position(self, ident: Any) -> int | None:
        """Where the record with this id is (None: not listed), asked when first needed (a re-sync: a whole
        plan does not look up). eSD lists by id, so the ids are mostly in order: then found by bisection,
        where an index of them cost a re-sync some 8 ms per listing of 100,000 records to build."""
        ids = self.ids
        if self._ordered is None:  # strictly increasing (checked once, in C)
            self._ordered = all(map(operator.lt, ids, itertools.islice(ids, 1, None)))
        if not self._ordered:
            if self._index is None:
                self._index = dict(zip(ids, range(len(ids)), strict=True))
            return self._index.get(ident)
        try:
            n = bisect.bisect_left(ids, ident)
        except TypeError:  # not comparable with an integer id: not one
            return None
        return n if n < len(ids) and ids[n] == ident else None

    def body(self, ident: int) -> bytes | None:
        """A record's JSON as read, if it is listed and its JSON kept."""
        if self._unread is not None and not self._stored:
            self._read_unread()
        if not (self._ends or self._stored):
            return None
        n = self.position(ident)
        return None if n is None else self.body_at(n)

    def body_at(self, n: int) -> bytes:
        """The JSON of the record at position n."""
        if self._unread is not None:
            if self._stored:
                return self._unread_body(n)
            self._read_unread()
        return self._body_at(n)

    def read_whole(self) -> None:
        """Read the pages it waits on, if any (then `_body_at` needs no check: a first sync calls it 10^5 times)."""
        if self._unread is not None:
            self._read_unread()

    def _body_at(self, n: int) -> bytes:
        ends = self._ends
        start, end = ends[n - 1] if n else 0, ends[n]
        spooled = 0 if self.spool is None else self.spool.size
        if start < spooled:
            assert self.spool is not None
            return self.spool.read(start, end)
        return bytes(memoryview(self._buffer)[start - spooled : end - spooled])

    def wait_unread(self, bodies: list[bytes]) -> None:
        """Keep these page bodies, the whole listing, to be read only when its records are needed."""
        assert not self._ids and not self.parse, "only a listing nothing was read into, and not parsed whole"
        self._unread = bodies

    def take_stored(self, ids: array[int], digests: array[int], key: str | None) -> bool:
        """Whether this listing waits unread with the pages `key` was made from (`listing_key`) with these
        stored ids and digests; if so, those are its own from now on, taken without reading a record."""
        if self._unread is None or key is None or key != listing_key(self.pages, ids, digests):
            return False
        self._ids, self._digests, self._stored, self._index, self._ordered = ids, digests, True, None, None
        return True

    def _unread_body(self, n: int) -> bytes:
        """Record n's JSON from the page that holds it, while the listing waits unread with its stored ids and
        digests: the page is parsed, not the listing (a contact changed on /v1/operoo/contacts needs its
        record on /v1/contacts, one of 91,000 at 100,000 students). Each page but the last holds as many
        records as the first (the client checked), so record n is on page n // that. The last page parsed is
        kept: a scope looks its records up in id order, the order eSD lists them in."""
        assert self._unread is not None
        if self._page_size == 0:
            self._page_size = len(self._page(0)) or 1
        page, at = divmod(n, self._page_size)
        body = orjson.dumps(self._page(page)[at])  # as `read` keeps it
        assert xxhash.xxh3_64_intdigest(body) == self._digests[n], (
            "a page is not what its stored digests were read from"
        )
        return body

    def _page(self, number: int) -> list[Any]:
        if self._last_page[0] != number:
            assert self._unread is not None
            self._last_page = (number, orjson.loads(self._unread[number])[_KEYS[self.path]])
        return self._last_page[1]

    def _read_unread(self) -> None:
        """Read the pages kept unread, as they would have been on arrival. From the same pages, the ids and
        digests are those taken from the store, in the same order: the positions found so far still hold."""
        bodies, self._unread, self._stored, self._last_page = self._unread or [], None, False, (-1, [])
        self._ids, self._digests, self._index, self._ordered = array("q"), array("Q"), None, None
        key = _KEYS[self.path]
        for body in bodies:
            self.read(orjson.loads(body)[key])

    def read(self, items: list[Any]) -> None:
        """Read one page's records (already checked whole by the client), in reading order."""
        path, parse = self.path, self.parse
        contacts = path in (CONTACTS, OPEROO_CONTACTS)
        parser = parse_contact if contacts else parse_student
        self._index, self._ordered = None, None
        # A page at a time, not a record at a time: this runs for every record of every re-sync.
        ids: list[Any] = list(map(dict.get, items, itertools.repeat("id")))  # each is a dict (the client checked)
        if parse:  # RecordError names the first record that is not well formed
            self.parsed.update(zip(ids, map(parser, items, itertools.repeat(path, len(items))), strict=True))
        elif not set(map(type, ids)) <= _INT:
            parsed = self.parsed
            for ident, item in zip(ids, items, strict=True):
                if type(ident) is not int:
                    parsed[ident] = parser(item, path)  # RecordError unless the id is an integer
        try:
            self._ids.extend(ids)
        except OverflowError:  # packed as 64-bit integers (`Listing`): a larger id is not one eSD gives
            big = next(ident for ident in ids if not -(1 << 63) <= ident < 1 << 63)
            raise RecordError(path, big, "id", f"expected a 64-bit integer, got {big}") from None
        if parse and contacts:  # their digests only: no JSON kept (below), none held meanwhile
            self._digests.extend(map(xxhash.xxh3_64_intdigest, map(orjson.dumps, items)))
        else:
            bodies = list(map(orjson.dumps, items))
            self._digests.extend(map(xxhash.xxh3_64_intdigest, bodies))
        # A record's JSON is kept to parse it later, and a student's for the mirror (contacts have none there).
        if not (parse and contacts):
            spooled = 0 if self.spool is None else self.spool.size  # the buffer holds what comes after
            ends = itertools.accumulate(map(len, bodies), initial=spooled + len(self._buffer))
            next(ends)
            self._ends.extend(ends)
            self._buffer += b"".join(bodies)
        if contacts and not parse:  # the scope's input (a whole plan has the parsed links)
            self._note_links(ids, items)
        if path == STUDENTS:
            statuses = list(map(dict.get, items, itertools.repeat("studentStatus")))
            if _PRE_REGISTERED in statuses:  # R3's undated Pre-Registered: a few a page (found in C), if any
                for n in itertools.compress(range(len(items)), map(operator.eq, statuses, _REPEAT_PRE_REGISTERED)):
                    if not items[n].get("enrollmentDate"):
                        self._may_warn.add(ids[n])
        self.spill()

    def _note_links(self, ids: list[Any], items: list[Any]) -> None:
        links = self._links
        assert links is not None
        try:
            links += [
                (link["studentId"], ident) for ident, item in zip(ids, items, strict=True) for link in item["students"]
            ]
        except (KeyError, TypeError):
            for ident, item in zip(ids, items, strict=True):
                try:
                    links += [(link["studentId"], ident) for link in item["students"]]
                except (KeyError, TypeError):
                    self.parsed[ident] = parse_contact(item, self.path)  # not a contact record: RecordError says why

    def spill(self) -> None:
        """Move the buffer's JSON to the spool, if there is one (after each page)."""
        if self.spool is not None and self._buffer:
            self.spool.write(self._buffer)
            self._buffer.clear()

    def _kept(self) -> bytes:
        spooled = b"" if self.spool is None else self.spool.read(0, self.spool.size)
        return spooled + bytes(self._buffer)

    def in_id_order(self) -> Iterator[tuple[int, int]]:
        """(id, position) of each record, by id (a listing is read in id order, but need not be)."""
        ids = self.ids
        if all(a < b for a, b in itertools.pairwise(ids)):
            return zip(ids, range(len(ids)), strict=True)
        return ((ids[n], n) for n in sorted(range(len(ids)), key=ids.__getitem__))

    def extend(self, later: Listing) -> None:
        """Append the records read after these (both read, neither waiting unread)."""
        shift = self._ends[-1] if self._ends else 0
        self._ids += later._ids
        self._digests += later._digests
        self._ends.extend(end + shift for end in later._ends)
        self._buffer += later._kept()
        self.spill()
        self.parsed.update(later.parsed)
        if self._links is not None and later._links is not None:
            self._links += later._links
        self._may_warn |= later._may_warn
        self._index, self._ordered = None, None

    def release_parsed(self) -> None:
        """Let the parsed records go (their holder took them); the ids, digests and JSON stay."""
        self.parsed, self.complete = {}, False


class RecordReader:
    """Reads each page's records as they arrive: keeps each record's JSON (`orjson.dumps` of what eSD sent,
    compact) in its listing's buffer, notes what the scope needs (R3's undated Pre-Registered, each
    contact's links), and parses the record at once when `parse` (a first sync, `--full`, changed settings:
    everyone is decided) or when it is not even shaped well enough to be noted, so that RecordError names
    it as it arrives."""

    def __init__(self, custom_endpoints: bool, parse: bool) -> None:
        self.custom_endpoints, self.parse = custom_endpoints, parse
        self.listings: dict[str, Listing] = {path: self._listing(path) for path, _ in ENDPOINTS[1:]}
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
