"""What a recorded district costs: `serve --scenario` against `serve --students` of the same size, and a scenario
loaded again in a test (issue 25: within 2x, and at most 5 ms a test).

    python benchmarks/scenarios.py [--students 20000] [--repeat 3]

A district is generated, exported as `mock-esd record` writes it (JSON and YAML), then each kind of start runs
in turn, round after round: the time until `serve` says it is serving, and the CPU time (user + system) its
process used by then, which a busy machine moves far less. The per-test rows time what a test does with a
scenario its session already loaded: `ControlClient.load_scenario(text)` in-process and on a live server, and
a district from the `esd_district(scenario=...)` marker's file (`mock_district(scenario=...)`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: `python benchmarks/scenarios.py`

from benchmarks.common import MB, Row, at_most, timed  # noqa: E402

SIZES = (20_000, 100_000)  # the sizes
TEST_DISTRICT = 2_000  # the recording a test loads
RATIO = 2.0  # a scenario's start within this times a generated one's
PER_TEST = 0.005  # seconds a test's load of an already-loaded scenario may take


def scenario_files(students: int, directory: Path) -> dict[str, Path]:
    """A generated district exported as a JSON and a YAML scenario, as `mock-esd record` writes them."""
    from mock_esd.district import scenario
    from mock_esd.district.generator import DistrictSpec
    from mock_esd.district.store import DistrictStore

    data = orjson.loads(orjson.dumps(scenario.export(DistrictStore(DistrictSpec(students=students)))))
    files = {}
    for suffix in (".json", ".yaml"):
        files[suffix] = directory / f"district-{students}{suffix}"
        files[suffix].write_bytes(scenario.encode_file(data, suffix))
    return files


def start(*args: str) -> tuple[float, float, float]:
    """`mock-esd serve` until it says it is serving: (wall seconds, its CPU seconds, its peak RSS in bytes)."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "-q", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("Serving"):
                break
        else:
            raise click.ClickException(f"mock-esd serve {' '.join(args)} did not start: {proc.communicate()[1][-500:]}")
        wall = time.perf_counter() - began
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = float(status.split("VmHWM:")[1].split()[0]) * 1024
        return wall, cpu, peak
    finally:
        if proc.poll() is None:  # one that did not start has ended already: its error is the one to say
            os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)


def start_rows(students: int, repeat: int, rows: list[Row]) -> None:
    """Generated, JSON and YAML starts of `students`, interleaved `repeat` times, each kind against generated."""
    with tempfile.TemporaryDirectory(prefix="mock-esd-scenarios-") as tmp:
        files = scenario_files(students, Path(tmp))
        kinds: dict[str, tuple[str, ...]] = {
            "generated": ("--students", str(students)),
            "JSON scenario": ("--scenario", str(files[".json"])),
            "YAML scenario": ("--scenario", str(files[".yaml"])),
        }
        samples: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in kinds}
        for _ in range(repeat):
            for kind, args in kinds.items():
                samples[kind].append(start(*args))
        sizes = {suffix: path.stat().st_size for suffix, path in files.items()}
    wall = {kind: f"serve ready, {kind}, {students} students" for kind in kinds}
    cpu = {kind: f"  its CPU time to start, {kind}, {students} students" for kind in kinds}
    for kind in kinds:
        target = () if kind == "generated" else (at_most(RATIO, ratio=True),)
        compared = None if kind == "generated" else wall["generated"]
        note = f"file {sizes['.json' if 'JSON' in kind else '.yaml'] / MB:.0f} MB" if kind != "generated" else ""
        rows.append(Row(wall[kind], [s[0] for s in samples[kind]], compared, target, note=note))
        rows.append(Row(cpu[kind], [s[1] for s in samples[kind]], cpu["generated"] if compared else None, target))
        rows.append(
            Row(f"  its peak RSS at start, {kind}, {students} students", [s[2] for s in samples[kind]], unit="bytes")
        )


def per_test_rows(repeat: int, rows: list[Row], students: int = TEST_DISTRICT) -> None:
    """What a test pays for a `students`-student YAML scenario its session already loaded, each way a test
    takes one."""
    from mock_esd import Districts, mock_district

    loads = max(20, 10 * repeat)
    with tempfile.TemporaryDirectory(prefix="mock-esd-scenarios-") as tmp:
        path = scenario_files(students, Path(tmp))[".yaml"]
        text = path.read_text()
        with Districts() as districts:
            with mock_district(districts=districts) as esd:
                first = timed(lambda: esd.control.load_scenario(text), 1, 0)
                inprocess = timed(lambda: esd.control.load_scenario(text), loads)
            with mock_district(districts=districts, live=True) as esd:
                live = timed(lambda: esd.control.load_scenario(text), loads)

            def marked() -> Any:
                with mock_district(districts=districts, scenario=path) as esd:
                    return esd

            marker = timed(marked, loads)
    name = f"{students}-student YAML scenario"
    target = (at_most(PER_TEST),)
    rows += [
        Row(f"load_scenario of a {name}, the first time", first),
        Row("  load_scenario of it again (in-process, each time a fork)", inprocess, targets=target),
        Row(f"  load_scenario of it again on a live server ({len(text) / MB:.1f} MB over HTTP)", live, targets=target),
        Row("  a test's district from its file (esd_district(scenario=...))", marker, targets=target),
    ]


def scenario_rows(opts: Any, rows: list[Row]) -> None:
    """The benchmark table's rows (`benchmarks/run.py`): starts at the issue's sizes up to `opts.students` (at
    `opts.students` itself when it is below them all), then the per-test loads (of at most `opts.students`)."""
    for students in [n for n in SIZES if n <= opts.students] or [opts.students]:
        start_rows(students, opts.repeat, rows)
    per_test_rows(opts.repeat, rows, min(TEST_DISTRICT, opts.students))


@click.command(help=__doc__)
@click.option("--students", type=click.IntRange(min=1000), default=20_000, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True, help="runs of each start")
def main(students: int, repeat: int) -> None:
    from benchmarks.common import print_table

    rows: list[Row] = []
    start_rows(students, repeat, rows)
    per_test_rows(repeat, rows)
    print_table(rows)


if __name__ == "__main__":
    main()
