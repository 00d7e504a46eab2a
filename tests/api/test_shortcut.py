"""The listing shortcut (`mock_esd.server.shortcut`): a plain page answered without Flask is the page Flask answers.

Each request goes once through the app (the shortcut in front) and once straight to the Flask app behind
it; the status, the headers (their order too), the body and the journal entry must be the same, and
anything but a plain page must reach Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from mock_esd.server.app import create_app
from mock_esd.server.shortcut import ListingShortcut
from mock_esd.state.config import AppConfig
from mock_esd.state.mock_state import EXTENSION
from tests.conftest import CUSTOM, SMALL, STANDARD, Clock, token_for

Answer = tuple[str, list[tuple[str, str]], bytes]


def _answer(wsgi: Callable[..., Iterable[bytes]], path: str, headers: dict[str, str], data: bytes = b"") -> Answer:
    environ = EnvironBuilder(path=path, headers=list(headers.items()), data=data or None).get_environ()
    got: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        got["status"], got["headers"] = status, list(response_headers)

    body = b"".join(wsgi(environ, start_response))
    return got["status"], got["headers"], body


class _Spy:
    """The Flask app behind the shortcut, counting the requests handed to it."""

    def __init__(self, inner: Callable[..., Iterable[bytes]]) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        return self.inner(environ, start_response)


@pytest.fixture(params=["one process", "workers"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Flask:
    shared = str(tmp_path / "changes.db") if request.param == "workers" else None  # workers add X-Mock-Worker
    return create_app(AppConfig(spec=SMALL, clock=Clock(), shared_state=shared))


def _spied(app: Flask) -> tuple[ListingShortcut, _Spy]:
    shortcut = app.wsgi_app
    assert isinstance(shortcut, ListingShortcut)
    spy = shortcut.inner = _Spy(shortcut.inner)
    return shortcut, spy


PLAIN_PAGES = [
    "/api/v1/schools",
    "/api/v1/students?pageNo=2&pageSize=7",
    "/api/v1/students?schoolId=0101&studentStatus=Enrolled&pageSize=3",
    "/api/v1/contacts?pageSize=5&pageNo=3",
    "/api/v1/contacts?studentId=1",
    "/api/v1/operoo/students?pageSize=100",
    "/api/v1/operoo/contacts?pageSize=%31%30",  # percent-encoded, as werkzeug decodes it
    "/api/v1/students?pageNo=999",  # past the last page: an empty page, still a 200
]


@pytest.mark.parametrize("path", PLAIN_PAGES)
def test_a_plain_page_is_the_flask_answer_byte_for_byte_and_journaled_alike(app: Flask, path: str) -> None:
    headers = {"Authorization": f"Bearer {token_for(app.test_client(), CUSTOM)}"}
    shortcut, spy = _spied(app)
    journal = app.extensions[EXTENSION].journal
    journal.clear()
    fast = _answer(shortcut, path, headers)
    assert spy.calls == 0, "the shortcut answered it"
    flask = _answer(spy.inner, path, headers)
    assert fast == flask and fast[0] == "200 OK"
    first, second = (e.as_json() for e in journal.entries({}))
    assert {**first, "seq": 0} == {**second, "seq": 0}


NOT_PLAIN = [
    ("/api/v1/students?pageSize=0", {}),  # paging error: problem+json
    ("/api/v1/students?pagesize=10", {}),  # unknown parameter
    ("/api/v1/students?pageNo=1&pageNo=2", {}),  # repeated parameter
    ("/api/v1/contacts?studentId=x", {}),
    ("/api/v1/students?studentStatus=Active", {}),  # an error the store raises
    ("/api/v1/students/", {}),  # not a listing: 404
    ("/api/v1/students", {"Authorization": "Bearer not-a-token"}),
    ("/api/v1/students", {"Authorization": ""}),
    ("/api/v1/students", {"Host": "evil.example"}),  # DNS rebinding: 421
    ("/api/v1/students", {"X-Body": "abc"}),  # a GET with a body (Flask ignores it: a 200 from Flask)
    ("/v1/students", {}),
]


@pytest.mark.parametrize(("path", "extra"), NOT_PLAIN)
def test_anything_but_a_plain_page_is_answered_by_flask(app: Flask, path: str, extra: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {token_for(app.test_client(), CUSTOM)}", **extra}
    shortcut, spy = _spied(app)
    data = headers.pop("X-Body", "").encode()
    status, _, body = _answer(shortcut, path, headers, data)
    assert spy.calls == 1
    assert data or (status != "200 OK" and b'"status":' in body), "an error, as problem+json"


def test_a_standard_client_on_operoo_s_listing_and_any_fault_rule_go_to_flask(app: Flask) -> None:
    http = app.test_client()
    standard = {"Authorization": f"Bearer {token_for(http, STANDARD)}"}
    custom = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    shortcut, spy = _spied(app)
    assert _answer(shortcut, "/api/v1/operoo/students", standard)[0] == "403 FORBIDDEN"
    assert spy.calls == 1
    plain = _answer(shortcut, "/api/v1/students", custom)
    rule = {"endpoint": "/v1/schools", "kind": "status", "mode": "nth", "n": 2, "params": {"status": 503}}
    app.extensions[EXTENSION].faults.add(rule)  # as POST /_mock/faults adds it
    assert _answer(shortcut, "/api/v1/students", custom) == plain, "a rule elsewhere: the same page, from Flask"
    assert spy.calls == 2
    statuses = [_answer(shortcut, "/api/v1/schools", custom)[0] for _ in range(3)]
    assert statuses == ["200 OK", "503 SERVICE UNAVAILABLE", "200 OK"], "the rule counts every call"
    assert spy.calls == 5


def test_a_host_once_answered_does_not_open_the_door_to_another(app: Flask) -> None:
    custom = {"Authorization": f"Bearer {token_for(app.test_client(), CUSTOM)}"}
    shortcut, spy = _spied(app)
    for _ in range(2):
        assert _answer(shortcut, "/api/v1/schools", {**custom, "Host": "localhost:8080"})[0] == "200 OK"
        status, _, body = _answer(shortcut, "/api/v1/schools", {**custom, "Host": "evil.example:8080"})
        assert status == "421 MISDIRECTED REQUEST" and b"evil.example" in body
    assert spy.calls == 2
