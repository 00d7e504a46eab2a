"""`mock-esd serve --workers N`: the app under gunicorn, N worker processes sharing one district.

The app is built once in the master (preload) and forked, so every worker holds the same district
and token key; changes made later reach every worker through `mock_esd.state.changelog`. The master also
encodes the five listings and freezes its objects out of the garbage collector before forking, so
every worker answers its first page warm and the workers share those bytes (copy-on-write pages that
no worker writes) instead of each holding its own copy.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from typing import Any

import orjson
from flask import Flask
from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.config import AccessLogFormat
from gunicorn.http import parser
from gunicorn.http.errors import NoMoreData
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import ThreadWorker

from mock_esd import heap
from mock_esd.limits import Limits, too_late_headers, too_long_line
from mock_esd.state.mock_state import EXTENSION

DEFAULT_ACCESS_FORMAT: str = AccessLogFormat.default  # '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def _write_problem(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """gunicorn's `util.write_error`, answering problem+json (as the app does) instead of an HTML page."""
    body = orjson.dumps({"type": "about:blank", "title": reason, "status": status, "detail": message or reason})
    head = f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
    util.write_nonblock(sock, head.encode("latin-1") + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


_reading = threading.local()  # the header deadline of the request a worker thread is reading (`at`), if any


class _HeaderClockUnreader(SocketUnreader):  # type: ignore[misc]
    """gunicorn's socket reader, each read waiting at most until the thread's header deadline (when one is set).

    Past it the client gets a 408 naming `max_header_seconds` and the connection closes: a request whose
    line and headers trickle in can hold a worker thread that long, no longer.
    """

    def chunk(self, size_hint: int | None = None) -> bytes:
        deadline: float | None = getattr(_reading, "at", None)
        if deadline is None:
            return super().chunk(size_hint)  # type: ignore[no-any-return]
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            return super().chunk(size_hint)  # type: ignore[no-any-return]
        except TimeoutError:
            _reading.at = None
            with contextlib.suppress(OSError):
                _write_problem(self.sock, 408, "Request Timeout", too_late_headers(_reading.seconds))
            raise NoMoreData(b"") from None  # gunicorn closes the connection quietly


class ProblemWorker(ThreadWorker):  # type: ignore[misc]
    """gthread worker whose own errors (408, 414, 431, a bad request line: before the app) are problem+json,
    and whose threads read a request's line and headers within `max_header_seconds`."""

    header_seconds = Limits().max_header_seconds

    def init_process(self) -> None:
        limit = self.cfg.limit_request_line

        def write_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
            _write_problem(sock, status, reason, too_long_line(limit) if status == 414 else message)

        util.write_error = write_error  # in the forked worker only, which serves nothing but this app
        parser.SocketUnreader = _HeaderClockUnreader  # the same: every connection's parser reads on the clock
        super().init_process()

    def handle(self, conn: Any) -> Any:
        """One request of `conn`: its line and headers on the clock (stopped by `handle_request`)."""
        _reading.at, _reading.seconds = time.monotonic() + self.header_seconds, self.header_seconds
        try:
            return super().handle(conn)
        finally:
            _reading.at = None

    def handle_request(self, req: Any, conn: Any) -> Any:
        """The headers are in: the body and the answer are read and written without the clock."""
        _reading.at = None
        conn.sock.settimeout(None)
        return super().handle_request(req, conn)


class _AccessLog(glogging.Logger):  # type: ignore[misc]
    """A line per request through Python's logging, as the single-process server logs them.

    gunicorn writes its access log only to files it opens itself; this sends the same line (gunicorn's
    format) to `mock_esd.access`, so the command's -v/-q/--log-level and its plain stderr format apply.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        log = logging.getLogger("mock_esd.access")
        if log.isEnabledFor(logging.INFO):
            form = self.cfg.access_log_format
            atoms = self.default_atoms(resp, environ) if form == DEFAULT_ACCESS_FORMAT else None
            log.info(form, atoms or self.atoms(resp, req, environ, request_time))

    def default_atoms(self, resp: Any, environ: Any) -> dict[str, Any]:
        """The atoms the default format names, as `atoms` computes them, without the rest.

        `atoms` also copies every request and response header and every environ variable into the
        dict, for formats that name them: a third of the line's cost, for nothing the default format shows.
        """
        status = resp.status
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "b": (getattr(resp, "sent", None) is not None and str(resp.sent)) or "-",
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def warm_before_fork(app: Flask) -> None:
    """Encode every district's listings, then move every object to the GC's permanent generation.

    A collection in a worker would write to every tracked object's header (and so copy its page);
    frozen objects are never visited, so the district and its encoded listings stay shared.
    """
    registry = app.extensions[EXTENSION].registry
    for tenant in registry.tenants():
        registry.store(tenant).warm()
    heap.freeze()


def serve_with_workers(app: Flask, sock: socket.socket, workers: int) -> None:
    """Serve `app` on an already bound socket with `workers` processes.

    `max_connections` is split among them: each serves its share at once, a thread each (a request
    whose headers trickle in holds one at most `max_header_seconds`), and keeps as many idle
    keep-alive connections besides; further connections wait in the listen queue.
    """
    sock.set_inheritable(True)
    limits: Limits = app.extensions[EXTENSION].config.limits
    threads = max(1, math.ceil(limits.max_connections / workers))
    worker = type("ProblemWorker", (ProblemWorker,), {"header_seconds": limits.max_header_seconds})
    options = {
        "bind": f"fd://{sock.fileno()}",
        "workers": workers,
        "worker_class": worker,
        "threads": threads,
        "worker_connections": 2 * threads,
        "limit_request_line": limits.max_request_line_bytes,
        "preload_app": True,
        "keepalive": 5,
        "graceful_timeout": 3,
        "loglevel": "warning",
        "accesslog": None,
        "logger_class": _AccessLog,
    }
    master = os.getpid()
    warm_before_fork(app)
    try:
        _Gunicorn(app, options).run()
    except SystemExit as exc:
        if os.getpid() != master:  # a worker ends here: its master's cleanup (sockets, temp files) is not its own
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        if exc.code not in (0, None):
            raise
    finally:
        if os.getpid() == master:
            sock.detach()  # gunicorn closed the listening socket when it stopped; closing it again is EBADF
