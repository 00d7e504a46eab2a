"""One listing's records, packed: the sync's fast path for reading a listing, with its spool (a temporary file).

A `Listing` holds a listing's records in reading order as the reader (`reader.RecordReader`) reads them a
page at a time: ids and digests in packed arrays, each record's JSON in one buffer (a first sync's student
JSON spooled to an unlinked temporary file, `Spool`: I/O, in TMPDIR), the records parsed so far. A listing
whose every page is as at the last applied sync waits unread, its pages' bytes kept, and takes its ids and
digests from the store when they are tied to those pages (`listing_key`). Each trick with its measured why.

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
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import xxhash

from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.endpoints import ENDPOINTS
from mock_esd_sync.errors import RecordError
from mock_esd_sync.records import parse_contact, parse_student
from mock_esd_sync.shapes import CONTACTS, OPEROO_CONTACTS, STUDENTS

_KEYS = {e.path: e.key for e in ENDPOINTS}
_PRE_REGISTERED = esd.Status.PRE_REGISTERED.value
_INT = frozenset({int})
SPOOL_READ_AHEAD = 1 << 20  # bytes a spool reads at once when read in order (see `Spool`)


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
    students, 1% of the students renamed: reading /v1/contacts, 91,000 records, cost the re-sync about
    0.1 s of CPU, for the few of them it needs; docs/scaling.md, "What a 1% re-sync at 1.5x took"). Whatever
    else asks an unread listing for its records (`ids`, `links`, a record's JSON) has it read first, so it
    behaves as one read on arrival.
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
        records = self._page(page) if page < len(self._unread) else []
        body = orjson.dumps(records[at]) if at < len(records) else b""  # as `read` keeps it
        if xxhash.xxh3_64_intdigest(body) != self._digests[n]:  # (the client checked the pages: not expected)
            raise RecordError(self.path, "?", "(record)", "the pages are not those its stored digests were read from")
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
                for n in itertools.compress(
                    range(len(items)), map(operator.eq, statuses, itertools.repeat(_PRE_REGISTERED))
                ):
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
