"""What the sync's client tells while it reads: each retry as one line naming the request, the page, why and
the attempt; each request as it is sent (what a stalled sync waits on). Faults are made with `responses`."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from mock_esd.server.inprocess import Reply
from tests.rules.test_safety import SETTINGS, big_district, on, status, tamper_with
from tests.world import World


class Heard:
    """A client's progress hook that keeps what it is told."""

    def __init__(self) -> None:
        self.retries: list[str] = []
        self.requests: list[str] = []

    def __call__(self, endpoint: str, page: int, pages: int, records: int) -> None:
        pass

    def requesting(self, request: str) -> None:
        self.requests.append(request)

    def retrying(self, line: str) -> None:
        self.retries.append(line)


def refused(request: requests.PreparedRequest, reply: Reply) -> Reply:
    raise requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))


@pytest.mark.parametrize(
    ("fault", "lines"),
    [
        pytest.param(
            lambda: tamper_with(on("/v1/students", 3, times=2), status(503)),
            [
                "retrying GET /v1/students page 3 after 503 (attempt 2 of 4)",
                "retrying GET /v1/students page 3 after 503 (attempt 3 of 4)",
            ],
            id="a 503, twice",
        ),
        pytest.param(
            lambda: tamper_with(on("/v1/contacts", 2, times=1), status(429, {"Retry-After": "2"})),
            ["retrying GET /v1/contacts page 2 after 429 rate limited, waiting 2 s (attempt 2 of 4)"],
            id="a 429 with Retry-After",
        ),
        pytest.param(
            lambda: tamper_with(on("/v1/contacts", 2, times=1), status(429, {"Retry-After": "3600"})),
            [
                "retrying GET /v1/contacts page 2 after 429 rate limited, waiting 30 s (Retry-After asked for 3600 s; "
                "a wait is capped at max_retry_after, 30 s) (attempt 2 of 4)"
            ],
            id="a 429 with a Retry-After past the cap",
        ),
        pytest.param(
            lambda: tamper_with(on("/v1/contacts", 1, times=1), lambda r: (200, r[1], r[2][:40])),
            ["retrying GET /v1/contacts page 1 after a 200 whose body is not JSON (attempt 2 of 4)"],
            id="a truncated body",
        ),
        pytest.param(
            lambda: tamper_with(on("/v1/students", 2, times=1), status(401)),
            ["retrying GET /v1/students page 2 after 401, token refused; a new one is fetched (attempt 2 of 4)"],
            id="an expired token",
        ),
        pytest.param(
            lambda: (lambda match: lambda q, r: refused(q, r) if match(q) else r)(on("/v1/operoo/students", 1, 1)),
            [
                "retrying GET /v1/operoo/students page 1 after connection refused: is a server listening there? "
                "(attempt 2 of 4)"
            ],
            id="a refused connection",
        ),
    ],
)
def test_each_retry_is_one_line_naming_the_request_page_reason_and_attempt(
    tmp_path: Path, fault: object, lines: list[str]
) -> None:
    world, heard = World(big_district(), tmp_path / "o.db"), Heard()
    assert world.sync(SETTINGS, tamper=fault(), progress=heard).status == "applied"  # type: ignore[operator]
    assert heard.retries == lines


def test_a_request_is_told_before_its_answer_comes_so_a_stall_names_it(tmp_path: Path) -> None:
    world, heard = World(big_district(), tmp_path / "o.db"), Heard()
    told: list[tuple[str, list[str]]] = []

    def answering(request: requests.PreparedRequest, reply: Reply) -> Reply:
        told.append((request.path_url, list(heard.requests)))  # what had been told when the server answers
        return reply

    world.sync(SETTINGS, tamper=answering, progress=heard)
    path, before = next((path, before) for path, before in told if path.startswith("/api/v1/contacts?pageNo=2&"))
    assert before[-1] == "GET /v1/contacts page 2", (path, before[-3:])
    assert heard.requests[:3] == ["POST /v1/auth/token", "GET /v1/schools page 1", "GET /v1/students page 1"]


def test_no_retry_no_line(tmp_path: Path) -> None:
    world, heard = World(big_district(), tmp_path / "o.db"), Heard()
    assert world.sync(SETTINGS, progress=heard).status == "applied"
    assert heard.retries == []


def test_a_plain_function_as_progress_hears_the_pages_and_nothing_breaks_on_a_retry(tmp_path: Path) -> None:
    world, pages = World(big_district(), tmp_path / "o.db"), []
    fault = tamper_with(on("/v1/students", 2, times=1), status(500))
    assert world.sync(SETTINGS, tamper=fault, progress=lambda *page: pages.append(page)).status == "applied"
    assert ("/v1/students", 2, 8, 10) in pages
