"""A district's listings (what `/v1/students` and the other list endpoints page through) and their cache.

What it holds: `Listing`, an ordered list of records and, from the first page asked for, their JSON;
`encode_page`, the body of one page of it; and `ListingCache`, a district's listings by key, built once per
version of the district, bounded, and kept across a change for the next version to reuse. `DistrictStore`
says which records each listing shows; how they are encoded and made again is `encoding` and `derivation`.

Why a cache: a listing is computed once per change of the district and cached with its records' JSON, so
serving a page costs the page, not the district. A change keeps the listings of before it (bounded like
the cache) until the same listing is built again, which takes from them every record that is still the
same object (its encoded bytes, and for the five listings a sync walks its place in the listing) and
encodes only the rest: a walk right after a change of 1% of the records costs about what a warm walk costs.

Why the cache makes the derived listings itself (measured after a change of 1% of 100,000 students): the
listings made from one of the district's lists share one tuple of it and one comparison with its version of
before (comparing 100,000 references cost about 4 ms, and was done several times over: 8 ms saved); and
while none of a listing's records is shown or hidden, it keeps where each source's result is (its ranks,
800 KB), so a rename patches the records of before at those places and tells the encoding where they
differ, instead of filtering 100,000 results and comparing 95,000 records again (about 7 ms saved).

Why weak references: a listing re-checks the byte bound of the cache holding it once it is encoded. A
listing holding its cache (or its store) made cycles only the garbage collector's full pass could free:
until then a replaced district (a scenario loaded) kept all its listings, the server's RSS rising by about
50 MB per change and walk, and the first district, frozen before `serve --workers` forks, kept them for good.
"""

from __future__ import annotations

import sys
import threading
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, repeat
from operator import is_not, itemgetter
from typing import Any

import orjson

from mock_esd.district.derivation import NOBODY, Derivation, LinkIndex, Reading, ShownPersons, derive, replaced
from mock_esd.district.encoding import Encoding, encode_reusing
from mock_esd.district.generator import Record

DEFAULT_CACHE_LIMIT = 256  # listings kept per district (Limits.max_cached_views)
DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024  # bytes those listings may hold (Limits.max_cached_view_bytes)
MIN_CACHE_LIMIT = 8  # the five listings a sync walks (a contacts listing is made from a students one), and room

Key = tuple[Any, ...]  # a listing's name and its filters: ("students", StudentFilter(...))
_Compared = tuple[Sequence[Record], Sequence[Record], "list[int] | None"]  # two versions of a list, and `replaced`


class Listing:
    """An ordered list of records and, from the first page asked for, their JSON (an `Encoding`).

    The JSON is `orjson.dumps(records)`, or after a change the bytes of the listing's version of before it
    for the records it kept. A page is a slice of it: no Python object per record.
    """

    def __init__(
        self,
        records: list[Record],
        on_encoded: Callable[[], None] | None = None,
        previous: Listing | None = None,
        derivation: Derivation | None = None,
        replaced_at: list[int] | None = None,
        ranks: array[int] | None = None,
        shown: ShownPersons | None = None,
    ) -> None:
        """`records` in order; `on_encoded`: called once their JSON exists; `previous`: the version of before
        a change to take bytes from; `derivation`: how the records were made (for the next version);
        `replaced_at`: where the records differ from previous's, when known; `ranks`: where each source's
        result is in `records`; `shown`: the ids of the persons among `records`, when known."""
        self.records = records
        self.derivation = derivation  # how the records were made, for the next build of this listing after a change
        self._encoding: Encoding | None = None
        self._shown = shown
        self._lock = threading.Lock()
        self._on_encoded = on_encoded  # the cache re-checks its byte bound once the encoding exists
        # The nearest earlier version of this listing that is encoded: its bytes are reused, then let go.
        self._source: Listing | None = previous if previous is None or previous.encoded else previous._source
        # Where its records differ from those of `previous`, when known: for reusing previous's bytes only.
        self._replaced_at = replaced_at if previous is not None and self._source is previous else None
        self._ranks = ranks  # a derived listing's: where each source's result is in `records`

    @property
    def encoded(self) -> bool:
        """True once the records' JSON is held (after the first page)."""
        return self._encoding is not None

    @property
    def nbytes(self) -> int:
        """Bytes this listing holds beyond the records themselves: its JSON, offsets, lists of references."""
        held = self._encoding.nbytes if self._encoding is not None else 0
        derived = 16 * len(self.derivation.derived) if self.derivation is not None else 0
        ids = sys.getsizeof(self._shown.ids) if self._shown is not None else 0
        ranks = self._ranks.itemsize * len(self._ranks) if self._ranks is not None else 0
        return held + 8 * len(self.records) + derived + ids + ranks

    def shown_persons(self) -> ShownPersons:
        """The ids of its records (persons), what a contacts listing is made from: from the first call on."""
        if self._shown is None:
            self._shown = ShownPersons(frozenset(r["id"] for r in self.records))
        return self._shown

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
        """The records' JSON, encoded on the first call (reusing the bytes of the version of before, if any)."""
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
                    self._source = self._replaced_at = None  # the earlier listing is free to go (its bytes stay)
                    if self._on_encoded is not None:
                        self._on_encoded()
        return self._encoding


def page_bounds(total: int, page_no: int, page_size: int) -> tuple[int, int, int]:
    """(start, stop, pageCount) of a 1-based page."""
    page_count = -(-total // page_size)
    start = (page_no - 1) * page_size
    return start, min(start + page_size, total), page_count


def encode_page(key: str, listing: Listing, page_no: int, page_size: int) -> bytes:
    """The JSON body of one page of a list endpoint: `{key: [records...], "pagingInfo": {...}}`."""
    total = len(listing.records)
    start, stop, page_count = page_bounds(total, page_no, page_size)
    paging = {"pageNo": page_no, "pageSize": page_size, "pageCount": page_count, "totalCount": total}
    out: list[bytes | memoryview] = [b'{"' + key.encode() + b'":[']
    for part in listing.parts(start, stop):
        out += (part, b",")
    out[-1:] = [b'],"pagingInfo":'] if len(out) > 1 else [out[0], b'],"pagingInfo":']
    return b"".join((*out, orjson.dumps(paging), b"}"))


class ListingCache:
    """One district's listings by key, least recently used first, and what it makes new listings with.

    - `get(key, build)`: the listing of this version of the district, else `build(the listing of before the
      latest change, if kept)`, cached. Bounded by `limit` listings and `max_bytes` (the latest always
      stays): distinct filter values (schoolId=anything) must not grow it for ever.
    - `changing()` and `changed()`: before and after each change of the district. A listing built across a
      change (another request thread, a worker catching up) may show the district of before: it answers its
      own request only, uncached. After it, the cached listings are kept for the next versions to reuse
      (bounded alike) until built again.
    - `whole` and `derived` make the listings `build` returns; `linking` finds contacts by person.
    - A fork of the store shares its cache (`fork`) until either side changes (`own`); each side keeps its
      own limits. A scenario's new district takes this one's listings and link index (`successor`).
    """

    def __init__(self, kept: Iterable[tuple[Key, Listing]] = (), links: LinkIndex | None = None) -> None:
        """An empty cache; `kept`: listings of an earlier district to reuse, `links`: its link index."""
        self._listings: OrderedDict[Key, Listing] = OrderedDict()  # those of this version, least recently used first
        self._kept: OrderedDict[Key, Listing] = OrderedDict(kept)  # those of before the latest changes
        self._lock = threading.Lock()
        self.limit, self.max_bytes = DEFAULT_CACHE_LIMIT, DEFAULT_CACHE_BYTES
        self._shared = False  # the two dicts and the lock are a fork's too (copy on write)
        self._changes = 0  # changes begun: a listing built across one is not cached
        # Which contacts link each person, for the contacts listings after a change (kept across changes).
        self._links = links
        # The district's lists as tuples (by the list's id) and the latest comparisons of two versions of one.
        self._tuples: dict[int, tuple[list[Record], tuple[Record, ...]]] = {}
        self._comparisons: dict[tuple[int, int], _Compared] = {}
        _bound(self._kept, self.limit, self.max_bytes, keep=0)

    # ----- the cache -----------------------------------------------------------------------

    def get(self, key: Key, build: Callable[[Listing | None], Listing]) -> Listing:
        """The cached listing of `key`, else `build(the listing of key before the latest change, if kept)`."""
        with self._lock:
            listing = self._listings.get(key)
            if listing is not None:
                self._listings.move_to_end(key)
                return listing
            previous, changes, listings = self._kept.get(key), self._changes, self._listings
        listing = build(previous)  # outside the lock: a listing's build may ask for another listing
        with self._lock:
            if self._changes != changes or self._listings is not listings:
                # A change came while it was built (another thread, a worker catching up): it may show the
                # district of before, so it answers this request only; the next one builds it anew.
                return listing
            self._listings[key] = listing
            self._kept.pop(key, None)  # the new listing holds what it needs of it, until it is encoded
        self._trim()
        return listing

    def changing(self) -> None:
        """A change of the district begins: a listing whose build overlaps it is not cached (`get`)."""
        self._changes += 1

    def changed(self) -> None:
        """The change is made: the cached listings become kept ones (bounded like the cache), the cache empty."""
        self._tuples = {}  # of the lists of before
        with self._lock:
            for key, listing in self._listings.items():
                self._kept[key] = listing
                self._kept.move_to_end(key)
            self._listings = OrderedDict()  # a new one: a listing built across the change is not put in it (`get`)
            _bound(self._kept, self.limit, self.max_bytes, keep=0)

    def set_limit(self, limit: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        """Keep at most `limit` listings (at least the few every sync needs) holding at most `max_bytes`."""
        self.limit, self.max_bytes = max(limit, MIN_CACHE_LIMIT), max_bytes
        if not self._shared:  # a fork's cache is its twin's too until it changes: the next listing cached trims
            self._trim()
            with self._lock:  # and the listings of before the latest change, alike
                _bound(self._kept, self.limit, self.max_bytes, keep=0)

    def count(self) -> int:
        """How many listings are cached (bounded by the limit)."""
        return len(self._listings)

    def nbytes(self) -> int:
        """Bytes the cached listings hold (bounded by the byte limit, but for the latest listing alone)."""
        with self._lock:
            return sum(listing.nbytes for listing in self._listings.values())

    def kept(self) -> tuple[int, int]:
        """How many listings of before the latest changes are kept for the next ones, and the bytes they hold."""
        with self._lock:
            return len(self._kept), sum(listing.nbytes for listing in self._kept.values())

    def fork(self) -> ListingCache:
        """The cache of a fork: the same listings, shared with this one until either side changes (`own`)."""
        # The same dicts and lock; its own limits, link index, tuples and comparisons (each replaced, never changed).
        twin = ListingCache.__new__(ListingCache)  # a shallow copy: copy.copy costs 5x as much (a fork per test)
        twin.__dict__.update(self.__dict__)
        self._shared = twin._shared = True
        return twin

    def own(self) -> None:
        """Before the district changes: this cache, its own from here on (a fork's first change)."""
        if self._shared:
            self._kept = OrderedDict(self._reusable())  # shared listings stay readable sources of bytes
            self._listings = OrderedDict()
            self._lock = threading.Lock()
            self._shared = False

    def successor(self) -> ListingCache:
        """The cache of a new district made from this one (a scenario merged onto it): this one's listings
        kept for reuse, its link index and its limits."""
        cache = ListingCache(self._reusable(), self._links)
        cache.set_limit(self.limit, self.max_bytes)
        return cache

    def _trim(self, listings: OrderedDict[Key, Listing] | None = None, lock: Any = None) -> None:
        """Drop the least recently used listings while over either limit; the latest one always stays."""
        listings, lock = (self._listings, self._lock) if listings is None else (listings, lock)
        with lock:
            _bound(listings, self.limit, self.max_bytes)

    def _reusable(self) -> list[tuple[Key, Listing]]:
        """Every listing a new version of this district can take records from: older ones first."""
        with self._lock:
            return [*self._kept.items(), *self._listings.items()]

    # ----- making listings -----------------------------------------------------------------

    def whole(self, records: list[Record], previous: Listing | None) -> Listing:
        """A listing of `records`, taking the bytes of `previous` (its version of before a change) where it can."""
        return self._listing(records, previous)

    def derived(
        self,
        previous: Listing | None,
        sources: tuple[Record, ...],
        context: Any,
        make: Callable[[Record], Record | None],
        people: ShownPersons = NOBODY,
        reading: Reading = lambda *_: (),
    ) -> Listing:
        """A listing of `make` of each source (None: left out), reusing the previous listing's results where it
        can (`derive`). The ids of the persons it shows, once asked for, are kept up to date from the positions
        made again."""
        prior = previous.derivation if previous is not None else None
        derivation = derive(sources, context, make, prior, people, reading, self._compare)
        if previous is None or prior is None:
            return self._listing([r for r in derivation.derived if r is not None], previous, derivation)
        changed, now, before = derivation.changed, derivation.derived, prior.derived
        if changed is None:
            same = _same_objects(now, before)
        else:  # it differs from the previous results at most where it was made again
            same = not any(map(is_not, map(now.__getitem__, changed), map(before.__getitem__, changed)))
        ids, shown = previous._shown, None
        if ids is not None and (same or changed is not None):
            shown = ids if same else ids.after(before, now, changed or ())
        if same:  # nothing it shows changed: its records and bytes serve
            return self._listing(previous.records, previous, derivation, None, previous._ranks, shown)
        if changed is not None and not any((now[i] is None) is not (before[i] is None) for i in changed):
            # Records replaced where they were, none shown or hidden: the previous records, patched where each
            # source's result is (its rank), and where they differ is known (not compared when encoded).
            ranks = previous._ranks if previous._ranks is not None else _ranks(before)
            records, at = list(previous.records), []
            for i in changed:
                record = now[i]
                if record is not before[i] and record is not None:
                    records[ranks[i]] = record
                    at.append(ranks[i])
            return self._listing(records, previous, derivation, at, ranks, shown)
        return self._listing([r for r in now if r is not None], previous, derivation, shown=shown)

    def _listing(
        self,
        records: list[Record],
        previous: Listing | None,
        derivation: Derivation | None = None,
        replaced_at: list[int] | None = None,
        ranks: array[int] | None = None,
        shown: ShownPersons | None = None,
    ) -> Listing:
        # The cache object and the dict that will hold the listing (even if the cache has another later), both
        # weakly: a listing they hold must not hold them (the module's docstring says why).
        cache, listings, lock = weakref.ref(self), weakref.ref(self._listings), self._lock

        def trim() -> None:
            alive, held = cache(), listings()
            if alive is not None and held is not None:
                alive._trim(held, lock)

        return Listing(records, trim, previous, derivation, replaced_at, ranks, shown)

    def frozen(self, records: list[Record]) -> tuple[Record, ...]:
        """One of the district's lists as a tuple, the same one for every listing made from this version of it."""
        entry = self._tuples.get(id(records))
        if entry is None or entry[0] is not records:
            entry = (records, tuple(records))
            self._tuples = {id(records): entry, **{k: v for k, v in self._tuples.items() if v[0] is not records}}
            if len(self._tuples) > 4:  # the students and the contacts, and those of a change in the making
                self._tuples.popitem()
        return entry[1]

    def linking(self, contacts: tuple[Record, ...], persons: set[int]) -> set[int]:
        """The positions in `contacts` of those linking any of `persons` (or that may): from the link index,
        kept across changes, and the contacts replaced since it was built."""
        index, stale = self._link_index(contacts)
        found = index.linking(persons)
        found.update(i for i in stale if not persons.isdisjoint(map(_student_id, contacts[i]["students"])))
        return found

    def _link_index(self, contacts: tuple[Record, ...]) -> tuple[LinkIndex, list[int]]:
        """The link index, built (again) when there is none or it is too stale for `contacts`, and the
        positions of the contacts replaced since it was built."""
        index = self._links
        stale = self._compare(index.sources, contacts) if index is not None else None
        if index is None or stale is None or not index.fits(stale):
            index, stale = LinkIndex.of(contacts), []
            self._links = index  # kept for the next changes, and by the districts made from this one
        elif not stale and index.sources is not contacts:  # the same contacts: compared with these from now on
            index = self._links = LinkIndex(contacts, index.packed, index.unindexed)
        return index, stale

    def _compare(self, old: Sequence[Record], new: Sequence[Record]) -> list[int] | None:
        """`replaced(old, new)`, remembered: the listings of one list compare the same two versions of it."""
        key = (id(old), id(new))
        hit = self._comparisons.get(key)
        if hit is not None and hit[0] is old and hit[1] is new:
            return hit[2]
        result = replaced(old, new)
        self._comparisons = {key: (old, new, result), **dict(list(self._comparisons.items())[:1])}  # students, contacts
        return result


_student_id = itemgetter("studentId")


def _same_objects(a: Sequence[object], b: Sequence[object]) -> bool:
    return len(a) == len(b) and not any(map(is_not, a, b))


def _ranks(derived: Sequence[Record | None]) -> array[int]:
    """For each position, how many results before it are shown: where its result is in the listing."""
    return array("L", accumulate(map(is_not, derived, repeat(None)), initial=0))


def _bound(listings: OrderedDict[Key, Listing], limit: int, max_bytes: int, keep: int = 1) -> None:
    """Drop the least recently used listings while over either limit; the latest `keep` always stay."""
    held = sum(listing.nbytes for listing in listings.values())
    while len(listings) > keep and (len(listings) > limit or held > max_bytes):
        held -= listings.popitem(last=False)[1].nbytes
