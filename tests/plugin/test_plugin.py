"""The pytest plugin's fixtures, run from throw-away test files as a QA engineer would write them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

QA_TESTS = """
import requests

from sync.client import EsdClient
from sync.rules import compute_desired
from sync.settings import parse_settings


def sync_groups(esd):
    with requests.Session() as session:
        client = EsdClient(session, esd.base_url, esd.custom.client_id, esd.custom.client_secret)
        snapshot = client.fetch_snapshot(custom_endpoints=True)
    return compute_desired(snapshot, parse_settings({"custom_endpoints": True})).groups


def check_fixture(esd):
    applicant = esd.control.submit_application(firstName="Ada")
    groups = sync_groups(esd)
    assert f"student-operoo-{applicant['id']}" in groups[("All District Students", None)]
    calls = esd.control.requests(path="/api/v1/operoo/students")
    assert calls and all(c["status"] == 200 for c in calls)


def test_live(esd_server):
    assert esd_server.base_url.startswith("http://127.0.0.1:")
    check_fixture(esd_server)


def test_live_tenants_are_fresh(esd_server):
    assert esd_server.control.requests() == []


def test_in_process(esd_inprocess):
    assert esd_inprocess.base_url == "http://esd.invalid/api"
    check_fixture(esd_inprocess)


def test_seed_option(esd_inprocess, pytestconfig):
    assert pytestconfig.getoption("--esd-seed") == SEED
"""


@pytest.mark.parametrize("seed", [1, 5])
def test_fixtures_work_in_process_and_live(pytester: pytest.Pytester, seed: int) -> None:
    pytester.makepyfile(test_qa=QA_TESTS.replace("SEED", str(seed)))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--esd-seed={seed}", "--esd-students=60")
    result.assert_outcomes(passed=4)


def test_fixtures_work_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_qa=QA_TESTS.replace("SEED", "1"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--esd-students=60")
    result.assert_outcomes(passed=4)


def test_the_readme_s_ten_line_regression_test_runs(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("A regression test in ten lines:", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    pytester.makepyfile(test_readme=code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-students=60")
    result.assert_outcomes(passed=1)
