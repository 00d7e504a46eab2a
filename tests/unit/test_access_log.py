"""`serve --workers N` logs each request as gunicorn would, computing only what its line shows."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from mock_esd.server.workers import DEFAULT_ACCESS_FORMAT, _AccessLog


@pytest.mark.parametrize(
    ("extra", "sent", "status"),
    [
        ({}, 1234, "200 OK"),
        ({"HTTP_REFERER": "http://x/", "HTTP_USER_AGENT": "wrk"}, None, "401 UNAUTHORIZED"),
        ({"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"ada:pw").decode()}, 0, 503),
    ],
)
def test_the_default_line_is_gunicorn_s_own(
    extra: dict[str, str], sent: int | None, status: str | int, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config()
    assert config.access_log_format == DEFAULT_ACCESS_FORMAT, "serve sets no access_log_format of its own"
    logger = _AccessLog(config)
    monkeypatch.setattr(logger, "now", lambda: "[30/Nov/2026:15:00:00 +0000]")  # both lines in the same second
    environ = {
        "REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/api/v1/students?pageSize=100",
        "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/api/v1/students", "QUERY_STRING": "pageSize=100", **extra,
    }  # fmt: skip
    resp = SimpleNamespace(status=status, sent=sent, headers=[("Content-Type", "application/json")])
    req = SimpleNamespace(headers=[("HOST", "127.0.0.1"), ("AUTHORIZATION", "Bearer t")])
    took = SimpleNamespace(seconds=0, microseconds=512)
    full = DEFAULT_ACCESS_FORMAT % logger.atoms(resp, req, environ, took)
    assert DEFAULT_ACCESS_FORMAT % logger.default_atoms(resp, environ) == full
