"""`mock-esd export` keeps its documented format: JSON booleans, the schema shipped in sync/export.schema.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from jsonschema import Draft202012Validator

from mock_esd.district.builders import contact, district, school, student
from mock_esd_sync import vocabulary as o
from mock_esd_sync.export import export_schema
from tests.world import World, settings


def test_the_schema_is_valid_and_uses_operoo_s_own_words() -> None:
    schema = export_schema()
    Draft202012Validator.check_schema(schema)
    student_props = schema["properties"]["students"]["items"]["properties"]
    assert student_props["status"]["enum"] == list(o.OPTIONS)
    link = schema["properties"]["contacts"]["items"]["properties"]["students"]["items"]["properties"]
    assert set(link["permission"]["enum"]) == {o.VIEW_AND_UPDATE, o.NO_PERMISSION}


def test_an_export_with_archived_students_and_contacts_has_booleans_and_fits_the_schema(tmp_path: Path) -> None:
    world = World(
        district(
            [school("0101")],
            [
                student(1, enrolled_id="10000001", school_id="0101"),
                student(2, enrolled_id="10000002", school_id="0101"),
            ],
            [contact(1, [(1, "Mother", 1)]), contact(2, [(2, "Aunt", 2)])],
        ),
        tmp_path / "o.db",
    )
    world.sync(settings(schools={"0101": [o.Option.ENROLLED]}))
    world.store.delete_student(1)
    world.sync(settings(schools={"0101": [o.Option.ENROLLED]}))
    cli = subprocess.run(
        [sys.executable, "-m", "mock_esd", "export", "--db", str(tmp_path / "o.db")], capture_output=True, check=True
    )
    exported = orjson.loads(cli.stdout)
    Draft202012Validator(export_schema()).validate(exported)
    assert [s["archived"] for s in exported["students"]] == [True, False]
    assert [c["archived"] for c in exported["contacts"]] == [True, False]
