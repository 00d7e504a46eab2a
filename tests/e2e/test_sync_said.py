"""What `mock-esd sync` says and does when things go wrong around it, as a user runs it: each retry a line, a
school eSD does not list refused before anything else is read or written, an abort said on stderr under --json
too, no room for --report found before the apply, one lock per database whatever the path, a full disk named,
a kill or SIGTERM after the commit never taken for a sync that did not finish."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_esd_sync.store import snapshot_tables
from tests.e2e.conftest import Served, mock_esd, serving
from tests.e2e.test_sync_cli import SETTINGS, one_line_error, said, sync_args

pytestmark = pytest.mark.e2e

# `mock-esd ARGS` in a child that may have a file size limit (SIGXFSZ ignored: a write past it fails with EFBIG,
# as one on a full disk fails with ENOSPC) and may be sent a signal by itself right after the apply commits.
CHILD = """
import os, resource, signal, sys
limit, after_commit = sys.argv[1], sys.argv[2]
if limit != "-":
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
if after_commit != "-":
    from mock_esd_sync import run

    applied = run.apply_plan

    def then_signalled(*args, **kwargs):
        applied(*args, **kwargs)
        os.kill(os.getpid(), getattr(signal, after_commit))

    run.apply_plan = then_signalled
from mock_esd_workbench.cli import main

main(sys.argv[3:], prog_name="mock-esd")
"""


def child(*args: str, limit: int | None = None, after_commit: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", CHILD, str(limit or "-"), after_commit or "-", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS)
    return path


@pytest.fixture
def faults(served: Served) -> Iterator[str]:
    """The mock's fault rules' address; every rule is removed after the test."""
    control = served.base_url.removesuffix("/api") + "/_mock/faults"
    yield control
    requests.delete(control, timeout=10)


def add_fault(control: str, **rule: Any) -> None:
    created = requests.post(control, json=rule, timeout=10)
    assert created.status_code == 201, created.text


def state(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the Operoo tables and the eSD mirror, read without writing."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return snapshot_tables(conn)
    finally:
        conn.close()


def runs(db: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT run_id, status FROM sync_runs ORDER BY run_id").fetchall()
    finally:
        conn.close()


def files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


# -- each retry, said ------------------------------------------------------------------------------------------


def test_each_retry_is_a_line_on_stderr_and_json_stays_alone_on_stdout(
    served: Served, settings_file: Path, tmp_path: Path, faults: str
) -> None:
    add_fault(faults, endpoint="/v1/students", kind="status", mode="times", n=2, params={"status": 503})
    done = mock_esd(*sync_args(served, settings_file, tmp_path / "o.db", "--json"))
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "applied", done.stderr
    assert [line for line in done.stderr.splitlines() if "retrying" in line] == [
        "mock-esd: retrying GET /v1/students page 1 after 503 (attempt 2 of 5)",
        "mock-esd: retrying GET /v1/students page 1 after 503 (attempt 3 of 5)",
    ], done.stderr

    add_fault(faults, endpoint="/v1/contacts", kind="status", mode="times", n=1, params={"status": 500})
    quiet = mock_esd(*sync_args(served, settings_file, tmp_path / "quiet.db", "-q"))
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    fired = [rule["fired"] for rule in requests.get(faults, timeout=10).json()]
    assert fired == [2, 1], "the quiet sync was retried too, silently"


# -- a school eSD does not list --------------------------------------------------------------------------------


def test_a_school_esd_does_not_list_is_refused_once_the_schools_are_read_and_creates_no_file(
    served: Served, tmp_path: Path
) -> None:
    settings = tmp_path / "unknown.toml"
    settings.write_text('custom_endpoints = true\n[schools]\n"0101" = ["Enrolled"]\n"7777" = ["Enrolled"]\n')
    journal = served.base_url.removesuffix("/api") + "/_mock/requests"
    requests.delete(journal, timeout=10)
    done = mock_esd(*sync_args(served, settings, tmp_path / "o.db", "--json"))
    one_line_error(done, 2, "R4: selected school 7777 is not known to eSD")
    asked = [r["path"] for r in requests.get(journal, timeout=10).json()]
    assert asked == ["/v1/auth/token", "/v1/schools"], "refused before any other listing is read"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unknown.toml"], "no database, no lock file"


def test_a_school_esd_does_not_list_leaves_an_existing_database_untouched(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "o.db"
    assert mock_esd(*sync_args(served, settings_file, db)).returncode == 0
    before = files(tmp_path)
    settings = tmp_path / "unknown.toml"
    settings.write_text('custom_endpoints = true\n[schools]\n"7777" = ["Enrolled"]\n')
    before["unknown.toml"] = files(tmp_path)["unknown.toml"]
    one_line_error(mock_esd(*sync_args(served, settings, db)), 2, "R4: selected school 7777 is not known to eSD")
    assert files(tmp_path) == before, "not a byte of the database changed, no run logged, no file added"


# -- an abort under --json -------------------------------------------------------------------------------------


def test_an_aborted_sync_with_json_says_why_on_stderr_too(
    served: Served, settings_file: Path, tmp_path: Path, faults: str
) -> None:
    add_fault(faults, endpoint="/v1/students", kind="short_last_page", mode="times", n=1, params={"missing": 1})
    done = mock_esd(*sync_args(served, settings_file, tmp_path / "o.db", "--json"))
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["status"] == "aborted"
    assert said(done.stderr) == [f"mock-esd: error: {report['errors'][0]}"], done.stderr
    assert "R11: aborted, nothing changed: /v1/students: read " in report["errors"][0]


# -- no room for the report ------------------------------------------------------------------------------------


def test_no_room_for_the_report_is_found_before_the_apply(settings_file: Path, tmp_path: Path) -> None:
    from mock_esd.qa.client import ControlClient

    db, report = tmp_path / "o.db", tmp_path / "run.html"
    with serving("--students", "200", "--seed", "3") as (server, _), requests.Session() as session:
        assert mock_esd(*sync_args(server, settings_file, db)).returncode == 0
        before = state(db)
        some = next(person_id for _, _, person_id, esd_id, *_ in before["students"] if esd_id)
        ControlClient(session, server.base_url.removesuffix("/api")).patch_student(some, lastName="Renamed")
        # A re-sync of one renamed student writes a few KB; its report takes more than 32 KB.
        done = child(*sync_args(server, settings_file, db, "--report", str(report)), limit=32 * 1024)
        one_line_error(done, 2, f"--report {report}: no room for the report (File too large); nothing was changed")
        assert "mock-esd: applying" not in done.stderr
        assert state(db) == before and not report.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file left"
        assert runs(db)[-1][1] == "aborted"
        assert mock_esd(*sync_args(server, settings_file, db, "--report", str(report))).returncode == 0
        assert report.is_file() and state(db) != before


# -- one lock per database -------------------------------------------------------------------------------------


@pytest.mark.parametrize("through", ["a symlink to the file", "a symlink to its directory"])
def test_a_sync_through_another_path_to_a_busy_database_is_refused(
    served: Served, settings_file: Path, tmp_path: Path, through: str
) -> None:
    import fcntl

    (tmp_path / "data").mkdir()
    db = tmp_path / "data" / "o.db"
    if through == "a symlink to the file":
        other = tmp_path / "link.db"
        other.symlink_to(db)
    else:
        (tmp_path / "here").symlink_to(tmp_path / "data")
        other = tmp_path / "here" / "o.db"
    with open(f"{db}.lock", "w") as held:  # what a running sync on data/o.db holds for its whole run
        fcntl.flock(held, fcntl.LOCK_EX)
        done = mock_esd(*sync_args(served, settings_file, other))
    one_line_error(done, 1, f"another sync is running on {other}; this one did nothing")
    assert not db.exists()
    assert mock_esd(*sync_args(served, settings_file, other)).returncode == 0  # released: it runs


# -- a full disk -------------------------------------------------------------------------------------------------


def test_a_disk_that_fills_during_the_apply_is_named_and_nothing_changes(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "o.db"
    fewer = tmp_path / "fewer.toml"
    fewer.write_text('custom_endpoints = false\n[schools]\n"0101" = ["Enrolled"]\n')
    assert mock_esd(*sync_args(served, fewer, db)).returncode == 0
    before = state(db)
    # 192 KB: the run log and the sync's spool fit; the apply's writes (every other school's students) do not.
    # Sizes are the seeded district's, so fixed: measured, the spool needs over 128 KB and the apply fails up to
    # 224 KB (a re-sync writes only the digests that changed, so 256 KB now holds the apply).
    done = child(*sync_args(served, settings_file, db, "--json"), limit=192 * 1024)
    message = (
        f"applying the plan failed and was rolled back, nothing changed: {db} could not be written (disk I/O error"
    )
    one_line_error(done, 1, message)
    assert "cannot rollback" not in done.stderr
    assert json.loads(done.stdout)["status"] == "aborted"
    assert state(db) == before
    assert runs(db)[-1][1] == "aborted"


def test_a_database_on_a_disk_too_full_to_open_it_is_one_line_exit_1(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "o.db"
    assert mock_esd(*sync_args(served, settings_file, db)).returncode == 0
    before = state(db)
    done = child(*sync_args(served, settings_file, db), limit=4096)  # no room for SQLite's shared-memory file
    one_line_error(done, 1, f"{db} could not be written (disk I/O error")
    assert "nothing was changed" in done.stderr and state(db) == before


# -- killed, or stopped by a signal ------------------------------------------------------------------------------


def test_a_sync_killed_right_after_its_commit_is_recorded_as_applied(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "o.db"
    killed = child(*sync_args(served, settings_file, db), after_commit="SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    assert runs(db) == [(1, "applied")]
    again = mock_esd(*sync_args(served, settings_file, db, "--json"))
    assert again.returncode == 0 and said(again.stderr) == [], "no run is said never to have finished"
    assert set(json.loads(again.stdout)["counts"].values()) == {0}, "the first sync applied whole (R10)"
    assert runs(db) == [(1, "applied"), (2, "applied")]


@pytest.mark.parametrize(("name", "code", "by"), [("SIGTERM", 143, "SIGTERM"), ("SIGINT", 130, "Ctrl+C")])
def test_a_signal_after_the_commit_says_the_sync_applied(
    served: Served, settings_file: Path, tmp_path: Path, name: str, code: int, by: str
) -> None:
    db = tmp_path / "o.db"
    done = child(*sync_args(served, settings_file, db, "--json"), after_commit=name)
    one_line_error(done, code, f"interrupted by {by} after the sync applied (run 1): the database holds the new state")
    assert runs(db) == [(1, "applied")] and state(db)["students"]


@pytest.mark.parametrize(("name", "code", "by"), [("SIGTERM", 143, "SIGTERM"), ("SIGINT", 130, "Ctrl+C")])
def test_a_signal_while_reading_stops_the_sync_with_nothing_changed(
    served: Served, settings_file: Path, tmp_path: Path, faults: str, name: str, code: int, by: str
) -> None:
    db = tmp_path / "o.db"
    fewer = tmp_path / "fewer.toml"
    fewer.write_text('custom_endpoints = false\n[schools]\n"0101" = ["Enrolled"]\n')
    assert mock_esd(*sync_args(served, fewer, db)).returncode == 0
    before = state(db)
    add_fault(faults, endpoint="/v1/contacts", kind="latency", mode="times", n=1, params={"ms": 20000})
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", *sync_args(served, settings_file, db, "--progress-every", "60")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # /v1/students read: the sync now waits on /v1/contacts, for 20 s
        seen.append(line)
        if line.startswith("mock-esd: fetching /v1/students: "):
            break
    proc.send_signal(getattr(signal, name))
    out, rest = proc.communicate(timeout=60)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + rest)
    one_line_error(done, code, f"interrupted by {by}; nothing was changed")
    assert state(db) == before
    assert runs(db) == [(1, "applied"), (2, "interrupted")]


def test_signals_do_not_outlive_the_command(settings_file: Path, tmp_path: Path) -> None:
    """In-process (a test's runner, say), SIGTERM is handled as before once `sync` returns."""
    from click.testing import CliRunner

    from mock_esd_workbench.cli import main

    before = signal.getsignal(signal.SIGTERM)
    args = ["--url", "http://", "--client-id", "x", "--client-secret", "y", "--settings", str(settings_file)]
    done = CliRunner().invoke(main, ["sync", *args, "--db", str(tmp_path / "o.db")])
    assert done.exit_code == 2 and "is not a URL an eSD API can be at" in done.stderr  # it got as far as the server
    assert signal.getsignal(signal.SIGTERM) == before
