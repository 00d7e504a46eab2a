"""The benchmark's table says met or NOT MET beside each target, and its command refuses bad options in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import MB, Row, at_least, at_most, print_table

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_each_target_is_judged_on_the_median_or_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    floor = Row("walk (floor)", [1.0, 1.2, 5.0])  # median 1.2 s
    rows = [
        floor,
        Row("fast sync", [1.5, 1.7, 9.0], floor.name, (at_most(1.5, ratio=True),)),  # 1.7 / 1.2 = 1.42x
        Row("slow sync", [3.0, 3.7, 3.9], floor.name, (at_most(3, ratio=True),)),  # 3.08x
        Row("memory", [399 * MB], unit="bytes", targets=(at_most(400 * MB),)),
        Row("req/s", [900.0, 3700.0, 3800.0], "prism", (at_least(3, ratio=True),), unit="req/s"),  # no such row
    ]
    print_table(rows)
    lines = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "1000.00 ms" in lines["walk (floor)"] and "5000.00 ms" in lines["walk (floor)"]  # min and max shown
    assert "1.42x" in lines["fast sync"] and "target <= 1.5x: met" in lines["fast sync"]
    assert "target <= 3x: NOT MET" in lines["slow sync"]
    assert "target <= 400 MB: met" in lines["memory"]
    assert "target >= 3x: n/a" in lines["req/s"], "a ratio to a row not measured is not judged met"


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--students", "5"], "--students"), (["--only", "everything"], "--only"), (["--repeat", "0"], "--repeat")],
)
def test_a_bad_option_is_a_usage_error_naming_it(args: list[str], named: str) -> None:
    done = subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert named in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_server_s_cpu_counts_its_workers() -> None:
    """The CPU rows sum a server's process and its children (gunicorn's workers), read from /proc."""
    from benchmarks.run import cpu_seconds

    burn = "import time, sys\nwhile time.process_time() < 0.3: pass\nprint('done', flush=True)\nsys.stdin.read()"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "done"
        ticks = Path(f"/proc/{parent.pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")
        assert cpu_seconds(parent.pid) - own >= 0.25, "the child's 0.3 s of CPU is counted"
    finally:
        parent.communicate("", timeout=30)


def test_the_scenarios_part_starts_at_the_issue_s_sizes_up_to_students(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--students` bounds the starts (20,000 and 100,000; below both, its own size) and the per-test district."""
    from benchmarks import scenarios
    from benchmarks.run import Options

    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(scenarios, "start_rows", lambda n, repeat, rows: asked.append(("start", n)))
    monkeypatch.setattr(scenarios, "per_test_rows", lambda repeat, rows, n: asked.append(("per test", n)))
    for students in (100_000, 50_000, 1_000):
        scenarios.scenario_rows(Options(students, 1, 1, True), [])
    assert asked == [
        *[("start", 20_000), ("start", 100_000), ("per test", 2_000)],
        *[("start", 20_000), ("per test", 2_000)],
        *[("start", 1_000), ("per test", 1_000)],
    ]


@pytest.mark.slow
def test_the_scenarios_part_prints_each_start_against_generated_and_each_per_test_load_judged() -> None:
    """`--only scenarios` at a small size: every row a user reads for the issue, its ratio and its verdict."""
    done = subprocess.run(
        [sys.executable, str(RUN), "--only", "scenarios", "--students", "1000", "--repeat", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line[:70].strip(): line[70:] for line in done.stdout.splitlines()[1:]}  # name, then the numbers
    assert "serve ready, generated, 1000 students" in rows, done.stdout
    verdict = re.compile(r"\d+\.\d\dx  target <= 2x: (met|NOT MET)  vs ")
    for kind in ("JSON scenario", "YAML scenario"):
        for row in (f"serve ready, {kind}, 1000 students", f"its CPU time to start, {kind}, 1000 students"):
            assert verdict.search(rows[row]), rows[row]
        assert f"its peak RSS at start, {kind}, 1000 students" in rows
    per_test = [name for name in rows if "again" in name or "esd_district(scenario=...)" in name]
    assert len(per_test) == 3, done.stdout
    for name in per_test:
        assert re.search(r"target <= 5\.00 ms: (met|NOT MET)$", rows[name]), rows[name]
