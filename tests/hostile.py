"""Hostile servers and clients for the limit tests, and the CLI run under a memory cap to measure them.

`hostile_server` answers each route with exactly the bytes given (a gzip bomb, a redirect carrying one,
an answer trickled a byte at a time), written apart from the mock and from the code under test.
`run_capped` runs `mock-esd ...` in a child process whose address space is capped (RLIMIT_AS, as the
issue's probe ran every process) and reads the child's peak resident memory from `wait4`.
"""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, TypeVar

GIB = 1 << 30
CAP = 1536 * 1024 * 1024  # the address space a capped child may use: a 1 GiB bomb inflated whole does not fit
TOKEN_BODY = b'{"access_token": "t0k3n", "token_type": "Bearer", "expires_in": 3600}'


@cache
def gzip_bomb(size: int = GIB) -> bytes:
    """One gzip member inflating to `size` zero bytes (a multiple of 1 MiB), about 1 KB per MiB, with a right trailer.

    Built from one 1 MiB deflate block repeated (each ends in a full flush, so each stands alone): generating
    1 GiB through zlib would take seconds.
    """
    mib = 1 << 20
    assert size % mib == 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(b"\0" * mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(b"") + deflate.flush(zlib.Z_FINISH)
    crc = 0
    zeros = b"\0" * mib
    for _ in range(size // mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * (size // mib) + last + struct.pack("<II", crc, size & 0xFFFFFFFF)


@dataclass
class Sent:
    """One answer, byte for byte: status, headers, and `body` sent `repeat` times (1.5 GB need not be in memory).

    `trickle`: seconds between single bytes of the whole answer, status line and headers included.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b""
    trickle: float = 0.0
    repeat: int = 1

    def head(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} Whatever", *(f"{k}: {v}" for k, v in self.headers.items())]
        lines.append(f"Content-Length: {len(self.body) * self.repeat}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


TOKEN = Sent(body=TOKEN_BODY)


def gzipped(body: bytes, status: int = 200, **headers: str) -> Sent:
    """An answer whose body is already gzip (a bomb, several members): sent as is, marked Content-Encoding: gzip."""
    return Sent(status, {"Content-Type": "application/json", "Content-Encoding": "gzip", **headers}, body)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        self.server.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
        sent = self.server.routes.get(f"{self.command} {path}") or Sent(404, body=b'{"title": "Not Found"}')
        try:
            if sent.trickle:
                for byte in sent.head() + sent.body * sent.repeat:
                    self.wfile.write(bytes((byte,)))
                    self.wfile.flush()
                    if self.server.stopping.wait(sent.trickle):
                        return
            else:
                self.wfile.write(sent.head())
                for _ in range(sent.repeat):
                    self.wfile.write(sent.body)
        except OSError:
            self.close_connection = True  # the client left (a limit reached, a deadline passed): the point

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Sent]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.received: list[Received] = []
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client leaving mid-answer (a limit reached, a deadline passed) is what these tests provoke."""


@dataclass
class Hostile:
    root_url: str  # http://127.0.0.1:PORT
    routes: dict[str, Sent]
    received: list[Received]

    @property
    def base_url(self) -> str:
        return self.root_url + "/api"


@contextmanager
def hostile_server(routes: dict[str, Sent]) -> Iterator[Hostile]:
    """Serve `routes` ("GET /api/v1/schools" -> what to send) on a free 127.0.0.1 port; stopped after."""
    server = _Server(routes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Hostile(f"http://127.0.0.1:{server.server_address[1]}", routes, server.received)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----- the command line under a memory cap --------------------------------------------------------------

_CAPPED = (
    "import atexit, resource, runpy, sys; peak_file = sys.argv.pop(1); cap = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_AS, (cap, cap)); "
    "atexit.register(lambda: open(peak_file, 'w').write("
    "next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))); "
    "sys.argv[0] = 'mock-esd'; runpy.run_module('mock_esd', run_name='__main__', alter_sys=True)"
)
# Why the capped process writes its own peak (VmHWM, KiB) at exit rather than the parent taking wait4's ru_maxrss:
# Linux carries the highest RSS across exec, and a child started from a pytest worker (with vfork, the worker's
# own memory) starts out "peaking" at the worker's 300 MB. wait4's figure is the fallback for a process killed.


@dataclass(frozen=True)
class Capped:
    """How a capped `mock-esd` run ended: exit code, what it printed, its peak resident memory and wall time."""

    returncode: int
    stdout: str
    stderr: str
    peak_mb: float
    seconds: float

    def __str__(self) -> str:
        return (
            f"exit {self.returncode}, peak {self.peak_mb:.0f} MB, {self.seconds:.1f} s; stderr: {self.stderr[-2000:]}"
        )


def capped_command(*args: str, cap: int = CAP) -> list[str]:
    """`python -c ... mock-esd ARGS` with the address space capped at `cap` bytes before the program loads; it
    writes its peak resident memory to a file of its own at exit (`_reaped` reads it)."""
    fd, peak_file = tempfile.mkstemp(prefix="mock-esd-peak-")
    os.close(fd)
    return [sys.executable, "-c", _CAPPED, peak_file, str(cap), *args]


def run_capped(*args: str, cap: int = CAP, timeout: float = 120) -> Capped:
    """Run `mock-esd ARGS` under the cap to its end; its peak RSS comes from wait4 (what it held, not what it asked)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(capped_command(*args, cap=cap), stdout=out, stderr=err)
        return _reaped(proc, out, err, start, timeout)


def reap(proc: subprocess.Popen[Any], out: IO[bytes], err: IO[bytes], start: float, timeout: float = 60) -> Capped:
    """Wait for a capped child started elsewhere (a proxy, stopped by the test) and say how it ended."""
    return _reaped(proc, out, err, start, timeout)


def _reaped(proc: subprocess.Popen[Any], out: IO[bytes], err: IO[bytes], start: float, timeout: float) -> Capped:
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    out.seek(0)
    err.seek(0)
    peak = usage.ru_maxrss / 1024  # KiB on Linux; includes the RSS it was started with (see _CAPPED)
    peak_file = Path(proc.args[3]) if isinstance(proc.args, list) and len(proc.args) > 3 else None
    if peak_file is not None and peak_file.name.startswith("mock-esd-peak-"):
        written = peak_file.read_text(encoding="ascii").strip() if peak_file.exists() else ""
        peak_file.unlink(missing_ok=True)
        if written.isdigit():
            peak = int(written) / 1024
    return Capped(
        proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), peak, seconds
    )


def own_peak_mb() -> float:
    """This process's peak RSS (for a test that measures something run in-process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, run: Capped) -> None:
    """Print what a run measured, for `pytest -s` and the record of before/after numbers."""
    print(f"\n[measured] {name}: {run}", file=sys.stderr)
    log = os.environ.get("MOCK_ESD_MEASURE_LOG")  # a file to collect the numbers of a whole run in
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{name}: {run}".replace("\n", " ") + "\n")


@dataclass
class Running:
    """A capped `mock-esd proxy` while it runs (`base_url`, what it printed so far) and, once stopped, `ended`."""

    base_url: str
    printed: list[str]
    ended: Capped | None = None


@contextmanager
def capped_proxy(upstream: str, *args: str, cap: int = CAP) -> Iterator[Running]:
    """`mock-esd proxy --port 0 --upstream UPSTREAM ARGS` under the cap; SIGTERM at the end, then `ended` says how it went."""

    def running(printed: list[str], pid: int) -> Running:
        return Running(next(line.split()[2] for line in printed if line.startswith("mock-esd proxy: ")), printed)

    with _capped_until_stopped(
        ("proxy", "--port", "0", "--upstream", upstream, *args), "Proxying", cap, running
    ) as ran:
        yield ran


T = TypeVar("T", Running, "Serving")


@contextmanager
def _capped_until_stopped(
    args: tuple[str, ...], ready: str, cap: int, make: Callable[[list[str], int], T]
) -> Iterator[T]:
    """Capped `mock-esd ARGS`, read until a line starts with `ready` (AssertionError with what it said if it
    ends first), then its output drained; `make(printed, pid)` is what the block gets, and at its end the
    process is sent SIGTERM and `ended` set: exit code, all it printed, stderr, peak RSS, time."""
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(capped_command(*args, cap=cap), stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        printed: list[str] = []
        while not printed or not printed[-1].startswith(ready):
            line = proc.stdout.readline().decode()
            if not line:
                err.seek(0)
                raise AssertionError(f"mock-esd {args[0]} did not start: {printed} {err.read().decode()}")
            printed.append(line.rstrip("\n"))
        running = make(printed, proc.pid)
        drain = threading.Thread(target=lambda: printed.extend(x.decode().rstrip("\n") for x in proc.stdout or ()))
        drain.start()
        try:
            yield running
        finally:
            proc.terminate()
            with tempfile.TemporaryFile() as nothing:
                ended = _reaped(proc, nothing, err, start, 60)
            drain.join(timeout=30)
            proc.stdout.close()
            running.ended = Capped(ended.returncode, "\n".join(printed), ended.stderr, ended.peak_mb, ended.seconds)


@dataclass
class Serving:
    """A capped `mock-esd serve` while it runs (`root_url`, its pid) and, once stopped, `ended` (peak RSS, time)."""

    root_url: str
    pid: int
    printed: list[str]
    ended: Capped | None = None

    def resident_mb(self) -> float:
        """The server's peak resident memory so far (VmHWM), to tell a request's cost from the start's."""
        for line in Path(f"/proc/{self.pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc: not Linux?")

    def alive(self) -> bool:
        """True while the server process has not ended (killed by the kernel, or out of memory and exited)."""
        try:
            return Path(f"/proc/{self.pid}/status").read_text(encoding="ascii").find("State:\tZ") < 0
        except FileNotFoundError:
            return False


@contextmanager
def capped_serve(*args: str, cap: int = CAP) -> Iterator[Serving]:
    """`mock-esd serve --port 0 ARGS` under the cap, -q; SIGTERM at the end, then `ended` says how it went."""

    def serving(printed: list[str], pid: int) -> Serving:
        found = next(line.split()[3] for line in printed if line.startswith("eSD base URL: "))
        return Serving(found.removesuffix("/api"), pid, printed)

    with _capped_until_stopped(("serve", "-q", "--port", "0", *args), "Serving", cap, serving) as ran:
        yield ran
