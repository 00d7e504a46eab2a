"""mock-esd from its wheel, installed (not editable) into fresh virtualenvs, as a user gets it.

The sdist and the wheel are built once per run (the wheel from the sdist), and each virtualenv is made once per
run and shared by the tests that need that install, the xdist workers included (`_once`). Four installs:
the base (`pip install mock-esd`: what a partner needs for `verify` and `sync`), the base with pytest but no
`testing` extra, `testing` with pytest-xdist, and `all`.

The user's project here has its own top-level `sync.py`, `contracts/` and `workbench/` first on sys.path
(the working directory of `python -m pytest` and `python -m mock_esd`, PYTHONPATH for the console script):
mock-esd's installed names are its own (`mock_esd_sync`, ...), so neither side shadows the other.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

import mock_esd
from tests.e2e.installs import VERSION, Dist, InstallError, Venv, build, make_venv

pytestmark = pytest.mark.e2e

SERVER_PACKAGES = ("flask", "werkzeug", "itsdangerous", "faker", "pyyaml", "gunicorn", "swagger-ui-py")
TEST_PACKAGES = ("pytest", "responses", "hypothesis")


# -- The distribution and the installs, made once per run --------------------------------------------------


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this run shares (the parent of their base temp dirs)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


def _once(path: Path, make: Callable[[Path], object]) -> None:
    """Make `path` with `make(path)` unless this run already did; workers asking at once wait for the first."""
    with (path.parent / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = path.parent / f"{path.name}.done"
        if done.exists():
            return
        if path.exists():  # half made by a worker whose make failed: start again
            shutil.rmtree(path)
        failed = None
        try:
            make(path)
        except InstallError as exc:
            failed = str(exc)
        if failed is not None:  # a failure, never a skip: the message says what needs the network
            pytest.fail(failed, pytrace=False)
        done.touch()


@pytest.fixture(scope="session")
def dist(shared: Path) -> Dist:
    _once(shared / "dist", build)
    return Dist.at(shared / "dist")


def _install(shared: Path, name: str, *requirements: str) -> Venv:
    root = shared / f"venv-{name}"
    _once(root, lambda path: make_venv(path, *requirements))
    return Venv(root)


@pytest.fixture(scope="session")
def base(shared: Path, dist: Dist) -> Venv:
    """`pip install mock-esd`: no extra."""
    return _install(shared, "base", dist.requirement())


@pytest.fixture(scope="session")
def base_with_pytest(shared: Path, dist: Dist) -> Venv:
    """The base and pytest, without the `testing` extra: the plugin loads, its fixtures cannot run."""
    return _install(shared, "base-pytest", dist.requirement(), "pytest")


@pytest.fixture(scope="session")
def testing(shared: Path, dist: Dist) -> Venv:
    """`pip install 'mock-esd[testing]' pytest-xdist`: a QA engineer's install."""
    return _install(shared, "testing", dist.requirement("testing"), "pytest-xdist")


@pytest.fixture(scope="session")
def everything(shared: Path, dist: Dist) -> Venv:
    """`pip install 'mock-esd[all]'`."""
    return _install(shared, "all", dist.requirement("all"))


# -- The built distribution ----------------------------------------------------------------------------


def test_the_wheel_and_the_sdist_pass_twine_check(dist: Dist) -> None:
    assert dist.twine_exit == 0, dist.twine
    assert sorted(re.findall(r"Checking (\S+): PASSED", dist.twine)) == sorted([str(dist.wheel), str(dist.sdist)])


def test_the_wheel_installs_only_names_of_its_own(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        tops = {name.split("/", 1)[0] for name in wheel.namelist()}
        entry_points = wheel.read(f"mock_esd-{VERSION}.dist-info/entry_points.txt").decode()
    assert tops == {
        "mock_esd",
        "mock_esd_sync",
        "mock_esd_contracts",
        "mock_esd_workbench",
        f"mock_esd-{VERSION}.dist-info",
    }
    assert "mock-esd = mock_esd_workbench.cli:main" in entry_points
    assert "mock_esd = mock_esd.pytest_plugin" in entry_points


# -- A user's project whose own modules are named like the repository's folders ------------------------

# Each user module logs its import, so a test can tell that no mock-esd command imported it.
_LOGS_ITS_IMPORT = """\
import pathlib
_project = next(p for p in pathlib.Path(__file__).resolve().parents if (p / "sync.py").is_file())
with open(_project / "imports.log", "a") as _log:
    _log.write(__name__ + "\\n")
"""
USER_FILES = {
    "sync.py": f'"""The user\'s own sync."""\n{_LOGS_ITS_IMPORT}MARKER = "the user\'s sync.py"\n',
    "contracts/__init__.py": f'{_LOGS_ITS_IMPORT}MARKER = "the user\'s contracts"\n',
    "contracts/schema.py": f'{_LOGS_ITS_IMPORT}SCHEMA = {{"title": "the user\'s schema"}}\n',
    "workbench/__init__.py": f'{_LOGS_ITS_IMPORT}MARKER = "the user\'s workbench"\n',
    "workbench/cli.py": f'{_LOGS_ITS_IMPORT}def main():\n    return "the user\'s workbench CLI"\n',
    "settings.toml": 'custom_endpoints = true\n\n[schools]\n"0101" = ["Enrolled"]\n',
    "test_user.py": '''\
import pathlib

import requests

import contracts
import mock_esd
import mock_esd_sync
import sync
import workbench
from contracts.schema import SCHEMA
from mock_esd_sync import EsdClient, compute_desired, parse_settings
from workbench.cli import main

PROJECT = pathlib.Path(__file__).resolve().parent


def test_the_users_modules_are_the_users():
    assert (sync.MARKER, contracts.MARKER, workbench.MARKER) == (
        "the user's sync.py", "the user's contracts", "the user's workbench")
    assert SCHEMA == {"title": "the user's schema"} and main() == "the user's workbench CLI"
    for module in (sync, contracts, workbench):
        assert pathlib.Path(module.__file__).resolve().is_relative_to(PROJECT)
    for module in (mock_esd, mock_esd_sync):
        assert "site-packages" in pathlib.Path(module.__file__).parts


def synced(esd):
    """Sync the district's applicants and students through mock-esd's own client: the All District group."""
    applicant = esd.control.submit_application(firstName="Ada")
    with requests.Session() as session:
        client = EsdClient(session, esd.base_url, esd.custom.client_id, esd.custom.client_secret)
        snapshot = client.fetch_snapshot(custom_endpoints=True)
    groups = compute_desired(snapshot, parse_settings({"custom_endpoints": True})).groups
    assert f"student-operoo-{applicant['id']}" in groups[("All District Students", None)]


def test_in_process(esd_inprocess):
    assert esd_inprocess.base_url == "http://esd.invalid/api"
    synced(esd_inprocess)


def test_live(esd_server):
    assert esd_server.base_url.startswith("http://127.0.0.1:")
    synced(esd_server)


def test_each_test_gets_a_fresh_district(esd_server):
    assert esd_server.control.requests() == []
''',
}


def _digests(project: Path) -> dict[str, str]:
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in USER_FILES}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """The user's project; afterwards each of its files is byte for byte what the user wrote."""
    root = tmp_path / "project"
    for name, text in USER_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    before = _digests(root)
    yield root
    assert _digests(root) == before


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_both_fixtures_run_in_a_project_with_its_own_sync_contracts_and_workbench(
    testing: Venv, project: Path, workers: list[str]
) -> None:
    done = testing.run("python", "-m", "pytest", "-q", "--esd-students", "60", *workers, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b4 passed\b", done.stdout), done.stdout


def test_the_commands_run_in_a_project_with_its_own_sync_contracts_and_workbench(testing: Venv, project: Path) -> None:
    helped = testing.run("python", "-m", "mock_esd", "--help", cwd=project, pythonpath=project)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: python -m mock_esd")
    assert all(command in helped.stdout for command in ("serve", "sync", "verify", "record", "proxy"))

    with _serving(testing, project) as (base_url, credentials):
        verified = testing.run("mock-esd", "verify", "--url", base_url, *credentials, cwd=project, pythonpath=project)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        synced = testing.run(
            "mock-esd", "sync", "--url", base_url, *credentials, "--settings", "settings.toml", "--db", "operoo.db",
            "--json", cwd=project, pythonpath=project,
        )  # fmt: skip
        assert synced.returncode == 0, synced.stderr
        report = json.loads(synced.stdout)
        assert report["status"] == "applied" and report["counts"]["created"] > 0, report["counts"]

    assert not (project / "imports.log").exists(), "a mock-esd command imported the user's own modules"
    own = testing.run(
        "python", "-c", "import sync, contracts.schema, workbench.cli; print(sync.MARKER, contracts.schema.SCHEMA, "
        "workbench.cli.main(), sep='|')", cwd=project,
    )  # fmt: skip
    assert own.stdout.split("|") == [
        "the user's sync.py",
        "{'title': \"the user's schema\"}",
        "the user's workbench CLI\n",
    ]


def test_a_module_named_like_an_installed_one_would_shadow_it(testing: Venv, project: Path) -> None:
    """The negative control: each route above puts the user's project ahead of site-packages, so had mock-esd
    installed `sync`, `contracts` or `workbench`, the user's would have replaced them. Here the user's project
    holds modules named like mock-esd's own, and every route breaks on them."""
    for name in ("mock_esd_sync", "mock_esd_workbench"):
        (project / name).mkdir()
        (project / name / "__init__.py").write_text(f"raise ImportError(\"the user's {name}, not mock-esd's\")\n")
    routes = {
        "pytest": testing.run("python", "-m", "pytest", "-q", "--esd-students", "60", cwd=project),
        "python -m": testing.run("python", "-m", "mock_esd", "--help", cwd=project),
        "console script": testing.run("mock-esd", "--version", cwd=project, pythonpath=project),
    }
    for route, done in routes.items():
        assert done.returncode != 0, route
        assert "not mock-esd's" in done.stdout + done.stderr, (route, done.stdout + done.stderr)


def _drain(stream: IO[str], into: list[str]) -> None:
    into.extend(stream)


@contextmanager
def _serving(venv: Venv, project: Path) -> Iterator[tuple[str, list[str]]]:
    """`mock-esd serve --port 0` from `project`, in the background: its base URL and custom client's credentials,
    read from what it prints. At the end, SIGTERM: it must say "stopped" and exit 0."""
    proc = subprocess.Popen(
        [venv.bin("mock-esd"), "serve", "--port", "0", "--students", "200"], cwd=project,
        env=venv.env(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    err: list[str] = []
    drains: list[threading.Thread] = []
    try:
        for line in proc.stdout:
            out.append(line)
            if line.startswith("Serving"):
                break
        head = "".join(out)
        base = re.search(r"eSD base URL: (\S+)", head)
        client = re.search(r"custom endpoints ON.*--client-id (\S+) --client-secret (\S+)", head)
        assert base and client, head
        # Read the rest as it comes (the access log): a pipe nobody reads fills, and the server blocks.
        drains = [
            threading.Thread(target=_drain, args=(s, into), daemon=True)
            for s, into in ((proc.stdout, out), (proc.stderr, err))
        ]
        for drain in drains:
            drain.start()
        yield base[1], ["--client-id", client[1], "--client-secret", client[2]]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        for drain in drains:
            drain.join(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, "".join(err)
    assert out[-1] == "stopped\n", out[-3:]


# -- The base install: what a partner needs, and nothing of the server or the tests ---------------------


def test_the_base_install_holds_nothing_of_the_server_or_the_tests(base: Venv) -> None:
    installed = base.distributions()
    assert "mock-esd" in installed
    assert not installed & {*SERVER_PACKAGES, *TEST_PACKAGES}, sorted(installed & {*SERVER_PACKAGES, *TEST_PACKAGES})


@pytest.mark.parametrize("install", ["base", "everything"])
def test_the_version_is_pyprojects(install: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    venv: Venv = request.getfixturevalue(install)
    done = venv.run("mock-esd", "--version", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"mock-esd, version {VERSION}\n", "")


@pytest.mark.parametrize("command", ["verify", "sync"])
def test_the_base_install_helps_with_verify_and_sync(base: Venv, command: str, tmp_path: Path) -> None:
    done = base.run("mock-esd", command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: mock-esd {command} [OPTIONS]")


UNREACHED = ["--url", "http://127.0.0.1:9/api", "--client-id", "c", "--client-secret", "s"]


@pytest.mark.parametrize(
    "args",
    [["serve"], ["demo"], ["record", *UNREACHED, "--out", "district.json"], ["proxy", "--upstream", UNREACHED[1]]],
    ids=["serve", "demo", "record", "proxy"],
)
def test_a_server_command_without_the_server_extra_says_which_to_install(
    base: Venv, args: list[str], tmp_path: Path
) -> None:
    done = base.run("mock-esd", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"mock-esd: error: mock-esd {args[0]} needs the 'server' extra: ")
    assert "pip install 'mock-esd[server]'" in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_server_name_without_the_server_extra_raises_missing_extra(base: Venv, tmp_path: Path) -> None:
    script = (
        "import mock_esd\n"
        "try:\n    mock_esd.create_app\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc, sep=': ')\n"
        "else:\n    print('no error')\n"
    )  # fmt: skip
    done = base.run("python", "-c", script, cwd=tmp_path)
    assert done.stdout.startswith("MissingExtra: mock_esd.create_app needs the 'server' extra: "), done.stdout
    assert "pip install 'mock-esd[server]'" in done.stdout
    uncaught = base.run("python", "-c", "from mock_esd import LiveServer", cwd=tmp_path)
    assert uncaught.returncode == 1
    assert uncaught.stderr.splitlines()[-1].startswith("mock_esd_contracts.extras.MissingExtra: mock_esd.LiveServer ")
    assert "No module named" not in uncaught.stderr, uncaught.stderr  # no ImportError chained before it


def test_a_partner_verifies_and_syncs_their_server_with_the_base_install(base: Venv, tmp_path: Path) -> None:
    """The partner's case: their server (here the mock, run by this test's own interpreter) and the base install."""
    (tmp_path / "settings.toml").write_text(USER_FILES["settings.toml"])
    with mock_esd.mock_district(live=True, students=200) as esd:
        credentials = ["--url", esd.base_url, "--client-id", esd.custom.client_id]
        credentials += ["--client-secret", esd.custom.client_secret]
        verified = base.run("mock-esd", "verify", *credentials, cwd=tmp_path)
        synced = base.run(
            "mock-esd", "sync", *credentials, "--settings", "settings.toml", "--db", "operoo.db", "--json", cwd=tmp_path
        )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["status"] == "applied" and report["counts"]["created"] > 0, report["counts"]


def test_the_fixtures_without_the_testing_extra_fail_in_one_line_naming_it(
    base_with_pytest: Venv, tmp_path: Path
) -> None:
    (tmp_path / "test_qa.py").write_text(
        "def test_in_process(esd_inprocess):\n    pass\n\n\ndef test_live(esd_server):\n    pass\n"
    )
    done = base_with_pytest.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-rE", cwd=tmp_path)
    assert done.returncode == 1
    assert "2 errors" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout and "ModuleNotFoundError" not in done.stdout, done.stdout
    expected = "a mock eSD fixture needs the 'testing' extra: pip install 'mock-esd[testing]' (missing: "
    for test in ("test_in_process", "test_live"):
        section = done.stdout.split(f"ERROR at setup of {test} ", 1)[1].split("\n_", 1)[0].split("\n=", 1)[0]
        said = [line for line in section.splitlines()[1:] if line.strip()]
        assert len(said) == 1 and said[0].startswith(expected), section


def test_the_plugin_breaks_nothing_without_the_testing_extra(base_with_pytest: Venv, tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    done = base_with_pytest.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b1 passed\b", done.stdout), done.stdout
    helped = base_with_pytest.run("python", "-m", "pytest", "--help", cwd=tmp_path)
    assert "--esd-seed" in helped.stdout  # the plugin was loaded, its options are there
