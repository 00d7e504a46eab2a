"""Deliberate mutations of the sync rules, each a bug a real implementation could have.

test_teeth.py runs each one's catcher (a property or the stateful machine) under it, in the default test
command, and requires it to fail with a falsifying example. `tests/properties/conftest.py` applies the one
named by MOCK_ESD_MUTATION to a whole session, to watch the full suite fail under it.

Unlike the rest of the suite, which pins public behaviour, these patch the sync's internals on purpose
(a mutation is a bug planted at a precise place): a refactor that renames one of them edits it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from mock_esd_sync import client, plan, rules, run, settings, state
from mock_esd_sync import vocabulary as o
from mock_esd_sync.errors import FetchError
from mock_esd_sync.settings import Settings

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
        if decision is None:
            return None
        wrong = f"student-operoo-{student.enrolled_id}"
        return decision._replace(student=decision.student._replace(operoo_id=wrong))

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
                out.append(plan.StudentChange(c.person_id, c.before, c.before._replace(archived=True), "archived"))
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


# ----- the three: bugs that once passed the whole suite ------------------------------------------


def kept_student_never_updated(mp: pytest.MonkeyPatch) -> None:
    """A student is written only when new, re-keyed, archived or restored: eSD's changes of status,
    school or name never reach a kept record. (Targets plan._student_changes.)"""
    original = plan._student_changes

    def student_changes(desired: Any, state: Any) -> tuple[plan.StudentChange, ...]:
        return tuple(
            c
            for c in original(desired, state)
            if c.before is None or c.before.archived != c.after.archived or c.before.operoo_id != c.after.operoo_id
        )

    mp.setattr(plan, "_student_changes", student_changes)


def short_last_page_unnoticed(mp: pytest.MonkeyPatch) -> None:
    """The client checks each page's size but not, at the end, the records read against totalCount."""
    original = client.EsdClient._pages

    def pages(self: client.EsdClient, path: str, key: str) -> Any:
        try:
            yield from original(self, path, key)
        except FetchError as exc:
            if "records but totalCount is" not in str(exc):
                raise

    mp.setattr(client.EsdClient, "_pages", pages)


def do_not_contact_from_the_first_listing(mp: pytest.MonkeyPatch) -> None:
    """Merging the two contact listings, the first (/v1/contacts) decides doNotContact alone."""
    original = rules._merge_contacts

    def merge_contacts(pairs: Any) -> Any:
        pairs = list(pairs)
        first = {c.contact_id: c.do_not_contact for c, _ in pairs if c is not None}
        return (c._replace(do_not_contact=first.get(c.contact_id, c.do_not_contact)) for c in original(pairs))

    mp.setattr(rules, "_merge_contacts", merge_contacts)


# ----- more, one per class of bug the properties did not look at -----------------------------------------


def hold_at_exactly_the_share(mp: pytest.MonkeyPatch) -> None:
    """R11 holds a sync that archives exactly max_archive_share (the rule holds only more). (Targets run.mass_removal.)"""
    original = run.mass_removal

    def mass_removal(p: Any, s: Any) -> str | None:
        archived = p.counts()["archived"]
        if archived >= run.MASS_REMOVAL_FLOOR and archived == s.max_archive_share * p.active_before:
            return "R11: held at exactly max_archive_share"
        return original(p, s)

    mp.setattr(run, "mass_removal", mass_removal)


def hold_needs_more_than_ten(mp: pytest.MonkeyPatch) -> None:
    """R11's floor off by one: archiving exactly ten students is never held."""
    mp.setattr(run, "MASS_REMOVAL_FLOOR", 11)


def custom_student_in_any_selected_school(mp: pytest.MonkeyPatch) -> None:
    """R6: a custom-path student joins its school's All Students whenever the school is selected, even
    without Pre-Enrolled."""
    original = rules.groups_of

    def groups_of(decision: rules.Decision, selected: Any) -> list[state.GroupKey]:
        groups = original(decision, selected)
        school = decision.school_id
        if decision.path == rules.CUSTOM and school in selected and ("All Students", school) not in groups:
            groups.append(("All Students", school))
        return groups

    mp.setattr(rules, "groups_of", groups_of)


def archived_student_never_restored(mp: pytest.MonkeyPatch) -> None:
    """A student archived (e.g. by a settings change) stays archived when the rules want it again.
    (Targets plan._student_changes.)"""
    original = plan._student_changes

    def student_changes(desired: Any, state: Any) -> tuple[plan.StudentChange, ...]:
        return tuple(
            c for c in original(desired, state) if not (c.before and c.before.archived and not c.after.archived)
        )

    mp.setattr(plan, "_student_changes", student_changes)


def priority_boundary_excluded(mp: pytest.MonkeyPatch) -> None:
    """R9: a link whose priority is exactly max_priority gets No Permission."""
    original = rules.permission

    def permission(relationship: str, priority: int, settings: Any) -> str:
        if settings.contacts.permission_source == "priority" and priority == settings.contacts.max_priority:
            return o.NO_PERMISSION
        return original(relationship, priority, settings)

    mp.setattr(rules, "permission", permission)


def contact_without_synced_students_kept(mp: pytest.MonkeyPatch) -> None:
    """A contact none of whose students is synced (all archived, or never synced) stays, without links,
    instead of being archived."""
    original = rules._contacts

    def contacts(merged: Any, by_person: Any, settings: Any) -> dict[int, rules.DesiredContact]:
        merged = list(merged)  # (one at a time from rules._merge_contacts: read twice here)
        out = original(merged, by_person, settings)
        for c in merged:
            if c.contact_id not in out and not c.do_not_contact:
                out[c.contact_id] = rules.DesiredContact(c.contact_id, c.first_name, c.last_name, c.email, {})
        return out

    mp.setattr(rules, "_contacts", contacts)


def identity_conflict_unchecked(mp: pytest.MonkeyPatch) -> None:
    """An enrolledId reused by another person is not recognised: the sync fails in apply instead of
    naming both persons. (Targets plan._check_identities.)"""
    mp.setattr(plan, "_check_identities", lambda *args: None)


def digest_ignores_settings(mp: pytest.MonkeyPatch) -> None:
    """R10's shortcut keys on eSD's bytes alone: a settings change with eSD unchanged does nothing.
    (Targets run.input_digest.)"""
    original = run.input_digest
    mp.setattr(run, "input_digest", lambda bodies, settings: original(bodies, Settings()))


MUTATIONS: dict[str, Mutation] = {f.__name__: f for f in (
    custom_students_not_in_all_district, temporary_id_from_the_wrong_field, pre_registered_without_future,
    deselected_school_keeps_its_groups, promotion_creates_a_new_record, aborted_read_archives_students,
    r4_not_checked, custom_path_needs_a_school,
    kept_student_never_updated, short_last_page_unnoticed, do_not_contact_from_the_first_listing,
    hold_at_exactly_the_share, hold_needs_more_than_ten, custom_student_in_any_selected_school,
    archived_student_never_restored, priority_boundary_excluded, contact_without_synced_students_kept,
    identity_conflict_unchecked, digest_ignores_settings,
)}  # fmt: skip
