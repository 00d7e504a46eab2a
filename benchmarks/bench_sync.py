"""Sync costs against a mock district served by another process.

Prints medians and ratios from one run: fetch-only walk (every page of every endpoint, JSON parsed,
listing checked: the floor), first full sync, no-change re-sync, and the peak memory of a
`mock-esd sync` process. Targets (SPEC 9): first sync <= 1.5x fetch-only, re-sync <= 1.2x, < 500 MB.
Run: python benchmarks/bench_sync.py [--students N] [--repeat N]
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Row, median_time, print_table
from sync.cli import write_settings
from sync.client import EsdClient
from sync.demo import demo_settings
from sync.run import run_sync
from sync.store import connect

ENDPOINTS = [("/v1/schools", "schools"), ("/v1/students", "students"), ("/v1/contacts", "contacts"),
             ("/v1/operoo/students", "students"), ("/v1/operoo/contacts", "contacts")]  # fmt: skip


def start_server(students: int) -> tuple[subprocess.Popen[str], str, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--students", str(students)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    head = "".join(proc.stdout.readline() for _ in range(3))
    base = re.search(r"eSD base URL: (\S+)", head)
    client = re.search(r"--client-id (\S+) --client-secret (\S+)", head)
    assert base and client, head
    return proc, base.group(1), client.group(1), client.group(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    proc, base, client_id, secret = start_server(args.students)
    try:
        with requests.Session() as session, tempfile.TemporaryDirectory() as tmp:
            client = EsdClient(session, base, client_id, secret)
            schools = [
                {"id": s.school_id, "isHoldingSchool": s.is_holding} for s in client.fetch_snapshot(False).schools
            ]
            settings = demo_settings(schools)  # type: ignore[arg-type]

            def fetch_only() -> None:
                for path, key in ENDPOINTS:
                    client.fetch_all(path, key, lambda raw, _: raw)

            def first_sync() -> Any:
                db = Path(tmp) / "first.db"
                for f in Path(tmp).glob("first.db*"):
                    f.unlink()
                conn = connect(db)
                report = run_sync(client, settings, conn)
                conn.close()
                assert report.status == "applied", report.errors

            resync_db = Path(tmp) / "resync.db"
            conn = connect(resync_db)
            run_sync(client, settings, conn)

            def resync() -> None:
                report = run_sync(client, settings, conn)
                assert report.plan is not None and report.plan.is_empty()

            fetch = Row("fetch-only walk, all endpoints (floor)", median_time(fetch_only, args.repeat))
            rows = [
                fetch,
                Row("first full sync", median_time(first_sync, args.repeat, 0), fetch.name, "target <= 1.5x"),
                Row("no-change re-sync", median_time(resync, args.repeat), fetch.name, "target <= 1.2x"),
            ]
            conn.close()
            settings_path = Path(tmp) / "settings.toml"
            write_settings(settings_path, settings)
            cli = subprocess.run(
                [sys.executable, "-m", "mock_esd", "sync", "--url", base, "--client-id", client_id, "--client-secret",
                 secret, "--settings", str(settings_path), "--db", str(Path(tmp) / "cli.db"), "--json"],
                capture_output=True, text=True,
            )  # fmt: skip
            assert cli.returncode == 0, cli.stderr
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    print(f"district: {args.students} students; medians of {args.repeat} runs")
    print_table(rows)
    print(f"{'peak memory of a `mock-esd sync` process (first sync)':58} {peak_mb:10.0f} MB   target < 500 MB")


if __name__ == "__main__":
    main()
