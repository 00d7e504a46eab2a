"""eSD records as the sync uses them: parsed once from JSON, checked field by field, then frozen.

A record that lacks a field or has the wrong type raises RecordError naming endpoint, record and field:
a sync must abort rather than act on a half-understood listing (R11). It says the type of a wrong value,
never the value (a name, a date of birth: the message goes to a terminal, a CI log, a report).

The records are named tuples made at once (`new_tuple`, the sync's one such shortcut, with its measured why);
the rules and the plan make their decisions, stored rows and changes with it too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import orjson

from mock_esd_contracts import endpoints
from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.endpoints import Endpoint
from mock_esd_contracts.errors import type_name
from mock_esd_sync.errors import RecordError

Raw = Mapping[str, Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class School:
    school_id: str
    name: str
    school_type: str
    is_holding: bool


# The records are named tuples, not frozen dataclasses: a first sync builds some 370,000 of them (100,000
# students), and a frozen dataclass costs a call per field to build where a tuple is made at once.

# A named tuple made at once from its class and a tuple of its fields, as `NamedTuple._make` does, without
# the Python-level call of `NamedTuple.__new__`: 0.10 us where calling the class costs 0.23 (8 fields,
# Python 3.11). The sync's one definition: the records here, and the decisions, stored rows and changes the
# rules and the plan make (a first sync of 100,000 students makes well over half a million such tuples).
new_tuple = tuple.__new__


class Student(NamedTuple):
    person_id: int
    enrolled_id: str | None
    status: esd.Status
    school_id: str | None
    enrollment_date: str | None
    first_name: str
    last_name: str


class Person(NamedTuple):
    """One eSD person as both endpoints showed it."""

    person_id: int
    standard: Student | None  # from /v1/students (has an enrolledId)
    operoo: Student | None  # from /v1/operoo/students

    @property
    def record(self) -> Student:
        """The fullest view: the standard record when there is one."""
        record = self.standard or self.operoo
        assert record is not None
        return record


class Link(NamedTuple):
    person_id: int
    relationship: str
    priority: int


class Contact(NamedTuple):
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    do_not_contact: bool
    links: tuple[Link, ...]


class _Fields:
    """Typed access to one raw record, raising RecordError with the record's coordinates."""

    __slots__ = ("endpoint", "raw", "record_id")

    def __init__(self, endpoint: str, raw: Any) -> None:
        if not isinstance(raw, Mapping):
            raise RecordError(endpoint, "?", "(record)", f"expected an object, got {type_name(raw)}")
        self.endpoint, self.raw = endpoint, raw
        self.record_id = record_label(endpoint, raw.get("id"))

    def _get(self, name: str, types: type | tuple[type, ...], optional: bool) -> Any:
        if name not in self.raw:
            raise RecordError(self.endpoint, self.record_id, name, "missing")
        value = self.raw[name]
        if value is None and optional:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            want = "/".join(_JSON_TYPES[t] for t in _as_tuple(types)) + (" or null" if optional else "")
            raise RecordError(self.endpoint, self.record_id, name, f"expected {want}, got {type_name(value)}")
        return value

    def integer(self, name: str) -> int:
        return int(self._get(name, int, False))

    def text(self, name: str, optional: bool = False) -> Any:
        return self._get(name, str, optional)

    def flag(self, name: str) -> bool:
        return bool(self._get(name, bool, False))

    def items(self, name: str) -> list[Any]:
        return list(self._get(name, list, False))


_JSON_TYPES = {str: "string", int: "integer", bool: "boolean", list: "array"}


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def record_label(endpoint: str, ident: Any) -> object:
    """How a message names a record: its id when it is one (an integer; a school's string), else "?"."""
    if type(ident) is int or (endpoint == "/v1/schools" and type(ident) is str):
        return ident
    return "?"


def parse_school(raw: Any, endpoint: str = "/v1/schools") -> School:
    f = _Fields(endpoint, raw)
    return School(f.text("id"), f.text("name"), f.text("schoolType"), f.flag("isHoldingSchool"))


_STATUS_OF = {status.value: status for status in esd.Status}
_STANDARD = "/v1/students"  # lists only students with an enrolledId; /v1/operoo/students also those without


# A district repeats a few hundred names, a few thousand dates, a handful of school ids and relationships:
# each record's copy of them interned is one string per value, not one per record (at 1,000,000 students
# about 0.5 KB per student; ids, enrolledIds and e-mails, unique, are kept as they came).
# (Inline in the fast paths: a helper function's call would cost as much as the interning.)
_intern = sys.intern


def _shared(value: str | None) -> str | None:
    return None if value is None else _intern(value)


def parse_student(raw: Any, endpoint: str) -> Student:
    """A student record; the fast path checks types inline, the careful one names what is wrong."""
    try:
        pid, enrolled, status = raw["id"], raw["enrolledId"], raw["studentStatus"]
        school, date, first, last = raw["schoolId"], raw["enrollmentDate"], raw["firstName"], raw["lastName"]
    except (KeyError, TypeError):
        return _parse_student_carefully(raw, endpoint)
    known = _STATUS_OF.get(status) if type(status) is str else None
    if (
        type(pid) is int and known is not None and type(first) is str and type(last) is str
        and (
            (type(enrolled) is str and len(enrolled) == esd.ENROLLED_ID_DIGITS and enrolled.isdigit())
            or (enrolled is None and endpoint != _STANDARD)
        )
        and (school is None or type(school) is str) and (date is None or type(date) is str)
    ):  # fmt: skip
        return new_tuple(Student, (
            pid, enrolled, known, school if school is None else _intern(school),
            date if date is None else _intern(date), _intern(first), _intern(last),
        ))  # fmt: skip
    return _parse_student_carefully(raw, endpoint)


def _parse_student_carefully(raw: Any, endpoint: str) -> Student:
    f = _Fields(endpoint, raw)
    text = f.text("studentStatus")
    status = _STATUS_OF.get(text)
    if status is None:  # a status is eSD's vocabulary, but this one is not: it may be any text, so not quoted
        allowed = ", ".join(esd.STUDENT_STATUSES)
        raise RecordError(
            endpoint, f.record_id, "studentStatus", f"not one of {allowed} (a string of {len(text)} characters)"
        )
    enrolled_id = f.text("enrolledId", optional=endpoint != _STANDARD)
    if enrolled_id is not None and not (len(enrolled_id) == esd.ENROLLED_ID_DIGITS and enrolled_id.isdigit()):
        raise RecordError(
            endpoint, f.record_id, "enrolledId", f"expected 8 digits, got a string of {len(enrolled_id)} characters"
        )
    return Student(
        f.integer("id"),
        enrolled_id,
        status,
        _shared(f.text("schoolId", optional=True)),
        _shared(f.text("enrollmentDate", optional=True)),
        _intern(f.text("firstName")),
        _intern(f.text("lastName")),
    )


def parse_contact(raw: Any, endpoint: str) -> Contact:
    """A contact record with its links; fast path first, as for students."""
    try:
        cid, first, last, email, dnc, items = (
            raw["id"], raw["firstName"], raw["lastName"], raw["email"], raw["doNotContact"], raw["students"]
        )  # fmt: skip
        links = []
        if type(items) is not list:  # an empty object or string would give no links, as an empty list does
            return _parse_contact_carefully(raw, endpoint)
        for i in items:
            person, relationship, priority = i["studentId"], i["relationship"], i["priority"]
            if type(person) is not int or type(relationship) is not str or type(priority) is not int:
                break
            links.append(new_tuple(Link, (person, _intern(relationship), priority)))
        else:
            if (
                type(cid) is int and type(first) is str and type(last) is str
                and (email is None or type(email) is str) and type(dnc) is bool
            ):  # fmt: skip
                return new_tuple(Contact, (cid, _intern(first), _intern(last), email, dnc, tuple(links)))
    except (KeyError, TypeError):
        pass
    return _parse_contact_carefully(raw, endpoint)


def _parse_contact_carefully(raw: Any, endpoint: str) -> Contact:
    f = _Fields(endpoint, raw)
    links = []
    for item in f.items("students"):
        if not isinstance(item, Mapping):  # named here: `_Fields` would know neither the contact nor the field
            raise RecordError(endpoint, f.record_id, "students", f"expected an object per link, got {type_name(item)}")
        link = _Fields(endpoint, item)
        link.record_id = f.record_id
        links.append(Link(link.integer("studentId"), _intern(link.text("relationship")), link.integer("priority")))
    return Contact(
        f.integer("id"),
        _intern(f.text("firstName")),
        _intern(f.text("lastName")),
        f.text("email", optional=True),
        f.flag("doNotContact"),
        tuple(links),
    )


# ----- a snapshot: every listing one sync read ------------------------------------------------


@dataclass(frozen=True)
class RawSnapshot:
    """The page bodies eSD answered, checked but not parsed; `digest` covers every body, so an
    unchanged eSD is cheap to spot. Pages read when their records were sure to be needed (see
    `EsdClient.fetch_raw`) are in `parsed` instead, parsed as they arrived: their JSON is read once, not
    twice. A listing's records are its `pages` (the first ones) then its `parsed` records."""

    pages: dict[str, list[bytes]]
    custom_endpoints: bool
    digest: str
    parsed: dict[str, list[Any]] = field(default_factory=dict)
    page_digests: tuple[str, ...] = ()  # each page's, in reading order (EsdClient.fetch_raw's `last_pages`)
    listing_pages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the same, by listing

    def parse(self) -> Snapshot:
        """Parse every record, page by page, releasing each page's bytes; RecordError names the first bad record."""

        def parsed(endpoint: Endpoint, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
            out: list[T] = []
            for body in self.pages.pop(endpoint.path, []):
                out += [parse(item, endpoint.path) for item in orjson.loads(body)[endpoint.key]]
            return (*out, *self.parsed.pop(endpoint.path, ()))

        schools = parsed(endpoints.SCHOOLS, parse_school)
        students, contacts = parsed(endpoints.STUDENTS, parse_student), parsed(endpoints.CONTACTS, parse_contact)
        if not self.custom_endpoints:
            return Snapshot(schools, students, contacts)
        return Snapshot(
            schools,
            students,
            contacts,
            parsed(endpoints.OPEROO_STUDENTS, parse_student),
            parsed(endpoints.OPEROO_CONTACTS, parse_contact),
        )


@dataclass(frozen=True)
class Snapshot:
    """Everything one sync read from eSD. The operoo_* fields are None when custom endpoints are off."""

    schools: tuple[School, ...]
    students: tuple[Student, ...]
    contacts: tuple[Contact, ...]
    operoo_students: tuple[Student, ...] | None = None
    operoo_contacts: tuple[Contact, ...] | None = None
