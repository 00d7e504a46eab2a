"""The HTML sync report (`sync --report`): what it says must be what the sync did and what `explain` says."""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_esd.district.builders import district, school, student
from mock_esd_contracts import vocabulary as v
from mock_esd_sync.explanation import explain
from mock_esd_sync.export import group_sizes
from mock_esd_sync.html_report import render_report
from mock_esd_sync.plan import Plan
from mock_esd_sync.run import Report
from tests.html import table
from tests.rules.test_rules import AP, E, P, base_district
from tests.world import World, settings


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(base_district(), tmp_path / "operoo.db")  # type: ignore[arg-type]


def render(world: World, report: Report) -> str:
    conn = world.conn()
    try:
        return render_report(report, conn)
    finally:
        conn.close()


def embedded(html: str) -> dict[str, Any]:
    """The search data as the page's script unpacks it: base64, then gzip, then JSON."""
    match = re.search(r'<script type="application/octet-stream" id="report-data"[^>]*>(.*?)</script>', html, re.S)
    assert match, "the report carries its search data"
    return json.loads(gzip.decompress(base64.b64decode(match.group(1))))  # type: ignore[no-any-return]


SCHOOL_NAMES = {"0101": "Lincoln Elementary", "0201": "District Middle School", "0900": "Document School"}


def label(key: str | tuple[str, str]) -> str:
    return key if isinstance(key, str) else f"{key[0]} ({key[1]} {SCHOOL_NAMES[key[1]]})"


def a_second_sync_with_every_kind_of_change(world: World) -> Report:
    s = settings(custom=True, schools={"0101": [E, P], "0900": [P]})
    world.sync(s)
    world.put({**world.store.get_person(7), "enrolledId": "10000077", "schoolId": "0900"})  # accepted: re-keyed
    world.put({**world.store.get_person(1), "studentStatus": v.Status.WITHDRAWN})  # archived
    return world.sync(s)


def test_the_report_lists_counts_groups_and_each_archived_and_rekeyed_student(world: World) -> None:
    report = a_second_sync_with_every_kind_of_change(world)
    html = render(world, report)
    counts = {row[0]: int(row[1]) for row in table(html, "change-counts")[1:]}
    assert counts == report.plan.counts()  # type: ignore[union-attr]
    conn = world.conn()
    sizes = group_sizes(conn)
    conn.close()
    shown = [(row[0], int(row[1])) for row in table(html, "district-groups")[1:]]
    shown += [(row[1], int(row[2])) for row in table(html, "building-groups")[1:]]
    assert shown == [(name, count) for name, _, count in sizes]
    assert [row[0] for row in table(html, "archived")[1:]] == ["10000001"]
    assert [row[:2] for row in table(html, "rekeyed")[1:]] == [["10000077", "student-operoo-7"]]
    assert table(html, "restored")[1:] == [["None."]]
    assert "Applied: Operoo now holds the groups below." in html


def test_every_student_in_the_search_has_its_groups_and_the_explain_trace(world: World) -> None:
    a_second_sync_with_every_kind_of_change(world)
    data = embedded(render(world, Report("applied", run_id=2)))
    groups = world.groups()
    conn = world.conn()
    try:
        assert len(data["students"]) == 11
        for person_id, operoo_id, _, name, archived, lines, member_of in data["students"]:
            assert [data["lines"][i] for i in lines] == explain(conn, str(person_id)), name
            if operoo_id is not None and not archived:
                want = [label(k) for k, members in groups.items() if operoo_id in members]
                assert sorted(data["groups"][g] for g in member_of) == sorted(want), name
    finally:
        conn.close()
    accepted = next(s for s in data["students"] if s[0] == 7)
    assert accepted[1] == "10000077"
    assert any(f"{AP} (0900 Document School)" == data["groups"][g] for g in accepted[6])


def test_the_same_run_gives_the_same_bytes(world: World) -> None:
    report = a_second_sync_with_every_kind_of_change(world)
    assert render(world, report) == render(world, report)


def test_a_held_run_says_nothing_was_applied(tmp_path: Path) -> None:
    pupils = [
        student(n, enrolled_id=f"{10000000 + n}", status=v.Status.ENROLLED, school_id="0101") for n in range(1, 21)
    ]
    world = World(district([school("0101", "Lincoln Elementary")], pupils, []), tmp_path / "operoo.db")
    s = settings(schools={"0101": [E]})
    world.sync(s)
    for n in range(1, 13):
        world.store.delete_student(n)
    report = world.sync(s)
    assert report.status == "held"
    html = render(world, report)
    assert "This run was <strong>held</strong>: nothing was applied." in " ".join(html.split())
    assert "R11: this sync would archive" in html


def test_a_name_cannot_break_out_of_the_page(world: World) -> None:
    hostile = "</script><script>alert(1)</script>"
    world.put({**world.store.get_person(1), "firstName": hostile})
    report = world.sync(settings(custom=True, schools={"0101": [E]}))
    html = render(world, report)
    assert "<script>alert(1)" not in html
    assert any(hostile in s[3] for s in embedded(html)["students"])


def test_before_any_applied_sync_the_search_says_there_is_nothing(world: World) -> None:
    report = world.sync(settings(custom=True, schools={"0101": [E]}), dry_run=True)
    html = render(world, report)
    assert "No sync has been applied to this database yet" in html
    assert "This run was <strong>dry-run</strong>" in html


def test_the_cli_refuses_a_report_path_in_a_missing_directory_before_syncing(tmp_path: Path) -> None:
    settings_file = tmp_path / "s.toml"
    settings_file.write_text("custom_endpoints = true\n", encoding="utf-8")
    db = tmp_path / "operoo.db"
    done = subprocess.run(
        [sys.executable, "-m", "mock_esd", "sync", "--url", "http://127.0.0.1:9/api", "--client-id", "x",
         "--client-secret", "y", "--settings", str(settings_file), "--db", str(db),
         "--report", str(tmp_path / "nowhere" / "r.html")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "nowhere" in done.stderr and "does not exist" in done.stderr
    assert not db.exists()


def test_the_room_made_for_a_report_before_the_apply_holds_it(tmp_path: Path) -> None:
    """`sync --report` makes room for the report before it applies (a full disk then stops it with nothing
    changed): the room, reckoned from the plan and the store, holds the report written after, for a first sync
    of a generated district and for a re-sync that archives, restores and re-keys."""
    from mock_esd.district.generator import DistrictSpec, generate_district
    from mock_esd_sync.html_report import report_size_bound

    world = World(generate_district(DistrictSpec(seed=4, students=1200)), tmp_path / "big.db")
    everything = settings(custom=True, schools={s["id"]: [E, P] for s in world.store.schools().records})
    fewer = settings(custom=True, schools={s["id"]: [E] for s in world.store.schools().records[:2]})
    rooms: list[int] = []

    def reckon(plan: Plan) -> None:  # as `sync --report` does, just before the apply
        conn = world.conn()
        try:
            rooms.append(report_size_bound(plan, conn))
        finally:
            conn.close()

    for step in (everything, fewer, everything):
        report = world.sync(step, allow_mass_removal=True, on_apply=reckon)
        size = len(render(world, report).encode())
        assert size <= rooms[-1] <= 3 * size, (size, rooms[-1])  # room enough, and not much more
    assert len(rooms) == 3
