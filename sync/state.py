"""Operoo's stored state as plain data: the shapes `store` reads and writes.

`plan` computes the difference between this and what the rules ask for; `store` holds only the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

GroupKey = tuple[str, str | None]  # (group name, school id or None for district groups)


class StoredStudent(NamedTuple):  # a named tuple: a first sync builds one per student, at once (see rules._decision)
    operoo_id: str
    person_id: int
    esd_id: str | None
    status: str
    school_id: str | None
    first_name: str
    last_name: str
    archived: bool = False


class StoredContact(NamedTuple):  # a named tuple: a first sync builds one per contact, cheaply
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    archived: bool
    links: Mapping[str, str]  # Operoo ID -> permission


@dataclass(frozen=True)
class State:
    """The Operoo side as stored."""

    students: Mapping[int, StoredStudent] = field(default_factory=dict)  # by person id, archived too
    buildings: Mapping[str, str] = field(default_factory=dict)  # active buildings
    groups: Mapping[GroupKey, frozenset[str]] = field(default_factory=dict)
    contacts: Mapping[int, StoredContact] = field(default_factory=dict)
    active: int = 0  # students not archived: all of them, also when only some are loaded
