"""`mock-esd sync | export | explain` against `mock-esd serve` over a real socket."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from mock_esd_sync.export import export_schema
from tests.e2e.conftest import Served, mock_esd

pytestmark = pytest.mark.e2e

SETTINGS = """
custom_endpoints = true

[schools]
"0101" = ["Enrolled", "Future"]
"0201" = ["Enrolled"]
"0900" = ["Pre-Enrolled"]
"""


def fetch_all(served: Served, path: str, key: str) -> list[dict[str, Any]]:
    body = requests.get(
        f"{served.base_url}{path}", params={"pageSize": 1000}, headers=served.bearer(), timeout=10
    ).json()
    assert body["pagingInfo"]["pageCount"] <= 1
    return list(body[key])


def sync_args(served: Served, settings: Path, db: Path, *extra: str) -> list[str]:
    client_id, secret = served.custom
    return [
        "sync",
        "--url",
        served.base_url,
        "--client-id",
        client_id,
        "--client-secret",
        secret,
        "--settings",
        str(settings),
        "--db",
        str(db),
        *extra,
    ]


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS)
    return path


def test_sync_then_export_follows_the_rules(served: Served, settings_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "operoo.db"
    done = mock_esd(*sync_args(served, settings_file, db, "--json"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "applied" and report["counts"]["created"] > 0 and report["errors"] == []

    exported = json.loads(mock_esd("export", "--db", str(db)).stdout)
    Draft202012Validator(export_schema()).validate(exported)
    standard = fetch_all(served, "/v1/students", "students")
    operoo = fetch_all(served, "/v1/operoo/students", "students")
    expected = {
        s["enrolledId"]
        for s in standard
        if (s["schoolId"], s["studentStatus"]) in {("0101", "Enrolled"), ("0201", "Enrolled"), ("0900", "Pre-enrolled")}
    }
    expected |= {
        s["enrolledId"]
        for s in standard
        if s["schoolId"] == "0101" and s["studentStatus"] == "Pre-Registered" and s["enrollmentDate"]
    }
    expected |= {
        f"student-operoo-{s['id']}" for s in operoo if s["enrolledId"] is None and s["studentStatus"] == "Pre-enrolled"
    }
    groups = {(g["name"], g["schoolId"]): set(g["members"]) for g in exported["groups"]}
    assert groups[("All District Students", None)] == expected == {s["operooId"] for s in exported["students"]}
    assert ("All Pre-Enrolled Students", "0201") not in groups

    again = json.loads(mock_esd(*sync_args(served, settings_file, db, "--json")).stdout)
    assert again["status"] == "applied" and set(again["counts"].values()) == {0}, "R10"

    some_temp = sorted(i for i in expected if i.startswith("student-operoo-"))[0]
    explained = mock_esd("explain", "--db", str(db), some_temp)
    assert explained.returncode == 0 and "R1: enrolledId is null and studentStatus is Pre-enrolled" in explained.stdout


def test_human_output_shows_changes_and_groups(served: Served, settings_file: Path, tmp_path: Path) -> None:
    done = mock_esd(*sync_args(served, settings_file, tmp_path / "o.db"))
    assert done.returncode == 0
    assert "sync applied" in done.stdout and "All District Students" in done.stdout and "created" in done.stdout


def test_dry_run_changes_nothing(served: Served, settings_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    done = mock_esd(*sync_args(served, settings_file, db, "--dry-run", "--json"))
    assert json.loads(done.stdout)["status"] == "dry-run"
    assert json.loads(mock_esd("export", "--db", str(db)).stdout)["students"] == []


def test_credentials_from_the_environment(served: Served, settings_file: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ESD_URL": served.base_url,
        "ESD_CLIENT_ID": served.custom[0],
        "ESD_CLIENT_SECRET": served.custom[1],
    }
    done = mock_esd("sync", "--settings", str(settings_file), "--db", str(tmp_path / "o.db"), "--json", env=env)
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "applied"


def said(stderr: str) -> list[str]:
    """stderr without the progress lines (a line per stage: stderr is not a terminal here): errors and warnings."""
    return [line for line in stderr.splitlines() if line.startswith(("mock-esd: error:", "mock-esd: warning:"))]


def one_line_error(done: Any, code: int, text: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()  # progress lines may come first: stderr is not a terminal here
    errors = [line for line in lines if line.startswith("mock-esd: error:")]
    assert errors == lines[-1:] and text in lines[-1], done.stderr


def test_wrong_secret_is_exit_2_in_one_line(served: Served, settings_file: Path, tmp_path: Path) -> None:
    done = mock_esd(
        "sync",
        "--url",
        served.base_url,
        "--client-id",
        served.custom[0],
        "--client-secret",
        "nope",
        "--settings",
        str(settings_file),
        "--db",
        str(tmp_path / "o.db"),
    )
    one_line_error(done, 2, "401")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'custom_endpoints = false\n[schools]\n"0101" = ["Enrolled", "Pre-Enrolled"]\n',
            "R4: school 0101 selects both",
        ),
        ('[schools]\n"7777" = ["Enrolled"]\n', "R4: selected school 7777 is not known to eSD"),
        ("custom_endpoints = maybe\n", "not valid TOML"),
        ('[schools]\n"0101" = ["Everyone"]\n', "unknown option 'Everyone'"),
        ("", "selects nothing"),
        ('[schools]\n"0101" = ["Enrolled"]\n[contacts]\nrelationships = ["mother"]\n', "did you mean 'Mother'?"),
    ],
)
def test_bad_settings_are_exit_2_in_one_line_and_change_nothing(
    served: Served, tmp_path: Path, text: str, message: str
) -> None:
    settings = tmp_path / "bad.toml"
    settings.write_text(text)
    db = tmp_path / "o.db"
    one_line_error(mock_esd(*sync_args(served, settings, db)), 2, message)


def test_a_missing_settings_file_is_exit_2(served: Served, tmp_path: Path) -> None:
    one_line_error(mock_esd(*sync_args(served, tmp_path / "none.toml", tmp_path / "o.db")), 2, "does not exist")


def test_an_unreachable_server_is_one_line_exit_2_and_creates_nothing(settings_file: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        done = mock_esd(
            "sync", "--url", f"http://127.0.0.1:{port}/api", "--client-id", "x", "--client-secret", "y",
            "--settings", str(settings_file), "--db", str(tmp_path / "o.db"), "--json",
        )  # fmt: skip
    one_line_error(done, 2, "gave up after 5 attempts; last: connection refused: is a server listening there?")
    assert done.stdout == "" and not (tmp_path / "o.db").exists()


def test_export_and_explain_without_a_database_are_exit_2(tmp_path: Path) -> None:
    one_line_error(mock_esd("export", "--db", str(tmp_path / "nothing.db")), 2, "does not exist")
    one_line_error(mock_esd("explain", "--db", str(tmp_path / "nothing.db"), "1"), 2, "does not exist")


def test_a_file_that_is_not_a_database_is_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("hello, I am not SQLite" * 100)
    one_line_error(mock_esd("export", "--db", str(junk)), 2, "not an Operoo state database")


def test_a_held_sync_says_why_on_stderr_first_and_the_table_on_stdout(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "o.db"
    assert mock_esd(*sync_args(served, settings_file, db)).returncode == 0
    fewer = tmp_path / "fewer.toml"
    fewer.write_text('custom_endpoints = true\n[schools]\n"0101" = ["Enrolled"]\n')
    done = mock_esd(*sync_args(served, fewer, db))
    assert done.returncode == 1
    assert said(done.stderr)[0].startswith("mock-esd: error: R11: this sync would archive"), done.stderr
    assert "sync held" in done.stdout and "error:" not in done.stdout and "R11" not in done.stdout.split("sync held")[1]
    as_json = mock_esd(*sync_args(served, fewer, db, "--json"))
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["errors"][0].startswith("R11: this sync")


@pytest.mark.parametrize(
    ("suffix", "text"),
    [("", "404: no token endpoint there; is the base URL the one that ends in /api?"), ("/v1", "404"), ("/api", "404")],
)
def test_a_url_without_a_token_endpoint_is_a_usage_error_and_creates_nothing(
    served: Served, settings_file: Path, tmp_path: Path, suffix: str, text: str
) -> None:
    root = served.base_url.removesuffix("/api")
    url = {"": root, "/v1": served.base_url + "/v1", "/api": served.base_url + "/api"}[suffix]
    db = tmp_path / "o.db"
    args = sync_args(served, settings_file, db)
    args[args.index("--url") + 1] = url
    done = mock_esd(*args)
    one_line_error(done, 2, text)
    assert "ends in /api" in done.stderr and done.stdout == ""
    assert list(tmp_path.iterdir()) == [settings_file]  # no database, no run recorded


@pytest.mark.parametrize("url", ["127.0.0.1:9/api", "ftp://127.0.0.1/api", "http://"])
def test_a_url_without_a_usable_scheme_is_a_usage_error_at_once(settings_file: Path, tmp_path: Path, url: str) -> None:
    done = mock_esd(
        "sync", "--url", url, "--client-id", "x", "--client-secret", "y",
        "--settings", str(settings_file), "--db", str(tmp_path / "o.db"),
    )  # fmt: skip
    one_line_error(done, 2, "is not a URL an eSD API can be at")
    assert "ends in /api" in done.stderr and not (tmp_path / "o.db").exists()


def test_a_second_sync_on_a_locked_database_is_refused_with_exit_1(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    import fcntl

    db = tmp_path / "o.db"
    with open(f"{db}.lock", "w") as held:  # what a running sync holds for its whole run
        fcntl.flock(held, fcntl.LOCK_EX)
        done = mock_esd(*sync_args(served, settings_file, db))
    one_line_error(done, 1, f"another sync is running on {db}")
    assert not db.exists()
    assert mock_esd(*sync_args(served, settings_file, db)).returncode == 0  # released: the next one runs


def test_a_database_locked_by_another_program_is_one_line(served: Served, settings_file: Path, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "o.db"
    assert mock_esd(*sync_args(served, settings_file, db)).returncode == 0
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        done = mock_esd(*sync_args(served, settings_file, db))
    finally:
        other.close()
    one_line_error(done, 1, "is locked by another program")


@pytest.mark.parametrize(
    ("option", "path", "text"),
    [
        ("--db", "missing/o.db", "the directory {tmp}/missing does not exist"),
        ("--report", "missing/r.html", "--report {tmp}/missing/r.html: the directory {tmp}/missing does not exist"),
        ("--report", "/sys/r.html", "--report /sys/r.html: cannot write in /sys"),
    ],
)
def test_unusable_output_places_are_said_before_anything_is_fetched(
    served: Served, settings_file: Path, tmp_path: Path, option: str, path: str, text: str
) -> None:
    where = path if path.startswith("/") else str(tmp_path / path)
    args = sync_args(served, settings_file, tmp_path / "o.db", *(["--report", where] if option == "--report" else []))
    if option == "--db":
        args[args.index("--db") + 1] = where
    done = mock_esd(*args)
    one_line_error(done, 2, text.format(tmp=tmp_path))
    assert "not an Operoo state database" not in done.stderr and not (tmp_path / "o.db").exists()


def test_a_run_left_running_by_a_killed_sync_is_marked_interrupted(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    import sqlite3

    db = tmp_path / "o.db"
    assert mock_esd(*sync_args(served, settings_file, db)).returncode == 0
    with sqlite3.connect(db) as conn:  # what `kill -9` during a sync leaves
        conn.execute(
            "INSERT INTO sync_runs (started, status, settings) VALUES ('2026-01-01T00:00:00Z', 'running', '{}')"
        )
    conn.close()
    done = mock_esd(*sync_args(served, settings_file, db, "--json"))
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "applied"
    assert "\n".join(said(done.stderr)) == (
        "mock-esd: warning: run 2 (started 2026-01-01T00:00:00Z) never finished, its process was stopped; "
        "marked interrupted"
    )
    with sqlite3.connect(db) as conn:
        statuses = [s for (s,) in conn.execute("SELECT status FROM sync_runs ORDER BY run_id")]
    conn.close()
    assert statuses == ["applied", "interrupted", "applied"]


def test_a_stalled_sync_off_a_terminal_logs_progress_lines_to_stderr(
    served: Served, settings_file: Path, tmp_path: Path
) -> None:
    control = served.base_url.removesuffix("/api") + "/_mock/faults"
    fault = {"endpoint": "/v1/contacts", "kind": "latency", "params": {"ms": 3000}, "mode": "times", "n": 1}
    created = requests.post(control, json=fault, timeout=10)
    assert created.status_code == 201, created.text
    try:
        done = mock_esd(*sync_args(served, settings_file, tmp_path / "o.db", "--json", "--progress-every", "0.5"))
    finally:
        requests.delete(control, timeout=10)
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "applied"
    assert "mock-esd: fetching /v1/students: 1/1, " in done.stderr
    stalls = [line for line in done.stderr.splitlines() if "nothing new for" in line]
    assert stalls, done.stderr
    waiting = (
        "mock-esd: waiting for the answer to GET /v1/contacts page 1 ("  # the request in flight, not the last stage
    )
    assert all(line.startswith(waiting) for line in stalls), stalls


def test_quiet_sync_says_only_the_result(served: Served, settings_file: Path, tmp_path: Path) -> None:
    loud = mock_esd(*sync_args(served, settings_file, tmp_path / "loud.db"))
    assert "mock-esd: fetching /v1/students: 1/1, " in loud.stderr  # a line per stage off a terminal
    quiet = mock_esd(*sync_args(served, settings_file, tmp_path / "quiet.db", "-q"))
    assert quiet.returncode == 0 and quiet.stderr == "" and "sync applied" in quiet.stdout


def test_a_re_sync_updates_only_what_changed_and_full_finds_nothing_more(settings_file: Path, tmp_path: Path) -> None:
    from mock_esd.qa.client import ControlClient
    from tests.e2e.conftest import serving

    db = tmp_path / "o.db"
    with serving("--students", "300", "--seed", "5") as (server, _), requests.Session() as session:
        assert mock_esd(*sync_args(server, settings_file, db, "--json")).returncode == 0
        control = ControlClient(session, server.base_url.removesuffix("/api"))
        synced = [s for s in fetch_all(server, "/v1/students", "students") if s["studentStatus"] == "Enrolled"]
        renamed = [s for s in synced if s["schoolId"] in ("0101", "0201")][:3]
        for s in renamed:
            control.patch_student(s["id"], lastName="Renamed")
        again = json.loads(mock_esd(*sync_args(server, settings_file, db, "--json")).stdout)
        assert again["counts"]["updated"] == 3
        assert sorted(c["personId"] for c in again["changes"]) == sorted(s["id"] for s in renamed)
        full = json.loads(mock_esd(*sync_args(server, settings_file, db, "--json", "--full")).stdout)
        assert full["status"] == "applied" and set(full["counts"].values()) == {0}, "--full finds nothing more"
