"""The journal of `serve --workers` when the disk fills up under it (ENOSPC while a worker writes its line).

A write the disk cut short must not leave half a line in the worker's file: the next line would be
appended to it, and every later read of the journal (`GET /_mock/requests`, `/guru/activity`) would fail
on that line for as long as the server runs. And a listing page whose journal line cannot be written is
answered as any other failure of the mock: a 500 in problem+json, from the shortcut as from Flask.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from mock_esd.server.app import create_app
from mock_esd.state.changelog import ChangeLog, SharedJournal
from mock_esd.state.config import AppConfig
from mock_esd.state.mock_state import EXTENSION
from tests.conftest import CUSTOM, SMALL, Clock, token_for

_real_write = os.write


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """While `full[0]`: a write to a journal file takes half its bytes, then fails with ENOSPC."""
    full = [False]

    def write(fd: int, data: bytes | memoryview) -> int:
        if not full[0] or ".journal-" not in os.readlink(f"/proc/self/fd/{fd}"):
            return _real_write(fd, data)
        if len(data) > 1:
            return _real_write(fd, bytes(data)[: len(data) // 2])  # a short write: the disk had room for half
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", write)
    return full


def test_a_line_the_full_disk_cut_short_does_not_break_the_journal_for_good(
    tmp_path: Path, disk_full: list[bool]
) -> None:
    journal = SharedJournal(ChangeLog(tmp_path / "changes.db"))
    journal.record(1.0, "GET", "/v1/schools", "pageNo=1", None, None, 200)
    disk_full[0] = True
    with pytest.raises(OSError, match="No space left"):
        journal.record(2.0, "GET", "/v1/schools", "pageNo=2", None, None, 200)
    disk_full[0] = False  # space freed
    journal.record(3.0, "GET", "/v1/schools", "pageNo=3", None, None, 200)
    assert [e.query for e in journal.entries({})] == ["pageNo=1", "pageNo=3"]


def test_a_page_whose_journal_line_cannot_be_written_is_a_problem_json_500(
    tmp_path: Path, disk_full: list[bool]
) -> None:
    app = create_app(AppConfig(spec=SMALL, clock=Clock(), shared_state=str(tmp_path / "changes.db")))
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    assert http.get("/api/v1/schools", headers=headers).status_code == 200
    disk_full[0] = True
    for path in ("/api/v1/schools", "/api/v1/schools?pageSize=0"):  # the shortcut's page, Flask's error
        response = http.get(path, headers=headers)
        assert response.status_code == 500 and response.mimetype == "application/problem+json", path
    disk_full[0] = False
    assert http.get("/api/v1/schools?pageNo=2", headers=headers).status_code == 200
    journal = app.extensions[EXTENSION].journal
    pages = journal.entries({"path": "/v1/schools"})
    assert [(e.query, e.status) for e in pages] == [("", 200), ("pageNo=2", 200)], "the lines written, each once"


def test_a_request_whose_line_is_written_does_not_fail_when_moving_the_lines_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker's file reached flush_bytes but SQLite's disk is full: the line is kept (the request was
    answered, and is journaled once), the move is tried again at the next request, and the log says why."""
    journal = SharedJournal(ChangeLog(tmp_path / "changes.db"), flush_bytes=200)
    move = SharedJournal._move_lines
    failures = [1]

    def full_once(self: SharedJournal) -> None:
        if failures[0]:
            failures[0] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        move(self)

    monkeypatch.setattr(SharedJournal, "_move_lines", full_once)
    for n in range(8):
        journal.record(float(n), "GET", "/v1/schools", f"pageNo={n}", None, None, 200)
    assert "database or disk is full" in caplog.text
    assert [e.query for e in journal.entries({})] == [f"pageNo={n}" for n in range(8)]
    [own] = tmp_path.glob("changes.journal-*")
    assert own.stat().st_size < 200, "moved and emptied once SQLite took the lines"
