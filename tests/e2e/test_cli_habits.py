"""What a shell user expects of `mock-esd`: -v/-q/--log-level everywhere, environment variables named in
--help, shell completion, and a --help that answers without loading the server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import requests
from click.testing import CliRunner

from mock_esd.district.defaults import DEFAULT_STUDENTS
from mock_esd_workbench.cli import main
from tests.e2e.conftest import mock_esd

pytestmark = pytest.mark.e2e

SERVER_MODULES = ("flask", "werkzeug", "faker", "gunicorn")


def script() -> str:
    """The `mock-esd` program pip installed beside this interpreter."""
    found = shutil.which("mock-esd", path=str(Path(sys.executable).parent))
    assert found, "mock-esd is not installed beside the interpreter"
    return found


@pytest.mark.parametrize(("args", "shown"), [(["--help"], "sync"), (["serve", "--help"], "--students INTEGER")])
def test_help_answers_without_importing_the_server(args: list[str], shown: str) -> None:
    probe = (
        "import sys\n"
        "from mock_esd_workbench.cli import main\n"
        "try:\n"
        f"    main({args!r}, prog_name='mock-esd')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', *sorted({{m.split('.')[0] for m in sys.modules}} & {set(SERVER_MODULES)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert shown in done.stdout  # the help was really printed
    assert done.stdout.splitlines()[-1] == "loaded:", done.stdout


def test_every_command_takes_verbose_quiet_and_log_level() -> None:
    for name, command in main.commands.items():
        flags = {opt for param in command.params for opt in param.opts}
        assert {"-v", "--verbose", "-q", "--quiet", "--log-level"} <= flags, name


def test_a_log_level_it_does_not_know_is_refused_by_name() -> None:
    done = CliRunner().invoke(main, ["rules", "--log-level", "loud"])
    assert done.exit_code == 2 and "'loud' is not one of" in done.output and "R1" not in done.output


def test_every_option_names_its_environment_variable_in_help() -> None:
    for name, command in main.commands.items():  # commands registered later too
        for param in command.params:
            if isinstance(param, click.Option) and param.allow_from_autoenv:  # not -v, -q, --allow-mass-removal
                assert param.show_envvar and param.envvar, (name, param.name)
    serve_help = CliRunner().invoke(main, ["serve", "--help"]).output
    for variable in ("MOCK_ESD_PORT", "MOCK_ESD_SEED", "MOCK_ESD_STUDENTS", "MOCK_ESD_SCENARIO", "MOCK_ESD_LOG_LEVEL"):
        assert f"{variable}" in serve_help, variable
    # the district's defaults, looked up only when shown, are shown as values
    assert f"default: {DEFAULT_STUDENTS};" in " ".join(serve_help.split()) and "(dynamic)" not in serve_help
    sync_help = " ".join(CliRunner().invoke(main, ["sync", "--help"]).output.split())
    for variable in ("ESD_URL", "ESD_CLIENT_ID", "ESD_CLIENT_SECRET", "MOCK_ESD_SYNC_DB", "MOCK_ESD_SYNC_SETTINGS"):
        assert f"env var: {variable}" in sync_help, variable
    # lifting the mass-removal guard is said on each run, never left behind in an environment
    assert "MOCK_ESD_SYNC_ALLOW_MASS_REMOVAL" not in sync_help


def test_serve_options_come_from_the_environment() -> None:
    env = {**os.environ, "MOCK_ESD_PORT": "0", "MOCK_ESD_STUDENTS": "30", "MOCK_ESD_SEED": "5"}
    proc = subprocess.Popen(
        [script(), "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        head = "".join(proc.stdout.readline() for _ in range(2))
        base = re.search(r"eSD base URL: (\S+)", head)
        client = re.search(r"--client-id (\S+) --client-secret (\S+)", head)
        assert base and client, head
        assert not base.group(1).endswith(":8080/api"), "MOCK_ESD_PORT=0 picks a free port"
        token = requests.post(
            f"{base.group(1)}/v1/auth/token", data={"grant_type": "client_credentials"},
            auth=(client.group(1), client.group(2)), timeout=10,
        ).json()["access_token"]  # fmt: skip
        page = requests.get(f"{base.group(1)}/v1/students", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert 0 < page.json()["pagingInfo"]["totalCount"] <= 30, (
            "30 people (applicants are not on /v1/students), not 2000"
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_sync_options_come_from_the_environment(tmp_path: Path) -> None:
    """MOCK_ESD_EXPORT_DB points `export` at a database as --db would."""
    missing = tmp_path / "absent.db"
    done = mock_esd("export", env={**os.environ, "MOCK_ESD_EXPORT_DB": str(missing)})
    assert done.returncode == 2 and str(missing) in done.stderr, done.stderr


def test_shell_completion_prints_a_script_and_completes_commands() -> None:
    source = subprocess.run(
        [script()], capture_output=True, text=True, timeout=60, env={**os.environ, "_MOCK_ESD_COMPLETE": "bash_source"}
    )
    assert source.returncode == 0 and "complete -o nosort -F _mock_esd_completion mock-esd" in source.stdout
    completed = subprocess.run(
        [script()], capture_output=True, text=True, timeout=60,
        env={**os.environ, "_MOCK_ESD_COMPLETE": "bash_complete", "COMP_WORDS": "mock-esd se", "COMP_CWORD": "1"},
    )  # fmt: skip
    assert completed.stdout.split() == ["plain,serve"], completed.stdout
