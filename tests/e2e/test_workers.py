"""`mock-esd serve --workers 2`: two gunicorn processes serve one district, changes and faults included."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def workers() -> Iterator[tuple[str, dict[str, str]]]:
    with serving("--workers", "2", "--students", "120") as (server, head):
        assert "2 gunicorn workers" in head, head
        yield server.base_url, {**server.bearer(), "Connection": "close"}


def many(url: str, headers: dict[str, str], n: int) -> list[requests.Response]:
    """n requests, 8 at a time, each on a new connection, so both workers take some."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: requests.get(url, headers=headers, timeout=30), range(n)))


def workers_of(responses: list[requests.Response]) -> set[str]:
    return {r.headers["X-Mock-Worker"] for r in responses}


def test_both_workers_answer_and_accept_each_other_s_tokens(workers: tuple[str, dict[str, str]]) -> None:
    base, headers = workers
    answers = many(f"{base}/v1/schools", headers, 200)
    assert {r.status_code for r in answers} == {200}
    assert len(workers_of(answers)) == 2


def test_a_control_change_is_seen_by_every_worker(workers: tuple[str, dict[str, str]]) -> None:
    base, headers = workers
    root = base.removesuffix("/api")
    person = requests.post(f"{root}/_mock/applications", json={"firstName": "Ada"}, timeout=30).json()["id"]
    answers = many(f"{base}/v1/operoo/students?pageSize=1000", headers, 60)
    assert len(workers_of(answers)) == 2
    assert all(person in {s["id"] for s in r.json()["students"]} for r in answers)
    accepted = requests.post(f"{root}/_mock/students/{person}/accept", json={"schoolId": "0900"}, timeout=30).json()
    bodies: list[Any] = [r.json() for r in many(f"{base}/v1/students/{accepted['enrolledId']}", headers, 40)]
    assert all(b == bodies[0] and b["lastModified"] == accepted["lastModified"] for b in bodies)


def test_a_scenario_merge_is_served_alike_by_every_worker(workers: tuple[str, dict[str, str]]) -> None:
    """Each worker replays the merge onto its own district, reusing its own listings' bytes: the same pages."""
    base, headers = workers
    root = base.removesuffix("/api")
    people = requests.get(f"{base}/v1/students?pageSize=1000", headers=headers, timeout=30).json()["students"]
    renamed = [{"id": s["id"], "lastName": "Merged"} for s in people[::10]]
    requests.post(f"{root}/_mock/scenario?merge=true", json={"students": renamed}, timeout=30).raise_for_status()
    for path in ("/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts"):
        answers = many(f"{base}{path}?pageSize=1000", headers, 40)
        assert len(workers_of(answers)) == 2
        assert len({r.content for r in answers}) == 1, path
    names = {s["id"]: s["lastName"] for s in answers_of(base, headers)}
    assert all(names[r["id"]] == "Merged" for r in renamed)


def answers_of(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    return list(requests.get(f"{base}/v1/students?pageSize=1000", headers=headers, timeout=30).json()["students"])


def test_fault_counters_and_the_journal_are_shared(workers: tuple[str, dict[str, str]]) -> None:
    base, headers = workers
    root = base.removesuffix("/api")
    requests.delete(f"{root}/_mock/requests", timeout=30)
    requests.post(
        f"{root}/_mock/faults",
        json={"endpoint": "/v1/contacts", "kind": "status", "mode": "nth", "n": 7, "params": {"status": 503}},
        timeout=30,
    )
    answers = many(f"{base}/v1/contacts?pageSize=5", headers, 40)
    assert len(workers_of(answers)) == 2
    assert sorted(r.status_code for r in answers).count(503) == 1, "the 7th call across both workers, once"
    journal = requests.get(f"{root}/_mock/requests", params={"path": "/api/v1/contacts"}, timeout=30).json()
    assert len(journal) == 40 and sum(e["status"] == 503 for e in journal) == 1
    requests.delete(f"{root}/_mock/faults", timeout=30)


def test_the_browser_view_shows_and_clears_what_every_worker_shares(workers: tuple[str, dict[str, str]]) -> None:
    base, _ = workers
    root = base.removesuffix("/api")
    requests.post(f"{root}/_mock/faults", json={"endpoint": "/v1/schools", "kind": "latency"}, timeout=30)
    pages = many(f"{root}/guru/activity", {"Connection": "close"}, 20)
    assert len(workers_of(pages)) == 2
    assert all(p.status_code == 200 and "/v1/schools" in p.text and "no-faults" not in p.text for p in pages)
    # Every worker renders the same CSRF token (made before the fork), so any of them accepts the form.
    token = re.search(r'name="csrf_token" value="([^"]+)"', pages[0].text)
    assert token is not None and all(token.group(0) in p.text for p in pages)
    cleared = requests.post(f"{root}/guru/faults/clear", data={"csrf_token": token.group(1)}, timeout=30)
    assert cleared.status_code == 200 and 'id="no-faults"' in cleared.text  # followed the 303
    assert all('id="no-faults"' in p.text for p in many(f"{root}/guru/activity", {"Connection": "close"}, 20))


def test_a_drift_reverted_on_one_worker_is_undone_on_every_worker(workers: tuple[str, dict[str, str]]) -> None:
    base, headers = workers
    root = base.removesuffix("/api")
    total = lambda: {r.json()["pagingInfo"]["totalCount"] for r in many(f"{base}/v1/students?pageSize=1", headers, 20)}  # noqa: E731
    [before] = total()
    rule = requests.post(
        f"{root}/_mock/faults",
        json={"endpoint": "/v1/students", "kind": "drift", "mode": "nth", "n": 1, "params": {"insert": 3, "remove": 1}},
        timeout=30,
    ).json()["id"]
    requests.get(f"{base}/v1/students?pageSize=1", headers=headers, timeout=30)  # fires: answers, then drifts
    assert total() == {before + 2}, "every worker sees the drift"
    [listed] = requests.get(f"{root}/_mock/faults", timeout=30).json()
    assert sum("inserted" in c for c in listed["changed"]) == 3 and sum("removed" in c for c in listed["changed"]) == 1
    reverted = requests.post(f"{root}/_mock/faults/{rule}/revert", headers={"Connection": "close"}, timeout=30).json()
    assert len(reverted["deleted"]) == 3 and len(reverted["restored"]) == 1 and reverted["skipped"] == []
    assert total() == {before}


def test_gunicorns_own_errors_are_problem_json(workers: tuple[str, dict[str, str]]) -> None:
    base, _ = workers
    host, port = base.removeprefix("http://").removesuffix("/api").rsplit(":", 1)
    for raw, status in (
        (b"GET /api/v1/students?q=" + b"x" * 8170 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),  # 8,200 bytes
        (b"GET /api/v1/schools HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-H: 1\r\n" * 150 + b"\r\n", 431),
    ):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(raw)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d" % status) and b"application/problem+json" in head, head
        assert json.loads(body)["status"] == status
        if status == 414:  # the same limit, and the same words, as the single-process server
            assert "max_request_line_bytes=8190" in json.loads(body)["detail"]


def test_a_malformed_chunked_body_is_a_400_under_gunicorn(workers: tuple[str, dict[str, str]]) -> None:
    base, _ = workers
    response = requests.post(
        f"{base}/v1/auth/token", data=iter([b"grant_type=client_credentials"]), timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status_code == 401  # a well-formed chunked body is read: wrong credentials
    host, port = base.removeprefix("http://").removesuffix("/api").rsplit(":", 1)
    raw = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400") and b"application/problem+json" in answer, answer[:300]


def test_the_journal_shows_every_answered_request_even_from_a_killed_worker(
    workers: tuple[str, dict[str, str]],
) -> None:
    base, headers = workers
    root = base.removesuffix("/api")
    requests.delete(f"{root}/_mock/requests", timeout=30)
    answers = many(f"{base}/v1/schools?pageSize=3", headers, 60)
    assert len(workers_of(answers)) == 2
    # Read at once, with no wait: every request answered by either worker is there (read-your-writes).
    assert len(requests.get(f"{root}/_mock/requests", timeout=30).json()) == 60
    more = many(f"{base}/v1/schools?pageSize=4", headers, 40)
    victim = int(more[-1].headers["X-Mock-Worker"])
    os.kill(victim, signal.SIGKILL)  # gunicorn starts another worker; what the killed one answered stays
    while True:
        try:
            os.kill(victim, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    journal = requests.get(f"{root}/_mock/requests", params={"path": "/v1/schools"}, timeout=30).json()
    assert [e["query"] for e in journal] == ["pageSize=3"] * 60 + ["pageSize=4"] * 40
    assert all(r.status_code == 200 for r in many(f"{base}/v1/schools", headers, 20))
