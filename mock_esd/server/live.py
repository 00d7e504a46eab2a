"""Run the app on a real socket: in a background thread (tests, demo) or in the foreground (serve)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import orjson
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mock_esd.limits import DEFAULT_LIMITS, too_long_line
from mock_esd.server.app import API_PREFIX
from mock_esd.state.mock_state import EXTENSION

HTTP_SERVER_MAX_LINE = 65_536  # http.server's cap on a request line
# How often the background loop looks for stop(): socketserver's default (0.5 s) made every stop cost half a
# second, paid by each `mock_district(live=True)` block; 50 ms costs a select() call 20 times a second.
STOP_POLL_SECONDS = 0.05


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
        return super().parse_request()


class _QuietHandler(_ProblemHandler):
    def log_error(self, format: str, *args: object) -> None:
        """Nor a line per refused request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Tests and benchmarks do not want a line per request."""


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
        handler = type(base.__name__, (base,), {"max_request_line": line, "line_is_a_setting": config is not None})
        self._server: BaseWSGIServer = make_server(
            host, self.port, app, threaded=True, fd=self._socket.fileno(), request_handler=handler
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
