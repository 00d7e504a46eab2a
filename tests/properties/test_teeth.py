"""Teeth: the property suite must fail, with a falsifying example, under each deliberate mutation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.properties.mutations import MUTATIONS

ROOT = Path(__file__).parents[2]


PROPERTIES = "tests/properties/test_properties.py::"
# The property meant to catch each mutation (the whole suite catches each too, but runs minutes longer).
CATCHER = {
    "custom_students_not_in_all_district": PROPERTIES
    + "test_every_synced_student_is_in_all_district_students_and_one_status_group",
    "temporary_id_from_the_wrong_field": PROPERTIES + "test_temporary_ids_exactly_for_custom_path_students",
    "pre_registered_without_future": PROPERTIES
    + "test_r3_pre_registered_students_sync_exactly_where_future_is_selected",
    "deselected_school_keeps_its_groups": PROPERTIES
    + "test_a_sync_from_any_earlier_state_reaches_the_groups_of_a_sync_from_scratch",
    "promotion_creates_a_new_record": "tests/properties/test_stateful.py",
    "aborted_read_archives_students": "tests/properties/test_stateful.py",
    "r4_not_checked": PROPERTIES + "test_r4_rejects_exactly_the_invalid_settings",
    "custom_path_needs_a_school": PROPERTIES + "test_the_sync_s_groups_and_ids_equal_the_model_s",
}


def run_suite(mutation: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "teeth", "MOCK_ESD_MUTATION": mutation}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        CATCHER[mutation],
        "--hypothesis-seed=0",
    ]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_every_mutation_has_a_catcher() -> None:
    assert set(CATCHER) == set(MUTATIONS)


@pytest.mark.slow
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_property_suite_catches(mutation: str) -> None:
    done = run_suite(mutation)
    assert done.returncode == 1, f"the suite did not catch {mutation}:\n{done.stdout[-2000:]}"
    assert "Failing test case:" in done.stdout or "Falsifying example" in done.stdout, done.stdout[-3000:]
