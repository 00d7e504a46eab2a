"""Run the app on a real socket: in a background thread (tests, demo) or in the foreground (serve)."""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import orjson
from flask import Flask
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from mock_esd.limits import DEFAULT_LIMITS, too_late_headers, too_long_line
from mock_esd.server.app import API_PREFIX
from mock_esd.state.mock_state import EXTENSION

HTTP_SERVER_MAX_LINE = 65_536  # http.server's cap on a request line
# How often the background loop looks for stop(): socketserver's default (0.5 s) made every stop cost half a
# second, paid by each `mock_district(live=True)` block; 50 ms costs a select() call 20 times a second.
STOP_POLL_SECONDS = 0.05
log = logging.getLogger(__name__)


class _HeaderClock(io.RawIOBase):
    """The connection's bytes, each read waiting at most until `deadline` (when one is set).

    The request line and headers must arrive by the deadline however slowly they trickle: every
    read's timeout is what is left of it, not a fresh allowance. `received` counts the bytes since
    it was set, telling a request cut short (408) from an idle keep-alive connection (closed quietly).
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline: float | None = None
        self.received = 0
        self._timeout: float | None = None

    def readable(self) -> bool:
        return True

    def start(self, seconds: float) -> None:
        self.deadline, self.received = time.monotonic() + seconds, 0

    def stop(self) -> None:
        """The headers are in: the body and the answer are read and written without the clock."""
        self.deadline = None
        self._set_timeout(None)

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request line and headers took too long")
            self._set_timeout(left)
        count = self._sock.recv_into(buffer)
        self.received += count
        return count

    def _set_timeout(self, seconds: float | None) -> None:
        if seconds != self._timeout:
            self._sock.settimeout(seconds)
            self._timeout = seconds


class _ProblemHandler(WSGIRequestHandler):
    """Errors http.server answers before the app sees the request (414, 431, a bad request line) as problem+json."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        title, description = self.responses.get(code, ("Error", ""))
        if code == 414 and not message:  # http.server's own cap (64 KB) is past ours: say ours
            message = self._too_long()
        body = orjson.dumps({"type": "about:blank", "title": title, "status": code, "detail": message or description})
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.close_connection = True
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    max_request_line = DEFAULT_LIMITS.max_request_line_bytes
    line_is_a_setting = True  # the mock's `max_request_line_bytes`; another app (the proxy) has http.server's cap
    header_seconds = DEFAULT_LIMITS.max_header_seconds
    _clock: _HeaderClock

    def setup(self) -> None:
        super().setup()
        self._clock = _HeaderClock(self.connection)
        self.rfile = io.BufferedReader(self._clock)

    def handle_one_request(self) -> None:
        """One request, its line and headers read within `max_header_seconds` (408, or an idle connection closed)."""
        self._clock.start(self.header_seconds)
        super().handle_one_request()  # a TimeoutError there closes the connection
        if self._clock.deadline is not None and self._clock.deadline <= time.monotonic():
            self.close_connection = True
            if self._clock.received:  # a request began and did not finish in time
                self.requestline = getattr(self, "requestline", "")
                self.request_version, self.command = getattr(self, "request_version", ""), ""
                self._try(lambda: self.send_error(408, too_late_headers(self.header_seconds)))
        self._clock.stop()

    def _too_long(self) -> str:
        if self.line_is_a_setting:
            return too_long_line(self.max_request_line)
        return f"the request line (method, path and query) is longer than {self.max_request_line} bytes"

    def parse_request(self) -> bool:
        """A request line over `max_request_line_bytes` is a 414 naming it (http.server's own cap is 64 KB)."""
        if len(self.raw_requestline.rstrip(b"\r\n")) > self.max_request_line:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414, self._too_long())
            return False
        parsed = super().parse_request()  # reads the headers, still on the clock
        if parsed:
            self._clock.stop()
        return parsed

    def log_error(self, format: str, *args: Any) -> None:
        """As http.server logs, but not the idle keep-alive connection closed at `max_header_seconds` (a 408 is logged)."""
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)

    def _try(self, write: Any) -> None:
        try:
            self.connection.settimeout(1.0)  # the client that was too slow to send may be too slow to read
            write()
        except OSError:
            pass


class _QuietHandler(_ProblemHandler):
    def log_error(self, format: str, *args: object) -> None:
        """Nor a line per refused request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Tests and benchmarks do not want a line per request."""


class _BoundedServer(ThreadedWSGIServer):
    """werkzeug's threaded server, serving at most `max_connections` connections at once (a thread each).

    With every one busy it stops accepting: further connections wait in the listen queue (as under
    gunicorn) until one ends, which `max_header_seconds` makes sure a slow or idle client does soon.
    """

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._held: set[Any] = set()  # the accepted connections whose slot is not yet given back
        self._held_lock = threading.Lock()
        self._full_since: float | None = None

    def _give_back(self, request: Any) -> None:
        """Give `request`'s slot back, once: its thread's end and a failure to hand it over may both try."""
        with self._held_lock:
            if request not in self._held:
                return
            self._held.discard(request)
        self._slots.release()

    def _handle_request_noblock(self) -> None:
        if not self._slots.acquire(timeout=STOP_POLL_SECONDS):  # full: back to the loop (it checks for stop)
            if self._full_since is None:
                self._full_since = time.monotonic()
                log.warning(
                    "all %d connections (max_connections) are busy: new ones wait to be accepted",
                    self.max_connections,
                )
            return
        self._full_since = None
        try:
            request, client_address = self.get_request()
        except OSError:
            self._slots.release()
            return
        if not self.verify_request(request, client_address):
            self.shutdown_request(request)
            self._slots.release()
            return
        with self._held_lock:
            self._held.add(request)
        try:
            self.process_request(request, client_address)  # its thread gives the slot back
        except Exception:
            self._give_back(request)
            self.handle_error(request, client_address)
            self.shutdown_request(request)
        except BaseException:  # a signal stopping the server (Ctrl+C, SIGTERM), maybe after the thread started
            self._give_back(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._give_back(request)


class LiveServer:
    """A threaded WSGI server on `host:port` (port 0 picks a free one); a context manager."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0, log_requests: bool = False) -> None:
        self.app = app
        try:
            self._socket = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.port = self._socket.getsockname()[1]
        self.host = host
        base = _ProblemHandler if log_requests else _QuietHandler
        config = getattr(app.extensions.get(EXTENSION), "config", None)
        # the mock's limit; another app (the proxy) keeps http.server's own, 64 KB
        line = config.limits.max_request_line_bytes if config is not None else HTTP_SERVER_MAX_LINE
        limits = config.limits if config is not None else DEFAULT_LIMITS
        handler = type(
            base.__name__,
            (base,),
            {
                "max_request_line": line,
                "line_is_a_setting": config is not None,
                "header_seconds": limits.max_header_seconds,
            },
        )
        self._server: BaseWSGIServer = _BoundedServer(
            host, self.port, app, handler, fd=self._socket.fileno(), max_connections=limits.max_connections
        )
        self._thread: threading.Thread | None = None
        self._serving = False  # shutdown() would wait forever for a loop that never ran

    @property
    def socket(self) -> socket.socket:
        """The listening socket (gunicorn serves on it with --workers)."""
        return self._socket

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The eSD base URL clients are given (`.../api`)."""
        return self.root_url + API_PREFIX

    def start(self) -> LiveServer:
        self._serving = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(STOP_POLL_SECONDS,), name=f"mock-esd:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the background server stops (or Ctrl+C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def serve_forever(self) -> None:
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        if self._serving:
            self._server.shutdown()
        self._server.server_close()
        self._socket.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
