"""One command, one table: the whole path measured side by side on this machine, each target met or not.

    python benchmarks/run.py [--students 100000] [--repeat 3] [--seconds 5] [--skip-prism] [--only PART]...

Every row prints min/median/max over its runs and, beside each target, met or NOT MET; a ratio is to
the row it is compared with, measured in this same run. Memory is read from /proc/<pid>/status (VmRSS
now, VmHWM the peak) of the `mock-esd serve` process, and from wait4() for a `mock-esd sync` process.

Throughput rows start every server at once (the mock three ways, and Prism), warm each with an
unmeasured wrk run of twice --seconds, then measure them in turn, round after round (at least 3), so that each server
sees the same load from the rest of the machine. wrk runs one thread and 16 connections: one thread
drives far more than these rates and leaves the second core to a server with two workers. No server is
pinned to a core: each gets what the scheduler gives it while measured (the mock's --workers 2, two
processes; Prism, node serving in one thread plus its logging process). The CPU rows say what one
answer cost each server (user + system time of its processes over the run, per request), which does not
depend on that share; a busy machine still raises it (caches, context switches).

Pages and throughput use a district of at most 100,000 students (a page is a slice of its listing
whatever the district's size). With --students above 100,000 the end-to-end part runs 100,000 first,
so the per-student cost at the larger size is compared with it in the same run.

The scenarios part (`benchmarks/scenarios.py`) starts `serve --scenario` of a recorded district (JSON, YAML)
against `serve --students` of the same size, 20,000 and 100,000 students, and times a scenario loaded again
in a test; its CPU rows judge the ratio where the machine's load moves the wall time.

Needs `wrk` (Debian package) for the throughput rows and `prism` (npm @stoplight/prism-cli, on PATH,
in ./node_modules/.bin or /tmp/prism/node_modules/.bin) for the Prism rows; each is skipped with a
message when missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import GB, MB, Row, Target, at_least, at_most, print_table, proc_status, timed  # noqa: E402
from benchmarks.fixtures import fixture_rows  # noqa: E402
from benchmarks.scenarios import scenario_rows  # noqa: E402
from mock_esd.district.generator import DistrictSpec, generate_district  # noqa: E402
from mock_esd.server.live import LiveServer  # noqa: E402
from mock_esd_contracts import endpoints  # noqa: E402
from mock_esd_sync.client import EsdClient  # noqa: E402
from mock_esd_sync.run import run_sync  # noqa: E402
from mock_esd_sync.store import connect  # noqa: E402
from mock_esd_workbench.commands.demo import demo_settings  # noqa: E402
from mock_esd_workbench.commands.sync import write_settings  # noqa: E402
from mock_esd_workbench.terminal import Progress  # noqa: E402

PARTS = ("generate", "pages", "sync", "throughput", "scaling", "e2e", "record", "fixtures", "scenarios")
PAGE_DISTRICT = 100_000  # the largest district the pages and throughput rows serve
PAGE_SIZES = (100, 1000)
WRK_THREADS, WRK_CONNECTIONS = 1, 16
ENDPOINTS = [(e.path, e.key) for e in endpoints.ENDPOINTS]
# Issue targets that hold at one district size only.
MOCK_MEMORY = {100_000: at_most(400 * MB), 1_000_000: at_most(4 * GB)}
SYNC_MEMORY = {100_000: at_most(500 * MB, strict=True), 1_000_000: at_most(1.5 * GB)}


@dataclass(frozen=True)
class Options:
    students: int
    repeat: int
    seconds: int
    skip_prism: bool


@dataclass(frozen=True)
class Served:
    base: str
    client_id: str
    secret: str
    pid: int


def _targets(by_size: dict[int, Target], students: int) -> tuple[Target, ...]:
    return (by_size[students],) if students in by_size else ()


@contextmanager
def served(students: int, *extra: str) -> Iterator[Served]:
    """`mock-esd serve` in another process, stopped (its process group) on leaving."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", "--students", str(students), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        head = "".join(proc.stdout.readline() for _ in range(3))
        base = re.search(r"eSD base URL: (\S+)", head)
        client = re.search(r"--client-id (\S+) --client-secret (\S+)", head)
        if not (base and client):
            raise click.ClickException(f"mock-esd serve did not start: {head!r}")
        yield Served(base.group(1), client.group(1), client.group(2), proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)


def _schools(client: EsdClient) -> list[dict[str, Any]]:
    """The schools only (for the demo settings), not a whole walk."""
    from mock_esd_sync.records import parse_school

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
    """Requests per second at WRK_CONNECTIONS concurrent connections; None when wrk reports none."""
    args = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s",
            *[x for k, v in headers.items() for x in ("-H", f"{k}: {v}")], url]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  warning: {non2xx.group(1)} non-2xx answers from {url}", file=sys.stderr)
    return float(found.group(1)) if found else None


# ----- parts ---------------------------------------------------------------------------------------


def generate_rows(opts: Options, rows: list[Row]) -> None:
    spec = DistrictSpec(students=opts.students)
    rows.append(
        Row(
            f"generate a {opts.students}-student district with contacts",
            timed(lambda: generate_district(spec), opts.repeat, 0),
            targets=_targets({100_000: at_most(3, strict=True)}, opts.students),
        )
    )


def sync_rows(opts: Options, rows: list[Row]) -> None:
    n = opts.students
    with served(n) as srv, requests.Session() as session, tempfile.TemporaryDirectory() as tmp:
        client = EsdClient(session, srv.base, srv.client_id, srv.secret)

        def fetch_only() -> None:
            # Each record is dropped as its page is checked, as a sync drops what it has read: kept, the
            # 290,000 records made every pass of Python's collector longer, and the floor some 0.3 s (30%)
            # higher than fetching costs (a sync runs with the collector off, see `mock_esd_sync.run.run_sync`).
            for path, key in ENDPOINTS:
                client.fetch_all(path, key, lambda raw, _: None)

        started = proc_status(srv.pid, "VmRSS")
        cold = timed(fetch_only, 1, 0)  # the first walk encodes every listing
        walked = proc_status(srv.pid, "VmRSS")
        fetch = Row(f"walk every page, {n} students (fetch-only floor)", timed(fetch_only, opts.repeat, 0))
        rows += [
            Row(f"mock RSS after start, {n} students", [started], unit="bytes"),
            Row(
                f"mock RSS after a full walk (every listing encoded), {n} students",
                [walked],
                unit="bytes",
                targets=_targets(MOCK_MEMORY, n),
            ),
            Row("first walk of a fresh server", cold, fetch.name),
            fetch,
        ]
        settings = demo_settings(_schools(client))
        counter = iter(range(1000))

        def first_sync() -> None:
            conn = connect(Path(tmp) / f"first{next(counter)}.db")
            assert run_sync(client, settings, conn).status == "applied"
            conn.close()

        rows.append(Row("first full sync", timed(first_sync, opts.repeat, 0), fetch.name, (at_most(3, ratio=True),)))
        conn = connect(Path(tmp) / "resync.db")
        run_sync(client, settings, conn)
        rows.append(
            Row(
                "no-change re-sync",
                timed(lambda: run_sync(client, settings, conn), opts.repeat),
                fetch.name,
                (at_most(1.2, ratio=True),),
            )
        )
        changed = change_one_percent(srv.base, n)
        times: list[float] = []
        walks: list[float] = []
        warm_walks: list[float] = []
        changes: list[float] = []
        cpu: dict[str, list[float]] = defaultdict(list)  # the mock's own CPU seconds: less noisy on a shared machine

        def measured(fn: Callable[[], None], wall: list[float], name: str) -> None:
            before = _cpu_seconds(srv.pid)
            wall += timed(fn, 1, 0)
            cpu[name].append(_cpu_seconds(srv.pid) - before)

        for _ in range(opts.repeat):
            # After a change the mock builds its listings again from the unchanged records' bytes: a walk
            # after the change, then a warm walk (nothing changed since), side by side in each round; the walk
            # after the same change, measured alternately with the re-sync, is the floor the re-sync's own work
            # shows against.
            measured(changed, changes, "change")  # the change is made in eSD before the walk and the sync
            measured(fetch_only, walks, "after")
            measured(fetch_only, warm_walks, "warm")
            changed()
            start = time.perf_counter()
            assert run_sync(client, settings, conn, allow_mass_removal=True).status == "applied"
            times.append(time.perf_counter() - start)
        walk_after = Row("walk every page after 1% of students changed", walks)
        warm = Row("  a warm walk right after it (nothing changed since)", warm_walks)
        rows += [
            Row("change 1% of students (one scenario merge through the control API)", changes),
            walk_after,
            warm,
            Row("walk after a 1% change vs a warm walk", walks, warm.name, (at_most(1.2, ratio=True),)),
            Row("  the mock's CPU time: the 1% change itself", cpu["change"]),
            Row("  the mock's CPU time: the walk after the change", cpu["after"]),
            Row("  the mock's CPU time: the warm walk", cpu["warm"]),
            Row(
                "  the mock's CPU time: walk after a 1% change vs a warm walk",
                cpu["after"],
                "  the mock's CPU time: the warm walk",
            ),
            Row("re-sync after 1% of students changed", times, fetch.name, (at_most(1.5, ratio=True),)),
            Row("  the same re-sync vs the walk after the change", times, walk_after.name),
        ]
        conn.close()
        rows += [
            Row(
                f"mock RSS after the changes and the walks after them, {n} students",
                [proc_status(srv.pid, "VmRSS")],
                unit="bytes",
                targets=_targets(MOCK_MEMORY, n),
            ),
            Row(f"mock peak RSS over these rows (VmHWM), {n} students", [proc_status(srv.pid, "VmHWM")], unit="bytes"),
        ]


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def change_one_percent(base: str, students: int) -> Callable[[], None]:
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
            timeout=600,
        ).raise_for_status()

    return change


def page_rows(opts: Options, rows: list[Row]) -> None:
    from flask import Flask, Response

    from mock_esd.server.app import create_app
    from mock_esd.state.config import AppConfig

    n = min(opts.students, PAGE_DISTRICT)
    with served(n) as srv, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token(srv.base, srv.client_id, srv.secret)}"
        pages = session.get(f"{srv.base}/v1/students?pageSize=1000").json()["pagingInfo"]["pageCount"]
        path = f"/v1/students?pageNo={min(7, pages)}&pageSize=1000"  # a page from the middle, full
        url = srv.base + path
        records = session.get(url).json()["students"]
        body = orjson.dumps({"students": records})
        floor = Flask("floor")
        floor.add_url_rule("/page", "page", lambda: Response(body, mimetype="application/json"))
        serialize = Row(
            "serialize 1,000 records with orjson (floor)", timed(lambda: orjson.dumps({"students": records}), 200)
        )
        with LiveServer(floor) as bare:
            http = Row(
                "bare Flask route, pre-built bytes (HTTP floor)",
                timed(lambda: session.get(f"{bare.root_url}/page").content, 200),
            )
        page = timed(lambda: session.get(url).content, 200)
        rows += [
            serialize,
            http,
            Row(
                "one 1,000-record page from the mock over HTTP",
                page,
                http.name,
                (at_most(1.5, ratio=True), at_most(0.025, strict=True)),
            ),
        ]
    app = create_app(AppConfig(spec=DistrictSpec(students=n)))
    client = app.test_client()
    custom = app.extensions["mock_esd"].registry.clients()[0]
    form = {"grant_type": "client_credentials", "client_id": custom.client_id, "client_secret": custom.secret}
    headers = {"Authorization": f"Bearer {client.post('/api/v1/auth/token', data=form).json['access_token']}"}  # type: ignore[index]
    path = "/api" + path
    rows.append(
        Row(
            "the same page in-process (WSGI, no socket)",
            timed(lambda: client.get(path, headers=headers), 200),
            serialize.name,
            (at_most(2, ratio=True, strict=True),),
        )
    )


MOCK_SERVERS = {
    "single process (werkzeug, threaded)": (),
    "--workers 1 (gunicorn)": ("--workers", "1"),
    "--workers 2 (gunicorn)": ("--workers", "2"),
}
PRISM = "Stoplight Prism"


def throughput_rows(opts: Options, rows: list[Row]) -> None:
    if shutil.which("wrk") is None:
        print("skipped throughput rows: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return
    n = min(opts.students, PAGE_DISTRICT)
    endpoints: dict[tuple[str, int], tuple[str, dict[str, str]]] = {}
    samples: dict[tuple[str, int], list[float]] = defaultdict(list)
    cpu: dict[tuple[str, int], list[float]] = defaultdict(list)  # CPU seconds per request, the server's processes
    pids: dict[tuple[str, int], int] = {}  # the process (with its workers) serving each endpoint
    with ExitStack() as stack:
        pages: dict[int, Any] = {}
        for name, extra in MOCK_SERVERS.items():
            srv = stack.enter_context(served(n, *extra))
            headers = {"Authorization": f"Bearer {token(srv.base, srv.client_id, srv.secret)}"}
            for size in PAGE_SIZES:
                url = f"{srv.base}/v1/students?pageNo=1&pageSize={size}"  # full at every district size
                pages[size] = requests.get(url, headers=headers, timeout=60).json()
                endpoints[(name, size)], pids[(name, size)] = (url, headers), srv.pid
        if not opts.skip_prism:
            for size, (url, pid) in prism_servers(stack, pages).items():
                endpoints[(PRISM, size)] = (url, {"Authorization": "Bearer x"})
                pids[(PRISM, size)] = pid
        for url, headers in endpoints.values():  # warm every server (Prism's JIT takes ~10 s of load); not measured
            wrk(url, 2 * opts.seconds, headers)
        for _ in range(max(3, opts.repeat)):  # rounds: every server once per round
            for key, (url, headers) in endpoints.items():
                before = cpu_seconds(pids[key])
                rate = wrk(url, opts.seconds, headers)
                if rate is not None:
                    samples[key].append(rate)
                    cpu[key].append((cpu_seconds(pids[key]) - before) / (rate * opts.seconds))
    for size in PAGE_SIZES:
        label = {key: f"req/s: {key}, {size}-record pages" for key in (*MOCK_SERVERS, PRISM)}
        single, one = label["single process (werkzeug, threaded)"], label["--workers 1 (gunicorn)"]
        for server in MOCK_SERVERS:
            if samples[(server, size)]:
                compared = single if label[server] != single else None
                rows.append(Row(label[server], samples[(server, size)], compared, unit="req/s"))
        if samples[("--workers 2 (gunicorn)", size)] and samples[("--workers 1 (gunicorn)", size)]:
            rows.append(
                Row(
                    f"req/s: --workers 2 vs --workers 1, {size}-record pages",
                    samples[("--workers 2 (gunicorn)", size)],
                    one,
                    (at_least(1.6, ratio=True),),
                    unit="req/s",
                )
            )
        if samples[(PRISM, size)]:
            rows.append(Row(label[PRISM], samples[(PRISM, size)], unit="req/s"))
            rows.append(
                Row(
                    f"req/s: --workers 2 vs Prism, {size}-record pages",
                    samples[("--workers 2 (gunicorn)", size)],
                    label[PRISM],
                    (at_least(3, ratio=True),) if size == 100 else (),
                    unit="req/s",
                )
            )
        # What each answer cost the machine, whatever share of the cores each server got while measured.
        cpu_label = {key: f"CPU per request: {key}, {size}-record pages" for key in (*MOCK_SERVERS, PRISM)}
        for server in (*MOCK_SERVERS, PRISM):
            if cpu[(server, size)]:
                compared = cpu_label[PRISM] if server != PRISM and cpu[(PRISM, size)] else None
                rows.append(Row(cpu_label[server], cpu[(server, size)], compared, unit="us"))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process `pid` and every live process under it (its workers)."""
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            parents[int(entry.name)], used[int(entry.name)] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, found = {pid}, True
    while found:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        found = bool(below)
    return sum(used.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def prism_servers(stack: ExitStack, pages: dict[int, Any]) -> dict[int, tuple[str, int]]:
    """Prism mocking the project's OpenAPI document with the mock's own page as the response example
    (one Prism per page size), so both serve the same bytes under the same load: {size: (URL, pid)}."""
    prism = shutil.which("prism") or next(
        (str(p) for p in (ROOT / "node_modules/.bin/prism", Path("/tmp/prism/node_modules/.bin/prism")) if p.exists()),
        None,
    )
    if prism is None:
        print("skipped Prism rows: prism not found (npm install @stoplight/prism-cli)", file=sys.stderr)
        return {}
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    urls = {}
    for size, page in pages.items():
        doc = orjson.loads((ROOT / "contracts" / "openapi.json").read_bytes())
        doc["paths"]["/v1/students"]["get"]["responses"]["200"]["content"]["application/json"]["example"] = page
        spec = tmp / f"openapi-{size}.json"
        spec.write_bytes(orjson.dumps(doc))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([prism, "mock", "-p", str(port), "-h", "127.0.0.1", str(spec)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        stack.callback(_stop, proc)
        url = f"http://127.0.0.1:{port}/v1/students?pageNo=1&pageSize={size}"
        for _ in range(120):
            try:
                got = requests.get(url, headers={"Authorization": "Bearer x"}, timeout=5).json()
                if len(got["students"]) == len(page["students"]):
                    break
            except (requests.RequestException, ValueError, KeyError):
                time.sleep(0.5)
        urls[size] = (url, proc.pid)
    return urls


def scaling_rows(opts: Options, rows: list[Row]) -> None:
    for size in (1_000, 10_000, 100_000):
        if size > opts.students:
            continue
        with served(size) as srv, requests.Session() as session, tempfile.TemporaryDirectory() as tmp:
            client = EsdClient(session, srv.base, srv.client_id, srv.secret)
            settings = demo_settings(_schools(client))
            seconds = timed(_first_sync(client, settings, Path(tmp)), opts.repeat, 0)
            rows.append(
                Row(
                    f"first sync, {size} students (per student)",
                    [s / size for s in seconds],
                    "first sync, 1000 students (per student)" if size > 1000 else None,
                    (at_most(1.3, ratio=True),) if size == 100_000 else (),
                    unit="us",
                )
            )


def _first_sync(client: EsdClient, settings: Any, tmp: Path) -> Callable[[], None]:
    """A function running a first sync into a new database each call."""
    counter = iter(range(1000))

    def first() -> None:
        conn = connect(tmp / f"s{next(counter)}.db")
        run_sync(client, settings, conn)
        conn.close()

    return first


def end_to_end_rows(opts: Options, rows: list[Row]) -> None:
    sizes = [opts.students] if opts.students <= PAGE_DISTRICT else [PAGE_DISTRICT, opts.students]
    for n in sizes:
        _end_to_end(n, rows)


def _end_to_end(n: int, rows: list[Row]) -> None:
    """Generate and serve `n` students, then a first sync by `mock-esd sync` in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with served(n) as srv:
            ready, started = time.perf_counter() - start, proc_status(srv.pid, "VmRSS")
            path = Path(tmp) / "settings.toml"
            write_settings(
                path, demo_settings(_schools(EsdClient(requests.Session(), srv.base, srv.client_id, srv.secret)))
            )
            with open(Path(tmp) / "sync.err", "w+") as err:
                sync = subprocess.Popen([sys.executable, "-m", "mock_esd", "sync", "--url", srv.base, "--client-id", srv.client_id,
                                         "--client-secret", srv.secret, "--settings", str(path), "--db", str(Path(tmp) / "e2e.db"),
                                         "--json"], stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
                _, status, usage = os.wait4(sync.pid, 0)  # the sync's own peak memory, not the benchmark's children's
                sync.returncode = os.waitstatus_to_exitcode(status)
                if sync.returncode != 0:
                    err.seek(0)
                    raise click.ClickException(
                        f"mock-esd sync of {n} students exited {sync.returncode}: {err.read()[-2000:]}"
                    )
            total = time.perf_counter() - start
            after, peak = proc_status(srv.pid, "VmRSS"), proc_status(srv.pid, "VmHWM")
    per_student = f"end to end, per student, {n} students"
    rows += [
        Row(f"generate and start the mock, {n} students", [ready]),
        Row(f"mock RSS after start, {n} students (end to end)", [started], unit="bytes"),
        Row(
            f"generate, serve and fully sync {n} students, end to end",
            [total],
            targets=_targets({100_000: at_most(10, strict=True)}, n),
        ),
        Row(
            per_student,
            [total / n],
            f"end to end, per student, {PAGE_DISTRICT} students" if n > PAGE_DISTRICT else None,
            (at_most(1.3, ratio=True),) if n > PAGE_DISTRICT else (),
            unit="us",
        ),
        Row(
            f"mock RSS after the sync (every listing served), {n} students",
            [after],
            unit="bytes",
            targets=_targets(MOCK_MEMORY, n),
        ),
        Row(f"mock peak RSS (VmHWM), {n} students", [peak], unit="bytes", targets=_targets(MOCK_MEMORY, n)),
        Row(
            f"`mock-esd sync` peak RSS, {n} students",
            [usage.ru_maxrss * 1024.0],
            unit="bytes",
            targets=_targets(SYNC_MEMORY, n),
        ),
    ]


@contextmanager
def proxied(upstream: str) -> Iterator[str]:
    """`mock-esd proxy` in another process in front of `upstream`: the proxy's eSD base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "proxy", "--port", "0", "--upstream", upstream],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    found = re.search(r"mock-esd proxy: (\S+) ->", proc.stdout.readline())
    assert found
    try:
        yield found.group(1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)


RECORD_DISTRICT = 10_000  # record proves its replay record by record: a district this size shows the ratios


def record_rows(opts: Options, rows: list[Row]) -> None:
    """`mock-esd record` (read, prove the replay, scrub) and a sync through `mock-esd proxy`, each against
    its floor: walking every listing, and the same sync straight to the server."""
    from mock_esd_workbench.recording import Credentials, read_listings, record_district
    from mock_esd_workbench.scrub import Scrubber

    n = min(opts.students, RECORD_DISTRICT)
    with served(n) as srv, requests.Session() as session, tempfile.TemporaryDirectory() as tmp:
        custom, today = Credentials(srv.client_id, srv.secret), DistrictSpec().today
        fetch = Row(
            f"read every listing with the sync's client, {n} students",
            timed(lambda: read_listings(session, srv.base, custom, True), opts.repeat),
        )
        recording = record_district(session, srv.base, custom, None, today, "benchmark")
        recorded = Row(
            f"record: read, then prove the scenario serves it back, {n} students",
            timed(lambda: record_district(session, srv.base, custom, None, today, "benchmark"), opts.repeat, 0),
            fetch.name,
        )
        scrub = Row(
            f"scrub the recording (keyed Faker values), {n} students",
            timed(lambda: Scrubber("benchmark").scenario(recording.scenario), opts.repeat, 0),
            fetch.name,
        )
        rows += [fetch, recorded, scrub]
        settings = demo_settings(_schools(EsdClient(session, srv.base, srv.client_id, srv.secret)))
        counter = iter(range(1000))

        def sync_via(url: str) -> Callable[[], None]:
            def once() -> None:
                conn = connect(Path(tmp) / f"via{next(counter)}.db")
                assert run_sync(EsdClient(session, url, srv.client_id, srv.secret), settings, conn).status == "applied"
                conn.close()

            return once

        direct = Row(
            f"first full sync, straight to the server, {n} students", timed(sync_via(srv.base), opts.repeat, 0)
        )
        with proxied(srv.base) as proxy:
            through = Row(
                f"first full sync through mock-esd proxy (every answer checked), {n} students",
                timed(sync_via(proxy), opts.repeat, 0),
                direct.name,
            )
        rows += [direct, through]


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--students", type=click.IntRange(1_000, 1_000_000), default=100_000, show_default=True,
              help="district size (pages and throughput use at most 100,000)")  # fmt: skip
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="runs of each timed row (throughput rows: at least 3 rounds)")  # fmt: skip
@click.option("--seconds", type=click.IntRange(min=1), default=5, show_default=True, help="duration of each wrk run")
@click.option("--skip-prism", is_flag=True, help="leave out the Prism rows")
@click.option(
    "--only", type=click.Choice(PARTS), multiple=True, help="measure only this part (repeatable); default: all"
)
def main(students: int, repeat: int, seconds: int, skip_prism: bool, only: tuple[str, ...]) -> None:
    """Measure the mock and the sync side by side on this machine and print one table, each target met or not."""
    opts = Options(students, repeat, seconds, skip_prism)
    rows: list[Row] = []
    parts: dict[str, Callable[[Options, list[Row]], None]] = {
        "generate": generate_rows,
        "pages": page_rows,
        "sync": sync_rows,
        "throughput": throughput_rows,
        "scaling": scaling_rows,
        "e2e": end_to_end_rows,
        "record": record_rows,
        "fixtures": fixture_rows,
        "scenarios": scenario_rows,
    }
    chosen = [name for name in parts if not only or name in only]
    # The command line's own progress: a bar on a terminal, a line per part otherwise (stderr; the table is stdout)
    with Progress(enabled=True, interval=60.0) as progress:
        for number, name in enumerate(chosen, 1):
            progress.say(f"benchmark: measuring {name} ({number} of {len(chosen)})")
            parts[name](opts, rows)
    print_table(rows)


if __name__ == "__main__":
    main()
