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
  test a fork); on a class or a module (`pytestmark = pytest.mark.esd_district(...)`), for those of
  its tests that take a district. Markers merge per option: each option comes from the nearest marker that
  gives it (the test's, then its class's, then its module's), the others from the command-line options
  and the defaults. A marker on a test that takes neither fixture is an error at its teardown, naming it.

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
_TOOK_A_DISTRICT = pytest.StashKey[bool]()


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
        "eSD district of this test's esd_inprocess or esd_server (on a class or module: of its tests that take one; "
        "each option from the nearest marker giving it, else --esd-seed, --esd-students, --esd-unfired-faults "
        "and the defaults); or scenario='path/to/district.yaml' (from the rootdir) for the district a scenario "
        "file describes",
    )
    students = config.getoption("--esd-students")
    if students < 0:
        raise pytest.UsageError(f"--esd-students must be 0 or more, got {students}")


def _spec(config: pytest.Config) -> DistrictSpec:
    from mock_esd.testing import district_spec

    return district_spec(seed=config.getoption("--esd-seed"), students=config.getoption("--esd-students"))


def _marked_fields(node: pytest.Item) -> dict[str, Any]:
    """The options of the `esd_district` markers over `node`, each from the nearest marker that gives it: the
    test's own, then its class's, then its module's (`pytestmark`), as pytest's closest marker but per option.
    The district's form is chosen whole by the nearest marker that gives one: a `scenario`, or generated
    (`seed`, `students`, ...); a farther marker's options of the other form are left out, so a test's
    `scenario=` wins over its module's `students=`. A positional argument fails the test in one line."""
    fields: dict[str, Any] = {}
    form: str | None = None  # "scenario" or "generated", once a marker gave either
    for marker in node.iter_markers(MARKER):  # nearest first
        if marker.args:
            given = ", ".join(map(repr, marker.args))
            pytest.fail(
                f"{MARKER} takes only {', '.join(SPEC_FIELDS)}, scenario, unfired_faults by name; got {given}",
                pytrace=False,
            )
        forms = {_form(name) for name in marker.kwargs} - {None}
        fields.update(
            {k: v for k, v in marker.kwargs.items() if k not in fields and _form(k) in (None, form or _form(k))}
        )
        if form is None and len(forms) == 1:
            form = forms.pop()
    return fields


def _form(option: str) -> str | None:
    """What an option says the district is: "scenario", "generated" (a spec's field), or nothing."""
    return "scenario" if option == "scenario" else "generated" if option in SPEC_FIELDS else None


def _test_district(request: pytest.FixtureRequest) -> tuple[DistrictSpec | Path, str]:
    """The district a test asked for (the options', with the fields of its `esd_district` markers, or its
    scenario file), and what its end does about an armed fault rule that never fired. A field it cannot
    take fails the test in one line."""
    from mock_esd.testing import check_unfired_faults, district_spec, scenario_path

    options = {"seed": request.config.getoption("--esd-seed"), "students": request.config.getoption("--esd-students")}
    fields = _marked_fields(request.node)
    try:
        unfired = check_unfired_faults(fields.pop("unfired_faults", request.config.getoption("--esd-unfired-faults")))
        if "scenario" in fields:
            scenario = fields.pop("scenario")
            return scenario_path(scenario, fields, request.config.rootpath), unfired
        return district_spec(**{**options, **fields}), unfired
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    pytest.fail(f"{MARKER}: {problem}", pytrace=False)  # outside the except: said once, not chained to itself


@contextmanager
def _district_of(
    request: pytest.FixtureRequest,
    fixture: str,
    districts: Districts,
    start: Callable[[DistrictSpec | Path], Any],
) -> Iterator[EsdDistrict]:
    """Run one test's district: `start(source)` gives its context; at the end, its unfired rules checked if
    asked. A district above the limits of `districts` (mock_esd.Limits) fails the test in one line naming the
    limit; so does a scenario file that cannot be read or is no scenario, naming it."""
    from pathlib import Path

    from mock_esd.errors import EsdError
    from mock_esd_contracts.extras import MissingExtra

    request.node.stash[_TOOK_A_DISTRICT] = True
    source, unfired = _test_district(request)
    problem = None
    try:
        if not isinstance(source, Path):
            districts.check(source, fixture)
        context = start(source)
        district = context.__enter__()
    except EsdError as exc:  # a scenario file that cannot be read, or is no scenario (a ValueError too)
        problem = f"{MARKER}: {exc.detail}"
    except (MissingExtra, ValueError) as exc:  # ValueError: a limit, from `check` or the live server's totals
        problem = f"{fixture}: {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)  # outside the except: one line, no chained exception before it
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """A test marked `esd_district` itself that took neither fixture errors at teardown, naming it: the marker
    changed nothing. (A module's or class's marker is a default for those of its tests that take one.)"""
    yield  # torn down first: the error must not leave its fixtures standing for the next test
    ran = getattr(item, "rep_call", None) is not None
    if ran and item.stash.get(_TOOK_A_DISTRICT, False) is False and any(m.name == MARKER for m in item.own_markers):
        pytest.fail(
            f"{item.nodeid}: its {MARKER} marker changes nothing: the test takes neither esd_inprocess nor "
            "esd_server (take one, or remove the marker)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def esd_districts(pytestconfig: pytest.Config) -> Iterator[Districts]:
    """The session's districts (one set per xdist worker): tests get forks of them; the live server is shared.
    Without the `testing` extra, each test using a fixture fails in one line naming it."""
    from mock_esd.testing import Districts
    from mock_esd_contracts.extras import MissingExtra, missing

    absent = missing("testing")
    if absent:  # failed outside an `except`, so pytest shows the one line, not a chain of exceptions
        pytest.fail(str(MissingExtra("testing", "a mock eSD fixture", list(absent))), pytrace=False)
    problem: str | None = None
    try:
        districts = Districts(_spec(pytestconfig))
    except ValueError as exc:  # --esd-students above max_students: one line, for each test that asks
        problem = f"--esd-students: {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with districts:
        yield districts


@pytest.fixture
def esd_server(esd_districts: Districts, request: pytest.FixtureRequest) -> Iterator[EsdDistrict]:
    """A fresh tenant on the session's live server. At the end whatever the test left goes: its tenant, the
    tenants and fault rules it made, the journal, and a changed default tenant (given a fresh fork)."""
    from mock_esd.district.tenants import tenant_name_from  # the server's extra: imported once one is wanted

    name = tenant_name_from(request.node.nodeid)
    with _district_of(request, "esd_server", esd_districts, lambda spec: esd_districts.live(spec, name)) as district:
        yield district


@pytest.fixture
def esd_inprocess(esd_districts: Districts, request: pytest.FixtureRequest) -> Iterator[EsdDistrict]:
    """A fresh district behind `http://esd.invalid/api`, reached in-process (no socket)."""
    with _district_of(request, "esd_inprocess", esd_districts, esd_districts.inprocess) as district:
        yield district
