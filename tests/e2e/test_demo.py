"""`mock-esd demo`, the README's first command: it syncs, prints groups and hints that work, writes a report."""

from __future__ import annotations

import re
import shlex
import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import mock_esd

pytestmark = pytest.mark.e2e


def test_the_demo_syncs_writes_a_report_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "operoo.db"
    first = mock_esd("demo", "--students", "300", "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "sync applied" in first.stdout
    assert re.search(r"All District Students\s+district\s+\d+", first.stdout)
    report = db.with_suffix(".report.html").read_text(encoding="utf-8")
    assert "Applied: Operoo now holds the groups below." in report
    settings = db.with_suffix(".settings.toml")
    assert settings.is_file()
    mode = stat.S_IMODE(db.with_suffix(".report.html").stat().st_mode)
    assert mode == stat.S_IMODE(settings.stat().st_mode), "the report is as readable as any file the demo writes"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file left"

    explain_hint = re.search(r"^  (mock-esd explain .+?)\s+#", first.stdout, re.M)
    assert explain_hint, first.stdout
    explained = mock_esd(*shlex.split(explain_hint.group(1))[1:])
    assert explained.returncode == 0, explained.stderr
    assert "=> synced as student-operoo-" in explained.stdout

    again = mock_esd("demo", "--students", "300", "--db", str(db))
    assert again.returncode == 0, again.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", again.stdout, re.M))
    assert counts and set(counts.values()) == {"0"}, again.stdout
