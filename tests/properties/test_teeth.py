"""Teeth: the property suite must fail, with a falsifying example, under each deliberate mutation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.properties.mutations import MUTATIONS

ROOT = Path(__file__).parents[2]


def run_suite(mutation: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "teeth", "MOCK_ESD_MUTATION": mutation}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests/properties",
               "--ignore=tests/properties/test_teeth.py", "--hypothesis-seed=0"]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_property_suite_catches(mutation: str) -> None:
    done = run_suite(mutation)
    assert done.returncode == 1, f"the suite did not catch {mutation}:\n{done.stdout[-2000:]}"
    assert "Failing test case:" in done.stdout or "Falsifying example" in done.stdout, done.stdout[-3000:]
