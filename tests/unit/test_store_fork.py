"""`DistrictStore.fork`: a copy that shares records and views, and that nobody can tell from a deep copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.listings import encode_page
from mock_esd.district.store import DistrictStore, StudentFilter
from mock_esd.district.tenants import Registry
from mock_esd.qa import drift

SPEC = DistrictSpec(seed=11, students=120)


def seen(store: DistrictStore) -> bytes:
    """Everything a client or the control API could see of a district: every listing's bytes and the export."""
    school = min(store.school_ids())
    views = [
        ("schools", store.schools()), ("students", store.students()), ("students", store.operoo_students()),
        ("students", store.students(StudentFilter(school_id=school))), ("contacts", store.contacts()),
        ("contacts", store.operoo_contacts()),
    ]  # fmt: skip
    pages = b"".join(encode_page(key, view, 1, 10_000) for key, view in views)
    snapshot = store.snapshot()
    whole = [snapshot.schools, snapshot.students, snapshot.contacts, sorted(snapshot.recently_accepted)]
    return pages + orjson.dumps(whole)


def _linked(store: DistrictStore) -> int:
    return int(next(c["students"][0]["studentId"] for c in store.all_contacts() if c["students"]))


def _application(store: DistrictStore) -> int:
    return int(next(s["id"] for s in store.all_students() if s["enrolledId"] is None))


def _drift_and_revert(store: DistrictStore) -> None:
    registry = Registry()
    registry.add_tenant("t", store)
    changes = drift.apply(store, "t", insert=0, remove=2, operoo=False)  # removes students with their links
    drift.revert(registry, changes)  # and puts them back: restore_student
    store.delete_student(_linked(store))


CHANGES: dict[str, Callable[[DistrictStore], Any]] = {
    "put a school": lambda s: s.put_school({**s.schools().records[0], "name": "Renamed"}),
    "delete a student with contacts": lambda s: s.delete_student(_linked(s)),
    "restore students and their links": _drift_and_revert,
    "accept an application": lambda s: s.accept(_application(s), min(s.school_ids())),
    "withdraw": lambda s: s.withdraw(_linked(s)),
    "submit an application": lambda s: s.submit_application(firstName="Ada"),
    "delete a contact": lambda s: s.delete_contact(s.all_contacts()[0]["id"]),
    "put a contact": lambda s: s.put_contact({**s.all_contacts()[0], "lastName": "Renamed"}),
}


@pytest.fixture(scope="module")
def pristine() -> bytes:
    return seen(DistrictStore(SPEC))


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_to_a_fork_leaves_the_original_as_it_was(change: str, pristine: bytes) -> None:
    original = DistrictStore(SPEC)
    assert seen(original) == pristine  # its views are built and cached before the fork shares them
    fork = original.fork()
    CHANGES[change](fork)
    assert seen(fork) != pristine
    assert seen(original) == pristine
    assert seen(original.fork()) == pristine


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_to_the_original_leaves_its_forks_as_they_were(change: str, pristine: bytes) -> None:
    original = DistrictStore(SPEC)
    forks = [original.fork(), original.fork()]
    assert seen(forks[0]) == pristine
    CHANGES[change](original)
    assert seen(original) != pristine
    assert [seen(f) for f in forks] == [pristine, pristine]


def test_a_fork_of_a_changed_fork_starts_from_the_change_and_stays_apart(pristine: bytes) -> None:
    fork = DistrictStore(SPEC).fork()
    fork.submit_application(firstName="Ada")
    changed = seen(fork)
    grandchild = fork.fork()
    assert seen(grandchild) == changed
    grandchild.delete_student(_linked(grandchild))
    assert seen(fork) == changed
    assert seen(grandchild) not in (changed, pristine)


def test_a_fork_leaves_its_twins_listing_cache_alone() -> None:
    """A fork shares the cache until it changes, but what it does to it (a lower limit, a change, its own
    listings) never empties or fills its twin's: a test's tenant must not slow down the next test's."""
    original = DistrictStore(SPEC)
    original.warm()
    cache = lambda: (original.cached_views(), original.cached_bytes(), original.kept_views())  # noqa: E731
    before = cache()
    assert before[0] == 5 and before[2] == (0, 0)
    fork, other = original.fork(), original.fork()
    other.set_cache_limit(8, max_bytes=1)  # while shared: nothing trimmed
    assert cache() == before
    fork.put_student({**fork.all_students()[0], "lastName": "Renamed"})
    assert fork.kept_views()[0] == 5, "the listings of before its change, kept for its next ones"
    assert cache() == before
    fork.warm()
    fork.set_cache_limit(8, max_bytes=1)  # its own cache now: trimmed
    assert fork.cached_views() == 1 and fork.kept_views() == (0, 0)
    assert cache() == before
