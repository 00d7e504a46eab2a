"""One district's records, its listings, and the changes made to it; plain Python, no HTTP.

`DistrictStore` is the domain store: the district's records and indexes, what each listing shows (the
students of `/v1/students` filtered by school, ...), and the district's verbs (put, delete, accept, move,
withdraw). It asks its `ListingCache` for the listings, which are computed once per change and cached with
their JSON, and after a change made again from the unchanged records and bytes (`listings`, `derivation`,
`encoding` say how, and why).

Records are never changed in place: a change puts a new record (or a new contact with new links) in a
new list. So `fork()` can hand out an isolated copy of a district without copying it: the two share
records, listings and encoded bytes until one of them changes, which then copies only its lists.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from mock_esd.district import builders
from mock_esd.district.derivation import ShownPersons, positions
from mock_esd.district.generator import District, DistrictSpec, Record, generate_district
from mock_esd.district.listings import DEFAULT_CACHE_BYTES, Listing, ListingCache
from mock_esd.errors import BadRequest, Conflict, NotFound
from mock_esd_contracts import vocabulary as v

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


@dataclass(frozen=True)
class StudentFilter:
    """Filters of `/v1/students`; None means any."""

    school_id: str | None = None
    status: str | None = None

    def select(self, students: Iterable[Record]) -> list[Record]:
        """The persons `/v1/students` shows with these filters, of `students`: those with an enrolledId that match."""
        school_id, status = self.school_id, self.status
        return [
            s
            for s in students
            if s["enrolledId"] is not None
            and (school_id is None or s["schoolId"] == school_id)
            and (status is None or s["studentStatus"] == status)
        ]


class DistrictStore:
    """A district (tenant): its records, the API's listings of them, and changes to them."""

    def __init__(
        self, spec: DistrictSpec | None = None, district: District | None = None, previous: DistrictStore | None = None
    ) -> None:
        """A district generated from `spec`, or `district` as given; `previous`: a store whose district this one
        changes (a scenario merged onto it), whose listings the new ones take unchanged records from."""
        self.spec = spec or DistrictSpec()
        self._district = district if district is not None else generate_district(self.spec)
        self._version = 0
        self._changes = 0
        self._listings: ListingCache = previous._listings.successor() if previous is not None else ListingCache()
        self.on_change: Callable[[str, list[Any]], None] | None = None  # set by the registry: the change log
        self._shared = False  # the district's lists and the listing cache are shared with a fork (copy on write)
        self._reindex()

    # ----- reading -------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Increases with every change; workers and caches compare it."""
        return self._version

    def schools(self) -> Listing:
        return self._listings.get(
            ("schools",), lambda previous: self._listings.whole(list(self._district.schools), previous)
        )

    def school_ids(self) -> set[str]:
        return set(self._schools_by_id)

    def students(self, flt: StudentFilter = StudentFilter()) -> Listing:
        """Students with an enrolledId (`/v1/students`), ordered by person id; an unknown school has none."""
        if flt.status is not None and flt.status not in v.STUDENT_STATUSES:
            raise BadRequest(f"unknown studentStatus {flt.status!r}; expected one of {', '.join(v.STUDENT_STATUSES)}")
        listings = self._listings
        if flt == StudentFilter():  # the listing a sync walks: derived, so a change rebuilds only what it touched
            return listings.get(
                ("students", flt),
                lambda previous: listings.derived(previous, listings.frozen(self._district.students), (), _enrolled),
            )
        return listings.get(
            ("students", flt),
            lambda previous: listings.whole(flt.select(self._district.students), previous),
        )

    def student(self, enrolled_id: str) -> Record:
        """One student by enrolledId."""
        person = self._by_enrolled_id.get(enrolled_id)
        if person is None:
            raise NotFound(f"no student with enrolledId {enrolled_id!r}")
        return person

    def operoo_students(self) -> Listing:
        """Application-stage persons (no enrolledId) plus the recently accepted, by person id."""

        def build(previous: Listing | None) -> Listing:
            accepted = frozenset(self._district.recently_accepted)  # a copy: the district's set changes in place
            prior = previous.derivation.people if previous is not None and previous.derivation is not None else None
            people = prior if prior is not None and prior.ids == accepted else ShownPersons(accepted)

            def shown(s: Record) -> Record | None:
                return s if s["enrolledId"] is None or s["id"] in accepted else None

            students = self._listings.frozen(self._district.students)
            return self._listings.derived(
                previous, students, (), shown, people, lambda ids, _: positions(students, ids)
            )

        return self._listings.get(("operoo_students",), build)

    def contacts(self, student_id: int | None = None) -> Listing:
        """Contacts of `/v1/contacts`, linked to students with an enrolledId; by contact id."""
        return self._contacts("contacts", lambda: self.students().shown_persons(), student_id)

    def operoo_contacts(self, student_id: int | None = None) -> Listing:
        """Contacts linked to the persons `/v1/operoo/students` returns."""
        return self._contacts("operoo_contacts", lambda: self.operoo_students().shown_persons(), student_id)

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

    # ----- listings ------------------------------------------------------------------------

    def cached_views(self) -> int:
        """How many listings are cached (bounded by the cache limit)."""
        return self._listings.count()

    def cached_bytes(self) -> int:
        """Bytes the cached listings hold (bounded by the byte limit, but for the latest listing alone)."""
        return self._listings.nbytes()

    def kept_views(self) -> tuple[int, int]:
        """How many listings of before the latest changes are kept for the next ones, and the bytes they hold."""
        return self._listings.kept()

    def set_cache_limit(self, limit: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        """Keep at most `limit` listings (at least the few every sync needs) holding at most `max_bytes`."""
        self._listings.set_limit(limit, max_bytes)

    def warm(self) -> None:
        """Encode the five listings now (before `serve --workers` forks: the workers then share the bytes)."""
        for listing in (
            self.schools(),
            self.students(),
            self.contacts(),
            self.operoo_students(),
            self.operoo_contacts(),
        ):
            listing.page(0, 1)

    def _contacts(self, name: str, persons: Callable[[], ShownPersons], student_id: int | None) -> Listing:
        """A contacts listing: each contact with its links to the persons shown (`persons`), if any."""
        # A copy (taken at once): a change in another thread may remove a contact's fields while the listing is built.
        differing = dict(self._district.operoo_contact_fields) if name == "operoo_contacts" else {}

        def build(previous: Listing | None) -> Listing:
            people = persons()
            visible = people.ids
            shown = _shown_contact(visible, student_id, differing)
            if student_id is not None:  # a filtered listing holds few records: built whole, its bytes still reused
                return self._listings.whole([c for c in map(shown, self._district.contacts) if c is not None], previous)
            # What a contact shows reads the visible persons and its differing fields (as they encode: exact)
            fields = tuple(sorted((cid, orjson.dumps(f)) for cid, f in differing.items()))
            contacts = self._listings.frozen(self._district.contacts)

            def reading(persons: set[int], so_far: list[Record | None]) -> list[int]:
                """The contacts linking any of them. When no person became visible, only the contacts shown so far
                can change (their other contacts stay hidden)."""
                found = self._listings.linking(contacts, persons)
                return sorted(found if persons & visible else (i for i in found if so_far[i] is not None))

            return self._listings.derived(previous, contacts, fields, shown, people, reading)

        return self._listings.get((name, student_id), build)

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
        numeric = [int(e) for e in self._by_enrolled_id if e.isdigit()]
        self._highest_enrolled = max([getattr(self, "_highest_enrolled", 9_999_999), *numeric])

    # ----- copies ----------------------------------------------------------------------------

    def fork(self) -> DistrictStore:
        """An isolated copy in constant time, whatever the district's size: what a fresh tenant per test needs.

        The copy shares this store's records, listings and encoded pages until either store changes; the
        first change on either side gives that side its own lists and listing cache, never touching the other.
        """
        twin = copy.copy(self)
        twin.on_change = None
        twin._listings = self._listings.fork()
        self._shared = twin._shared = True
        return twin

    def _own(self) -> District:
        """The district, this store's own from here on: call before changing it."""
        if self._shared:
            self._district = self.district_copy()
            self._listings.own()
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
        self._listings.changing()  # a listing built from here on answers its own request only
        self._version += 1
        self._reindex()
        self._listings.changed()  # the listings of before are kept for the next ones to reuse
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
        relinked = _relinked(self._contacts_by_id, links)
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


def _enrolled(student: Record) -> Record | None:
    """`/v1/students` shows the persons with an enrolledId."""
    return student if student["enrolledId"] is not None else None


def _shown_contact(
    visible: AbstractSet[int], student_id: int | None, differing: dict[int, Record]
) -> Callable[[Record], Record | None]:
    """What a contacts listing shows of a contact: its links to the `visible` persons (none: not shown), only
    if it links `student_id` when given, with Operoo's `differing` field values when it has any."""

    def shown(contact: Record) -> Record | None:
        links = [link for link in contact["students"] if link["studentId"] in visible]
        if not links or (student_id is not None and all(link["studentId"] != student_id for link in links)):
            return None
        whole = contact if len(links) == len(contact["students"]) else {**contact, "students": links}
        return {**whole, **differing[contact["id"]]} if contact["id"] in differing else whole

    return shown


def _relinked(contacts: dict[int, Record], links: list[list[Any]]) -> dict[int, Record]:
    """The contacts (by id) given back their links (`[contact id, index, link]`) to a person put back; a contact
    gone since, or linking that person again, is left as it is."""
    relinked: dict[int, Record] = {}
    for contact_id, index, link in links:
        contact = relinked.get(contact_id) or contacts.get(contact_id)
        if contact is not None and all(x["studentId"] != link["studentId"] for x in contact["students"]):
            students = list(contact["students"])
            students.insert(index, copy.deepcopy(link))
            relinked[contact_id] = {**contact, "students": students}
    return relinked
