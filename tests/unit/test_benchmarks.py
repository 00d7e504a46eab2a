"""The benchmark's table says met or NOT MET beside each target, and its command refuses bad options in one line."""

from __future__ import annotations

import os
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
