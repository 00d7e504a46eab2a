"""Deliberate mutations of the sync rules, each a bug a real implementation could have.

`tests/properties/conftest.py` applies the one named by MOCK_ESD_MUTATION; test_teeth.py runs the
property suite under each and requires it to fail with a falsifying example.

Unlike the rest of the suite, which pins public behaviour, these patch the sync's internals on purpose
(a mutation is a bug planted at a precise place): a refactor that renames one of them edits it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from sync import client, plan, rules, run, settings, state
from sync.errors import FetchError

Mutation = Callable[[pytest.MonkeyPatch], None]


def custom_students_not_in_all_district(mp: pytest.MonkeyPatch) -> None:
    original = rules.groups_of

    def groups_of(decision: rules.Decision, selected: Any) -> list[state.GroupKey]:
        groups = original(decision, selected)
        return [g for g in groups if not (decision.path == rules.CUSTOM and g[0] == "All District Students")]

    mp.setattr(rules, "groups_of", groups_of)


def temporary_id_from_the_wrong_field(mp: pytest.MonkeyPatch) -> None:
    original = rules._custom_path

    def custom_path(student: Any, custom_endpoints: bool, trace: Any) -> Any:
        decision = original(student, custom_endpoints, trace)
        wrong = f"student-operoo-{student.enrolled_id}"
        return decision and replace(decision, student=replace(decision.student, operoo_id=wrong))

    mp.setattr(rules, "_custom_path", custom_path)


def pre_registered_without_future(mp: pytest.MonkeyPatch) -> None:
    original = rules._building_path

    def building_path(student: Any, selected: Any, trace: Any) -> Any:
        if student is not None and student.status == "Pre-Registered" and student.school_id in selected:
            selected = {**selected, student.school_id: selected[student.school_id] | {"Future"}}
        return original(student, selected, trace)

    mp.setattr(rules, "_building_path", building_path)


def deselected_school_keeps_its_groups(mp: pytest.MonkeyPatch) -> None:
    original = plan.compute_plan
    mp.setattr(
        run,
        "compute_plan",
        lambda desired, state: replace(original(desired, state), groups_remove=(), buildings_remove=()),
    )


def promotion_creates_a_new_record(mp: pytest.MonkeyPatch) -> None:
    original = plan._student_changes

    def student_changes(desired: Any, state: Any) -> tuple[plan.StudentChange, ...]:
        out: list[plan.StudentChange] = []
        for c in original(desired, state):
            if c.before is not None and c.before.operoo_id != c.after.operoo_id:
                out.append(plan.StudentChange(c.person_id, c.before, replace(c.before, archived=True), "archived"))
                out.append(plan.StudentChange(c.person_id, None, c.after, c.reason))
            else:
                out.append(c)
        return tuple(out)

    mp.setattr(plan, "_student_changes", student_changes)


def aborted_read_archives_students(mp: pytest.MonkeyPatch) -> None:
    original = client.EsdClient._pages

    def pages(self: client.EsdClient, path: str, key: str) -> Any:
        try:
            yield from original(self, path, key)
        except FetchError:
            return  # "treat an unreadable listing as what was read so far": the classic mass-removal bug

    mp.setattr(client.EsdClient, "_pages", pages)


def r4_not_checked(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(settings, "_check_options", lambda *args: None)


def custom_path_needs_a_school(mp: pytest.MonkeyPatch) -> None:
    original = rules._custom_path
    mp.setattr(
        rules,
        "_custom_path",
        lambda student, custom, trace: (
            original(student, custom, trace) if student is None or student.school_id else None
        ),
    )


MUTATIONS: dict[str, Mutation] = {f.__name__: f for f in (
    custom_students_not_in_all_district, temporary_id_from_the_wrong_field, pre_registered_without_future,
    deselected_school_keeps_its_groups, promotion_creates_a_new_record, aborted_read_archives_students,
    r4_not_checked, custom_path_needs_a_school,
)}  # fmt: skip
