"""pytest plugin (entry point `pytest11`): a mock eSD district per test, live or in-process.

- fixture `esd_server`: a live server on a free 127.0.0.1 port (one per session, per xdist worker) and a
  fresh tenant per test, so tests never see each other's changes;
- fixture `esd_inprocess`: the same API with no socket: `requests` calls for its base URL are routed into
  the Flask app by the `responses` library (as moto's mock_aws does);
- options: `--esd-seed N` (the district's seed), `--esd-students N` (its size, default 200),
  `--esd-unfired-faults fail` (a test that leaves a fault rule unfired errors at teardown);
- marker: `@pytest.mark.esd_district(seed=N, students=N, schools=N, today=date, unfired_faults=...)` for
  one test's district, or `@pytest.mark.esd_district(scenario="tests/districts/d.yaml")` for the district a
  scenario file describes (a path relative to the rootdir; parsed once per session and content, each
  test a fork).

Both are `mock_esd.testing.Districts` of the session, the same districts `mock_esd.mock_district` gives
outside pytest: a district is generated once per (seed, size) per session, a scenario (a marker's file, or
a text `ControlClient.load_scenario` sends) parsed and built once, and each test gets a copy-on-write fork
of it, so a fresh district costs about what a hand-written `responses` stub does.

Every pytest run in an environment with this package loads this module, so it imports nothing but
pytest and the plain modules below at load: Flask, Faker, werkzeug and the mock's server are imported
when a fixture is first used, and without the `testing` extra a fixture fails its test in one line
naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from mock_esd.district.defaults import SPEC_FIELDS, TEST_STUDENTS, UNFIRED_FAULTS

if TYPE_CHECKING:
    from pathlib import Path

    from mock_esd.district.generator import DistrictSpec
    from mock_esd.testing import Districts, EsdDistrict

MARKER = "esd_district"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-esd")
    group.addoption("--esd-seed", type=int, default=1, help="seed of the mock eSD districts (default 1)")
    group.addoption(
        "--esd-students", type=int, default=TEST_STUDENTS,
        help=f"students per mock eSD district (default {TEST_STUDENTS})",
    )  # fmt: skip
    group.addoption(
        "--esd-unfired-faults", choices=UNFIRED_FAULTS, default="ignore",
        help="fail: a test that leaves a fault rule armed for its district unfired errors at teardown, naming "
        "the rule and the nearest requests (default ignore; the esd_district marker's unfired_faults= overrides)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}({', '.join(f'{name}=...' for name in SPEC_FIELDS)}, unfired_faults='fail'|'ignore'): the mock "
        "eSD district of this test's esd_inprocess or esd_server (fields left out: --esd-seed, --esd-students, "
        "--esd-unfired-faults and the defaults); or scenario='path/to/district.yaml' (from the rootdir) for the "
        "district a scenario file describes",
    )
    students = config.getoption("--esd-students")
    if students < 0:
        raise pytest.UsageError(f"--esd-students must be 0 or more, got {students}")


def _spec(config: pytest.Config) -> DistrictSpec:
    from mock_esd.testing import district_spec

    return district_spec(seed=config.getoption("--esd-seed"), students=config.getoption("--esd-students"))


def _test_district(request: pytest.FixtureRequest) -> tuple[DistrictSpec | Path, str]:
    """The district a test asked for (the options', with the fields of its `esd_district` marker, or its
    scenario file), and what its end does about an armed fault rule that never fired."""
    from mock_esd.testing import check_unfired_faults, district_spec, scenario_path

    options = {"seed": request.config.getoption("--esd-seed"), "students": request.config.getoption("--esd-students")}
    unfired = request.config.getoption("--esd-unfired-faults")
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return district_spec(**options), unfired
    if marker.args:
        given = ", ".join(map(repr, marker.args))
        pytest.fail(
            f"{MARKER} takes only {', '.join(SPEC_FIELDS)}, scenario, unfired_faults by name; got {given}",
            pytrace=False,
        )
    fields = dict(marker.kwargs)
    try:
        unfired = check_unfired_faults(fields.pop("unfired_faults", unfired))
        if "scenario" in fields:
            scenario = fields.pop("scenario")
            return scenario_path(scenario, fields, request.config.rootpath), unfired
        return district_spec(**{**options, **fields}), unfired
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{MARKER}: {exc}", pytrace=False)


@contextmanager
def _district_of(
    request: pytest.FixtureRequest, fixture: str, start: Callable[[DistrictSpec | Path], Any]
) -> Iterator[EsdDistrict]:
    """Run one test's district: `start(source)` gives its context; at the end, its unfired rules checked if asked."""
    from mock_esd.errors import EsdError
    from mock_esd_contracts.extras import MissingExtra

    source, unfired = _test_district(request)
    try:
        context = start(source)
        district = context.__enter__()
    except MissingExtra as exc:
        pytest.fail(f"{fixture}: {exc}", pytrace=False)
    except EsdError as exc:  # a scenario file that cannot be read, or is no scenario: one line naming it
        pytest.fail(f"{MARKER}: {exc.detail}", pytrace=False)
    try:
        yield district
        if unfired == "fail" and not _failed(request):
            district.control.assert_faults_fired()
    finally:
        context.__exit__(None, None, None)


def _failed(request: pytest.FixtureRequest) -> bool:
    """Whether the test itself failed (its own failure says more than a rule it did not get to fire)."""
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.failed


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report on the test, for `_failed`."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session")
def esd_districts(pytestconfig: pytest.Config) -> Iterator[Districts]:
    """The session's districts (one set per xdist worker): tests get forks of them; the live server is shared.
    Without the `testing` extra, each test using a fixture fails in one line naming it."""
    from mock_esd.testing import Districts
    from mock_esd_contracts.extras import MissingExtra, missing

    absent = missing("testing")
    if absent:  # failed outside an `except`, so pytest shows the one line, not a chain of exceptions
        pytest.fail(str(MissingExtra("testing", "a mock eSD fixture", list(absent))), pytrace=False)
    with Districts(_spec(pytestconfig)) as districts:
        yield districts


@pytest.fixture
def esd_server(esd_districts: Districts, request: pytest.FixtureRequest) -> Iterator[EsdDistrict]:
    """A fresh tenant on the session's live server. At the end whatever the test left goes: its tenant, the
    tenants and fault rules it made, the journal, and a changed default tenant (given a fresh fork)."""
    from mock_esd.district.tenants import tenant_name_from  # the server's extra: imported once one is wanted

    name = tenant_name_from(request.node.nodeid)
    with _district_of(request, "esd_server", lambda spec: esd_districts.live(spec, name)) as district:
        yield district


@pytest.fixture
def esd_inprocess(esd_districts: Districts, request: pytest.FixtureRequest) -> Iterator[EsdDistrict]:
    """A fresh district behind `http://esd.invalid/api`, reached in-process (no socket)."""
    with _district_of(request, "esd_inprocess", esd_districts.inprocess) as district:
        yield district
