"""One command, one table: the whole path measured side by side on this machine, each target met or not.

    python benchmarks/run.py [--students 100000] [--repeat 3] [--seconds 5] [--skip-prism]

Each row is a median over --repeat runs (throughput rows: one wrk run of --seconds), with its ratio
to the row it is compared with, measured in this same run. Needs `wrk` (Debian package) for the
throughput rows and `npx`/`prism` (npm @stoplight/prism-cli) for the Prism row; each is skipped with
a message when missing.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import Row, median_time  # noqa: E402
from mock_esd.generator import DistrictSpec, generate_district  # noqa: E402
from mock_esd.server import LiveServer  # noqa: E402
from sync.client import EsdClient  # noqa: E402
from sync.run import run_sync  # noqa: E402
from sync.store import connect  # noqa: E402
from workbench.demo import demo_settings  # noqa: E402
from workbench.sync_commands import write_settings  # noqa: E402

ENDPOINTS = [("/v1/schools", "schools"), ("/v1/students", "students"), ("/v1/contacts", "contacts"),
             ("/v1/operoo/students", "students"), ("/v1/operoo/contacts", "contacts")]  # fmt: skip


@contextmanager
def served(students: int, *extra: str) -> Iterator[tuple[str, str, str]]:
    """`mock-esd serve` in another process: (base URL, client id, secret of the custom client)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--students", str(students), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    head = "".join(proc.stdout.readline() for _ in range(3))
    base = re.search(r"eSD base URL: (\S+)", head)
    client = re.search(r"--client-id (\S+) --client-secret (\S+)", head)
    assert base and client, head
    try:
        yield base.group(1), client.group(1), client.group(2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)


def _schools(client: EsdClient) -> list[dict[str, Any]]:
    """The schools only (for the demo settings), not a whole walk."""
    from sync.records import parse_school

    return [
        {"id": s.school_id, "isHoldingSchool": s.is_holding}
        for s in client.fetch_all("/v1/schools", "schools", parse_school)
    ]


def token(base: str, client_id: str, secret: str) -> str:
    response = requests.post(
        f"{base}/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=30
    )
    return str(response.json()["access_token"])


def wrk(url: str, seconds: int, headers: dict[str, str]) -> float | None:
    """Requests per second at 16 concurrent connections, or None without wrk."""
    if shutil.which("wrk") is None:
        return None
    args = ["wrk", "-t2", "-c16", f"-d{seconds}s", *[x for k, v in headers.items() for x in ("-H", f"{k}: {v}")], url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  warning: {non2xx.group(1)} non-2xx answers from {url}", file=sys.stderr)
    return float(found.group(1)) if found else None


def sync_rows(args: argparse.Namespace, rows: list[Row]) -> None:
    with (
        served(args.students) as (base, client_id, secret),
        requests.Session() as session,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client = EsdClient(session, base, client_id, secret)
        schools = _schools(client)
        settings = demo_settings(schools)  # type: ignore[arg-type]

        def fetch_only() -> None:
            for path, key in ENDPOINTS:
                client.fetch_all(path, key, lambda raw, _: raw)

        counter = iter(range(1000))

        def first_sync() -> None:
            conn = connect(Path(tmp) / f"first{next(counter)}.db")
            assert run_sync(client, settings, conn).status == "applied"
            conn.close()

        fetch = Row(
            f"walk every page, {args.students} students (fetch-only floor)", median_time(fetch_only, args.repeat)
        )
        rows += [fetch, Row("first full sync", median_time(first_sync, args.repeat, 0), fetch.name, "target <= 3x")]
        conn = connect(Path(tmp) / "resync.db")
        run_sync(client, settings, conn)
        rows.append(
            Row(
                "no-change re-sync",
                median_time(lambda: run_sync(client, settings, conn), args.repeat),
                fetch.name,
                "target <= 1.2x",
            )
        )
        changed = change_one_percent(base, args.students)
        times, walks = [], []
        for _ in range(args.repeat):
            # After a change the mock encodes its pages again: a walk after the same change, measured
            # alternately with the re-sync, is the floor the re-sync's own work shows against.
            changed()  # not timed: the change is made in eSD before the walk and before the sync
            start = time.perf_counter()
            fetch_only()
            walks.append(time.perf_counter() - start)
            changed()
            start = time.perf_counter()
            assert run_sync(client, settings, conn, allow_mass_removal=True).status == "applied"
            times.append(time.perf_counter() - start)
        walk_after = Row("walk every page after 1% of students changed", sorted(walks)[len(walks) // 2])
        rows += [
            walk_after,
            Row(
                "re-sync after 1% of students changed",
                sorted(times)[len(times) // 2],
                fetch.name,
                "target <= 1.5x",
            ),
            Row("  the same re-sync vs the walk after the change", sorted(times)[len(times) // 2], walk_after.name),
        ]
        conn.close()
        path = Path(tmp) / "settings.toml"
        write_settings(path, settings)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run([sys.executable, "-m", "mock_esd", "sync", "--url", base, "--client-id", client_id, "--client-secret", secret,
                        "--settings", str(path), "--db", str(Path(tmp) / "cli.db"), "--json"], capture_output=True, check=True)  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rows.append(
            Row(
                "peak memory of `mock-esd sync` (first sync)",
                peak * 1024 if peak > before else float("nan"),
                unit="bytes",
                target="target < 500 MB",
            )
        )


def change_one_percent(base: str, students: int) -> Any:
    """A function that renames 1% of the students through the control API (one scenario merge)."""
    root = base.removesuffix("/api")
    rounds = iter(range(1000))

    def change() -> None:
        n = next(rounds)
        people = [{"id": pid, "lastName": f"Changed{n}"} for pid in range(1 + n, students + 1, 100)]
        requests.post(
            f"{root}/_mock/scenario",
            params={"merge": "true"},
            data=orjson.dumps({"students": people}),
            headers={"Content-Type": "application/json"},
            timeout=120,
        ).raise_for_status()

    return change


def page_rows(args: argparse.Namespace, rows: list[Row]) -> None:
    from flask import Flask, Response

    from mock_esd.app import create_app
    from mock_esd.context import AppConfig

    with served(args.students) as (base, client_id, secret), requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token(base, client_id, secret)}"
        url = f"{base}/v1/students?pageNo=7&pageSize=1000"
        records = session.get(url).json()["students"]
        body = orjson.dumps({"students": records})
        floor = Flask("floor")
        floor.add_url_rule("/page", "page", lambda: Response(body, mimetype="application/json"))
        serialize = Row(
            "serialize 1,000 records with orjson (floor)", median_time(lambda: orjson.dumps({"students": records}), 200)
        )
        with LiveServer(floor) as bare:
            http = Row(
                "bare Flask route, pre-built bytes (HTTP floor)",
                median_time(lambda: session.get(f"{bare.root_url}/page").content, 200),
            )
        page = median_time(lambda: session.get(url).content, 200)
        rows += [
            serialize,
            http,
            Row("one 1,000-record page from the mock over HTTP", page, http.name, "target <= 1.5x, < 25 ms"),
        ]
    app = create_app(AppConfig(spec=DistrictSpec(students=args.students)))
    client = app.test_client()
    custom = app.extensions["mock_esd"].registry.clients()[0]
    form = {"grant_type": "client_credentials", "client_id": custom.client_id, "client_secret": custom.secret}
    headers = {"Authorization": f"Bearer {client.post('/api/v1/auth/token', data=form).json['access_token']}"}  # type: ignore[index]
    path = "/api/v1/students?pageNo=7&pageSize=1000"
    rows.append(
        Row(
            "the same page in-process (WSGI, no socket)",
            median_time(lambda: client.get(path, headers=headers), 200),
            serialize.name,
            "(issue 2: < 2x)",
        )
    )


def throughput_rows(args: argparse.Namespace, rows: list[Row]) -> None:
    if shutil.which("wrk") is None:
        print("skipped throughput rows: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return
    results: dict[str, float | None] = {}
    pages: dict[int, Any] = {}
    for name, extra in (
        ("single process (werkzeug, threaded)", ()),
        ("--workers 1 (gunicorn)", ("--workers", "1")),
        ("--workers 2 (gunicorn)", ("--workers", "2")),
    ):
        with served(args.students, *extra) as (base, client_id, secret):
            headers = {"Authorization": f"Bearer {token(base, client_id, secret)}"}
            for size in (100, 1000):
                url = f"{base}/v1/students?pageNo=3&pageSize={size}"
                pages[size] = requests.get(url, headers=headers, timeout=30).json()
                results[f"{name}, {size}-record pages"] = wrk(url, args.seconds, headers)
    prism = prism_throughput(args, pages) if not args.skip_prism else None
    for size in (100, 1000):
        single = f"single process (werkzeug, threaded), {size}-record pages"
        for name in (
            single,
            f"--workers 1 (gunicorn), {size}-record pages",
            f"--workers 2 (gunicorn), {size}-record pages",
        ):
            if results.get(name):
                compared = single if name != single else None
                rows.append(Row(f"req/s: {name}", results[name] or 0.0, compared, unit="req/s"))
        two = results.get(f"--workers 2 (gunicorn), {size}-record pages")
        if two and results.get(f"--workers 1 (gunicorn), {size}-record pages"):
            rows.append(
                Row(
                    f"req/s: --workers 2 vs --workers 1, {size}-record pages",
                    two,
                    f"req/s: --workers 1 (gunicorn), {size}-record pages",
                    unit="req/s",
                    target="target >= 1.6x",
                )
            )
        if prism and prism.get(size):
            rows.append(Row(f"req/s: Stoplight Prism, {size}-record pages", prism[size] or 0.0, unit="req/s"))
            if two:
                rows.append(
                    Row(
                        f"req/s: --workers 2 vs Prism, {size}-record pages",
                        two,
                        f"req/s: Stoplight Prism, {size}-record pages",
                        unit="req/s",
                        target="target >= 3x",
                    )
                )


def prism_throughput(args: argparse.Namespace, pages: dict[int, Any]) -> dict[int, float | None] | None:
    """Prism mocking the project's OpenAPI document, with the mock's own page as the response example,
    so both serve the same bytes under the same load."""
    prism = shutil.which("prism") or next(
        (str(p) for p in (Path("/tmp/prism/node_modules/.bin/prism"), ROOT / "node_modules/.bin/prism") if p.exists()),
        None,
    )
    if prism is None:
        print("skipped Prism rows: prism not found (npm install @stoplight/prism-cli)", file=sys.stderr)
        return None
    import socket

    out: dict[int, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size, page in pages.items():
            doc = orjson.loads((ROOT / "contracts" / "openapi.json").read_bytes())
            doc["paths"]["/v1/students"]["get"]["responses"]["200"]["content"]["application/json"]["example"] = page
            spec = Path(tmp) / f"openapi-{size}.json"
            spec.write_bytes(orjson.dumps(doc))
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            proc = subprocess.Popen([prism, "mock", "-p", str(port), "-h", "127.0.0.1", str(spec)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            try:
                url = f"http://127.0.0.1:{port}/v1/students?pageNo=3&pageSize={size}"
                for _ in range(120):
                    try:
                        if len(
                            requests.get(url, headers={"Authorization": "Bearer x"}, timeout=5).json()["students"]
                        ) == len(page["students"]):
                            break
                    except (requests.RequestException, ValueError, KeyError):
                        time.sleep(0.5)
                out[size] = wrk(url, args.seconds, {"Authorization": "Bearer x"})
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    return out


def scaling_rows(args: argparse.Namespace, rows: list[Row]) -> None:
    per_student: dict[int, float] = {}
    for size in (1_000, 10_000, 100_000):
        if size > args.students:
            continue
        with (
            served(size) as (base, client_id, secret),
            requests.Session() as session,
            tempfile.TemporaryDirectory() as tmp,
        ):
            client = EsdClient(session, base, client_id, secret)
            settings = demo_settings(_schools(client))  # type: ignore[arg-type]
            seconds = median_time(_first_sync(client, settings, Path(tmp)), args.repeat, 0)
            per_student[size] = seconds / size
            rows.append(
                Row(
                    f"first sync, {size} students (per student)",
                    seconds / size,
                    "first sync, 1000 students (per student)" if size > 1000 else None,
                    unit="us",
                    target="target 100k/1k < 1.3x" if size == 100_000 else "",
                )
            )


def _first_sync(client: EsdClient, settings: Any, tmp: Path) -> Any:
    """A function running a first sync into a new database each call."""
    counter = iter(range(1000))

    def first() -> None:
        conn = connect(tmp / f"s{next(counter)}.db")
        run_sync(client, settings, conn)
        conn.close()

    return first


def end_to_end_row(args: argparse.Namespace, rows: list[Row]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with served(args.students) as (base, client_id, secret):
            schools = _schools(EsdClient(requests.Session(), base, client_id, secret))
            path = Path(tmp) / "settings.toml"
            write_settings(path, demo_settings(schools))  # type: ignore[arg-type]
            subprocess.run([sys.executable, "-m", "mock_esd", "sync", "--url", base, "--client-id", client_id, "--client-secret", secret,
                            "--settings", str(path), "--db", str(Path(tmp) / "e2e.db"), "--json"], capture_output=True, check=True)  # fmt: skip
            rows.append(
                Row(
                    f"generate, serve and fully sync {args.students} students, end to end",
                    time.perf_counter() - start,
                    target="target < 10 s (stretch 5 s)",
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--skip-prism", action="store_true")
    parser.add_argument(
        "--only", choices=["generate", "pages", "sync", "throughput", "scaling", "e2e"], action="append"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    parts = args.only or ["generate", "pages", "sync", "throughput", "scaling", "e2e"]
    if "generate" in parts:
        spec = DistrictSpec(students=args.students)
        rows.append(
            Row(
                f"generate a {args.students}-student district with contacts",
                median_time(lambda: generate_district(spec), args.repeat, 0),
                target="target < 3 s",
            )
        )
    for name, part in (
        ("pages", page_rows),
        ("sync", sync_rows),
        ("throughput", throughput_rows),
        ("scaling", scaling_rows),
        ("e2e", end_to_end_row),
    ):
        if name in parts:
            part(args, rows)
            print(f"... {name} measured", file=sys.stderr)
    from benchmarks.common import print_table

    print_table(rows)


if __name__ == "__main__":
    main()
