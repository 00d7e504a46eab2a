"""The listing JSON engine: a listing's records as `orjson` bytes, and a page as slices of them.

What it holds: `Encoding` (a listing's JSON as pieces of encoded bytes, and where each record starts),
`encode_records` (a fresh encoding) and `encode_reusing` (the encoding of a new version of a listing,
taking the bytes of every record the old version had). Records are dicts, never changed in place, so the
same object always encodes to the same bytes: that is what makes reuse safe.

Why it is built this way (measured at 100,000 students, see docs/scaling.md):

- One `orjson.dumps` of the whole list (`[r0,r1,...]`) is about 10x faster than a call per record, and a
  bytes object per record costs orjson's ~8 KB allocation each. Where each record starts is measured
  from each record's length alone (the bytes are dropped at once), so a page is a slice of one buffer:
  no Python object per record.
- After a change of 1% of a listing, copying the whole buffer with the changed records spliced in cost
  35-40 ms of the walk after it (most of it page faults on the new 34 MB buffer). Referring to the old
  pieces for each run of at least `MIN_SHARED_RUN` unchanged records, and encoding only the rest, costs
  about 9 ms; a page of n records then spans at most 2 n / `MIN_SHARED_RUN` + 2 slices however many
  changes came before. Past `MAX_DEAD_SHARE` of the bytes held being of records no longer shown, the
  listing is copied into one piece again, so the memory held stays bounded.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, compress
from operator import is_not

import orjson

from mock_esd.district.generator import Record

MIN_SHARED_RUN = 32  # records: a kept run shorter than this is copied into a new encoding, not referred to
MAX_DEAD_SHARE = 0.25  # of an encoding's bytes: past it, bytes of records no longer shown are let go (one copy)


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
