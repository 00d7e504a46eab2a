"""`mock-esd serve` against the hostile clients of issue 26, the server in a child whose address space is capped.

Each test sends what the issue's probe sent (a body of 200,000 or 1,000,000 empty records, 20 KB of YAML
aliases, a million-student tenant twice, connections trickling their headers, a scenario that is no file)
and reads the child's peak RSS from `wait4` (`tests/hostile.py`). Before the limits: a 34.9 MB 400 after
11.5 s, out of memory (500) after 47 s or at the second tenant, threads exhausted until the connections
closed, tracebacks. The numbers each run measured go to stderr (`pytest -s`) and `MOCK_ESD_MEASURE_LOG`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.hostile import Capped, Serving, capped_serve, report, run_capped

pytestmark = pytest.mark.e2e

GIB = 1 << 30
CEILING_MB = 400  # the server's peak RSS after a refused body; it starts at about 60 MB
PARTIAL = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # a header line that never ends


def _ended(server: Serving) -> Capped:
    assert server.ended is not None
    return server.ended


@pytest.mark.parametrize("records", [200_000, 1_000_000])
def test_a_body_of_empty_records_is_a_small_400_in_bounded_memory(records: int) -> None:
    with capped_serve("--students", "120") as server:
        response = requests.post(f"{server.root_url}/_mock/contacts", json={"students": [{}] * records}, timeout=300)
        after = requests.get(f"{server.root_url}/_mock/tenants", timeout=30)
    run = _ended(server)
    report(f"serve: POST /_mock/contacts {records:,} x {{}}", run)
    assert response.status_code == 400 and response.json()["moreErrors"] is True, response.text[:300]
    assert len(response.content) < 20_000, f"a {len(response.content):,}-byte 400"
    assert after.status_code == 200, "the server answers on"
    assert run.peak_mb < CEILING_MB, run


@pytest.mark.parametrize(
    ("copies", "refused"), [(12_000, "max_yaml_nodes=10000000"), (4_000, "max_reported_errors=100")]
)
def test_kilobytes_of_yaml_aliases_are_refused_before_they_are_built_or_checked_shared(
    copies: int, refused: str
) -> None:
    """12,000,000 nodes (60 KB) are refused as they are read; 4,000,000 (20 KB) are read shared, a small 400."""
    text = f"x: &S [{', '.join(['{}'] * 1000)}]\ny: &C {{students: *S}}\ncontacts: [{', '.join(['*C'] * copies)}]\n"
    with capped_serve("--students", "120") as server:
        response = requests.post(
            f"{server.root_url}/_mock/scenario", data=text, headers={"Content-Type": "application/yaml"}, timeout=300
        )
    run = _ended(server)
    report(f"serve: POST /_mock/scenario, {len(text):,} bytes of aliases", run)
    assert response.status_code == 400 and refused in response.json()["detail"], response.text
    assert len(response.content) < 20_000, f"a {len(response.content):,}-byte 400"
    assert run.peak_mb < CEILING_MB, run


@pytest.mark.slow
def test_a_second_million_student_tenant_is_refused_by_the_total_not_by_running_out_of_memory() -> None:
    """One million-student district takes about 1.9 GB; the second took the server out of memory under 3 GB."""
    with capped_serve("--students", "120", cap=3 * GIB) as server:
        first = requests.post(f"{server.root_url}/_mock/tenants", json={"students": 1_000_000}, timeout=600)
        second = requests.post(f"{server.root_url}/_mock/tenants", json={"students": 1_000_000}, timeout=600)
        after = requests.get(f"{server.root_url}/_mock/tenants", timeout=30)
    run = _ended(server)
    report("serve: POST /_mock/tenants {students: 1000000} twice", run)
    assert first.status_code == 201, first.text
    assert second.status_code == 400 and "max_total_students=2000000" in second.json()["detail"], second.text
    assert after.status_code == 200 and len(after.json()) == 2


@contextmanager
def trickling(root_url: str, count: int, every: float = 5.0) -> Iterator[list[socket.socket]]:
    """`count` connections each sending a partial header line, then a byte every `every` seconds (one thread for all)."""
    port = int(root_url.rsplit(":", 1)[1])
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        connection.sendall(PARTIAL)
        connections.append(connection)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(every):
            for connection in connections:
                with contextlib.suppress(OSError):  # closed by the server: the point
                    connection.sendall(b"x")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield connections
    finally:
        stop.set()
        thread.join(timeout=30)
        for connection in connections:
            connection.close()


def answered_while(root_url: str, within: float) -> list[str]:
    """Ask for /openapi.json until it is answered (or `within` seconds pass): how each attempt went."""
    tries: list[str] = []
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        try:
            status = requests.get(f"{root_url}/openapi.json", timeout=5, headers={"Connection": "close"}).status_code
            tries.append(str(status))
            if status == 200:
                break
        except requests.RequestException as exc:
            tries.append(type(exc).__name__)
        time.sleep(1)
    return tries


def test_five_hundred_trickling_connections_do_not_stop_the_threaded_server() -> None:
    """Before: a thread each, until none could start under the cap; every other request failed until they closed."""
    with capped_serve("--students", "120") as server, trickling(server.root_url, 500) as connections:
        tries = answered_while(server.root_url, 90)  # the trickle goes on throughout
        first = connections[0]
        first.settimeout(30)
        answer = first.recv(65536)
    run = _ended(server)
    report(f"serve: 500 trickling connections; a request answered after {tries}", run)
    assert tries[-1] == "200", tries
    assert answer.startswith(b"HTTP/1.1 408 ") and b"max_header_seconds=10" in answer, answer[:300]


def test_eight_trickling_connections_do_not_starve_two_gunicorn_workers() -> None:
    """Before: 8 connections took the 8 threads of `--workers 2`, and a normal request waited until they closed."""
    with capped_serve("--students", "120", "--workers", "2") as server, trickling(server.root_url, 8):
        answers = []
        for _ in range(10):
            try:
                answers.append(
                    requests.get(
                        f"{server.root_url}/openapi.json", timeout=30, headers={"Connection": "close"}
                    ).status_code
                )
            except requests.RequestException as exc:
                answers.append(type(exc).__name__)  # type: ignore[arg-type]
    report(f"serve --workers 2: 8 trickling connections; answers {answers}", _ended(server))
    assert answers == [200] * 10, answers


def test_a_gunicorn_worker_answers_a_trickling_request_with_a_408_naming_the_limit() -> None:
    with (
        capped_serve("--students", "120", "--workers", "2") as server,
        trickling(server.root_url, 1, every=2) as (one,),
    ):
        one.settimeout(60)
        answer = one.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"max_header_seconds=10" in answer, answer[:300]


SHADOW = "root:$6$Zb5mG1x$hashedsecretvalue:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("/dev/zero", "scenario /dev/zero is larger than the limit max_scenario_bytes=268435456"),
        ("/proc/self/mem", "cannot read scenario /proc/self/mem: Input/output error"),
        ("{tmp}/shadow", "{tmp}/shadow: invalid scenario: (a name of 26 characters): unknown field; allowed: base"),
        ("{tmp}/passwd", "{tmp}/passwd is no scenario: expected a mapping of schools, students, ..., got string"),
        ("{tmp}/bad.yaml", "{tmp}/bad.yaml is neither YAML nor JSON: line 2, column 1:"),
        ("{tmp}/latin1.yaml", "scenario {tmp}/latin1.yaml is not UTF-8 text (byte 11)"),
        ("{tmp}/latin1.json", "scenario {tmp}/latin1.json is not UTF-8 text (byte 15)"),  # its bytes go to orjson
    ],
)
def test_a_scenario_that_is_no_scenario_file_is_one_line_quoting_nothing_of_it(
    given: str, words: str, tmp_path: Path
) -> None:
    (tmp_path / "shadow").write_text(SHADOW)
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "bad.yaml").write_text("students: [1\n\troot:$6$Zb5mG1x$hashedsecretvalue\n")
    (tmp_path / "latin1.yaml").write_bytes("schools: Ménière".encode("latin-1"))
    (tmp_path / "latin1.json").write_bytes('{"schools": "Ménière"}'.encode("latin-1"))
    run = run_capped("serve", "--port", "0", "--scenario", given.format(tmp=tmp_path), timeout=120)
    report(f"serve --scenario {given}", run)
    assert run.returncode == 2, run
    assert run.stderr.startswith(f"mock-esd: error: {words.format(tmp=tmp_path)}"), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "hashedsecret" not in run.stderr and "root" not in run.stderr.replace(str(tmp_path), "")
    assert "daemon" not in run.stderr and "/bin/bash" not in run.stderr
    assert run.peak_mb < CEILING_MB, run


def test_a_today_out_of_range_is_one_line_not_a_traceback() -> None:
    run = run_capped("serve", "--port", "0", "--today", "9999-12-31", timeout=120)
    assert run.returncode == 2 and run.stderr.startswith("mock-esd: error: today: 9999-12-31 is out of range"), run
    assert "1000-01-01 to 9998-12-31" in run.stderr and run.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("option", "limit"),
    [("--students=10000000", "max_students=1000000"), ("--schools=100000", "max_schools=1000")],
)
def test_serve_refuses_a_district_above_the_limits_before_generating_it(option: str, limit: str) -> None:
    run = run_capped("serve", "--port", "0", option, timeout=120)
    assert run.returncode == 2, run
    assert run.stderr.startswith("mock-esd: error: district too large: "), run.stderr
    assert f"above the limit {limit} (a setting of mock_esd.Limits)" in run.stderr and run.stderr.count("\n") == 1
    assert run.peak_mb < CEILING_MB and run.seconds < 30, run
