"""The eSD mirror's changes: which of eSD's records differ from the last applied sync's (the digest diff).

The store keeps what eSD said at the last applied sync: each person's two student records as eSD gave
them, the digest of every record of the student and contact listings, and each listing's key tying those
digests to the pages they were read from (`listing.listing_key`). `mirror_changes` compares the digests a
`RecordReader` took with the stored ones (a listing left unread, its pages as they were, takes the stored
ones): the rows that differ are what a sync writes to the mirror (`store.apply_plan`'s `mirror`), and the
persons and contacts they name are the ones a re-sync decides again (`run`), with the contacts of persons
whose Operoo ID changes: a person whose records have the same digests, under the same settings, gets the
same decision as then, and the state already holds it. `decode_person` reads a stored row back.

Plain computation over the reader's packed listings, no I/O of its own (the rows it hands on read the
reader's buffers and spool as they are written). May import: `reader`, `listing`, `shapes`, `records`;
not the client, the store or the run. The rules and the plan never see it: the run passes it to the store.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import compress
from operator import ne
from typing import TypeAlias

import orjson

from mock_esd_sync.listing import Listing, listing_key
from mock_esd_sync.reader import PersonRows, ReadRecords
from mock_esd_sync.records import Person, parse_student
from mock_esd_sync.shapes import CONTACTS, OPEROO_CONTACTS, OPEROO_STUDENTS, STUDENTS

# A listing's records at the last applied sync, in reading order: their ids and the 64-bit digest of each.
Digests: TypeAlias = "tuple[array[int], array[int]]"


@dataclass(frozen=True)
class MirrorChanges:
    """The rows of the eSD mirror a sync writes: each person's records where they changed, every digest."""

    persons_put: PersonRows = field(default_factory=lambda: PersonRows(Listing(), Listing(), ()))  # in id order
    persons_drop: tuple[int, ...] = ()
    contacts_put: array[int] = field(default_factory=lambda: array("q"))  # contacts whose records changed
    contacts_drop: tuple[int, ...] = ()
    # The (ids, digests) of every record of each listing whose arrays differ from the stored ones, in
    # reading order, packed as the store keeps them.
    digests: Mapping[str, tuple[array[int], array[int]]] = field(default_factory=dict)
    # Each listing's `reader.listing_key`: its pages tied to the arrays stored for it once these are written.
    keys: Mapping[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.persons_put or self.persons_drop or self.contacts_put or self.contacts_drop)

    def changed_persons(self) -> set[int]:
        return set(self.persons_put.ids()) | set(self.persons_drop)

    def changed_contacts(self) -> set[int]:
        return set(self.contacts_put) | set(self.contacts_drop)


NO_MIRROR_CHANGES = MirrorChanges()
NO_DIGESTS: Digests = (array("q"), array("Q"))


def any_stored(stored: Mapping[str, Digests]) -> bool:
    """Whether the last applied sync left any record's digest (`load_digests`): none on a first sync."""
    return any(ids for ids, _ in stored.values())


def mirror_changes(
    records: ReadRecords, stored: Mapping[str, Digests], keys: Mapping[str, str] | None = None
) -> MirrorChanges:
    """The mirror rows that differ from the `stored` digests (by listing, as `load_digests` gives them).

    A listing that waits unread with the pages its stored digests were read from (`keys`, as
    `load_listing_keys` gives them: `reader.Listing.take_stored`) takes them and has no record changed, with
    no per-record work. A listing whose records come in the order they came at the last sync (the common
    case: eSD lists by id) is compared position by position, and one whose digests are all the same at once,
    with no index by id (a re-sync after 1% of students changed compares 290,000 digests at 100,000 students)."""
    listings = records.listings
    std, op = listings[STUDENTS], listings[OPEROO_STUDENTS]
    if not any_stored(stored):  # nothing stored (a first sync): every row written, none dropped
        contacts = array("q", sorted(records.contacts))
        digests = {path: (listing.ids, listing.digests) for path, listing in listings.items()}
        everyone = PersonRows(std, op, None, len(records.persons))
        return MirrorChanges(everyone, (), contacts, (), digests, _keys(records))
    changed: dict[str, set[int]] = {}
    for path, listing in listings.items():
        then_ids, then_digests = stored.get(path, NO_DIGESTS)
        if listing.take_stored(then_ids, then_digests, (keys or {}).get(path)):
            changed[path] = set()
            continue
        now_ids, now_digests = listing.ids, listing.digests
        if now_ids == then_ids:  # (the digests that differ found in C: 95,000 at 100,000 students)
            same = now_digests == then_digests
            changed[path] = set() if same else set(compress(now_ids, map(ne, now_digests, then_digests)))
            continue
        then = dict(zip(then_ids, then_digests, strict=True))
        changed[path] = {i for i, d in zip(now_ids, now_digests, strict=True) if then.get(i) != d} | (
            then.keys() - set(now_ids)
        )
    persons = sorted(changed[STUDENTS] | changed[OPEROO_STUDENTS])
    contacts_changed = sorted(changed[CONTACTS] | changed[OPEROO_CONTACTS])
    return MirrorChanges(
        PersonRows(std, op, (pid for pid in persons if pid in records.persons)),
        tuple(pid for pid in persons if pid not in records.persons),
        array("q", (cid for cid in contacts_changed if cid in records.contacts)),
        tuple(cid for cid in contacts_changed if cid not in records.contacts),
        {
            path: (listing.ids, listing.digests)
            for path, listing in listings.items()
            if (listing.ids, listing.digests) != stored.get(path)
        },
        _keys(records),
    )


def _keys(records: ReadRecords) -> dict[str, str]:
    return {
        path: listing_key(listing.pages, listing.ids, listing.digests) for path, listing in records.listings.items()
    }


def decode_person(person_id: int, standard: bytes | None, operoo: bytes | None) -> Person:
    """The person whose records the mirror kept (a `reader.PersonRow`)."""
    return Person(
        person_id,
        None if standard is None else parse_student(orjson.loads(standard), STUDENTS),
        None if operoo is None else parse_student(orjson.loads(operoo), OPEROO_STUDENTS),
    )
