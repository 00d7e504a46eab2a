"""The Operoo state database: made safely by two processes at once, and said clearly when unusable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mock_esd_sync import store
from mock_esd_sync.errors import StateError


def test_two_processes_creating_one_database_both_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of two first syncs: both saw no schema, both create it (`table meta already exists` before)."""
    db = tmp_path / "new.db"
    store.connect(db).close()
    monkeypatch.setattr(store, "_schema_version", lambda conn: None)  # the second saw none before the first made it
    store.connect(db).close()
    monkeypatch.undo()
    conn = store.connect(db)
    assert conn.execute("SELECT value FROM meta").fetchall() == [(str(store.SCHEMA_VERSION),)]
    conn.close()


def test_a_read_only_database_is_said_in_one_error(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    store.connect(db).close()
    read_only = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    try:
        with pytest.raises(StateError, match=r"cannot be used .*readonly"):
            store.check_writable(read_only, db)
    finally:
        read_only.close()
