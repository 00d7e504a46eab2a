"""A database written by an earlier release (schema 2, 3 or 4) opens, and `explain` works again after one sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_esd.district.builders import district, school, student
from mock_esd_contracts import vocabulary as v
from mock_esd_sync.explanation import explain
from mock_esd_sync.store import SCHEMA_VERSION
from tests.world import World, settings

SETTINGS = settings(custom=True, schools={"0101": ["Enrolled"]})


@pytest.mark.parametrize("version", [2, 3, 4])
def test_an_old_database_drops_its_old_mirror_and_the_next_sync_writes_a_new_one(tmp_path: Path, version: int) -> None:
    world = World(
        district([school("0101")], [student(1, enrolled_id="10000001", school_id="0101"),
                                    student(2, status=v.Status.PRE_ENROLLED)], []),
        tmp_path / "operoo.db",
    )  # fmt: skip
    assert world.sync(SETTINGS).status == "applied"
    conn = world.conn()
    # As an earlier release left it: one mirror blob (schema 2: of 11-field rows), the R10 digest of the last run;
    # schema 4: a row per person of its parsed records and their digest, a digest row per contact.
    old_row = [1, "10000001", "Enrolled", "0101", None, "A", "B", True, False, None, None]
    if version >= 3:
        old_row = [1, ["10000001", "Enrolled", "0101", None, "A", "B"], None]
    conn.executescript("DROP TABLE esd_persons; DROP TABLE esd_digests;")
    if version == 4:
        conn.executescript(
            "CREATE TABLE esd_persons (person_id INTEGER PRIMARY KEY, digest INTEGER NOT NULL, body BLOB NOT NULL);"
            "CREATE TABLE esd_contacts (contact_id INTEGER PRIMARY KEY, digest INTEGER NOT NULL);"
        )
        conn.execute("INSERT INTO esd_persons VALUES (1, 7, ?)", (json.dumps(old_row).encode(),))
        conn.execute("INSERT INTO esd_contacts VALUES (1, 7)")
    else:
        conn.execute(
            "CREATE TABLE esd_mirror (id INTEGER PRIMARY KEY CHECK (id = 1), digest TEXT NOT NULL, body BLOB NOT NULL)"
        )
        conn.execute("INSERT INTO esd_mirror VALUES (1, 'old', ?)", (json.dumps([old_row]).encode(),))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.close()

    conn = world.conn()  # connect() migrates
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
    old_tables = "SELECT count(*) FROM sqlite_master WHERE name IN ('esd_mirror', 'esd_contacts')"
    assert conn.execute(old_tables).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM esd_persons").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM esd_digests").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sync_runs WHERE input_digest IS NOT NULL").fetchone()[0] == 0
    conn.close()

    report = world.sync(SETTINGS)  # eSD unchanged, but without the R10 digest the plan is made again
    assert report.status == "applied"
    conn = world.conn()
    assert conn.execute("SELECT count(*) FROM esd_persons").fetchone()[0] == 2
    lines = explain(conn, "student-operoo-2")
    conn.close()
    assert any("synced as student-operoo-2" in line for line in lines), lines
