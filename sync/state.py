"""Operoo's stored state as plain data, and the eSD mirror's codec: the shapes `store` reads and writes.

`plan` computes the difference between this and what the rules ask for; `store` holds only the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from contracts.vocabulary import Status
from sync.records import Person, Student

GroupKey = tuple[str, str | None]  # (group name, school id or None for district groups)


@dataclass(frozen=True, slots=True)
class StoredStudent:
    operoo_id: str
    person_id: int
    esd_id: str | None
    status: str
    school_id: str | None
    first_name: str
    last_name: str
    archived: bool = False


@dataclass(frozen=True, slots=True)
class StoredContact:
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    archived: bool = False
    links: Mapping[str, str] = field(default_factory=dict)  # Operoo ID -> permission


@dataclass(frozen=True)
class State:
    """The Operoo side as stored."""

    students: Mapping[int, StoredStudent] = field(default_factory=dict)  # by person id, archived too
    buildings: Mapping[str, str] = field(default_factory=dict)  # active buildings
    groups: Mapping[GroupKey, frozenset[str]] = field(default_factory=dict)
    contacts: Mapping[int, StoredContact] = field(default_factory=dict)
    active: int = 0  # students not archived: all of them, also when only some are loaded


# ----- the eSD mirror: what eSD said at the last applied sync, kept so `explain` can replay the rules offline


def encode_person(person: Person) -> bytes:
    """A person's records from both endpoints, as parsed, as one JSON row."""
    return orjson.dumps((person.person_id, _student_row(person.standard), _student_row(person.operoo)))


def decode_person(body: bytes) -> Person:
    """The person `encode_person` wrote."""
    pid, standard, operoo = orjson.loads(body)
    return Person(pid, _student(pid, standard), _student(pid, operoo))


def _student_row(s: Student | None) -> tuple[Any, ...] | None:
    if s is None:
        return None
    return (s.enrolled_id, s.status, s.school_id, s.enrollment_date, s.first_name, s.last_name)


def _student(person_id: int, row: list[Any] | None) -> Student | None:
    if row is None:
        return None
    enrolled_id, status, school_id, enrollment_date, first_name, last_name = row
    return Student(person_id, enrolled_id, Status(status), school_id, enrollment_date, first_name, last_name)
