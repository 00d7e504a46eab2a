"""What a fresh district per test costs: the pytest plugin's fixtures against a bare `responses` stub.

    python benchmarks/fixtures.py [--tests 200] [--students 200] [--repeat 3]

Each kind runs as a QA suite would: a pytest session in a subprocess, in a throw-away directory, of
`--tests` tests that each take the fixture (and assert it is there). A conftest there times each test's
whole run (`pytest_runtest_protocol`: set-up, call, teardown and pytest's own reporting). A test's cost
is the median test of a session, so the session's one-time set-up (generating the district, starting
the server) is out of it and so is a spike of a busy machine; the kinds run interleaved, `--repeat`
times, and the least disturbed session (the lowest median) counts. The median CPU time of the
process per test (all its threads, the live server's too) is printed beside it: on a shared machine it
moves far less than the wall time. The stub is what a QA engineer writes by hand instead of a
mock: a `responses.RequestsMock` per test with canned replies for the token and the five list endpoints.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: `python benchmarks/fixtures.py`

from benchmarks.common import Row, at_most  # noqa: E402

STUB = "stub"
KINDS = (STUB, "esd_inprocess", "esd_server")
DEFAULT_TESTS = 200
DEFAULT_STUDENTS = 200  # the plugin's default --esd-students
TARGET_MS = 5.0  # the target for a fresh district per test
TARGET_RATIO = 1.5  # ... and at most this times the stub's per-test cost

_TIMING_CONFTEST = """
import json, os, time
import pytest

TIMES = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, cpu = time.perf_counter(), time.process_time()
    yield
    TIMES.append([time.perf_counter() - start, time.process_time() - cpu])


def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_TIMES"], "w") as out:
        json.dump(TIMES, out)
"""

_STUB_FIXTURE = """
import pytest
import responses

BASE = "http://esd.invalid/api"
LISTS = {"/v1/schools": "schools", "/v1/students": "students", "/v1/contacts": "contacts",
         "/v1/operoo/students": "students", "/v1/operoo/contacts": "contacts"}


@pytest.fixture
def stub():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, BASE + "/v1/auth/token",
                 json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        for path, key in LISTS.items():
            paging = {"pageNo": 1, "pageSize": 100, "pageCount": 0, "totalCount": 0}
            mock.add(responses.GET, BASE + path, json={key: [], "pagingInfo": paging})
        yield mock
"""

_TEST = """

def test_{i}({fixture}):
    assert {fixture}
"""


@dataclass(frozen=True)
class FixtureCost:
    """One kind's numbers, in milliseconds."""

    kind: str
    per_test_ms: float  # wall time of one test's run (set-up, call, teardown, reporting): the lowest session median
    cpu_ms: float  # the process's CPU time per test, median over every test of every session
    session_ms: float  # the fastest whole session of `tests` tests, start-up and one-time set-up included

    def ratio_to(self, stub: FixtureCost) -> float:
        return self.per_test_ms / stub.per_test_ms if stub.per_test_ms > 0 else float("nan")


def _suite(directory: Path, kind: str, tests: int) -> Path:
    """A directory holding a pytest project of `tests` tests that each take `kind`'s fixture."""
    fixture = "stub" if kind == STUB else kind
    project = directory / kind
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")  # its own rootdir: no settings of the caller's project
    (project / "conftest.py").write_text(_TIMING_CONFTEST)
    body = (_STUB_FIXTURE if kind == STUB else "") + "".join(_TEST.format(i=i, fixture=fixture) for i in range(tests))
    (project / "test_suite.py").write_text(body)
    return project


def _session(project: Path, students: int) -> tuple[float, list[list[float]]]:
    """Wall time of one pytest session over `project`, and each test's time; a failing session is an error."""
    times = project / "times.json"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--esd-students={students}"]
    env = {**os.environ, "FIXTURE_TIMES": str(times)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"pytest in {project} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed, [[float(wall), float(cpu)] for wall, cpu in json.loads(times.read_text())]


def measure(
    tests: int = DEFAULT_TESTS, students: int = DEFAULT_STUDENTS, repeat: int = 3, kinds: tuple[str, ...] = KINDS
) -> dict[str, FixtureCost]:
    """Per-test cost (lowest session median), CPU per test and session time (best) of each kind, over
    `repeat` interleaved sessions."""
    if tests < 1:
        raise ValueError(f"tests must be >= 1, got {tests}")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kind {', '.join(unknown)}; expected some of {', '.join(KINDS)}")
    sessions: dict[str, list[float]] = {k: [] for k in kinds}
    medians: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="mock-esd-fixtures-") as tmp:
        projects = {k: _suite(Path(tmp), k, tests) for k in kinds}
        for _ in range(repeat):
            for kind, project in projects.items():
                elapsed, times = _session(project, students)
                if len(times) != tests:
                    raise RuntimeError(f"{kind}: {len(times)} tests timed, expected {tests}")
                sessions[kind].append(elapsed)
                medians[kind].append(statistics.median(wall for wall, _ in times))
                cpu[kind].extend(c for _, c in times)
    return {
        k: FixtureCost(k, 1000 * min(medians[k]), 1000 * statistics.median(cpu[k]), 1000 * min(sessions[k]))
        for k in kinds
    }


def report(costs: dict[str, FixtureCost], tests: int, students: int) -> list[str]:
    """The lines the benchmark prints: per-test cost, ratio to the stub, and each target met or not."""
    stub = costs.get(STUB)
    lines = [f"a fresh district per test: {tests} tests a session, {students} students (median test)"]
    for cost in costs.values():
        line = (
            f"  {cost.kind:14} {cost.per_test_ms:6.2f} ms per test (CPU {cost.cpu_ms:5.2f} ms)"
            f"   (session of {tests}: {cost.session_ms:6.0f} ms)"
        )
        if cost.kind != STUB:
            line += f"   <= {TARGET_MS:g} ms: {'met' if cost.per_test_ms <= TARGET_MS else 'not met'}"
            if stub is not None:
                ratio = cost.ratio_to(stub)
                line += f"   {ratio:4.2f}x stub, <= {TARGET_RATIO:g}x: {'met' if ratio <= TARGET_RATIO else 'not met'}"
        lines.append(line)
    return lines


PLUGIN_LOAD_RATIO = 1.3  # installing the package must not tax every pytest run (about 50 ms at most)


def plugin_load_times(repeat: int) -> dict[str, list[float]]:
    """A one-test pytest run with the plugin loaded and with `-p no:mock_esd`, interleaved `repeat` times.

    This is a timing, so it lives here and not in the test suite; the suite asserts the exact part
    (`tests/plugin`: loading the plugin imports nothing but the plugin).
    """
    times: dict[str, list[float]] = {"with": [], "without": []}
    with tempfile.TemporaryDirectory(prefix="mock-esd-plugin-load-") as tmp:
        (Path(tmp) / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", tmp]
        for _ in range(repeat):
            for kind, extra in (("with", []), ("without", ["-p", "no:mock_esd"])):
                start = time.perf_counter()
                subprocess.run([*command, *extra], cwd=tmp, check=True, capture_output=True)
                times[kind].append(time.perf_counter() - start)
    return times


def fixture_rows(opts: Any, rows: list[Row]) -> None:
    """The benchmark table's rows (`benchmarks/run.py`): each fixture's per-test cost against the stub's."""
    costs = measure(repeat=opts.repeat)
    stub = f"a fresh district per test: bare responses stub ({DEFAULT_TESTS} tests)"
    rows.append(Row(stub, [costs[STUB].per_test_ms / 1000]))
    for kind in KINDS[1:]:
        name = f"a fresh district per test: {kind}, {DEFAULT_STUDENTS} students"
        targets = (at_most(TARGET_MS / 1000), at_most(TARGET_RATIO, ratio=True))
        rows.append(Row(name, [costs[kind].per_test_ms / 1000], stub, targets))
    load = plugin_load_times(max(5, opts.repeat))
    bare = "a one-test pytest run, the plugin not loaded (-p no:mock_esd)"
    rows.append(Row(bare, load["without"]))
    rows.append(
        Row("a one-test pytest run, the plugin loaded", load["with"], bare, (at_most(PLUGIN_LOAD_RATIO, ratio=True),))
    )


@click.command(help=__doc__)
@click.option("--tests", type=click.IntRange(min=1), default=DEFAULT_TESTS, show_default=True, help="tests per session")
@click.option("--students", type=click.IntRange(min=0), default=DEFAULT_STUDENTS, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True, help="runs of each session")
@click.option("--kind", "kinds", type=click.Choice(KINDS), multiple=True, help="measure only these (default: all)")
def main(tests: int, students: int, repeat: int, kinds: tuple[str, ...]) -> None:
    costs = measure(tests, students, repeat, kinds or KINDS)
    click.echo("\n".join(report(costs, tests, students)))


if __name__ == "__main__":
    main()
