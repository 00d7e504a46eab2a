"""One district's records and the API views over them; plain Python, no HTTP.

Views (the students of `/v1/students` filtered by school, ...) are computed once per change of the
district and cached with each record's JSON bytes, so serving a page costs the page, not the district.

Records are never changed in place: a change puts a new record (or a new contact with new links) in a
new list. So `fork()` can hand out an isolated copy of a district without copying it: the two share
records, views and encoded bytes until one of them changes, which then copies only its lists.

For the same reason a change keeps what it did not touch: the views of before it stay, bounded like the
cache, until the same view is built again, which takes from them every record that is still the same
object (its encoded bytes, and for the five listings its place in the listing) and encodes only the rest.
A walk right after a change of 1% of the records costs about what a warm walk costs.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import sys
import threading
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import accumulate, compress, repeat
from operator import is_not, itemgetter
from typing import Any, TypeVar

import orjson

from mock_esd.district import builders
from mock_esd.district.generator import District, DistrictSpec, Record, generate_district
from mock_esd.errors import BadRequest, Conflict, NotFound
from mock_esd_contracts import vocabulary as v

T = TypeVar("T")
DEFAULT_CACHE_LIMIT = 256  # views kept per district (Limits.max_cached_views)
DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024  # bytes those views may hold (Limits.max_cached_view_bytes)
MIN_CACHE_LIMIT = 8  # the five listings a sync walks (a contacts listing is made from a students one), and room
_replay = threading.local()


def replaying() -> bool:
    """True while a worker replays changes another worker made (they carry their own stamps)."""
    return bool(getattr(_replay, "active", False))


@contextmanager
def replay_mode() -> Iterator[None]:
    _replay.active = True
    try:
        yield
    finally:
        _replay.active = False


MIN_SHARED_RUN = 32  # records: a kept run shorter than this is copied into a new encoding, not referred to
MAX_DEAD_SHARE = 0.25  # of an encoding's bytes: past it, bytes of records no longer shown are let go (one copy)


class View:
    """An ordered list of records and, from the first page asked for, their JSON (an `Encoding`).

    The JSON is `orjson.dumps(records)` (`[r0,r1,...]`, one call: about 10x faster than a call per record,
    and a bytes object per record costs orjson's ~8 KB allocation each), or after a change the bytes of
    before it for the records it kept. A page is a slice of it: no Python object per record.
    """

    def __init__(
        self,
        records: list[Record],
        on_encoded: Callable[[], None] | None = None,
        previous: View | None = None,
        derivation: Derivation | None = None,
        replaced_at: list[int] | None = None,
    ) -> None:
        self.records = records
        self.derivation = derivation  # how the records were made, for the next build of this view after a change
        self._encoding: Encoding | None = None
        self._person_ids: PersonIds | None = None
        self._lock = threading.Lock()
        self._on_encoded = on_encoded  # the store re-checks its byte bound once the encoding exists
        # The nearest earlier version of this view that is encoded: its bytes are reused, then let go.
        self._source: View | None = previous if previous is None or previous.encoded else previous._source
        # Where its records differ from those of `previous`, when known: for reusing previous's bytes only.
        self._replaced_at = replaced_at if previous is not None and self._source is previous else None
        self._ranks: array[int] | None = None  # a derived view's: where each source's result is in `records`

    @property
    def encoded(self) -> bool:
        """True once the records' JSON is held (after the first page)."""
        return self._encoding is not None

    @property
    def nbytes(self) -> int:
        """Bytes this view holds beyond the records themselves: its JSON, offsets, lists of references."""
        held = self._encoding.nbytes if self._encoding is not None else 0
        derived = 16 * len(self.derivation.derived) if self.derivation is not None else 0
        ids = sys.getsizeof(self._person_ids.ids) if self._person_ids is not None else 0
        ranks = self._ranks.itemsize * len(self._ranks) if self._ranks is not None else 0
        return held + 8 * len(self.records) + derived + ids + ranks

    def person_ids(self) -> PersonIds:
        """The ids of its records (persons), what a contacts listing is made from: from the first call on."""
        if self._person_ids is None:
            self._person_ids = PersonIds(frozenset(r["id"] for r in self.records))
        return self._person_ids

    def page(self, start: int, stop: int) -> bytes | memoryview:
        """The JSON of records[start:stop], comma-separated, without the brackets."""
        parts = self.parts(start, stop)
        return parts[0] if len(parts) == 1 else b",".join(parts)

    def parts(self, start: int, stop: int) -> list[memoryview]:
        """The JSON of records[start:stop] as slices of the encoding, to be joined by commas (none: no record)."""
        stop = min(stop, len(self.records))
        if start >= stop:
            return []
        return self.encoding().parts(start, stop)

    def encoding(self) -> Encoding:
        if self._encoding is None:
            with self._lock:  # one thread encodes; the others wait for its encoding rather than encode again
                if self._encoding is None:
                    source = self._source
                    if source is not None:
                        self._encoding = encode_reusing(
                            self.records, source.records, source.encoding(), replaced_at=self._replaced_at
                        )
                    else:
                        self._encoding = Encoding.of(self.records)
                    self._source = self._replaced_at = None  # the earlier view is free to go (its bytes stay)
                    if self._on_encoded is not None:
                        self._on_encoded()
        return self._encoding


class Encoding:
    """A listing's JSON as segments of encoded pieces: what its pages are sliced from.

    A piece is `orjson.dumps` of some records (`[r0,r1,...]`) with `offsets[i]`, where its record i starts
    (one more at the end). A fresh encoding is one piece. Segment k is the listing's records `starts[k]` up
    to `starts[k + 1]`: records `firsts[k]` on of piece `sources[k]`. An encoding made after a change
    refers to the pieces of the one before for the runs of records it kept, and adds one piece of its own:
    the records it encoded and the short kept runs it copied (`encode_reusing`). A page is one slice per
    segment it spans: a change of 1% of a listing copies 1% of its bytes, not the listing.
    """

    __slots__ = ("firsts", "nbytes", "pieces", "sources", "starts")

    def __init__(
        self, pieces: list[tuple[memoryview, array[int]]], starts: array[int], sources: array[int], firsts: array[int]
    ) -> None:
        self.pieces, self.starts, self.sources, self.firsts = pieces, starts, sources, firsts
        table = sum(a.itemsize * len(a) for a in (starts, sources, firsts))
        self.nbytes = sum(len(buffer) + offsets.itemsize * len(offsets) for buffer, offsets in pieces) + table

    @classmethod
    def whole(cls, offsets: array[int], buffer: bytes) -> Encoding:
        """One piece, one segment: `buffer` the JSON of every record, `offsets` where each starts."""
        return cls([(memoryview(buffer), offsets)], array("Q", [0, len(offsets) - 1]), array("Q", [0]), array("Q", [0]))

    @classmethod
    def of(cls, records: list[Record]) -> Encoding:
        return cls.whole(*encode_records(records))

    def __len__(self) -> int:
        return self.starts[-1]

    def parts(self, start: int, stop: int) -> list[memoryview]:
        """The JSON of records[start:stop] (0 <= start < stop <= len) without commas: a slice per segment."""
        starts, sources, firsts, pieces = self.starts, self.sources, self.firsts, self.pieces
        k = bisect_right(starts, start) - 1
        out = []
        while start < stop:
            end = min(stop, starts[k + 1])
            buffer, offsets = pieces[sources[k]]
            first = firsts[k] + start - starts[k]
            out.append(buffer[offsets[first] : offsets[first + end - start] - 1])
            start, k = end, k + 1
        return out

    def segments(self, start: int, stop: int) -> Iterator[tuple[int, int, int, int]]:
        """(where, piece, first, count): records [start, stop) as runs of `count` records of one piece each."""
        starts, sources, firsts = self.starts, self.sources, self.firsts
        k = bisect_right(starts, start) - 1
        while start < stop:
            end = min(stop, starts[k + 1])
            yield start, sources[k], firsts[k] + start - starts[k], end - start
            start, k = end, k + 1

    def copied(self) -> Encoding:
        """The same JSON in one piece (a copy): what `Encoding.of` gives for the same records."""
        out: list[bytes | memoryview] = [b"["]
        offsets, end = array("Q", [1]), 1
        for _, piece, first, count in self.segments(0, len(self)):
            buffer, old = self.pieces[piece]
            out += (buffer[old[first] : old[first + count] - 1], b",")
            offsets.extend(map((end - old[first]).__add__, old[first + 1 : first + count + 1]))
            end += old[first + count] - old[first]
        out[-1:] = [b"]"] if len(out) > 1 else [b"[", b"]"]
        return Encoding.whole(offsets, b"".join(out))


def encode_records(records: list[Record]) -> tuple[array[int], bytes]:
    """(offsets, buffer): `orjson.dumps(records)` and where each record starts in it (one more at the end).

    A record's encoded length is measured alone (cheap: the bytes are dropped at once); the lengths must
    add up to the whole, since orjson writes a list as `[` + the items joined by `,` + `]`. If they do
    not (a change replaced a record's field between the two passes), each record is encoded once instead.
    """
    buffer = orjson.dumps(records)
    offsets = array("Q", accumulate((len(orjson.dumps(r)) + 1 for r in records), initial=1))
    if not records or offsets[-1] == len(buffer):
        return offsets, buffer
    return _encode_each(records)


def _encode_each(records: list[Record], chunk: int = 1024) -> tuple[array[int], bytes]:
    """The same as `encode_records` from one encoding of each record, a chunk of them alive at a time."""
    out, offsets = bytearray(b"["), array("Q", [1])
    for start in range(0, len(records), chunk):
        parts = [orjson.dumps(r) for r in records[start : start + chunk]]
        for part in parts:
            offsets.append(offsets[-1] + len(part) + 1)
        out += (b"," if start else b"") + b",".join(parts)
    return offsets, bytes(out + b"]")


def encode_reusing(
    records: list[Record],
    old_records: list[Record],
    old: Encoding,
    min_run: int = MIN_SHARED_RUN,
    max_dead: float = MAX_DEAD_SHARE,
    replaced_at: Sequence[int] | None = None,
) -> Encoding:
    """The JSON of `records` (what `Encoding.of(records)` gives, page for page), taking the bytes of every record
    that is the same object as one of `old_records` (encoded as `old`) and encoding only the others.

    Records are never changed in place, so the same object encodes to the same bytes. A run of at least
    `min_run` records that follow each other in both lists and in one piece of `old` is referred to there;
    the records encoded and the shorter runs (copied) make one new piece, so a page of n records spans at
    most 2 n / `min_run` + 2 slices however many changes came before. When more than `max_dead` of the bytes held would be of records no longer shown,
    the whole is copied into one piece. When fewer than half the records are found, encoding the
    whole list at once is faster. `replaced_at`: the positions (ascending) where `records` holds other records
    than `old_records`, when the caller knows them (the lists are then as long): they are not compared.
    """
    if records is old_records:
        return old
    runs = _runs(records, old_records) if replaced_at is None else _runs_in_place(len(records), replaced_at)
    if not records or 2 * sum(stop - start for start, stop, j in runs if j is not None) < len(records):
        return Encoding.of(records)
    # The new piece, pieces[0]: the records encoded and the short runs copied, each with a comma.
    own: list[bytes | memoryview] = [b"["]
    own_offsets, end = array("Q", [1]), 1
    pieces: list[tuple[memoryview, array[int]]] = [(memoryview(b""), own_offsets)]
    index: dict[int, int] = {}  # a piece of `old`: its index in `pieces`
    starts, sources, firsts = array("Q"), array("Q"), array("Q")
    old_starts, old_sources, old_firsts, old_pieces = old.starts, old.sources, old.firsts, old.pieces
    referred = 0  # bytes of the records referred to in earlier pieces (with their commas)
    # One loop, no call per run: a change of 1% of 100,000 records makes some 2,000 runs.
    for start, stop, j in runs:
        if j is None:  # records to encode, at the end of the new piece
            first = len(own_offsets) - 1
            if not (sources and sources[-1] == 0 and firsts[-1] + start - starts[-1] == first):
                starts.append(start)
                sources.append(0)
                firsts.append(first)
            for record in records[start:stop]:
                part = orjson.dumps(record)
                own += (part, b",")
                end += len(part) + 1
                own_offsets.append(end)
            continue
        k, at, last = bisect_right(old_starts, j) - 1, j, j + stop - start
        while at < last:  # the segments of `old` the run spans
            upto = min(last, old_starts[k + 1])
            piece, first, where = old_sources[k], old_firsts[k] + at - old_starts[k], start + at - j
            buffer, offsets = old_pieces[piece]
            a, b = offsets[first], offsets[first + upto - at]
            if upto - at >= min_run:  # referred to
                mapped = index.get(piece)
                if mapped is None:
                    mapped = index[piece] = len(pieces)
                    pieces.append(old_pieces[piece])
                if not (sources and sources[-1] == mapped and firsts[-1] + where - starts[-1] == first):
                    starts.append(where)
                    sources.append(mapped)
                    firsts.append(first)
                referred += b - a
            else:  # copied
                mine = len(own_offsets) - 1
                if not (sources and sources[-1] == 0 and firsts[-1] + where - starts[-1] == mine):
                    starts.append(where)
                    sources.append(0)
                    firsts.append(mine)
                own += (buffer[a : b - 1], b",")
                own_offsets.extend(map((end - a).__add__, offsets[first + 1 : first + upto - at + 1]))
                end += b - a
            at, k = upto, k + 1
    own[-1:] = [b"]"] if len(own) > 1 else [b"[", b"]"]
    pieces[0] = (memoryview(b"".join(own)), own_offsets)
    starts.append(len(records))
    encoding = Encoding(pieces, starts, sources, firsts)
    held = sum(len(buffer) for buffer, _ in pieces)
    dead = held - len(pieces[0][0]) - referred  # bytes of records no longer shown (every byte of the new piece is)
    return encoding.copied() if dead > max_dead * held else encoding


def _runs(records: list[Record], old_records: list[Record]) -> list[tuple[int, int, int | None]]:
    """`records` as runs (start, stop, where the run starts in `old_records`, None: records not there)."""
    n = len(records)
    if n == len(old_records):  # records replaced where they were (the common change): compare in place
        return _runs_in_place(n, compress(range(n), map(is_not, records, old_records)))
    runs: list[tuple[int, int, int | None]] = []
    where = dict(zip(map(id, old_records), range(len(old_records)), strict=True))  # old records alive: ids unique
    found = list(map(where.get, map(id, records)))
    i = 0
    while i < n:
        j, k = found[i], i + 1
        if j is None:
            while k < n and found[k] is None:
                k += 1
        else:
            while k < n and found[k] == j + k - i:
                k += 1
        runs.append((i, k, j))
        i = k
    return runs


_serials = itertools.count(1)


def _runs_in_place(n: int, replaced_at: Iterable[int]) -> list[tuple[int, int, int | None]]:
    """The runs of n records of which those at `replaced_at` (ascending) were replaced where they were."""
    runs: list[tuple[int, int, int | None]] = []
    done = 0
    for i in replaced_at:
        runs += [(done, i, done), (i, i + 1, None)] if i > done else [(i, i + 1, None)]
        done = i + 1
    if done < n:
        runs.append((done, n, done))
    return runs


@dataclass(frozen=True, eq=False)
class PersonIds:
    """The ids of the persons a listing shows, as a listing made from them reads them; made from the set of the
    listing's previous version (`base`, its serial) by adding and removing `delta`, or whole (no base)."""

    ids: AbstractSet[int]
    base: int | None = None
    delta: frozenset[int] = frozenset()
    serial: int = field(default_factory=lambda: next(_serials))

    def since(self, other: PersonIds) -> set[int]:
        """The ids in one of the two sets only: the delta when `other` is the set this one was made from."""
        if other is self:
            return set()
        if self.base == other.serial:
            return set(self.delta)
        return set(self.ids ^ other.ids)

    def after(self, before: Sequence[Record | None], now: Sequence[Record | None], changed: Iterable[int]) -> PersonIds:
        """The ids once the records at `changed` went from `before` to `now` (None: not shown); itself if alike."""
        gone = {r["id"] for r in map(before.__getitem__, changed) if r is not None}
        came = {r["id"] for r in map(now.__getitem__, changed) if r is not None}
        if gone == came:
            return self
        ids = set(self.ids)  # a copy: this set is read by the views made from it
        ids -= gone - came
        ids |= came
        return PersonIds(ids, self.serial, frozenset(gone ^ came))


NOBODY = PersonIds(frozenset())


@dataclass(frozen=True)
class Derivation:
    """How a listing's records were made: each of `sources` (the district's list) gave `derived` (None: left
    out) by a function of the record, of `context` (compared with ==) and of a set of person ids, `people`.
    `changed`: the positions made again since the derivation it was made from (None: made whole, or sources
    inserted or removed)."""

    sources: tuple[Record, ...]
    context: Any
    derived: list[Record | None]
    people: PersonIds = NOBODY
    changed: list[int] | None = None


Reading = Callable[[set[int], list[Record | None]], Iterable[int]]
Comparing = Callable[[Sequence[Record], Sequence[Record]], "list[int] | None"]
_Compared = tuple[Sequence[Record], Sequence[Record], "list[int] | None"]  # two versions of a list, and `replaced`


def replaced(old: Sequence[Record], new: Sequence[Record]) -> list[int] | None:
    """The positions where `new` holds another object than `old`; None when their lengths differ."""
    if len(old) != len(new):
        return None
    return list(compress(range(len(new)), map(is_not, new, old)))


def derive(
    sources: Sequence[Record],
    context: Any,
    make: Callable[[Record], Record | None],
    previous: Derivation | None,
    people: PersonIds = NOBODY,
    reading: Reading = lambda *_: (),
    compare: Comparing = replaced,
) -> Derivation:
    """`make` of every source, taking the previous result of each source that is the same object under an equal
    context (records are never changed in place, so it would give the same, and the same object keeps its bytes).

    `people` is a set `make` reads by person id; where it differs from the previous one, `reading(the persons
    that differ, the results so far)` names the positions in `sources` whose results read them: made again.
    `compare` is `replaced`, or the store's, which remembers it for the other listings of the same list.
    """
    sources = tuple(sources)  # the store's tuple of its list, shared by the listings made from it (not copied)
    if previous is None or previous.context != context:
        return Derivation(sources, context, list(map(make, sources)), people)
    old, differ = previous.sources, people.since(previous.people)
    changed = compare(old, sources)
    if changed is not None:  # records replaced where they were (the common change)
        if not changed and not differ:  # nothing it reads changed: the same results
            return replace(previous, sources=sources, people=people, changed=[])
        derived = list(previous.derived)
        for i in changed:
            derived[i] = make(sources[i])
    else:
        where = dict(zip(map(id, old), range(len(old)), strict=True))
        found = list(map(where.get, map(id, sources)))
        derived = [make(s) if j is None else previous.derived[j] for s, j in zip(sources, found, strict=True)]
    if differ:
        remade = list(reading(differ, derived))
        for i in remade:
            derived[i] = make(sources[i])
        changed = None if changed is None else sorted({*changed, *remade})
    return Derivation(sources, context, derived, people, changed)


class LinkIndex:
    """Which of `sources` (contacts) link each person: `(person id << 32) | position` for every link, sorted,
    in one array (no Python object per link); the contacts linking a person id of more than 32 bits are
    listed apart (`unindexed`). Built when persons first become visible or hidden, and kept: a later version
    of the contacts is looked up here and in the contacts replaced since (`stale`)."""

    __slots__ = ("packed", "sources", "unindexed")
    MAX_STALE_SHARE = 1 / 16  # of the contacts replaced since it was built: past it, built again

    def __init__(self, sources: tuple[Record, ...], packed: array[int], unindexed: list[int]) -> None:
        self.sources, self.packed, self.unindexed = sources, packed, unindexed

    @classmethod
    def of(cls, contacts: tuple[Record, ...]) -> LinkIndex:
        keys = [link["studentId"] << 32 | i for i, contact in enumerate(contacts) for link in contact["students"]]
        unindexed = sorted({key & 0xFFFFFFFF for key in keys if not 0 <= key >> 32 < 1 << 32})
        if unindexed:
            keys = [key for key in keys if 0 <= key >> 32 < 1 << 32]
        keys.sort()
        return cls(contacts, array("Q", keys), unindexed)

    def fits(self, replaced: list[int] | None) -> bool:
        """Worth using for a later version of its contacts, whose positions `replaced` (None: some added or removed)."""
        return replaced is not None and len(replaced) <= self.MAX_STALE_SHARE * len(self.sources)

    def linking(self, persons: Iterable[int]) -> set[int]:
        """The positions of the contacts that linked any of these persons when it was built (or may have)."""
        packed, out = self.packed, set(self.unindexed)
        for person in persons:
            if 0 <= person < 1 << 32:
                lo = bisect_left(packed, person << 32)
                out.update(key & 0xFFFFFFFF for key in packed[lo : bisect_left(packed, person + 1 << 32, lo)])
        return out


def positions(records: Sequence[Record], ids: Iterable[int]) -> list[int]:
    """Where the records with these ids are in `records` (sorted by id); ids it does not hold are left out."""
    out = []
    for record_id in ids:
        i = bisect_left(records, record_id, key=itemgetter("id"))
        if i < len(records) and records[i]["id"] == record_id:
            out.append(i)
    return out


@dataclass(frozen=True)
class StudentFilter:
    """Filters of `/v1/students`; None means any."""

    school_id: str | None = None
    status: str | None = None


class DistrictStore:
    """A district (tenant): its records, the API's views of them, and changes to them."""

    def __init__(
        self, spec: DistrictSpec | None = None, district: District | None = None, previous: DistrictStore | None = None
    ) -> None:
        """A district generated from `spec`, or `district` as given; `previous`: a store whose district this one
        changes (a scenario merged onto it), whose views the new ones take unchanged records from."""
        self.spec = spec or DistrictSpec()
        self._district = district if district is not None else generate_district(self.spec)
        self._version = 0
        self._changes = 0
        # Views by key, least recently used first: distinct filter values (schoolId=anything) must not grow it forever.
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        # Views of before the latest changes, by key, until built again: what a new view reuses (bounded alike).
        self._previous: OrderedDict[tuple[Any, ...], View] = OrderedDict(previous._reusable() if previous else ())
        self._cache_limit = DEFAULT_CACHE_LIMIT
        self._cache_bytes = DEFAULT_CACHE_BYTES
        self._cache_lock = threading.Lock()
        self.on_change: Callable[[str, list[Any]], None] | None = None  # set by the registry: the change log
        self._shared = False  # the district's lists and the view cache are shared with a fork (copy on write)
        # Which contacts link each person, for the contacts listings after a change (kept across changes).
        self._links: LinkIndex | None = previous._links if previous is not None else None
        # The district's lists as tuples (by the list's id) and the latest comparisons of two versions of one.
        self._tuples: dict[int, tuple[list[Record], tuple[Record, ...]]] = {}
        self._comparisons: dict[tuple[int, int], _Compared] = {}
        self._reindex()
        if previous is not None:
            self.set_cache_limit(previous._cache_limit, previous._cache_bytes)

    # ----- reading -------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Increases with every change; workers and caches compare it."""
        return self._version

    def schools(self) -> View:
        return self._cached(("schools",), lambda previous: self._view(list(self._district.schools), previous))

    def school_ids(self) -> set[str]:
        return set(self._schools_by_id)

    def students(self, flt: StudentFilter = StudentFilter()) -> View:
        """Students with an enrolledId (`/v1/students`), ordered by person id; an unknown school has none."""
        if flt.status is not None and flt.status not in v.STUDENT_STATUSES:
            raise BadRequest(f"unknown studentStatus {flt.status!r}; expected one of {', '.join(v.STUDENT_STATUSES)}")
        if flt == StudentFilter():  # the listing a sync walks: derived, so a change rebuilds only what it touched
            return self._cached(
                ("students", flt),
                lambda previous: self._derived(previous, self._listed(self._district.students), (), _enrolled),
            )
        return self._cached(("students", flt), lambda previous: self._view(self._standard_students(flt), previous))

    def student(self, enrolled_id: str) -> Record:
        """One student by enrolledId."""
        person = self._by_enrolled_id.get(enrolled_id)
        if person is None:
            raise NotFound(f"no student with enrolledId {enrolled_id!r}")
        return person

    def operoo_students(self) -> View:
        """Application-stage persons (no enrolledId) plus the recently accepted, by person id."""

        def build(previous: View | None) -> View:
            accepted = frozenset(self._district.recently_accepted)  # a copy: the district's set changes in place
            prior = previous.derivation.people if previous is not None and previous.derivation is not None else None
            people = prior if prior is not None and prior.ids == accepted else PersonIds(accepted)

            def shown(s: Record) -> Record | None:
                return s if s["enrolledId"] is None or s["id"] in accepted else None

            students = self._listed(self._district.students)
            return self._derived(previous, students, (), shown, people, lambda ids, _: positions(students, ids))

        return self._cached(("operoo_students",), build)

    def contacts(self, student_id: int | None = None) -> View:
        """Contacts of `/v1/contacts`, linked to students with an enrolledId; by contact id."""
        return self._contacts_view("contacts", self._standard_person_ids, student_id)

    def operoo_contacts(self, student_id: int | None = None) -> View:
        """Contacts linked to the persons `/v1/operoo/students` returns."""
        return self._contacts_view("operoo_contacts", self._operoo_person_ids, student_id)

    def all_students(self) -> list[Record]:
        """Every person, whatever the endpoints show (for scenarios and the control API)."""
        return list(self._district.students)

    def all_contacts(self) -> list[Record]:
        return list(self._district.contacts)

    def recently_accepted(self) -> set[int]:
        return set(self._district.recently_accepted)

    def operoo_contact_fields(self) -> list[Record]:
        """Contacts /v1/operoo/contacts shows with other field values than /v1/contacts: id and those values."""
        return [{"id": cid, **fields} for cid, fields in sorted(self._district.operoo_contact_fields.items())]

    # ----- views ---------------------------------------------------------------------------

    def cached_views(self) -> int:
        """How many views are cached (bounded by the cache limit)."""
        return len(self._cache)

    def cached_bytes(self) -> int:
        """Bytes the cached views hold (bounded by the byte limit, but for the latest view alone)."""
        with self._cache_lock:
            return sum(_held(value) for value in self._cache.values())

    def kept_views(self) -> tuple[int, int]:
        """How many views of before the latest changes are kept for the next ones, and the bytes they hold."""
        with self._cache_lock:
            return len(self._previous), sum(_held(view) for view in self._previous.values())

    def set_cache_limit(self, limit: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        """Keep at most `limit` views (at least the few every listing needs) holding at most `max_bytes`."""
        self._cache_limit = max(limit, MIN_CACHE_LIMIT)
        self._cache_bytes = max_bytes
        if not self._shared:  # a fork's cache is its twin's too until it changes: the next view it caches trims
            self._trim()
            with self._cache_lock:  # and the views of before the latest change, alike
                _bound(self._previous, self._cache_limit, self._cache_bytes, keep=0)

    def warm(self) -> None:
        """Encode the five listings now (before `serve --workers` forks: the workers then share the bytes)."""
        for view in (self.schools(), self.students(), self.contacts(), self.operoo_students(), self.operoo_contacts()):
            view.page(0, 1)

    def _view(
        self,
        records: list[Record],
        previous: View | None,
        derivation: Derivation | None = None,
        replaced_at: list[int] | None = None,
    ) -> View:
        # The store and the cache that will hold the view (even if this store owns another later), both weakly:
        # a view they hold must not hold them, or a replaced store (a scenario loaded) would keep its listings
        # until the garbage collector's next full pass (and one frozen before `--workers` fork, for good).
        store, cache, lock = weakref.ref(self), weakref.ref(self._cache), self._cache_lock

        def trim() -> None:
            alive, held = store(), cache()
            if alive is not None and held is not None:
                alive._trim(held, lock)

        return View(records, trim, previous, derivation, replaced_at)

    def _derived(
        self,
        previous: View | None,
        sources: tuple[Record, ...],
        context: Any,
        make: Callable[[Record], Record | None],
        people: PersonIds = NOBODY,
        reading: Reading = lambda *_: (),
    ) -> View:
        """A view of `make` of each source (None: left out), reusing the previous view's results where it can.

        The ids of the persons it shows, once asked for, are kept up to date from the positions made again."""
        prior = previous.derivation if previous is not None else None
        derivation = derive(sources, context, make, prior, people, reading, self._compare)
        if previous is None or prior is None:
            return self._view([r for r in derivation.derived if r is not None], previous, derivation)
        changed, ids = derivation.changed, previous._person_ids
        now, before = derivation.derived, prior.derived
        if changed is None:
            same = _same_objects(now, before)
        else:  # it differs from the previous results at most where it was made again
            same = not any(map(is_not, map(now.__getitem__, changed), map(before.__getitem__, changed)))
        if same:  # nothing it shows changed: its records and bytes serve
            view = self._view(previous.records, previous, derivation)
            view._ranks = previous._ranks
        elif changed is not None and not any((now[i] is None) is not (before[i] is None) for i in changed):
            # Records replaced where they were, none shown or hidden: the previous records, patched where each
            # source's result is (its rank), and where they differ is known (not compared when encoded).
            ranks = previous._ranks if previous._ranks is not None else _ranks(before)
            records, at = list(previous.records), []
            for i in changed:
                record = now[i]
                if record is not before[i] and record is not None:
                    records[ranks[i]] = record
                    at.append(ranks[i])
            view = self._view(records, previous, derivation, at)
            view._ranks = ranks
        else:
            view = self._view([r for r in now if r is not None], previous, derivation)
        if ids is not None and (same or changed is not None):
            view._person_ids = ids if same else ids.after(prior.derived, derivation.derived, changed or ())
        return view

    def _cached(self, key: tuple[Any, ...], build: Callable[[View | None], T]) -> T:
        """The cached value of `key`, else `build(the view of key before the latest change, if kept)`."""
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]  # type: ignore[no-any-return]
            previous, version, cache = self._previous.get(key), self._version, self._cache
        value = build(previous)  # outside the lock: a view's build may ask for another view
        with self._cache_lock:
            if self._version != version or self._cache is not cache:
                # A change came while it was built (another thread, a worker catching up): it may show the
                # district of before, so it answers this request only; the next one builds it anew.
                return value
            self._cache[key] = value
            self._previous.pop(key, None)  # the new view holds what it needs of it, until it is encoded
        self._trim()
        return value

    def _trim(self, cache: OrderedDict[tuple[Any, ...], Any] | None = None, lock: Any = None) -> None:
        """Drop the least recently used views while over either limit; the latest one always stays."""
        cache, lock = (self._cache, self._cache_lock) if cache is None else (cache, lock)
        with lock:
            _bound(cache, self._cache_limit, self._cache_bytes)

    def _reusable(self) -> list[tuple[tuple[Any, ...], View]]:
        """Every view a new version of this district can take records from: older ones first."""
        with self._cache_lock:
            return [*self._previous.items(), *((k, v) for k, v in self._cache.items() if isinstance(v, View))]

    def _keep_views(self) -> None:
        """After a change: the cached views become the previous ones (bounded alike), the cache starts empty."""
        with self._cache_lock:
            for key, value in self._cache.items():
                if isinstance(value, View):
                    self._previous[key] = value
                    self._previous.move_to_end(key)
            self._cache = OrderedDict()  # a new one: a view built across the change is not put in it (`_cached`)
            _bound(self._previous, self._cache_limit, self._cache_bytes, keep=0)

    def _standard_students(self, flt: StudentFilter) -> list[Record]:
        return [
            s
            for s in self._district.students
            if s["enrolledId"] is not None
            and (flt.school_id is None or s["schoolId"] == flt.school_id)
            and (flt.status is None or s["studentStatus"] == flt.status)
        ]

    def _operoo_students(self) -> list[Record]:
        accepted = self._district.recently_accepted
        return [s for s in self._district.students if s["enrolledId"] is None or s["id"] in accepted]

    def _standard_person_ids(self) -> PersonIds:
        return self.students().person_ids()

    def _operoo_person_ids(self) -> PersonIds:
        return self.operoo_students().person_ids()

    def _link_index(self, contacts: tuple[Record, ...]) -> tuple[LinkIndex, list[int]]:
        """The store's link index, built (again) when it has none or it is too stale for `contacts`, and the
        positions of the contacts replaced since it was built."""
        index = self._links
        stale = self._compare(index.sources, contacts) if index is not None else None
        if index is None or stale is None or not index.fits(stale):
            index, stale = LinkIndex.of(contacts), []
            self._links = index  # kept for the next changes, and by the stores made from this one
        elif not stale and index.sources is not contacts:  # the same contacts: compared with these from now on
            index = self._links = LinkIndex(contacts, index.packed, index.unindexed)
        return index, stale

    def _listed(self, records: list[Record]) -> tuple[Record, ...]:
        """One of the district's lists as a tuple, the same one for every listing made from this version of it."""
        entry = self._tuples.get(id(records))
        if entry is None or entry[0] is not records:
            entry = (records, tuple(records))
            self._tuples = {id(records): entry, **{k: v for k, v in self._tuples.items() if v[0] is not records}}
            if len(self._tuples) > 4:  # the students and the contacts, and those of a change in the making
                self._tuples.popitem()
        return entry[1]

    def _compare(self, old: Sequence[Record], new: Sequence[Record]) -> list[int] | None:
        """`replaced(old, new)`, remembered: the listings of one list compare the same two versions of it."""
        key = (id(old), id(new))
        hit = self._comparisons.get(key)
        if hit is not None and hit[0] is old and hit[1] is new:
            return hit[2]
        result = replaced(old, new)
        self._comparisons = {key: (old, new, result), **dict(list(self._comparisons.items())[:1])}  # students, contacts
        return result

    def _contacts_view(self, name: str, persons: Callable[[], PersonIds], student_id: int | None) -> View:
        # A copy (taken at once): a change in another thread may remove a contact's fields while the view is built.
        differing = dict(self._district.operoo_contact_fields) if name == "operoo_contacts" else {}

        def build(previous: View | None) -> View:
            people = persons()
            visible = people.ids

            def shown(contact: Record) -> Record | None:
                links = [link for link in contact["students"] if link["studentId"] in visible]
                if not links or (student_id is not None and all(link["studentId"] != student_id for link in links)):
                    return None
                whole = contact if len(links) == len(contact["students"]) else {**contact, "students": links}
                return {**whole, **differing[contact["id"]]} if contact["id"] in differing else whole

            if student_id is not None:  # a filtered listing holds few records: built whole, its bytes still reused
                return self._view([c for c in map(shown, self._district.contacts) if c is not None], previous)
            # What a contact shows reads the visible persons and its differing fields (as they encode: exact)
            fields = tuple(sorted((cid, orjson.dumps(f)) for cid, f in differing.items()))
            contacts = self._listed(self._district.contacts)

            def reading(persons: set[int], so_far: list[Record | None]) -> list[int]:
                """The contacts linking any of them: from the store's link index and the contacts replaced since
                it was built. When no person became visible, only the contacts shown so far can change (their
                other contacts stay hidden)."""
                index, stale = self._link_index(contacts)
                found = index.linking(persons)
                found.update(i for i in stale if not persons.isdisjoint(map(_student_id, contacts[i]["students"])))
                return sorted(found if persons & visible else (i for i in found if so_far[i] is not None))

            return self._derived(previous, contacts, fields, shown, people, reading)

        return self._cached((name, student_id), build)

    def _reindex(self) -> None:
        d = self._district
        # Sorted into new lists: a list being sorted in place with a key is empty to every other thread meanwhile
        # (a page read during a change showed no students).
        by_id = itemgetter("id")
        d.schools, d.students, d.contacts = (
            sorted(d.schools, key=by_id),
            sorted(d.students, key=by_id),
            sorted(d.contacts, key=by_id),
        )
        self._schools_by_id = {s["id"]: s for s in d.schools}
        self._students_by_id = {s["id"]: s for s in d.students}
        self._contacts_by_id = {c["id"]: c for c in d.contacts}
        self._by_enrolled_id = {s["enrolledId"]: s for s in d.students if s["enrolledId"] is not None}
        self._tuples = {}  # of the lists of before
        numeric = [int(e) for e in self._by_enrolled_id if e.isdigit()]
        self._highest_enrolled = max([getattr(self, "_highest_enrolled", 9_999_999), *numeric])
        self._keep_views()

    # ----- copies ----------------------------------------------------------------------------

    def fork(self) -> DistrictStore:
        """An isolated copy in constant time, whatever the district's size: what a fresh tenant per test needs.

        The copy shares this store's records, views and encoded pages until either store changes; the
        first change on either side gives that side its own lists and view cache, never touching the other.
        """
        twin = copy.copy(self)
        twin.on_change = None
        self._shared = twin._shared = True
        return twin

    def _own(self) -> District:
        """The district, this store's own from here on: call before changing it."""
        if self._shared:
            self._district = self.district_copy()
            self._previous = OrderedDict(self._reusable())  # shared views stay readable sources of bytes
            self._cache = OrderedDict()
            self._cache_lock = threading.Lock()
            self._shared = False
        return self._district

    def district_copy(self) -> District:
        """The district in new lists, sets and dicts that share its records (never changed in place): what a
        change builds on without touching this store, in time linear in the records' count, not their size."""
        d = self._district
        return District(
            list(d.schools), list(d.students), list(d.contacts), set(d.recently_accepted), dict(d.operoo_contact_fields)
        )

    # ----- changes (control API, scenarios) --------------------------------------------------

    def _changed(self, op: str, *args: Any) -> None:
        """Every change is an operation with JSON arguments, so other worker processes can replay it."""
        self._version += 1
        self._reindex()
        if self.on_change is not None and not replaying():
            self.on_change(op, list(args))

    def _stamp(self) -> str:
        """A deterministic lastModified: the district's today plus one second per change."""
        self._changes += 1
        start = dt.datetime(self.spec.today.year, self.spec.today.month, self.spec.today.day, tzinfo=dt.UTC)
        return (start + dt.timedelta(seconds=self._changes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def get_person(self, person_id: int) -> Record:
        person = self._students_by_id.get(person_id)
        if person is None:
            raise NotFound(f"no student with id {person_id}")
        return person

    def get_contact(self, contact_id: int) -> Record:
        contact = self._contacts_by_id.get(contact_id)
        if contact is None:
            raise NotFound(f"no contact with id {contact_id}")
        return contact

    def next_person_id(self) -> int:
        return max(self._students_by_id, default=0) + 1

    def next_contact_id(self) -> int:
        return max(self._contacts_by_id, default=0) + 1

    def next_enrolled_id(self) -> str:
        """A new 8-digit enrolledId above every one this district has ever used: eSD never reuses them."""
        highest = max(self._highest_enrolled, max((int(e) for e in self._by_enrolled_id), default=9_999_999))
        if highest >= 99_999_999:
            raise Conflict("no enrolledId left above the highest one in use")
        return f"{highest + 1:08d}"

    def put_school(self, school: Record) -> Record:
        district = self._own()
        district.schools = [s for s in district.schools if s["id"] != school["id"]] + [school]
        self._changed("put_school", school)
        return school

    def delete_school(self, school_id: str) -> None:
        if school_id not in self._schools_by_id:
            raise NotFound(f"no school with id {school_id!r}")
        if any(s["schoolId"] == school_id for s in self._district.students):
            raise Conflict(f"school {school_id!r} still has students; move or delete them first")
        district = self._own()
        district.schools = [s for s in district.schools if s["id"] != school_id]
        self._changed("delete_school", school_id)

    def put_student(self, student: Record, recently_accepted: bool | None = None) -> Record:
        """Create or replace a person; checks references and enrolledId uniqueness."""
        self._check_student(student)
        record = {**student, "lastModified": self._stamp()}
        district = self._own()
        district.students = [s for s in district.students if s["id"] != record["id"]] + [record]
        if recently_accepted is not None:
            district.recently_accepted.discard(record["id"])
            if recently_accepted:
                district.recently_accepted.add(record["id"])
        self._changed("put_student", record, recently_accepted)
        return record

    def _check_student(self, student: Record) -> None:
        school_id = student.get("schoolId")
        if school_id is not None and school_id not in self._schools_by_id:
            raise Conflict(f"student {student['id']}: unknown schoolId {school_id!r}")
        enrolled_id = student.get("enrolledId")
        holder = self._by_enrolled_id.get(enrolled_id) if enrolled_id is not None else None
        if holder is not None and holder["id"] != student["id"]:
            raise Conflict(f"enrolledId {enrolled_id!r} already belongs to student {holder['id']}")

    def delete_student(self, person_id: int) -> None:
        self.get_person(person_id)
        district = self._own()
        district.students = [s for s in district.students if s["id"] != person_id]
        district.recently_accepted.discard(person_id)
        district.contacts = [
            {**c, "students": [link for link in c["students"] if link["studentId"] != person_id]}
            if any(link["studentId"] == person_id for link in c["students"])
            else c
            for c in district.contacts
        ]
        self._changed("delete_student", person_id)

    def restore_student(self, student: Record, recently_accepted: bool, links: list[list[Any]]) -> None:
        """Put back a removed person exactly as it was, with its contact links (`[contact id, index, link]`)."""
        if student["id"] in self._students_by_id:
            raise Conflict(f"student {student['id']} exists again; the removed record is not put back")
        self._check_student(student)
        district = self._own()
        district.students = [*district.students, copy.deepcopy(student)]
        if recently_accepted:
            district.recently_accepted.add(student["id"])
        relinked: dict[int, Record] = {}
        for contact_id, index, link in links:
            contact = relinked.get(contact_id) or self._contacts_by_id.get(contact_id)
            if contact is not None and all(x["studentId"] != link["studentId"] for x in contact["students"]):
                students = list(contact["students"])
                students.insert(index, copy.deepcopy(link))
                relinked[contact_id] = {**contact, "students": students}
        if relinked:
            district.contacts = [relinked.get(c["id"], c) for c in district.contacts]
        self._changed("restore_student", student, recently_accepted, links)

    # ----- the district's own verbs: what a parent, the registrar or a school does. The control API,
    # scenarios and drift call these; the change log records the writes they make (with the enrolledId
    # chosen once), so other workers replay the outcome rather than choose again.

    def submit_application(self, **fields: Any) -> Record:
        """A parent applies online: a new person without an enrolledId, Pre-enrolled, usually without a school."""
        record = builders.student(self.next_person_id(), status=v.Status.PRE_ENROLLED, enrolled_id=None)
        return self.put_student({**record, **fields})

    def enroll(self, school_id: str, **fields: Any) -> Record:
        """A new student enrolled straight into a school, with a new enrolledId."""
        record = builders.student(self.next_person_id(), enrolled_id=self.next_enrolled_id(), school_id=school_id)
        return self.put_student({**record, **fields})

    def accept(
        self, person_id: int, school_id: str | None = None, enrolled_id: str | None = None, status: str | None = None
    ) -> Record:
        """The district accepts an application into a school with a new enrolledId (Pre-enrolled in a holding school)."""
        person = self.get_person(person_id)
        school = self._schools_by_id.get(school_id or person["schoolId"])
        if school is None:
            raise BadRequest(f"accept needs a known schoolId, got {school_id or person['schoolId']!r}")
        default = v.Status.PRE_ENROLLED if school["isHoldingSchool"] else v.Status.ENROLLED
        record = {
            **person, "enrolledId": enrolled_id or self.next_enrolled_id(), "schoolId": school["id"],
            "studentStatus": status or default,
        }  # fmt: skip
        return self.put_student(record, recently_accepted=True)

    def move(self, person_id: int, school_id: str) -> Record:
        """A student changes school."""
        if school_id not in self._schools_by_id:
            raise BadRequest(f"move needs a known schoolId, got {school_id!r}")
        return self.put_student({**self.get_person(person_id), "schoolId": school_id})

    def withdraw(self, person_id: int) -> Record:
        """A student leaves the district: Withdrawn, and no longer recently accepted."""
        return self.put_student(
            {**self.get_person(person_id), "studentStatus": v.Status.WITHDRAWN}, recently_accepted=False
        )

    def put_contact(self, contact: Record) -> Record:
        unknown = [link["studentId"] for link in contact["students"] if link["studentId"] not in self._students_by_id]
        if unknown:
            raise Conflict(f"contact {contact['id']}: unknown studentId {', '.join(map(str, unknown))}")
        district = self._own()
        district.contacts = [c for c in district.contacts if c["id"] != contact["id"]] + [contact]
        district.operoo_contact_fields.pop(contact["id"], None)  # a contact put anew shows alike on both
        self._changed("put_contact", contact)
        return contact

    def delete_contact(self, contact_id: int) -> None:
        self.get_contact(contact_id)
        district = self._own()
        district.contacts = [c for c in district.contacts if c["id"] != contact_id]
        district.operoo_contact_fields.pop(contact_id, None)
        self._changed("delete_contact", contact_id)

    def snapshot(self) -> District:
        """A deep copy of the district, for export."""
        return copy.deepcopy(self._district)


_student_id = itemgetter("studentId")


def _same_objects(a: Sequence[object], b: Sequence[object]) -> bool:
    return len(a) == len(b) and not any(map(is_not, a, b))


def _ranks(derived: Sequence[Record | None]) -> array[int]:
    """For each position, how many results before it are shown: where its result is in the listing."""
    return array("L", accumulate(map(is_not, derived, repeat(None)), initial=0))


def _enrolled(student: Record) -> Record | None:
    """`/v1/students` shows the persons with an enrolledId."""
    return student if student["enrolledId"] is not None else None


def _bound(views: OrderedDict[tuple[Any, ...], Any], limit: int, max_bytes: int, keep: int = 1) -> None:
    """Drop the least recently used values while over either limit; the latest `keep` always stay."""
    held = sum(_held(value) for value in views.values())
    while len(views) > keep and (len(views) > limit or held > max_bytes):
        held -= _held(views.popitem(last=False)[1])


def _held(value: object) -> int:
    """Bytes a cached value holds: a view's encoding, or an id set's table (its ints are the records')."""
    return value.nbytes if isinstance(value, View) else sys.getsizeof(value)


def page_bounds(total: int, page_no: int, page_size: int) -> tuple[int, int, int]:
    """(start, stop, pageCount) of a 1-based page."""
    page_count = -(-total // page_size)
    start = (page_no - 1) * page_size
    return start, min(start + page_size, total), page_count


def encode_page(key: str, view: View, page_no: int, page_size: int) -> bytes:
    """The JSON body of one page of a list endpoint."""
    total = len(view.records)
    start, stop, page_count = page_bounds(total, page_no, page_size)
    paging = {"pageNo": page_no, "pageSize": page_size, "pageCount": page_count, "totalCount": total}
    out: list[bytes | memoryview] = [b'{"' + key.encode() + b'":[']
    for part in view.parts(start, stop):
        out += (part, b",")
    out[-1:] = [b'],"pagingInfo":'] if len(out) > 1 else [out[0], b'],"pagingInfo":']
    return b"".join((*out, orjson.dumps(paging), b"}"))
