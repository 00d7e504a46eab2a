"""Properties of the real sync (client, plan, SQLite apply) over generated districts and settings.

Each is also run under deliberate mutations of the rules by test_teeth.py, and must fail there.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_esd.generator import District
from mock_esd.strategies import districts
from sync.errors import SettingsError
from sync.settings import parse_settings
from sync.strategies import settings_dicts
from tests.properties.model import Key, model, r4_valid
from tests.world import World

District_and_settings = tuple[District, dict[str, Any]]


@st.composite
def worlds(draw: st.DrawFn) -> District_and_settings:
    district = draw(districts())
    return district, draw(settings_dicts([s["id"] for s in district.schools]))


def synced(district: District, raw: dict[str, Any], db: Path) -> World:
    """Sync `district` into `db` with the real client, plan and apply."""
    settings = parse_settings(raw)
    world = World(copy.deepcopy(district), db)
    report = world.sync(settings, page_size=100, allow_mass_removal=True)
    assert report.status == "applied", report.errors
    return world


def groups_of(world: World) -> dict[Key, set[str]]:
    return {(g["name"], g["schoolId"]): set(g["members"]) for g in world.export()["groups"]}


def fresh_dir() -> tempfile.TemporaryDirectory[str]:
    """A directory per Hypothesis example (examples share no pytest fixtures)."""
    return tempfile.TemporaryDirectory()


@contextmanager
def synced_fresh(district: District, raw: dict[str, Any]) -> Iterator[World]:
    """`district` synced with `raw` settings into a new database."""
    with fresh_dir() as name:
        yield synced(district, raw, Path(name) / "o.db")


@given(worlds())
def test_every_synced_student_is_in_all_district_students_and_one_status_group(
    world_input: District_and_settings,
) -> None:
    with synced_fresh(*world_input) as world:
        groups = groups_of(world)
        active = world.active()
        assert groups[("All District Students", None)] == active
        statuses = [
            groups[(g, None)]
            for g in (
                "All District Enrolled Students",
                "All District Pre-Enrolled Students",
                "All District Future Students",
            )
        ]
        for operoo_id in active:
            assert sum(operoo_id in members for members in statuses) == 1, operoo_id
        assert set().union(*statuses) == active


@given(worlds())
def test_temporary_ids_exactly_for_custom_path_students(world_input: District_and_settings) -> None:
    district, raw = world_input
    with synced_fresh(district, raw) as world:
        students = {s["personId"]: s for s in world.export()["students"] if not s["archived"]}
        by_person = {p["id"]: p for p in district.students}
        for pid, s in students.items():
            person = by_person[pid]
            custom_path = person["enrolledId"] is None
            assert s["operooId"].startswith("student-operoo-") == custom_path, s
            if custom_path:
                assert (
                    s["operooId"] == f"student-operoo-{pid}"
                    and raw["custom_endpoints"]
                    and person["studentStatus"] == "Pre-enrolled"
                )
            else:
                assert s["operooId"] == person["enrolledId"]


@given(worlds())
def test_building_groups_only_for_selected_schools_and_options(world_input: District_and_settings) -> None:
    district, raw = world_input
    with synced_fresh(district, raw) as world:
        selected = {s: set(o) for s, o in raw["schools"].items() if o}
        names = {
            "Enrolled": "All Enrolled Students",
            "Pre-Enrolled": "All Pre-Enrolled Students",
            "Future": "All Future Students",
        }
        for name, school in groups_of(world):
            if school is not None:
                assert school in selected, (name, school)
                assert name == "All Students" or name in {names[o] for o in selected[school]}, (name, school)


@given(worlds())
def test_the_sync_s_groups_and_ids_equal_the_model_s(world_input: District_and_settings) -> None:
    district, raw = world_input
    with synced_fresh(district, raw) as world:
        ids, groups = model(district, raw)
        assert groups_of(world) == groups
        assert {s["personId"]: s["operooId"] for s in world.export()["students"] if not s["archived"]} == ids


@given(settings_dicts(valid=None))
def test_r4_rejects_exactly_the_invalid_settings(raw: dict[str, Any]) -> None:
    if r4_valid(raw):
        parse_settings(raw)
    else:
        with pytest.raises(SettingsError, match="R4: school"):
            parse_settings(raw)


@given(worlds())
def test_r10_a_second_sync_changes_nothing(world_input: District_and_settings) -> None:
    with synced_fresh(*world_input) as world:
        before = world.tables()
        report = world.sync(parse_settings(world_input[1]), page_size=100, full=True)  # plan again, no shortcut
        assert report.plan is not None and report.plan.is_empty() and world.tables() == before


@st.composite
def histories(draw: st.DrawFn) -> tuple[District, dict[str, Any], District, dict[str, Any]]:
    """An earlier district and settings, then a later district and settings over the same schools."""
    district, raw = draw(worlds())
    earlier = copy.deepcopy(draw(districts()))
    earlier.schools = copy.deepcopy(district.schools)
    known = {s["id"] for s in earlier.schools}
    for s in earlier.students:
        s["schoolId"] = s["schoolId"] if s["schoolId"] in known else None
    return earlier, draw(settings_dicts(sorted(known))), district, raw


@given(histories())
def test_a_sync_from_any_earlier_state_reaches_the_groups_of_a_sync_from_scratch(
    history: tuple[District, dict[str, Any], District, dict[str, Any]],
) -> None:
    earlier, earlier_raw, district, raw = history
    with fresh_dir() as name:
        tmp = Path(name)
        World(copy.deepcopy(earlier), tmp / "after.db").sync(
            parse_settings(earlier_raw), page_size=100, allow_mass_removal=True
        )
        from_scratch = groups_of(synced(district, raw, tmp / "scratch.db"))
        assert groups_of(synced(district, raw, tmp / "after.db")) == from_scratch


@st.composite
def pre_registered_worlds(draw: st.DrawFn) -> District_and_settings:
    """Districts of Pre-Registered students only, each in a school: R3's Future option decides everything."""
    district = draw(districts())
    ids = [s["id"] for s in district.schools]
    for i, person in enumerate(district.students):
        person.update(
            studentStatus="Pre-Registered", enrolledId=f"{20_000_000 + i}", schoolId=draw(st.sampled_from(ids))
        )
    district.recently_accepted.clear()
    return district, draw(settings_dicts(ids))


@given(pre_registered_worlds())
def test_r3_pre_registered_students_sync_exactly_where_future_is_selected(world_input: District_and_settings) -> None:
    district, raw = world_input
    with synced_fresh(district, raw) as world:
        synced = world.active()
        for p in district.students:
            wanted = "Future" in raw["schools"].get(p["schoolId"], []) and bool(p["enrollmentDate"])
            assert (p["enrolledId"] in synced) == wanted, (p["enrolledId"], p["schoolId"], raw["schools"])
