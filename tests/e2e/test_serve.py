"""`mock-esd serve` as a user runs it: a real process on a free 127.0.0.1 port, reached with requests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e


@pytest.fixture
def served() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    command = [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--students", "200", "--seed", "4"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    try:
        base = re.search(r"eSD base URL: (\S+)", lines[0])
        assert base, lines
        clients = re.findall(r"--client-id (\S+) --client-secret (\S+)", "".join(lines[1:]))
        yield base.group(1), clients
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_serve_prints_working_credentials_for_both_clients(served: tuple[str, list[tuple[str, str]]]) -> None:
    base, clients = served
    assert base.startswith("http://127.0.0.1:") and base.endswith("/api")
    assert len(clients) == 2
    statuses = []
    for client_id, secret in clients:
        assert client_id.endswith(".guru.eschooldata.com/api")
        token = requests.post(
            f"{base}/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        page = requests.get(f"{base}/v1/students", headers=headers, timeout=10)
        assert page.status_code == 200 and page.json()["pagingInfo"]["totalCount"] > 0
        statuses.append(requests.get(f"{base}/v1/operoo/students", headers=headers, timeout=10).status_code)
    assert statuses == [200, 403]


def test_serve_refuses_a_busy_port_in_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mock_esd", "serve", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2
    assert done.stderr.startswith("mock-esd: error:") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    base = re.search(r"eSD base URL: (\S+)", proc.stdout.readline())
    assert base
    return proc, base.group(1)


def test_serve_a_scenario_and_no_control(tmp_path: object) -> None:
    from pathlib import Path

    scenario = Path(__file__).parents[2] / "fixtures" / "article" / "standard-holding-school" / "scenario.yaml"
    proc, base = _start("--scenario", str(scenario), "--no-control")
    try:
        from mock_esd.district.tenants import DEFAULT_TENANT, default_clients

        _, standard = default_clients(DEFAULT_TENANT)
        token = requests.post(
            f"{base}/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(standard.client_id, standard.secret),
            timeout=10,
        ).json()
        students = requests.get(
            f"{base}/v1/students", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
        ).json()
        assert sorted(s["enrolledId"] for s in students["students"]) == ["99992226", "99992227"]
        control = requests.get(base.removesuffix("/api") + "/_mock/", timeout=10)
        assert control.status_code == 404 and control.headers["Content-Type"] == "application/problem+json"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_serve_refuses_a_bad_scenario_in_one_line(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("students: [{id: 1, schoolId: '0404'}]\n")
    done = subprocess.run(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown schoolId '0404'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "two-workers"])
def test_sigterm_stops_serve_cleanly_and_leaves_no_temporary_directory(tmp_path: Path, workers: list[str]) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--students", "50", *workers],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Serving"):
            break
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip().splitlines()[-1] == "stopped" and "Bad file descriptor" not in err and "error" not in err
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize(
    ("quiet", "workers"),
    [(False, []), (True, []), (False, ["--workers", "2"]), (True, ["--workers", "2"])],
    ids=["default", "quiet", "workers", "workers-quiet"],
)
def test_serve_logs_each_request_plainly_off_a_terminal(quiet: bool, workers: list[str]) -> None:
    """stderr is a pipe here: request lines at info without colour codes (werkzeug colours a 401 red); -q: none."""
    proc, base = _start("--students", "20", *workers, *(["-q"] if quiet else []))
    for line in proc.stdout or []:
        if line.startswith("Serving"):
            break
    assert requests.get(f"{base}/v1/students", timeout=10).status_code == 401
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip().splitlines()[-1] == "stopped", (out, err)
    assert "\x1b" not in err
    logged = [line for line in err.splitlines() if '"GET /api/v1/students HTTP/1.1" 401' in line]
    logger = "INFO mock_esd.access: " if workers else "INFO werkzeug: "
    assert len(logged) == (0 if quiet else 1) and all(line.startswith(logger) for line in logged), err


def catches_sigterm(pid: int) -> bool:
    """Whether the process handles SIGTERM itself (the command has started, `stop_on_sigterm`), from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.M).group(1), 16)  # type: ignore[union-attr]
    return bool(caught >> (signal.SIGTERM - 1) & 1)


@pytest.mark.parametrize(("sig", "code", "by"), [("SIGTERM", 143, "SIGTERM"), ("SIGINT", 130, "Ctrl+C")])
def test_a_signal_before_it_serves_is_one_line_and_128_plus_the_signal(sig: str, code: int, by: str) -> None:
    """While a large district is generated (before: click's "Aborted!" and exit 1, as for any error)."""
    command = [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--students", "100000", "-q"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not catches_sigterm(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=60)
    assert "eSD base URL" not in out, "the district was generated before the signal came: generate more"
    assert proc.returncode == code and err == f"mock-esd: error: interrupted by {by}; the server had not started\n", err
