"""How a listing is made from the district's list again after a change, making again only what changed.

What it holds: `derive` (a listing's results, each record's taken from the previous version when its
source is the same object under an equal context) and the `Derivation` it remembers; `ShownPersons`
(the ids of the persons a listing shows, kept up to date from the positions made again); `LinkIndex`
(which contacts link each person); `replaced` and `positions`, the comparisons they are made from.

Why (measured at 100,000 students after a change of 1% of them, see docs/scaling.md):

- Making and encoding the five listings again took 0.46 s of CPU when each was filtered and encoded anew;
  0.18 s once made again only for the changed records and those whose inputs changed (a person who became
  visible or no longer is makes its contacts again), the others' results and bytes taken as they were.
- The person-id sets the contacts listings read were built again whole (13 ms); following them from the
  positions made again, with the ids that differ from the set of before (so the contacts listing need
  not compare two sets of 95,000), costs under 1 ms.
- Finding the contacts linking the persons who became visible or hidden by scanning the contacts cost
  15 ms; a dict of lists per person cost 0.15-0.5 s to build (most of it garbage-collector passes over
  100,000 new lists). `LinkIndex` packs every link as `(person id << 32) | position` in one sorted array
  (1.3 MB, no Python object per link): built once in about 45 ms, kept across changes, under 1 ms a look-up.
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import is_not, itemgetter
from typing import Any

from mock_esd.district.generator import Record

_serials = itertools.count(1)


@dataclass(frozen=True, eq=False)
class ShownPersons:
    """The ids of the persons a listing shows, as a listing made from them reads them; made from the set of the
    listing's previous version (`base`, its serial) by adding and removing `delta`, or whole (no base)."""

    ids: AbstractSet[int]
    base: int | None = None
    delta: frozenset[int] = frozenset()
    serial: int = field(default_factory=lambda: next(_serials))

    def since(self, other: ShownPersons) -> set[int]:
        """The ids in one of the two sets only: the delta when `other` is the set this one was made from."""
        if other is self:
            return set()
        if self.base == other.serial:
            return set(self.delta)
        return set(self.ids ^ other.ids)

    def after(
        self, before: Sequence[Record | None], now: Sequence[Record | None], changed: Iterable[int]
    ) -> ShownPersons:
        """The ids once the records at `changed` went from `before` to `now` (None: not shown); itself if alike."""
        gone = {r["id"] for r in map(before.__getitem__, changed) if r is not None}
        came = {r["id"] for r in map(now.__getitem__, changed) if r is not None}
        if gone == came:
            return self
        ids = set(self.ids)  # a copy: this set is read by the listings made from it
        ids -= gone - came
        ids |= came
        return ShownPersons(ids, self.serial, frozenset(gone ^ came))


NOBODY = ShownPersons(frozenset())


@dataclass(frozen=True)
class Derivation:
    """How a listing's records were made: each of `sources` (the district's list) gave `derived` (None: left
    out) by a function of the record, of `context` (compared with ==) and of a set of person ids, `people`.
    `changed`: the positions made again since the derivation it was made from (None: made whole, or sources
    inserted or removed)."""

    sources: tuple[Record, ...]
    context: Any
    derived: list[Record | None]
    people: ShownPersons = NOBODY
    changed: list[int] | None = None


Reading = Callable[[set[int], list[Record | None]], Iterable[int]]
Comparing = Callable[[Sequence[Record], Sequence[Record]], "list[int] | None"]


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
    people: ShownPersons = NOBODY,
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
