"""The worked examples of the reference article (Operoo: custom vs standard eSD endpoints)."""

from __future__ import annotations

from pathlib import Path

from mock_esd.district.builders import district, school, student
from mock_esd_contracts import vocabulary as v
from tests.world import STANDARD, World, settings


def test_custom_endpoints_an_unassigned_applicant_gets_a_temporary_id(tmp_path: Path) -> None:
    """Applies online, not accepted: syncs as student-operoo-1009 into the two district groups."""
    world = World(district([school("0101")], [student(1009, status=v.Status.PRE_ENROLLED)]), tmp_path / "o.db")
    world.sync(settings(custom=True, schools={"0101": ["Enrolled"]}))
    groups = world.groups()
    assert groups["All District Students"] == {"student-operoo-1009"}
    assert groups["All District Pre-Enrolled Students"] == {"student-operoo-1009"}
    assert all("student-operoo-1009" not in m for k, m in groups.items() if isinstance(k, tuple))


def test_standard_endpoints_accepted_student_in_the_holding_school(tmp_path: Path) -> None:
    """Accepted into Document School, which is selected with Pre-Enrolled: syncs with its eSD ID."""
    holding = school("0900", "Document School", v.SchoolType.HOLDING)
    world = World(
        district([holding], [student(1, enrolled_id="99992226", status=v.Status.PRE_ENROLLED, school_id="0900")]),
        tmp_path / "o.db",
    )
    world.sync(settings(custom=False, schools={"0900": ["Pre-Enrolled"]}), client=STANDARD)
    assert world.groups() == {
        "All District Students": {"99992226"},
        "All District Enrolled Students": set(),
        "All District Pre-Enrolled Students": {"99992226"},
        "All District Future Students": set(),
        ("All Students", "0900"): {"99992226"},
        ("All Pre-Enrolled Students", "0900"): {"99992226"},
    }


def test_standard_endpoints_holding_school_not_selected_means_no_sync(tmp_path: Path) -> None:
    holding = school("0900", "Document School", v.SchoolType.HOLDING)
    world = World(
        district([holding], [student(1, enrolled_id="99992226", status=v.Status.PRE_ENROLLED, school_id="0900")]),
        tmp_path / "o.db",
    )
    world.sync(settings(custom=False), client=STANDARD)
    assert world.active() == set()


def test_future_students_sync_only_where_future_is_selected(tmp_path: Path) -> None:
    """Pre-Registered students need "Future" on their school, with custom endpoints on or off."""
    middle = school("0201", "District Middle School", v.SchoolType.MIDDLE)
    future = student(
        5, enrolled_id="20000005", status=v.Status.PRE_REGISTERED, school_id="0201", enrollment_date="2026-11-15"
    )
    for custom in (True, False):
        world = World(district([middle], [future]), tmp_path / f"o{custom}.db")
        world.sync(settings(custom=custom, schools={"0201": ["Enrolled"]}))
        assert world.active() == set(), "Pre-Registered without Future selected must not sync"
        world.sync(settings(custom=custom, schools={"0201": ["Enrolled", "Future"]}))
        groups = world.groups()
        assert groups["All District Future Students"] == groups["All District Students"] == {"20000005"}
        assert groups[("All Future Students", "0201")] == groups[("All Students", "0201")] == {"20000005"}


def test_three_white_crosses_remove_the_building_and_its_students(tmp_path: Path) -> None:
    middle = school("0201", "District Middle School", v.SchoolType.MIDDLE)
    world = World(district([middle], [student(5, enrolled_id="20000005", school_id="0201")]), tmp_path / "o.db")
    world.sync(settings(schools={"0201": ["Enrolled"]}), client=STANDARD)
    assert world.groups()[("All Students", "0201")] == {"20000005"}
    world.sync(settings(schools={"0201": []}), client=STANDARD)
    assert world.groups() == {
        k: set()
        for k in (
            "All District Students",
            "All District Enrolled Students",
            "All District Pre-Enrolled Students",
            "All District Future Students",
        )
    }
    assert world.archived() == {"20000005"}
