"""The Operoo state database: made safely by two processes at once, and said clearly when unusable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mock_esd_sync import store
from mock_esd_sync.errors import BusyError, StateError, WriteError


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


def test_a_run_that_cannot_be_logged_for_a_full_disk_is_a_write_error_naming_the_database(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    conn = store.connect(db)
    try:
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")  # the disk is full
        with pytest.raises(WriteError) as error:
            store.begin_run(conn, "2026-09-01T00:00:00Z", {"schools": ["0101"] * 5000})  # needs pages it cannot add
        assert str(error.value) == f"the disk holding {db} is full (database or disk is full); nothing was changed"
        assert conn.execute("SELECT count(*) FROM sync_runs").fetchone() == (0,) and not conn.in_transaction
    finally:
        conn.close()


def test_the_lock_of_a_database_is_beside_the_file_its_path_leads_to(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    db = tmp_path / "data" / "o.db"
    (tmp_path / "link.db").symlink_to(db)
    busy = r"another sync is running on .*/data/o\.db; this one did nothing"
    with store.sync_lock(tmp_path / "link.db"), pytest.raises(BusyError, match=busy), store.sync_lock(db):
        pass  # pragma: no cover
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["o.db.lock"]
    assert not (tmp_path / "link.db.lock").exists()
