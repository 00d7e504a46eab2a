"""A listing built while a change is made (another request thread, a drift, a worker catching up) must not
be cached past that change: the next requests would be served the district of before it, until the next change."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mock_esd.district import listings
from mock_esd.district.generator import DistrictSpec, generate_district
from mock_esd.district.store import DistrictStore


def _page(store: DistrictStore) -> bytes:
    view = store.students()
    return bytes(view.page(0, len(view.records)))


def test_a_listing_built_across_a_change_is_not_served_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    store = DistrictStore(DistrictSpec(seed=7, students=60))
    building, changed = threading.Event(), threading.Event()
    derive = listings.derive

    def slow_derive(*args: Any, **kwargs: Any) -> Any:
        if not building.is_set():  # the first build: it has read the district's list; the change lands now
            building.set()
            assert changed.wait(30)
        return derive(*args, **kwargs)

    monkeypatch.setattr(listings, "derive", slow_derive)
    reader = threading.Thread(target=store.students)
    reader.start()
    assert building.wait(30)
    person = store.all_students()[0]
    store.put_student({**person, "lastName": "Renamed"})  # as PATCH /_mock/students/{id} does
    changed.set()
    reader.join(30)
    fresh = DistrictStore(store.spec, district=store.district_copy())
    assert b'"Renamed"' in _page(fresh)
    assert _page(store) == _page(fresh), "the listing of before the change is still served"


class _Probe(dict[str, Any]):
    """A record that runs `during` when its id is read: what another request thread sees at that moment."""

    during: Any = None

    def __getitem__(self, key: str) -> Any:
        if key == "id" and self.during is not None:
            during, self.during = self.during, None
            during()
        return super().__getitem__(key)


def test_a_listing_read_while_a_change_reindexes_the_district_shows_every_record() -> None:
    """A change sorted the district's lists in place, and a list being sorted with a key is empty to any other
    thread: a page read then (a sync walking while a test changes a school) said the district had no students."""
    district = generate_district(DistrictSpec(seed=7, students=60))
    probe = _Probe(district.students[-1])
    district.students[-1] = probe
    store = DistrictStore(district=district)
    shown = sum(1 for s in district.students if s["enrolledId"] is not None)  # no listing built yet: none cached
    seen: list[int] = []
    probe.during = lambda: seen.append(len(store.students().records))  # read as another request would, mid-change
    school = store.all_students()[0]["schoolId"]
    store.put_school({**next(s for s in store.schools().records if s["id"] == school), "name": "Renamed"})
    assert seen == [shown], "the listing read during the change lost its records"


class _ProbeFields(dict[int, Any]):
    """Operoo's contact fields whose iteration runs `during` after the first item: another thread's change then."""

    during: Any = None

    def items(self) -> Any:
        for n, item in enumerate(super().items()):
            if n == 1 and self.during is not None:
                during, self.during = self.during, None
                during()
            yield item


def test_operoo_contacts_built_while_a_contact_is_put_anew_is_a_page_not_a_500() -> None:
    """The listing read the district's Operoo contact fields while a change removed one of them (a contact
    put anew shows alike on both listings): 'dictionary changed size during iteration', a 500."""
    district = generate_district(DistrictSpec(seed=7, students=60))
    fields = _ProbeFields({c["id"]: {"firstName": f"Op{c['id']}"} for c in district.contacts[:3]})
    district.operoo_contact_fields = fields
    store = DistrictStore(district=district)
    contact = store.all_contacts()[2]
    fields.during = lambda: store.put_contact(dict(contact))  # as POST /_mock/contacts does, mid-build
    view = store.operoo_contacts()
    assert len(view.records) == len(store.operoo_contacts().records) > 0
