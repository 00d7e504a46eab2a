"""A change keeps the encoded bytes of what it did not touch: pages stay exactly a fresh encoding's, and cheap.

After a change (the control API, a scenario merge, a drift, a worker's replay) the listings are built again
from the records and bytes of before it. Whatever was reused, every page of every listing and filter must be
byte for byte what a store built afresh from the same records serves.
"""

from __future__ import annotations

import copy
import gc
import weakref
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_esd.district import encoding as encoding_module
from mock_esd.district.encoding import Encoding, encode_reusing
from mock_esd.district.generator import DistrictSpec, Record
from mock_esd.district.listings import Listing, encode_page
from mock_esd.district.scenario import build_store
from mock_esd.district.store import DistrictStore, StudentFilter
from mock_esd.district.tenants import Registry
from mock_esd.qa import drift
from mock_esd.state import changelog
from tests.unit.test_store_fork import seen

SPEC = DistrictSpec(seed=5, students=80)
PAGE = 7


def every_page(s: DistrictStore) -> list[bytes]:
    """Every page (of PAGE records) of every listing and of a filter of each, as a client reads them."""
    school = min(s.school_ids())
    person = next(c["students"][0]["studentId"] for c in s.all_contacts() if c["students"])
    applicant = next((p["id"] for p in s.all_students() if p["enrolledId"] is None), person)
    views = [
        ("schools", s.schools()), ("students", s.students()), ("students", s.students(StudentFilter(school_id=school))),
        ("students", s.students(StudentFilter(status="Withdrawn"))), ("students", s.operoo_students()),
        ("contacts", s.contacts()), ("contacts", s.contacts(person)), ("contacts", s.operoo_contacts()),
        ("contacts", s.operoo_contacts(applicant)),
    ]  # fmt: skip
    pages = []
    for key, view in views:
        count = max(1, -(-len(view.records) // PAGE))
        pages += [encode_page(key, view, n, PAGE) for n in range(1, count + 1)]
    return pages


def fresh(s: DistrictStore) -> DistrictStore:
    """A store built from a deep copy of the same records: nothing shared, nothing reused."""
    return DistrictStore(s.spec, s.snapshot())


# ----- encode_reusing: the bytes of a fresh encoding, whatever the two lists share ------------------------------

_record = st.fixed_dictionaries(
    {"id": st.integers(0, 10**6), "name": st.text(max_size=8), "n": st.integers(-(2**63), 2**63 - 1)}
)


_edits = st.lists(st.tuples(st.sampled_from(["keep"] * 6 + ["replace", "drop", "insert"]), _record), max_size=90)


def _edited(old: list[Record], edits: list[tuple[str, Record]]) -> list[Record]:
    """`old` walked with `edits`: each kept, replaced by a new record, dropped, or a new record inserted before it."""
    new: list[Record] = []
    olds = iter(old)
    for verb, record in edits:
        kept = next(olds, None)
        if verb == "insert":
            new.append(record)
            olds = iter([*([kept] if kept is not None else []), *olds])
        elif kept is not None and verb != "drop":
            new.append(kept if verb == "keep" else {**kept, "name": record["name"]})
    return new + list(olds)


def _reads_as(encoding: Encoding, records: list[Record]) -> None:
    """Every record's slice is its own JSON, and pages of any size join to what orjson gives for them."""
    assert len(encoding) == len(records)
    assert [bytes(part) for i in range(len(records)) for part in encoding.parts(i, i + 1)] == [
        orjson.dumps(r) for r in records
    ]
    for size in (2, 7, 1000):
        for start in range(0, len(records), size):
            stop = min(start + size, len(records))
            assert b",".join(encoding.parts(start, stop)) == orjson.dumps(records[start:stop])[1:-1]


@given(
    first=st.lists(_record, max_size=60),
    rounds=st.lists(_edits, min_size=1, max_size=4),
    min_run=st.integers(1, 40),
    max_dead=st.sampled_from([0.0, 0.25, 1.0]),
)
def test_reusing_an_encoding_gives_the_bytes_of_a_fresh_one(
    first: list[Record], rounds: list[list[tuple[str, Record]]], min_run: int, max_dead: float
) -> None:
    """Changes one after another: each encoding refers to, copies from and encodes around the one before."""
    records, encoding = first, Encoding.of(first)
    for edits in rounds:
        new = _edited(records, edits)
        encoding = encode_reusing(new, records, encoding, min_run, max_dead)
        records = new
        _reads_as(encoding, records)
    _reads_as(encoding.copied(), records)
    assert len(encoding.copied().pieces) == 1


def test_a_listing_changed_again_and_again_stays_in_few_segments_and_holds_few_dead_bytes() -> None:
    """Every 100th record replaced, 60 times over at shifting places (the benchmark's 1% change): a change
    copies about what it changed, a page spans a bounded number of slices, and the bytes held stay bounded."""
    records = [{"id": i, "name": f"record {i}", "n": i * 7} for i in range(5000)]
    encoding = Encoding.of(records)
    whole, copies = len(orjson.dumps(records)), 0
    for n in range(60):
        new = [{**r, "name": f"changed {n}"} if i % 100 == n % 100 else r for i, r in enumerate(records)]
        encoding = encode_reusing(new, records, encoding)
        records = new
        own = len(encoding.pieces[0][0])  # the piece this change made
        copies += own > whole / 2
        if own <= whole / 2:
            assert own <= whole * encoding_module.MIN_SHARED_RUN / 100, (
                "the changed records and short runs, not the listing"
            )
        held = sum(len(buffer) for buffer, _ in encoding.pieces)
        assert held <= whole / (1 - encoding_module.MAX_DEAD_SHARE) + own
        assert len(encoding.parts(0, 1000)) <= 2 * 1000 // encoding_module.MIN_SHARED_RUN + 2
    assert 0 < copies <= 60 * 0.02 / encoding_module.MAX_DEAD_SHARE + 1, (
        "the listing copied whole now and then, not each time"
    )
    _reads_as(encoding, records)


# ----- a store after changes: every page as a fresh store's -------------------------------------------------------


def _rename(s: DistrictStore, n: int) -> Any:
    return s.put_student({**s.all_students()[n % len(s.all_students())], "lastName": f"Renamed{n}"})


def _merge(s: DistrictStore, n: int) -> DistrictStore:
    """A scenario merged onto the store (as `/_mock/scenario?merge=true` does): renames, acceptance, new records."""
    people = s.all_students()
    contact = s.all_contacts()[n % len(s.all_contacts())]
    scenario: dict[str, Any] = {
        "students": [
            *({"id": p["id"], "lastName": f"Merged{n}"} for p in people[n % 5 :: 9]),
            *[{"id": p["id"], "recentlyAccepted": True} for p in people if p["enrolledId"] is not None][n % 3 : 1],
            {"id": s.next_person_id(), "firstName": "New", "lastName": "Applicant", "enrolledId": None},
        ],
        "contacts": [{**contact, "lastName": f"Merged{n}"}] if n % 2 else [],
        "operooContacts": [{"id": contact["id"], "email": f"other{n}@example.org"}] if n % 4 == 1 else [],
    }
    return build_store(scenario, s)


def _drift(s: DistrictStore, n: int) -> None:
    registry = Registry()
    registry.add_tenant("t", s)
    changes = drift.apply(s, "t", insert=n % 2, remove=1 + n % 2, operoo=bool(n % 3 == 0))
    if n % 4 < 2:
        drift.revert(registry, changes)


def _accept(s: DistrictStore, n: int) -> Any:
    applicants = [p["id"] for p in s.all_students() if p["enrolledId"] is None]
    return s.accept(applicants[n % len(applicants)], min(s.school_ids())) if applicants else None


CHANGES: dict[str, Callable[[DistrictStore, int], Any]] = {
    "rename a student": _rename,
    "merge a scenario": _merge,
    "drift": _drift,
    "accept an application": _accept,
    "withdraw": lambda s, n: s.withdraw(s.students().records[n % len(s.students().records)]["id"]),
    "submit an application": lambda s, n: s.submit_application(firstName=f"Ada{n}"),
    "delete a student": lambda s, n: s.delete_student(s.all_students()[n % len(s.all_students())]["id"]),
    "put a contact": lambda s, n: s.put_contact({**s.all_contacts()[n % 7], "lastName": f"Put{n}"}),
    "delete a contact": lambda s, n: s.delete_contact(s.all_contacts()[n % 7]["id"]),
    "rename a school": lambda s, n: s.put_school({**s.schools().records[n % 3], "name": f"School {n}"}),
    "fork": lambda s, n: s.fork(),
}


@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(CHANGES)), st.integers(0, 50), st.sampled_from(["walk", "some", "none"])),
        min_size=1,
        max_size=8,
    )
)
def test_every_page_after_changes_is_what_a_fresh_store_serves(steps: list[tuple[str, int, str]]) -> None:
    s = DistrictStore(SPEC)
    every_page(s)  # encoded before the first change: the next views take their bytes from these
    for change, n, read in steps:
        result = CHANGES[change](s, n)
        s = result if isinstance(result, DistrictStore) else s
        if read == "walk":  # every view encoded between changes, or a few, or none (views of two changes ago)
            assert every_page(s) == every_page(fresh(s)), change
        elif read == "some":
            s.students().page(0, 1)
            s.operoo_contacts().page(0, 1)
    assert every_page(s) == every_page(fresh(s))
    assert every_page(s) == every_page(s), "read twice, the same"


def test_a_merge_leaves_the_district_it_was_merged_onto_as_it_was() -> None:
    base = DistrictStore(SPEC)
    before = seen(base)
    for n in range(4):
        merged = _merge(base, n)
        assert seen(merged) != before
        merged.put_student({**merged.all_students()[0], "lastName": "Changed after the merge"})
    assert seen(base) == before


def test_a_worker_replaying_the_changes_serves_the_same_bytes() -> None:
    """`--workers`: every worker replays each change onto its own district, its views read at other times."""
    heard: list[tuple[str, str, list[Any]]] = []
    recipe = changelog.spec_recipe(SPEC)
    primary, worker = Registry(listener=lambda *change: heard.append(change)), Registry()
    primary.add_tenant("t", changelog.build_store(recipe), recipe)
    replay_from = len(heard)
    worker.add_tenant("t", changelog.build_store(recipe), recipe)
    for n in range(6):
        s = primary.store("t")
        every_page(s)
        people = [{"id": p["id"], "lastName": f"Worker{n}"} for p in s.all_students()[n::7]]
        merge = {"scenario": {"students": people}, "merge": True}
        primary.replace_store("t", changelog.build_store(merge, s), merge)
        _accept(primary.store("t"), n)
        _rename(primary.store("t"), n)
        if n % 2:
            every_page(primary.store("t"))
        for tenant, op, args in heard[replay_from:]:
            changelog.replay(worker, tenant, op, copy.deepcopy(args))
        replay_from = len(heard)
        if n % 3:
            every_page(worker.store("t"))
    assert every_page(worker.store("t")) == every_page(primary.store("t")) == every_page(fresh(primary.store("t")))


# ----- and cheap: a change encodes what it changed, not the listing --------------------------------------------


class _Counting:
    """orjson counting what it is asked to encode: whole lists, and records one by one."""

    lists = 0
    records = 0

    @staticmethod
    def dumps(value: object) -> bytes:
        if isinstance(value, list):
            _Counting.lists += 1
        elif isinstance(value, dict) and "id" in value:
            _Counting.records += 1
        return orjson.dumps(value)


def _encoded(views: list[Listing]) -> tuple[int, int]:
    _Counting.lists = _Counting.records = 0
    for view in views:
        view.page(0, 1)
    return _Counting.lists, _Counting.records


def test_a_change_encodes_again_only_the_records_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    s = DistrictStore(DistrictSpec(seed=3, students=2000))
    s.warm()
    monkeypatch.setattr(encoding_module, "orjson", _Counting)
    listings = lambda s: [s.schools(), s.students(), s.contacts(), s.operoo_students(), s.operoo_contacts()]  # noqa: E731

    s.put_student({**s.students().records[5], "lastName": "Renamed"})
    assert _encoded(listings(s)) == (0, 1), "one student renamed: one record encoded, on /v1/students"

    people = s.all_students()[::100]  # 1% of the students, some of them recently accepted no more
    merged = build_store({"students": [{"id": p["id"], "lastName": "Merged"} for p in people]}, s)
    whole, records = _encoded(listings(merged))
    assert whole == 0
    assert records <= 2 * len(people), "each changed student once per listing it is on, and their contacts"
    assert every_page(merged) == every_page(fresh(merged))


def test_a_view_not_read_before_a_change_still_takes_the_bytes_of_the_one_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = DistrictStore(DistrictSpec(seed=3, students=500))
    s.warm()
    first, second = s.students().records[10:12]
    s.put_student({**first, "lastName": "First"})
    s.students()  # built after the first change, never encoded
    s.put_student({**second, "lastName": "Second"})
    monkeypatch.setattr(encoding_module, "orjson", _Counting)
    assert _encoded([s.students()]) == (0, 2), "both students encoded, the rest copied from the warm listing"
    monkeypatch.undo()
    assert every_page(s) == every_page(fresh(s))


def test_a_replaced_district_is_freed_at_once_not_by_the_garbage_collector() -> None:
    """`serve --workers` freezes the first district out of the collector: a store its views hold would stay forever."""
    s = DistrictStore(SPEC)
    s.warm()
    gone, listing = weakref.ref(s), weakref.ref(s.students())
    gc.disable()
    try:
        merged = build_store({"students": [{"id": s.all_students()[0]["id"], "lastName": "Merged"}]}, s)
        del s
        assert gone() is None
        assert listing() is not None, "kept while the new listing may take its bytes"
        assert every_page(merged) == every_page(fresh(merged))
        assert listing() is None, "and let go once the new listing is encoded"
    finally:
        gc.enable()


def test_the_listings_kept_from_before_a_change_are_bounded_like_the_cache() -> None:
    s = DistrictStore(SPEC)
    for school in sorted(s.school_ids()):
        s.students(StudentFilter(school_id=school)).page(0, 1)
    s.warm()
    s.put_student({**s.students().records[0], "lastName": "Changed"})
    kept, held = s.kept_views()
    assert kept >= 5 and held > 0, "the listings of before the change wait to be read again"
    s.set_cache_limit(8, max_bytes=1)  # lowered after the change: what is kept obeys at once
    assert s.kept_views() == (0, 0)
    s.warm()
    s.put_student({**s.students().records[0], "lastName": "Again"})  # and at the next change
    assert s.kept_views() == (0, 0)
    s.set_cache_limit(8)
    s.warm()
    s.put_student({**s.students().records[0], "lastName": "Once more"})
    assert s.kept_views()[0] <= 8
    assert every_page(s) == every_page(fresh(s))


def test_contacts_of_a_person_id_beyond_32_bits_follow_that_person_in_and_out_of_the_listings() -> None:
    """The link index packs person ids in 32 bits: the contacts linking a larger one are looked at apart."""
    s = DistrictStore(SPEC)
    big = 2**40
    applicant = {**next(p for p in s.all_students() if p["enrolledId"] is None), "id": big, "firstName": "Big"}
    s.put_student(applicant)
    contact = s.all_contacts()[0]
    s.put_contact({**contact, "id": s.next_contact_id(), "students": [{**contact["students"][0], "studentId": big}]})
    every_page(s)
    _accept(s, 0)  # a person became visible: the index is built, with the big id's contact apart
    assert every_page(s) == every_page(fresh(s))
    s.accept(big, min(s.school_ids()))  # now on /v1/students: its contact shows on /v1/contacts
    assert any(link["studentId"] == big for c in s.contacts().records for link in c["students"])
    assert every_page(s) == every_page(fresh(s))
    s.withdraw(big)  # no longer recently accepted: gone from the operoo listings
    assert every_page(s) == every_page(fresh(s))
