"""One sync: fetch, plan, check safety (R11), apply in one transaction, log the run."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import IO, Any

import orjson

from mock_esd_sync.client import EsdClient, Fetch
from mock_esd_sync.errors import AuthError, FetchError, SyncError, UrlError
from mock_esd_sync.mirror import NO_MIRROR_CHANGES, MirrorChanges, any_stored, mirror_changes
from mock_esd_sync.plan import Plan, compute_plan, group_sort_key
from mock_esd_sync.reader import ReadRecords, RecordReader
from mock_esd_sync.rulebook import R11
from mock_esd_sync.rules import desired_students, desired_with_contacts, may_warn
from mock_esd_sync.settings import Settings, check_known_schools
from mock_esd_sync.shapes import Scope, contacts_linking, linked_persons
from mock_esd_sync.store import (
    active_ids,
    apply_plan,
    begin_run,
    finish_run,
    has_digests,
    holders_of,
    last_applied,
    last_pages,
    last_settings,
    load_digests,
    load_listing_keys,
    load_state,
    write_failure,
)  # fmt: skip


class Outcome(StrEnum):
    """How a sync ended (a report's `status`)."""

    APPLIED = "applied"
    DRY_RUN = "dry-run"
    HELD = "held"
    ABORTED = "aborted"


APPLIED, DRY_RUN, HELD, ABORTED = Outcome.APPLIED, Outcome.DRY_RUN, Outcome.HELD, Outcome.ABORTED
MASS_REMOVAL_FLOOR = 10  # below this many archives a sync is never held


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Report:
    """What a sync did (or would do) and why."""

    status: str
    plan: Plan | None = None
    errors: list[str] = field(default_factory=list)
    run_id: int | None = None
    mirror: MirrorChanges = NO_MIRROR_CHANGES  # the eSD mirror's rows that differ from the stored ones

    @property
    def ok(self) -> bool:
        """Whether the run did what was asked: applied, or planned as a dry run (exit 0); not held or aborted."""
        return self.status in (APPLIED, DRY_RUN)

    def as_json(self, with_changes: bool = True) -> dict[str, Any]:
        """What `mock-esd sync --json` prints: status, runId, counts, warnings, errors and (unless asked not) changes."""
        plan = self.plan or Plan()
        out: dict[str, Any] = {
            "status": self.status,
            "runId": self.run_id,
            "counts": plan.counts(),
            "warnings": list(plan.warnings),
            "errors": self.errors,
        }
        if with_changes:
            out["changes"] = changes_json(plan)
        return out


def iter_changes(plan: Plan) -> Iterator[dict[str, Any]]:
    """The changes of a plan, students first, as a user reads them (one at a time: a first sync has ~10^5)."""
    for change in plan.students:
        yield {"type": "student", **change.as_json()}
    for s, n in plan.buildings_upsert:
        yield {"type": "building", "action": "selected", "schoolId": s, "name": n}
    for s in plan.buildings_remove:
        yield {"type": "building", "action": "removed", "schoolId": s}
    for action, keys in (("created", plan.groups_create), ("removed", plan.groups_remove)):
        for name, school in sorted(keys, key=group_sort_key):
            yield {"type": "group", "action": action, "name": name, "schoolId": school}
    for c in plan.contacts:
        action = "created" if c.before is None else "archived" if c.after.archived else "updated"
        yield {
            "type": "contact",
            "action": action,
            "contactId": c.contact_id,
            "students": dict(sorted(c.after.links.items())),
        }


def changes_json(plan: Plan) -> list[dict[str, Any]]:
    return list(iter_changes(plan))


def write_json(report: Report, out: IO[bytes]) -> None:
    """The report as JSON (the shape of `Report.as_json`), written change by change to bound memory."""
    head = {k: v for k, v in report.as_json(with_changes=False).items()}
    out.write(orjson.dumps(head, option=orjson.OPT_INDENT_2)[:-2])  # drop the closing "\n}"
    out.write(b',\n  "changes": [')
    for n, change in enumerate(iter_changes(report.plan or Plan())):
        out.write(b"\n    " if n == 0 else b",\n    ")
        out.write(orjson.dumps(change))
    out.write(b"\n  ]\n}\n")


def mass_removal(plan: Plan, settings: Settings) -> str | None:
    """R11: why the plan must be held, or None. Counted only when at least MASS_REMOVAL_FLOOR would go."""
    archived = plan.counts()["archived"]
    if archived < MASS_REMOVAL_FLOOR or archived <= settings.max_archive_share * plan.active_before:
        return None
    share = archived / plan.active_before if plan.active_before else 1.0
    return (
        f"{R11}: this sync would archive {archived} of {plan.active_before} synced students ({share:.0%}), more than "
        f"max_archive_share {settings.max_archive_share:.0%}; held, nothing changed. Review the plan (--dry-run) "
        "and re-run with --allow-mass-removal if it is right"
    )


def read_schools(client: EsdClient, settings: Settings) -> Fetch | FetchError:
    """The first step of a sync: read eSD's schools and check that the settings select only schools it lists.

    SettingsError (R4) at once, before any other listing is read or any database opened or changed. A read
    that fails is returned, not raised: the sync that goes on with it (`run_sync`) logs it as its run's abort
    (R11). Bad credentials or a bad URL (AuthError, UrlError) are raised: a configuration error.
    """
    try:
        fetch = client.fetch_schools(settings.custom_endpoints)
    except (AuthError, UrlError):
        raise
    except FetchError as exc:
        return exc
    check_known_schools(settings, set(fetch.school_ids))
    return fetch


def run_sync(
    client: EsdClient,
    settings: Settings,
    conn: sqlite3.Connection,
    *,
    dry_run: bool = False,
    allow_mass_removal: bool = False,
    now: Callable[[], str] = utc_now,
    on_apply: Callable[[Plan], None] | None = None,
    full: bool = False,
    schools: Fetch | FetchError | None = None,
) -> Report:
    """Fetch eSD, plan, and apply unless dry-run, held or aborted; every outcome is logged as a run.

    The schools are read first (`read_schools`, unless `schools` is what it gave): a selected school eSD does
    not list is a SettingsError before any run is logged. `on_apply` hears the plan just before it is applied
    (and may stop it by raising). Unless `full`, a sync whose eSD answers and settings equal the last applied
    sync's is known to change nothing (R10) and skips parsing and planning.
    """
    if schools is None:
        schools = read_schools(client, settings)
    # A sync allocates millions of small objects that live until it ends; the cyclic collector would
    # rescan them over and over (time growing faster than the district). Nothing here makes cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_sync(schools, settings, conn, dry_run, allow_mass_removal, now, on_apply, full)
    finally:
        if collecting:
            gc.enable()


def _run_sync(
    schools: Fetch | FetchError, settings: Settings, conn: sqlite3.Connection, dry_run: bool,
    allow_mass_removal: bool, now: Callable[[], str], on_apply: Callable[[Plan], None] | None, full: bool,
) -> Report:  # fmt: skip
    run_id = begin_run(conn, now(), settings.as_json())
    report = Report(ABORTED, run_id=run_id)
    digest: str | None = None
    pages: tuple[str, ...] = ()
    ended = str(ABORTED)  # as the run log will say, unless it says so with the apply
    try:
        if isinstance(schools, FetchError):
            raise schools
        previous, warnings = last_applied(conn)
        # Unless everyone will be decided again, records are parsed only when looked up (reader.RecordReader).
        whole = full or previous is None or not _narrowable(settings, conn)
        reader = RecordReader(settings.custom_endpoints, parse=whole)
        # From the first page that differs from the last applied sync's, every record will be read: read
        # those as they arrive (at once on a first sync or --full, which parse everything).
        raw = schools.fetch_rest(() if whole else last_pages(conn), reader.read)
        pages = raw.page_digests
        digest = input_digest(raw.digest, settings)
        if digest == previous and not full:
            # eSD answered byte for byte as at the last applied sync, with the same settings: the
            # plan is empty by R10, so skip reading and planning (the costly part of a re-sync).
            report.plan, report.status = Plan(warnings=warnings), DRY_RUN if dry_run else APPLIED
            return report
        reader.read_pages(raw.pages, raw.listing_pages)
        del raw  # its pages are read
        # The records are make_plan's alone (no name here holds them, the reader lets them go), so it can
        # let them go once decided.
        report.plan, report.mirror = make_plan(reader.records(), settings, conn, full)
        held = mass_removal(report.plan, settings)
        if held and not allow_mass_removal:
            report.status, report.errors = HELD, [held]
        elif dry_run:
            report.status = DRY_RUN
        else:
            if on_apply:
                on_apply(report.plan)
            plan = report.plan

            def applied() -> None:  # in the apply's transaction
                finish_run(conn, run_id, now(), APPLIED, plan.counts(), "", digest, plan.warnings, pages)

            apply_plan(conn, plan, run_id, mirror=report.mirror, then=applied)
            report.status = APPLIED
    except (AuthError, UrlError):
        raise
    except FetchError as exc:
        report.errors = [f"{R11}: aborted, nothing changed: {exc}"]
    except sqlite3.Error as exc:
        report.errors = [f"applying the plan failed and was rolled back, nothing changed: {write_failure(conn, exc)}"]
    except BaseException as exc:  # an interrupt (Ctrl+C, SIGTERM), a refusal (`on_apply`), a bug: logged, then raised
        ended, report.errors = _stopped(exc)
        raise
    finally:
        _log_end(conn, report, run_id, now(), ended, digest, pages)
    return report


def _stopped(exc: BaseException) -> tuple[str, list[str]]:
    """How the run log tells a run that `exc` stopped: its status and message (never an unknown error's text,
    which might quote a record)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", [f"interrupted{f' by {exc}' if str(exc) else ''}; nothing changed"]
    return str(ABORTED), [
        str(exc) if isinstance(exc, SyncError) else f"stopped by {type(exc).__name__}; nothing changed"
    ]


def _log_end(
    conn: sqlite3.Connection, report: Report, run_id: int, finished: str, ended: str, digest: str | None,
    pages: tuple[str, ...],
) -> None:  # fmt: skip
    """Log how a run ended (unless its apply did, in its transaction); a log that cannot be written (a full
    disk) is said among the report's errors, not in place of them."""
    plan = report.plan or Plan()
    applied = report.status == APPLIED
    try:
        finish_run(
            conn, run_id, finished, report.status if report.status != ABORTED else ended, plan.counts(),
            "; ".join(report.errors), digest if applied else None, plan.warnings, pages,
        )  # fmt: skip
    except sqlite3.Error as exc:
        report.errors.append(f"the run could not be logged as ended: {write_failure(conn, exc)}")


def make_plan(
    records: ReadRecords, settings: Settings, conn: sqlite3.Connection, full: bool = False
) -> tuple[Plan, MirrorChanges]:
    """The plan for what eSD says now, and the rows of the eSD mirror that differ from the stored ones (the
    store writes both, `apply_plan`). Unless `full`, only the persons and contacts whose records changed
    since the last applied sync are decided again, and only their rows are loaded: the others' decisions
    cannot have changed, so the plan is the same (tests/properties/test_incremental.py proves it).
    Everyone is decided again after a change of settings, and when the store has no digests yet.

    A first sync's memory peaks here, with every record, the mirror and the desired state alive. A caller
    that keeps no other reference to `records` (a sync) has them freed as soon as they are not needed:
    the persons' once they are decided, the rest before the plan is built."""
    stored = load_digests(conn)
    mirror = mirror_changes(records, stored, load_listing_keys(conn))
    scope = None
    if not (full or not any_stored(stored) or last_settings(conn) != settings.as_json()):
        scope = _scope(records, settings, conn, mirror)
    del stored
    students = desired_students(records, settings, scope)
    records = replace(records, persons={})
    desired = desired_with_contacts(records, students, settings, scope)
    del records, students
    return compute_plan(desired, load_state(conn, scope)), mirror


def _narrowable(settings: Settings, conn: sqlite3.Connection) -> bool:
    """Whether `make_plan` may decide only some persons again (so reading need not parse every record)."""
    return has_digests(conn) and last_settings(conn) == settings.as_json()


def _scope(records: ReadRecords, settings: Settings, conn: sqlite3.Connection, mirror: MirrorChanges) -> Scope:
    """The persons and contacts a partial plan must decide again for its plan to equal the whole's.

    The persons whose records changed or who may carry a data warning; then, until nothing is added, whoever
    holds in the store an Operoo ID one of them is now given (an identity conflict or a re-key involves
    both). The contacts whose records changed, and those linking a person of the scope whose synced Operoo ID
    changes (made, re-keyed, archived, restored): R9 asks of a contact only its own records and the Operoo ID
    of each synced person it links to, so a contact of a renamed student stays as stored. The other persons
    those contacts link to keep their stored Operoo IDs (`known`).
    """
    # The reader noted who may warn from the raw records; `may_warn` decides on the few parsed.
    persons = mirror.changed_persons() | {pid for pid in records.may_warn if may_warn(records.persons[pid])}
    while True:
        # Not stopped by an identity conflict among these persons: one with a stored holder may be found later,
        # and the plan (`make_plan`) names them all, as the whole's does.
        desired = desired_students(records, settings, Scope(frozenset(persons), frozenset()), check_identities=False)
        holders = holders_of(conn, desired.students) - persons
        if not holders:
            break
        persons |= holders
    given, stored = {d.person_id: operoo_id for operoo_id, d in desired.students.items()}, active_ids(conn, persons)
    moved = {pid for pid in persons if given.get(pid) != stored.get(pid)}  # (None: not synced, or archived)
    contacts = mirror.changed_contacts()
    if moved:  # (the contacts' links are read only then: a listing of them may wait unread)
        contacts |= contacts_linking(records, moved, records.links)
    known = active_ids(conn, linked_persons(records, contacts) - persons) if contacts else {}
    return Scope(frozenset(persons), frozenset(contacts), known)


def input_digest(bodies: str, settings: Settings) -> str:
    """What a sync's outcome depends on besides the stored state: eSD's answers and the settings."""
    return hashlib.blake2b(
        f"{bodies}|{json.dumps(settings.as_json(), sort_keys=True)}".encode(), digest_size=20
    ).hexdigest()
