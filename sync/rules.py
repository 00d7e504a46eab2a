"""The sync rules R1-R9 as pure functions: which students sync, with which ID, into which groups.

`decide` is the one place a student's fate is decided; `compute_desired` applies it to a snapshot and
`explain` replays it with a trace. No I/O, no clock, no randomness: eSD's records come as `shapes` gives
them, and an import-linter contract (pyproject.toml) keeps this module from the reader, the mirror, the
client and the store.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import sys
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType
from typing import NamedTuple

from mock_esd_contracts import vocabulary as esd
from mock_esd_sync import vocabulary as o
from mock_esd_sync.errors import IdentityConflict
from mock_esd_sync.records import Contact, Person, Snapshot, Student, new_tuple
from mock_esd_sync.rulebook import R1, R2, R3
from mock_esd_sync.settings import PRIORITY, Settings
from mock_esd_sync.shapes import EsdRecords, Scope, esd_records
from mock_esd_sync.state import GroupKey, StoredStudent

CUSTOM, BUILDING = "custom", "building"


class Decision(NamedTuple):
    """A synced student: the Operoo record the rules ask for, the path that took it, and why in one line.

    A named tuple, made at once (`_decision`): a first sync makes one per synced student."""

    student: StoredStudent
    path: str
    reason: str

    @property
    def operoo_id(self) -> str:
        return self.student.operoo_id

    @property
    def person_id(self) -> int:
        return self.student.person_id

    @property
    def status(self) -> str:
        return self.student.status

    @property
    def school_id(self) -> str | None:
        return self.student.school_id


@dataclass(frozen=True)
class Desired:
    """The Operoo state the rules ask for."""

    students: Mapping[str, Decision]  # by Operoo ID
    buildings: Mapping[str, str]  # selected school id -> name
    # group -> member Operoo IDs, sorted, each once: 8 bytes a member where a set costs ~48 (a first
    # sync of a million students has some 3.6 million memberships)
    groups: Mapping[GroupKey, tuple[str, ...]]
    contacts: Mapping[int, DesiredContact]
    persons: Collection[int]  # the ids of the persons decided (not their records: those can be freed)
    warnings: tuple[str, ...] = ()
    custom_endpoints_read: bool = True  # False: persons listed only on /v1/operoo/* were not seen


class DesiredContact(NamedTuple):  # a named tuple, made at once: a first sync makes one per contact
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    links: Mapping[str, str] = MappingProxyType({})  # Operoo ID -> permission


def decide(person: Person, settings: Settings, trace: list[str] | None = None) -> tuple[Decision | None, str | None]:
    """(decision or None, data warning or None) for one person; appends each rule's verdict to `trace`."""
    selected = settings.selected
    building, warning = _building_path(person.standard, selected, trace)
    if building is not None:
        return building, warning
    custom = _custom_path(person.operoo, settings.custom_endpoints, trace)
    return custom, warning


def _building_path(
    student: Student | None, selected: Mapping[str, frozenset[str]], trace: list[str] | None
) -> tuple[Decision | None, str | None]:
    if student is None:
        _say(trace, f"{R3}: not on /v1/students (no enrolledId) -> building path does not apply")
        return None, None
    school = student.school_id
    if school is None:
        _say(trace, f"{R3}: no school (schoolId is null) -> building path does not apply")
        return None, None
    if school not in selected:
        _say(trace, f"{R3}: school {school} is not selected -> building path does not apply")
        return None, None
    option, reason = _verdict(school, selected[school], student.status)
    if option is None:
        _say(trace, reason)
        return None, None
    if option is _FUTURE and not student.enrollment_date:
        warning = f"{R3}: student {student.enrolled_id} (person {student.person_id}) is Pre-Registered without an enrollmentDate; skipped"
        _say(trace, warning)
        return None, warning
    if trace is not None:
        trace.append(reason)
    assert student.enrolled_id is not None
    return _decision(student, student.enrolled_id, option, BUILDING, reason), None


_FUTURE = o.Option.FUTURE
VERDICTS_CACHED = 1024  # R3 verdicts kept (one per school, its options and a status: a district has a few dozen)


@functools.lru_cache(maxsize=VERDICTS_CACHED)
def _verdict(school: str, options: frozenset[str], status: esd.Status) -> tuple[o.Option | None, str]:
    """R3 on a selected school's student by status alone: the option it syncs as (None: not synced), and why.

    The same few dozen for every student of a district: each reason is one string, not one per student."""
    option = o.OPTION_OF_ESD_STATUS.get(status)
    listed = _listed(options)
    if option is None or option not in options:
        return None, f"{R3}: school {school} selected with {listed}; studentStatus is {status} -> not synced by {R3}"
    return option, sys.intern(
        f"{R3}: school {school} selected with {listed}; studentStatus is {status} -> synced as {option}"
    )


def may_warn(person: Person) -> bool:
    """Whether `decide` could give a data warning for this person (a superset: R3's Pre-Registered
    without an enrollmentDate). A partial plan decides these again so that its warnings are the whole's."""
    s = person.standard
    return s is not None and s.status == esd.Status.PRE_REGISTERED and not s.enrollment_date


@functools.lru_cache(maxsize=64)
def _listed(options: frozenset[str]) -> str:
    """A school's options as a reason names them (the same few sets for every student of a district)."""
    return ", ".join(sorted(options))


def _custom_path(student: Student | None, custom_endpoints: bool, trace: list[str] | None) -> Decision | None:
    if not custom_endpoints:
        _say(trace, f"{R1}: custom endpoints are off -> custom path does not apply")
        return None
    if student is None:
        _say(trace, f"{R1}: not on /v1/operoo/students -> custom path does not apply")
        return None
    if student.enrolled_id is not None or student.status != esd.Status.PRE_ENROLLED:
        _say(
            trace,
            f"{R1}: enrolledId is {student.enrolled_id or 'null'}, studentStatus is {student.status}; needs null and Pre-enrolled -> not synced by {R1}",
        )
        return None
    reason = f"{R1}: enrolledId is null and studentStatus is Pre-enrolled -> synced with temporary ID {o.temporary_id(student.person_id)} ({R2})"
    _say(trace, reason)
    return _decision(student, o.temporary_id(student.person_id), o.Option.PRE_ENROLLED, CUSTOM, reason)


def _decision(student: Student, operoo_id: str, status: o.Option, path: str, reason: str) -> Decision:
    stored = new_tuple(StoredStudent, (
        operoo_id, student.person_id, student.enrolled_id, status, student.school_id, student.first_name,
        student.last_name, False,
    ))  # fmt: skip
    return new_tuple(Decision, (stored, path, reason))


def _say(trace: list[str] | None, line: str) -> None:
    if trace is not None:
        trace.append(line)


def groups_of(decision: Decision, selected: Mapping[str, frozenset[str]]) -> list[GroupKey]:
    """R5 and R6: the groups one synced student belongs to. They follow from its path, status and school
    alone: `desired_students` asks once for each such triple."""
    groups: list[GroupKey] = [(o.ALL_DISTRICT_STUDENTS, None), (o.DISTRICT_STATUS_GROUP[decision.status], None)]
    school = decision.school_id
    # A building-path student's status is one of its school's options by construction; a custom-path
    # student (status Pre-Enrolled) joins its school's groups only if the school selects Pre-Enrolled.
    if school is not None and decision.status in selected.get(school, frozenset()):
        groups += [(o.ALL_STUDENTS, school), (o.BUILDING_STATUS_GROUP[decision.status], school)]
    return groups


def all_groups(selected: Mapping[str, frozenset[str]]) -> list[GroupKey]:
    """The groups that exist: the district's, and for each selected building its own and one per option."""
    district: list[GroupKey] = [(g, None) for g in o.DISTRICT_STATUS_GROUP.values()]
    groups: list[GroupKey] = [(o.ALL_DISTRICT_STUDENTS, None), *district]
    for school, options in sorted(selected.items()):
        groups.append((o.ALL_STUDENTS, school))
        groups += [(o.BUILDING_STATUS_GROUP[option], school) for option in o.OPTIONS if option in options]
    return groups


def permission(link_relationship: str, link_priority: int, settings: Settings) -> str:
    """R9: a contact link's permission from the configured source."""
    c = settings.contacts
    allowed = (
        link_priority <= c.max_priority if c.permission_source == PRIORITY else link_relationship in c.relationships
    )
    return o.VIEW_AND_UPDATE if allowed else o.NO_PERMISSION


def compute_desired(snapshot: Snapshot | EsdRecords, settings: Settings, scope: Scope | None = None) -> Desired:
    """The Operoo state R1-R9 ask for, given what eSD says: for everyone, or for the persons and contacts
    of `scope` only (the others' decisions are known not to change)."""
    records = snapshot if isinstance(snapshot, EsdRecords) else esd_records(snapshot)
    return desired_with_contacts(records, desired_students(records, settings, scope), settings, scope)


@dataclass(frozen=True)
class DesiredStudents:
    """The first half of the desired state: who is synced with which ID (R1-R4), in which groups (R5, R6)."""

    students: Mapping[str, Decision]  # by Operoo ID
    groups: Mapping[GroupKey, tuple[str, ...]]
    persons: Collection[int]  # the ids of the persons decided
    warnings: tuple[str, ...]


def desired_students(
    records: EsdRecords, settings: Settings, scope: Scope | None = None, *, check_identities: bool = True
) -> DesiredStudents:
    """Each person's decision (all, or those of `scope`) and the groups they make. IdentityConflict when eSD
    gives two persons one Operoo ID, unless not `check_identities` (then the first person keeps it): a partial
    plan's scope is still growing (`run._scope`), and the plan of the whole scope names every conflict."""
    persons = records.persons
    if scope is not None:  # in id order, as the whole: two persons given one Operoo ID resolve alike
        persons = {pid: persons[pid] for pid in sorted(scope.persons) if pid in persons}
    selected = settings.selected
    students: dict[str, Decision] = {}
    warnings: list[str] = []
    # The Operoo IDs decided, by (path, status, school): the students of one such kind share their groups.
    kinds: dict[tuple[str, str, str | None], list[str]] = {}
    groups_of_kind: dict[tuple[str, str, str | None], list[GroupKey]] = {}
    clashes: dict[str, list[int]] = {}  # an Operoo ID given to more than one person -> those persons
    for person in persons.values():
        decision, warning = decide(person, settings)
        if warning:
            warnings.append(warning)
        if decision is None:
            continue
        student = decision.student
        operoo_id = student.operoo_id
        if operoo_id in students:  # eSD gave two persons one enrolledId: an ID names one person for life
            clashes.setdefault(operoo_id, [students[operoo_id].person_id]).append(student.person_id)
            continue
        students[operoo_id] = decision
        kind = (decision.path, student.status, student.school_id)
        same = kinds.get(kind)
        if same is None:
            same = kinds[kind] = []
            groups_of_kind[kind] = groups_of(decision, selected)
        same.append(operoo_id)
    groups: dict[GroupKey, list[list[str]]] = {key: [] for key in all_groups(selected)}
    for kind, ids in kinds.items():
        ids.sort()
        for key in groups_of_kind[kind]:
            groups[key].append(ids)
    if clashes and check_identities:
        named = [f"eSD gives ID {oid} to {_persons(pids)}" for oid, pids in itertools.islice(clashes.items(), 5)]
        more = f" (and {len(clashes) - 5} more)" if len(clashes) > 5 else ""
        raise IdentityConflict(f"{'; '.join(named)}{more} (an enrolledId must never be reused)")
    members = {key: _members(groups.pop(key)) for key in list(groups)}
    return DesiredStudents(students, members, PersonIds(persons), tuple(warnings))


def _persons(pids: list[int]) -> str:
    if len(pids) == 2:
        return f"both person {pids[0]} and person {pids[1]}"
    return f"persons {', '.join(map(str, pids[:-1]))} and {pids[-1]}"


class PersonIds(Collection[int]):
    """Person ids in a sorted array: 8 bytes each, where a frozenset of ints costs ~40."""

    __slots__ = ("_ids",)

    def __init__(self, ids: Iterable[int]) -> None:
        self._ids = array("q", sorted(ids))

    def __contains__(self, item: object) -> bool:
        if type(item) is not int:
            return False
        n = bisect.bisect_left(self._ids, item)
        return n < len(self._ids) and self._ids[n] == item

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        return self._ids == other._ids if isinstance(other, PersonIds) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PersonIds({list(self._ids)!r})"


def desired_with_contacts(
    records: EsdRecords, students: DesiredStudents, settings: Settings, scope: Scope | None
) -> Desired:
    """The whole desired state: `students` with the buildings and the contacts (R9). Reads only the records'
    contacts and schools: a caller may let the persons' records go before (a sync does, see `run.make_plan`)."""
    buildings = {school: records.schools.get(school, school) for school in sorted(settings.selected)}
    by_person = dict(scope.known if scope else {})
    synced = list(map(_STUDENT, students.students.values()))  # (in bulk: a first sync has ~10^5)
    by_person.update(zip(map(_PERSON_ID, synced), map(_OPEROO_ID, synced), strict=True))
    pairs = (
        records.contacts.values()
        if scope is None
        else (records.contacts[c] for c in sorted(scope.contacts) if c in records.contacts)
    )
    contacts = _contacts(_merge_contacts(pairs), by_person, settings)
    return Desired(
        students.students,
        buildings,
        students.groups,
        contacts,
        students.persons,
        students.warnings,
        records.custom_endpoints_read,
    )


_STUDENT, _PERSON_ID, _OPEROO_ID = attrgetter("student"), attrgetter("person_id"), attrgetter("operoo_id")


def _members(kinds: list[list[str]]) -> tuple[str, ...]:
    """A group's members, sorted, from the sorted IDs of each kind of student in it (merged: sorting sorted
    runs one after the other costs a merge). Each is there once: an ID is given to one person at most."""
    return tuple(kinds[0] if len(kinds) == 1 else sorted(itertools.chain.from_iterable(kinds)))


def _merge_contacts(pairs: Iterable[tuple[Contact | None, Contact | None]]) -> Iterator[Contact]:
    """One contact per id from its records in (/v1/contacts, /v1/operoo/contacts): links from both, the
    first's fields winning; one at a time, not a dict of them all."""
    for known, contact in pairs:
        if known is None or contact is None:
            only = known if known is not None else contact
            assert only is not None
            yield only
            continue
        linked = {link.person_id for link in known.links}
        extra = tuple(link for link in contact.links if link.person_id not in linked)
        if extra or contact.do_not_contact != known.do_not_contact:
            known = Contact(
                known.contact_id, known.first_name, known.last_name, known.email,
                known.do_not_contact or contact.do_not_contact, known.links + extra,
            )  # fmt: skip
        yield known


def _contacts(
    contacts: Iterable[Contact], by_person: Mapping[int, str], settings: Settings
) -> dict[int, DesiredContact]:
    out: dict[int, DesiredContact] = {}
    said = _Permissions(settings)  # R9 per (relationship, priority): a district has a few dozen
    operoo_id = by_person.get
    # (Plain loops over the records' fields: a first sync goes through every contact and link.)
    for contact_id, first_name, last_name, email, do_not_contact, contact_links in contacts:
        if do_not_contact:
            continue
        links = {}  # a linked person's Operoo ID -> the link's permission, for the persons synced
        for person_id, relationship, priority in contact_links:
            synced = operoo_id(person_id)
            if synced is not None:
                links[synced] = said[relationship, priority]
        if links:
            out[contact_id] = new_tuple(DesiredContact, (contact_id, first_name, last_name, email, links))
    return out


class _Permissions(dict[tuple[str, int], str]):
    """R9's permission of each (relationship, priority) a contact link has, found when first asked."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def __missing__(self, key: tuple[str, int]) -> str:
        relationship, priority = key
        said = self[key] = permission(relationship, priority, self.settings)
        return said


@dataclass(frozen=True)
class PathCheck:
    """Whether one sync path can take a person, and under which setting, with the rule's own trace."""

    path: str  # CUSTOM or BUILDING
    condition: str  # the setting under which the trace was taken
    trace: tuple[str, ...]
    decision: Decision | None


def possible_paths(person: Person) -> list[PathCheck]:
    """Each sync path replayed under the settings most favourable to it (for a view of eSD, before any settings).

    The building path is tried with the person's school selected with every option, the custom path with
    the custom endpoints on; `decide`'s own path functions do the work, so a view never disagrees with a sync.
    """
    standard, school = person.standard, person.record.school_id
    building_trace: list[str] = []
    all_options = {school: frozenset(o.OPTIONS)} if school is not None else {}
    building, _ = _building_path(standard, all_options, building_trace)
    option = o.OPTION_OF_ESD_STATUS.get(standard.status) if standard else None
    if school is None:
        condition = "no school: the building path needs one"
    elif building is not None:
        condition = f"school {school} selected with {option}"
    else:
        condition = f"school {school} selected with any option"
    custom_trace: list[str] = []
    custom = _custom_path(person.operoo, True, custom_trace)
    return [
        PathCheck(BUILDING, condition, tuple(building_trace), building),
        PathCheck(CUSTOM, "custom endpoints on", tuple(custom_trace), custom),
    ]
