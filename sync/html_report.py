"""`mock-esd sync --report FILE.html`: one self-contained page (no network, no files beside it).

It shows the run (status, counts, warnings, errors), the groups and their sizes, the students archived,
restored and re-keyed, and a search box over every student with its groups and its `explain` trace.
Groups and the search come from the database after the run; a run that applied nothing says so.
"""

from __future__ import annotations

import base64
import errno
import gzip
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from mock_esd_sync.errors import StateError
from mock_esd_sync.explanation import Explainer
from mock_esd_sync.export import group_sizes
from mock_esd_sync.plan import Plan, StudentChange, group_sort_key
from mock_esd_sync.rulebook import R7, R8
from mock_esd_sync.run import APPLIED, Report
from mock_esd_sync.state import GroupKey
from mock_esd_sync.store import building_names

LISTED_CHANGES = 1000  # archived / restored / re-keyed rows shown per kind; the rest are counted
# `report_size_bound`'s terms, about twice what was measured (`tests/rules/test_html_report.py` checks they hold):
REPORT_BASE_BYTES = 32 * 1024  # a page without students took 15 KB
REPORT_STUDENT_BYTES = 160  # a student's search entry, packed, took ~80 bytes (1,312 students, 1,849)
REPORT_CHANGE_BYTES = 512  # a change listed (archived, restored, re-keyed), a table row with its reason: ~240
# The report's page, and the house stylesheet it shares with the mock's browser view.
_env = Environment(
    loader=ChoiceLoader([PackageLoader("mock_esd_sync"), PackageLoader("mock_esd_contracts")]),
    autoescape=select_autoescape(["html"]),
)


@dataclass(frozen=True)
class GroupRow:
    name: str
    school_id: str | None
    school_name: str
    members: int


def report_temp(path: str | Path) -> Path:
    """Where the report for `path` is written before it takes its name (beside it, so the rename is atomic)."""
    target = Path(path)
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def report_size_bound(plan: Plan, conn: sqlite3.Connection) -> int:
    """About twice the bytes the report of applying `plan` to the database will take (the room `reserve_report`
    makes): a page's fixed part, plus a share per student stored or created and per change listed."""
    stored: int = conn.execute("SELECT count(*) FROM students").fetchone()[0]
    created = sum(1 for c in plan.students if c.before is None)
    listed = sum(
        min(len(_changes_of(plan.students, kind)), LISTED_CHANGES) for kind in ("archived", "restored", "rekeyed")
    )
    return REPORT_BASE_BYTES + REPORT_STUDENT_BYTES * (stored + created) + REPORT_CHANGE_BYTES * listed


def reserve_report(path: str | Path, size: int) -> None:
    """Make room for a report of up to `size` bytes at `path` now (before a sync applies): the space is allocated
    to the file `write_report` fills, so a disk too full for the report stops the sync before it changes
    anything. StateError if the room cannot be made."""
    tmp = report_temp(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the mode `open` gives
        try:
            _allocate(fd, size)
        finally:
            os.close(fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StateError(
            f"--report {path}: no room for the report ({exc.strerror or exc}); nothing was changed"
        ) from None


def _allocate(fd: int, size: int) -> None:
    """Give the file `size` bytes of disk (OSError, ENOSPC say, if the disk has not that much)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        zeros = bytes(1 << 20)  # a file system that cannot allocate without writing: write zeros
        for start in range(0, size, len(zeros)):
            chunk = zeros[: size - start]
            if os.write(fd, chunk) < len(chunk):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
        os.fsync(fd)


def write_report(path: str | Path, report: Report, conn: sqlite3.Connection) -> None:
    """Write the report atomically: a killed sync never leaves half a page behind. Into the room `reserve_report`
    made, if it did."""
    target = Path(path)
    page = render_report(report, conn)
    tmp = report_temp(target)  # opened as usual: the file gets the usual mode
    try:
        # Written over the room made, then cut to its length: truncating first would give the room back.
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o666), "wb") as file:
            file.write(page.encode("utf-8"))
            file.truncate()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_report(report: Report, conn: sqlite3.Connection) -> str:
    """The report page as HTML text; the same run and database give the same bytes."""
    plan = report.plan or Plan()
    names = building_names(conn)
    groups = [GroupRow(n, s, names.get(s, "") if s else "", count) for n, s, count in group_sizes(conn)]
    data = search_data(conn, names)
    run = conn.execute(
        "SELECT started, finished, settings FROM sync_runs WHERE run_id = ?", (report.run_id,)
    ).fetchone()
    return _env.get_template("report.html").render(
        report=report,
        applied=report.status == APPLIED,
        counts=plan.counts(),
        district_groups=[g for g in groups if g.school_id is None],
        building_groups=[g for g in groups if g.school_id is not None],
        changes={kind: _changes_of(plan.students, kind) for kind in ("archived", "restored", "rekeyed")},
        limit=LISTED_CHANGES,
        rule_of={"archived": R7, "restored": R7, "rekeyed": R8},
        run=run,
        settings=json.dumps(json.loads(run[2]), indent=2) if run else "",
        search_data=None if data is None else _packed(data),
    )


def _changes_of(changes: Iterable[StudentChange], kind: str) -> list[StudentChange]:
    return [c for c in changes if kind in c.kinds]


def search_data(conn: sqlite3.Connection, names: dict[str, str]) -> dict[str, Any] | None:
    """Every student with its groups and explanation, compact: lines and groups are tables indexed by number.

    None when no sync has been applied (there is nothing to explain yet).
    """
    try:
        explainer = Explainer(conn)
    except StateError:
        return None
    keys = sorted(explainer.state.groups, key=group_sort_key)
    member_of: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        for member in explainer.state.groups[key]:
            member_of.setdefault(member, []).append(index)
    lines: dict[str, int] = {}
    students = []
    for stored, mirror in explainer.everyone():
        known = stored or (mirror.record if mirror else None)
        assert known is not None
        trace = [lines.setdefault(line, len(lines)) for line in explainer.lines(stored, mirror)]
        operoo_id = stored.operoo_id if stored else None
        esd_id = stored.esd_id if stored else mirror.record.enrolled_id if mirror else None
        students.append([
            known.person_id, operoo_id, esd_id, f"{known.first_name} {known.last_name}",
            stored.archived if stored else None, trace, sorted(member_of.get(operoo_id or "", [])),
        ])  # fmt: skip
    return {"groups": [_group_label(key, names) for key in keys], "lines": list(lines), "students": students}


def _group_label(key: GroupKey, names: dict[str, str]) -> str:
    name, school = key
    return name if school is None else f"{name} ({school} {names.get(school, '')})".replace(" )", ")")


def _packed(data: Any) -> str:
    """The search data as base64 of gzip (no mtime: same bytes every time). The lines that name each student
    are alike, so 100k students pack ~10x smaller; the page unpacks with the browser's DecompressionStream.
    Base64 has no "<", so nothing in a name can end the script element."""
    return base64.b64encode(gzip.compress(orjson.dumps(data), compresslevel=6, mtime=0)).decode()
