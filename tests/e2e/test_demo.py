"""`mock-esd demo`, the README's first command: it syncs, prints groups and hints that work, writes a report."""

from __future__ import annotations

import re
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import mock_esd

pytestmark = pytest.mark.e2e


def next_commands(output: str) -> list[str]:
    """The demo's "Next" commands a test can run alone: all but `open` and `serve` (and the sync that needs it)."""
    block = output.split("\nNext:\n")[1]
    commands = [line.split("   # ")[0].strip() for line in block.splitlines() if "   # " in line]
    return [c for c in commands if not c.startswith("open ") and " serve " not in c]


def test_the_demo_syncs_writes_a_report_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "operoo.db"
    first = mock_esd("demo", "--students", "300", "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "sync applied" in first.stdout
    assert re.search(r"All District Students\s+district\s+\d+", first.stdout)
    report = db.with_suffix(".report.html").read_text(encoding="utf-8")
    assert "Applied: Operoo now holds the groups below." in report
    assert (tmp_path / "operoo.run-1.report.html").read_text(encoding="utf-8") == report, "each run's report is kept"
    stages = first.stderr.splitlines()  # what it is doing, a line per stage (stderr is not a terminal here)
    assert "mock-esd: generating a district of 300 students (seed 1)" in stages, first.stderr
    assert any(line.startswith("mock-esd: fetching /v1/students: ") for line in stages), first.stderr
    settings = db.with_suffix(".settings.toml")
    assert settings.is_file()
    mode = stat.S_IMODE(db.with_suffix(".report.html").stat().st_mode)
    assert mode == stat.S_IMODE(settings.stat().st_mode), "the report is as readable as any file the demo writes"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file left"

    hints = next_commands(first.stdout)
    assert [h.split(" -m mock_esd ")[1].split()[0] for h in hints] == ["export", "explain"], first.stdout
    for hint in hints:  # pasted as printed, from where the demo ran
        done = subprocess.run(shlex.split(hint), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (hint, done.stderr)
        if " explain " in hint:
            assert "=> synced as student-operoo-" in done.stdout

    again = mock_esd("demo", "--students", "300", "--db", str(db))
    assert again.returncode == 0, again.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", again.stdout, re.M))
    assert counts and set(counts.values()) == {"0"}, again.stdout
    last = db.with_suffix(".report.html").read_text(encoding="utf-8")
    assert (tmp_path / "operoo.run-2.report.html").read_text(encoding="utf-8") == last != report
    assert (tmp_path / "operoo.run-1.report.html").read_text(encoding="utf-8") == report, "the first run's report stays"


def test_the_demo_that_keeps_serving_names_its_own_port_in_its_hints(tmp_path: Path) -> None:
    db = tmp_path / "operoo.db"
    with open(tmp_path / "stderr", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mock_esd", "demo", "--serve", "--students", "100", "--db", str(db)],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            printed = ""
            while "Still serving at" not in printed:
                line = proc.stdout.readline()
                assert line, printed
                printed += line
            url = re.search(r"Still serving at (\S+);", printed)
            assert url and ":8080" not in printed, printed
            lines = printed.splitlines()
            at = next(n for n, line in enumerate(lines) if " sync --url " in line)  # and its continuation line
            command = shlex.split(lines[at].removesuffix("\\") + lines[at + 1])
            assert command[command.index("--url") + 1] == url.group(1)
            again = subprocess.run(command, capture_output=True, text=True, timeout=120)
            assert again.returncode == 0 and "sync applied" in again.stdout, again.stderr  # pasted as printed
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out
