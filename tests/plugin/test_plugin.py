"""The pytest plugin's fixtures, run from throw-away test files as a QA engineer would write them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

QA_TESTS = """
import requests

from mock_esd_sync.client import EsdClient
from mock_esd_sync.rules import compute_desired
from mock_esd_sync.settings import parse_settings


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


# ----- isolation: a district per test, forked from one generated per session ----------------------------

ISOLATION_TESTS = """
import pytest
import requests

from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.tenants import DEFAULT_TENANT, default_clients

SPEC = DistrictSpec(seed=SEED, students=STUDENTS)
LISTS = ["/v1/schools", "/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts"]


def pages(get, token):
    return {path: get(path, token) for path in LISTS}


def _expected():
    # An app of its own, generated afresh: what every test's district must look like when it starts.
    http = create_app(AppConfig(spec=SPEC)).test_client()
    custom, _ = default_clients(DEFAULT_TENANT)
    form = {"grant_type": "client_credentials", "client_id": custom.client_id, "client_secret": custom.secret}
    token = http.post("/api/v1/auth/token", data=form).json["access_token"]
    get = lambda path, token: http.get("/api" + path, query_string={"pageSize": 1000},
                                       headers={"Authorization": f"Bearer {token}"}).json
    return pages(get, token), http.get("/_mock/scenario").json


PAGES, EXPORT = _expected()


@pytest.fixture
def esd(request):
    return request.getfixturevalue("FIXTURE")


def observed(esd):
    with requests.Session() as http:
        token = http.post(f"{esd.base_url}/v1/auth/token", data={"grant_type": "client_credentials"},
                          auth=(esd.custom.client_id, esd.custom.client_secret)).json()["access_token"]
        get = lambda path, token: http.get(esd.base_url + path, params={"pageSize": 1000},
                                           headers={"Authorization": f"Bearer {token}"}).json()
        listed = pages(get, token)
    tenants = sorted(t["tenant"] for t in esd.control.call("GET", "/tenants"))
    return listed, esd.control.export_scenario(), esd.control.faults(), tenants


def linked_student(esd):
    return next(c["students"][0]["studentId"] for c in EXPORT["contacts"] if c["students"])


CHANGES = {
    "delete a student with contacts": lambda esd: esd.control.delete_student(linked_student(esd)),
    "withdraw a student": lambda esd: esd.control.withdraw(linked_student(esd)),
    "submit an application": lambda esd: esd.control.submit_application(firstName="Ada"),
    "accept an application": lambda esd: esd.control.accept(
        next(s["id"] for s in EXPORT["students"] if s["enrolledId"] is None and s["studentStatus"] == "Pre-enrolled"),
        next(s["id"] for s in EXPORT["schools"] if s["schoolType"] != "Holding"),
    ),
    "add a school": lambda esd: esd.control.put_school(id="0950", name="Harbor Elementary", schoolType="Elementary"),
    "delete a contact": lambda esd: esd.control.delete_contact(EXPORT["contacts"][0]["id"]),
    "a fault for its tenant": lambda esd: esd.control.add_fault("/v1/schools", "status", params={"status": 503}),
    "a fault for every tenant": lambda esd: esd.control.add_fault("/v1/schools", "status", every_tenant=True),
    "another tenant": lambda esd: esd.control.call("POST", "/tenants", json={"name": "other", "students": 5}),
    "reset to another seed": lambda esd: esd.control.reset(seed=SEED + 1),
}


@pytest.mark.parametrize("change", list(CHANGES) * 2)
def test_a_change_stays_in_its_test(esd, change):
    assert esd.control.requests() == []
    listed, export, faults, tenants = observed(esd)
    assert (listed, export, faults) == (PAGES, EXPORT, [])
    assert tenants == sorted({"default", esd.tenant})
    CHANGES[change](esd)
    assert observed(esd) != (listed, export, faults, tenants)  # the change is seen within its own test
"""


@pytest.mark.parametrize("fixture", ["esd_inprocess", "esd_server"])
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_change_in_one_test_is_never_seen_in_another(
    pytester: pytest.Pytester, fixture: str, workers: list[str]
) -> None:
    """Every test changes its district (records, faults, tenants) after checking that it starts as generated."""
    tests = ISOLATION_TESTS.replace("FIXTURE", fixture).replace("SEED", "3").replace("STUDENTS", "60")
    pytester.makepyfile(test_isolation=tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-seed=3", "--esd-students=60", *workers)
    result.assert_outcomes(passed=20)


# ----- the plugin's load: every pytest run in the environment pays it ------------------------------------

MODULES_AT_TEST_TIME = """
import os
import sys


def test_list_modules():
    with open(os.environ["MODULES_FILE"], "w") as out:
        out.write(" ".join(sorted(sys.modules)))
"""


def _modules_of_a_run(pytester: pytest.Pytester, *args: str) -> set[str]:
    listing = pytester.path / "modules.txt"
    pytester.makepyfile(test_modules=MODULES_AT_TEST_TIME)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MODULES_FILE", str(listing))
        pytester.runpytest_subprocess("-p", "no:cacheprovider", *args).assert_outcomes(passed=1)
    return set(listing.read_text().split())


def test_loading_the_plugin_imports_nothing_but_the_plugin(pytester: pytest.Pytester) -> None:
    """A project that never takes a mock eSD fixture gets no Flask, Faker, gunicorn or werkzeug with its pytest."""
    with_plugin = _modules_of_a_run(pytester)
    without = _modules_of_a_run(pytester, "-p", "no:mock_esd")
    assert "mock_esd.pytest_plugin" in with_plugin
    assert "mock_esd.pytest_plugin" not in without
    assert with_plugin - without == {
        "mock_esd",
        "mock_esd.pytest_plugin",
        "mock_esd.district",
        "mock_esd.district.defaults",
    }


ONE_TEST = """
def test_one():
    assert True
"""


MARKED_TESTS = """
import datetime as dt

import pytest


@pytest.fixture(params=["esd_inprocess", "esd_server"])
def esd(request):
    return request.getfixturevalue(request.param)


@pytest.mark.esd_district(students=7, schools=3, today=dt.date(2027, 1, 15))
def test_a_marked_district(esd):
    export = esd.control.export_scenario()
    assert (len(export["students"]), len(export["schools"]), export["today"]) == (7, 3, "2027-01-15")


def test_an_unmarked_one(esd):
    assert len(esd.control.export_scenario()["students"]) == 30


@pytest.mark.esd_district(size=7)
def test_an_unknown_field(esd):
    pass


@pytest.mark.esd_district(students="7")
def test_a_wrong_type(esd):
    pass


@pytest.mark.esd_district(schools=1)
def test_an_impossible_district(esd):
    pass
"""


def test_a_marker_picks_one_test_s_district_and_refuses_what_it_does_not_know(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=MARKED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers", "--esd-students=30")
    result.assert_outcomes(passed=4, errors=6)
    result.stdout.fnmatch_lines_random(
        [
            "*esd_district: a district takes only seed, students, schools, today; got size*",
            "*esd_district: students must be a whole number, got str*",
            "*esd_district: schools must be >= 2*",
        ]
    )


UNFIRED_TESTS = """
import pytest


@pytest.fixture(params=["esd_inprocess", "esd_server"])
def esd(request):
    return request.getfixturevalue(request.param)


def test_arms_a_rule_it_never_fires(esd):
    esd.control.add_fault("/v1/contacts", "status", query={"pageNo": "2"})


def test_fires_its_rule(esd):
    import requests
    esd.control.add_fault("/v1/schools", "status", params={"status": 418})
    assert requests.get(f"{esd.base_url}/v1/schools").status_code == 401  # no token: refused before faults
    form = {"grant_type": "client_credentials", "client_id": esd.custom.client_id, "client_secret": esd.custom.client_secret}
    token = requests.post(f"{esd.base_url}/v1/auth/token", data=form).json()["access_token"]
    assert requests.get(f"{esd.base_url}/v1/schools", headers={"Authorization": f"Bearer {token}"}).status_code == 418


@pytest.mark.esd_district(unfired_faults="ignore")
def test_opts_out(esd):
    esd.control.add_fault("/v1/contacts", "status")


def test_fails_on_its_own(esd):
    esd.control.add_fault("/v1/contacts", "status")
    assert False, "its own failure"


@pytest.mark.esd_district(unfired_faults="fial")
def test_misspelt(esd):
    pass
"""


@pytest.mark.parametrize("how", [["--esd-unfired-faults=fail"], []], ids=["option", "marker"])
def test_a_test_that_leaves_a_rule_unfired_can_be_failed(pytester: pytest.Pytester, how: list[str]) -> None:
    tests = (
        UNFIRED_TESTS
        if how
        else UNFIRED_TESTS.replace(
            "def test_arms_a_rule", '@pytest.mark.esd_district(unfired_faults="fail")\ndef test_arms_a_rule'
        ).replace(
            "def test_fires_its_rule", '@pytest.mark.esd_district(unfired_faults="fail")\ndef test_fires_its_rule'
        )
    )
    pytester.makepyfile(test_unfired=tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-students=20", *how)
    # per fixture: arms (error at teardown), fires (pass), opts out (pass), fails (fail only), misspelt (error)
    result.assert_outcomes(passed=6, failed=2, errors=4)
    result.stdout.fnmatch_lines_random([
        "*ERROR at teardown of test_arms_a_rule_it_never_fires*",
        "*1 of 1 fault rule(s) never fired*",
        "*rule * (status on path=/v1/contacts query=pageNo=2): no call matched it*",
        "*esd_district: unfired_faults must be one of ignore, fail, got 'fial'*",
    ])  # fmt: skip
    assert "ERROR at teardown of test_fails_on_its_own" not in result.stdout.str()


def test_the_unfired_option_refuses_a_misspelt_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one=ONE_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-unfired-faults=fial")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--esd-unfired-faults: invalid choice: 'fial'*"])


SCENARIO_TESTS = """
import pytest

from mock_esd.district import scenario

PARSED = []
_parse = scenario.parse_text
scenario.parse_text = lambda *args, **kwargs: PARSED.append(args[1]) or _parse(*args, **kwargs)


@pytest.fixture(params=["esd_inprocess", "esd_server"])
def esd(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("round", range(3))
@pytest.mark.esd_district(scenario="districts/recorded.yaml")
def test_each_test_gets_the_recorded_district_fresh(esd, round):
    export = esd.control.export_scenario()
    assert [s["lastName"] for s in export["students"]] == ["Ng", "Okafor"]
    assert export["today"] == "2026-03-01"
    esd.control.withdraw(1)  # never seen by the next test


@pytest.mark.esd_district(scenario="districts/custom-only.json")
def test_a_scenario_naming_one_client(esd):
    assert esd.custom.client_id and list(esd.clients) == ["custom"]
    with pytest.raises(LookupError, match="no standard client: its scenario's clients are custom"):
        esd.standard


def test_parsed_once_per_file(esd):
    assert sorted(set(PARSED)) == sorted(PARSED), PARSED


@pytest.mark.esd_district(scenario="districts/recorded.yaml", students=5)
def test_a_scenario_and_a_size(esd):
    pass


@pytest.mark.esd_district(scenario="districts/missing.yaml")
def test_a_missing_file(esd):
    pass


@pytest.mark.esd_district(scenario="districts/broken.yaml")
def test_a_broken_file(esd):
    pass
"""
RECORDED = """
today: 2026-03-01
schools: [{id: '0101', name: Harbor, schoolType: Elementary}]
students:
  - {id: 1, enrolledId: '20000001', schoolId: '0101', lastName: Ng}
  - {id: 2, enrolledId: '20000002', schoolId: '0101', lastName: Okafor}
"""


def test_a_marker_gives_each_test_a_scenario_file_s_district_parsed_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenarios=SCENARIO_TESTS)
    (pytester.path / "districts").mkdir()
    (pytester.path / "districts" / "recorded.yaml").write_text(RECORDED)
    (pytester.path / "districts" / "custom-only.json").write_text(
        '{"clients": ["custom"], "schools": [{"id": "0101"}]}'
    )
    (pytester.path / "districts" / "broken.yaml").write_text("students: [{id: 1, firstName: [Ada]}]\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=10, errors=6)
    broken = pytester.path / "districts" / "broken.yaml"
    result.stdout.fnmatch_lines_random(
        [
            "*esd_district: a district from a scenario takes no students: the scenario says its district*",
            f"*esd_district: cannot read scenario {pytester.path / 'districts' / 'missing.yaml'}: No such file*",
            f"*esd_district: {broken}: invalid scenario: students.0.firstName: expected a string, got array*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


DECORATED_PYTEST_TESTS = """
import requests
from mock_esd import mock_district


@mock_district(students=5)
def test_fixtures_still_inject(tmp_path, esd):
    assert tmp_path.is_dir()
    assert requests.get(esd.base_url + "/v1/schools").status_code == 401


@mock_district
def test_bare(tmp_path, esd):
    assert tmp_path.is_dir() and esd.base_url
"""


def test_pytest_still_injects_the_fixtures_of_a_decorated_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_decorated=DECORATED_PYTEST_TESTS)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


LIMITED_TESTS = """
import pytest


@pytest.fixture(params=["esd_inprocess", "esd_server"])
def esd(request):
    return request.getfixturevalue(request.param)


@pytest.mark.esd_district(students=10**7)
def test_too_large(esd):
    pass
"""


def test_a_district_above_the_limits_fails_its_test_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_limited=LIMITED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-students=10")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random([
        "*esd_inprocess: district too large: students 10000000 is above the limit max_students=1000000 (a setting *",
        "*esd_server: district too large: students 10000000 is above the limit max_students=1000000 (a setting *",
    ])  # fmt: skip
    assert "Traceback" not in result.stdout.str()


def test_an_esd_students_option_above_the_limits_fails_each_test_that_asks_in_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_limited=LIMITED_TESTS.replace("@pytest.mark.esd_district(students=10**7)\n", ""))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-students=10000000")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*--esd-students: district too large: students 10000000 is above the limit max_students=1000000*"]
    )


MERGED_MARKERS = """
import pytest

pytestmark = pytest.mark.esd_district(students=7, schools=3)


def shape(esd):
    export = esd.control.export_scenario()
    return len(export["students"]), len(export["schools"])


def test_the_module_s(esd_inprocess):
    assert shape(esd_inprocess) == (7, 3)


@pytest.mark.esd_district(students=5)
def test_its_own_students_the_module_s_schools(esd_inprocess):
    assert shape(esd_inprocess) == (5, 3)


@pytest.mark.esd_district(schools=4)
class TestAClass:
    def test_the_class_s_schools(self, esd_server):
        assert shape(esd_server) == (7, 4)

    @pytest.mark.esd_district(students=6)
    def test_nearest_first(self, esd_server):
        assert shape(esd_server) == (6, 4)


def test_a_test_without_a_district_is_left_alone():
    pass
"""


def test_markers_merge_per_option_the_nearest_winning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_merged=MERGED_MARKERS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--esd-students=30")
    result.assert_outcomes(passed=5)


FORMS_OF_A_DISTRICT = """
import pytest

pytestmark = pytest.mark.esd_district(students=50, seed=9)

def test_the_module_s_generated_district(esd_inprocess):
    assert len(esd_inprocess.control.export_scenario()["students"]) == 50


@pytest.mark.esd_district(scenario="one.yaml")
def test_a_test_s_scenario_wins_over_the_module_s_students(esd_inprocess):
    assert [s["id"] for s in esd_inprocess.control.export_scenario()["students"]] == [1]
"""


def test_the_nearest_marker_chooses_the_district_s_form(pytester: pytest.Pytester) -> None:
    """A module's `students=` and a test's `scenario=` are two forms of a district: the test's is taken whole
    (merged per option, they failed with "a district from a scenario takes no students")."""
    pytester.makefile(".yaml", one="schools:\n  - {id: '0101', name: One, schoolType: Elementary}\nstudents:\n"
                      "  - {id: 1, enrolledId: '10000001', studentStatus: Enrolled, schoolId: '0101'}\n")  # fmt: skip
    pytester.makepyfile(test_forms=FORMS_OF_A_DISTRICT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


UNUSED_MARKER = """
import pytest


@pytest.mark.esd_district(students=5)
def test_marked_without_a_district():
    pass


@pytest.mark.esd_district(students=5)
def test_marked_with_one_taken_late(request):
    assert request.getfixturevalue("esd_inprocess").base_url
"""


def test_a_marker_on_a_test_without_a_district_is_an_error_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unused=UNUSED_MARKER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_marked_without_a_district*",
        "*test_unused.py::test_marked_without_a_district: its esd_district marker changes nothing: the test takes "
        "neither esd_inprocess nor esd_server*",
    ])  # fmt: skip


def test_a_marker_s_error_is_said_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_once="import pytest\n\n@pytest.mark.esd_district(size=7)\ndef test_it(esd_inprocess):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    errors = result.stdout.str().split("short test summary")[0]
    assert errors.count("a district takes only seed, students, schools, today; got size") == 1, errors
    assert "During handling" not in errors
