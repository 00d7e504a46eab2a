"""`mock-esd proxy`: forward every request to an eSD server unchanged and check each answer against the contract.

The checks are those one exchange can show (`mock_esd_contracts.exchange`, sharing the verifier's helpers).
The proxy never changes what it forwards: the upstream's status, headers (but hop-by-hop ones) and
body bytes, compressed or not. It keeps a bounded journal, the violations (`GET /_mock/violations`,
`GET /_mock/journal`, and a page for the browser at `/_mock/`), and, when recording, each page of
every listing that passed, which `Journal.recording` turns into a scenario as `mock-esd record` does.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import threading
import xml.etree.ElementTree as ET
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
import requests
import urllib3
from flask import Flask, Response, request
from markupsafe import escape
from requests.structures import CaseInsensitiveDict
from werkzeug.exceptions import HTTPException

from mock_esd.server.guard import misdirected
from mock_esd.server.live import LiveServer
from mock_esd_contracts.exchange import EXCHANGE_CHECKS, Exchange, Violation, exchange_violations
from mock_esd_contracts.probe import BY_PATH
from mock_esd_workbench.record import Listings, Recording, RecordingError, recording_from

HOP_BY_HOP: Final = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
    "upgrade", "host", "content-length",
})  # fmt: skip
SERVER_HEADERS: Final = frozenset({"date", "server"})  # the proxy's own server writes these
METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
UNUSABLE: Final = frozenset({"records-schema", "paging-fields"})  # a page failing these is not recorded
DEFAULT_TIMEOUT: Final = 60.0  # seconds the upstream may take to answer one request
DEFAULT_MAX_JOURNAL: Final = 10_000  # exchanges /_mock/journal keeps (oldest dropped first)
DEFAULT_MAX_VIOLATIONS: Final = 10_000  # violations kept for /_mock/violations and JUnit (all are counted)
DEFAULT_MAX_REQUEST_BYTES: Final = 1_000_000  # a request body larger than this is refused (413), not forwarded
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024  # an answer larger than this, as sent or decoded: a 502
DEFAULT_MAX_RECORDED_BYTES: Final = 512 * 1024 * 1024  # listing pages --record keeps; past it, recording stops


@dataclass(frozen=True)
class ProxyConfig:
    upstream: str
    host: str = "127.0.0.1"
    port: int = 8090
    timeout: float = DEFAULT_TIMEOUT
    max_journal: int = DEFAULT_MAX_JOURNAL
    max_violations: int = DEFAULT_MAX_VIOLATIONS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_recorded_bytes: int = DEFAULT_MAX_RECORDED_BYTES
    record: bool = False  # keep every listing page that passes, for Journal.recording
    allowed_hosts: tuple[str, ...] = ()  # more Host names to answer (beyond loopback and --host); others get 421

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--upstream {self.upstream!r} is not an http(s) URL; e.g. https://host/api")

    @property
    def prefix(self) -> str:
        """The upstream's path (e.g. /api): the proxy answers for the eSD API under the same path."""
        return urlsplit(self.upstream).path.rstrip("/")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.upstream)
        return f"{parts.scheme}://{parts.netloc}"


class Journal:
    """What passed through: recent exchanges, violations, counts per check, and listing pages (when recording)."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._exchanges: deque[dict[str, Any]] = deque(maxlen=config.max_journal)
        self._violations: list[dict[str, Any]] = []
        self._failed: Counter[str] = Counter()
        self._judged = 0
        self._pages: dict[tuple[str, int, int], tuple[dict[str, Any], list[Any]]] = {}
        self._page_bytes: dict[tuple[str, int, int], int] = {}
        self.over_recording_limit = False  # a page was left out: max_recorded_bytes reached

    def add(self, ex: Exchange, found: list[Violation]) -> None:
        entry = {"method": ex.method, "path": ex.path, "query": dict(ex.query), "status": ex.response.status_code}
        with self._lock:
            self._judged += 1
            self._exchanges.append({**entry, "violations": len(found)})
            for v in found:
                self._failed[v.check] += 1
                if len(self._violations) < self.config.max_violations:
                    self._violations.append({**entry, "check": v.check, "reason": v.reason})
            if self.config.record and ex.authorized and not {v.check for v in found} & UNUSABLE:
                self._keep_page(ex)

    def _keep_page(self, ex: Exchange) -> None:
        """Keep a listing page judged whole and well formed; anything else (a login page, say) is not a page.

        Recording never changes an answer: a body that still does not read as a page is left out.
        """
        endpoint = BY_PATH.get(ex.path)
        if (
            endpoint is None
            or ex.method != "GET"
            or ex.response.status_code != 200
            or set(ex.query) - {"pageNo", "pageSize"}
        ):
            return  # filtered listings are views of the whole ones
        if sum(self._page_bytes.values()) + len(ex.response.content) > self.config.max_recorded_bytes:
            self.over_recording_limit = True
            return
        try:
            body = orjson.loads(ex.response.content)
            info = body["pagingInfo"]
            records = body[endpoint.key]
            key = (ex.path, int(info["pageSize"]), int(info["pageNo"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        self._pages[key] = (info, records)
        self._page_bytes[key] = len(ex.response.content)

    def violations(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._violations)

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "upstream": self.config.upstream,
                "exchanges": self._judged,
                "violations": sum(self._failed.values()),
                "byCheck": {name: self._failed[name] for name in EXCHANGE_CHECKS},
                "checks": EXCHANGE_CHECKS,
                "listed": list(self._violations),
            }

    def exchanges(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._exchanges)

    def summary(self) -> str:
        data = self.as_json()
        failing = ", ".join(f"{name} {count}" for name, count in data["byCheck"].items() if count)
        return f"proxy: {data['exchanges']} exchanges checked, {data['violations']} violations" + (
            f" ({failing})" if failing else ""
        )

    def junit(self) -> bytes:
        """One testcase per check the proxy applies, failing with every violation it saw."""
        data = self.as_json()
        suite = ET.Element(
            "testsuite", name="mock-esd proxy", tests=str(len(EXCHANGE_CHECKS)),
            failures=str(sum(1 for n in data["byCheck"].values() if n)), skipped="0",
        )  # fmt: skip
        for name, description in EXCHANGE_CHECKS.items():
            case = ET.SubElement(suite, "testcase", classname="contract.proxy", name=name)
            ET.SubElement(case, "system-out").text = description
            reasons = [f"{v['method']} {v['path']}: {v['reason']}" for v in data["listed"] if v["check"] == name]
            if data["byCheck"][name]:
                failure = ET.SubElement(case, "failure", message=f"{data['byCheck'][name]} violations")
                failure.text = "\n".join(reasons)
        return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))

    def recording(self, today: dt.date, description: str) -> Recording:
        """The listings that passed as a scenario; RecordingError if a listing was read only in part."""
        with self._lock:
            pages = dict(self._pages)
        listings: Listings = {}
        problems = []
        for path in BY_PATH:
            sizes = sorted({size for (p, size, _) in pages if p == path})
            whole = [_whole(pages, path, size) for size in sizes]
            found = next((w for w in whole if isinstance(w, list)), None)
            if found is not None:
                listings[path] = found
            elif whole:
                problems.append(str(whole[0]))
        if problems:
            raise RecordingError("nothing was written: " + "; ".join(problems))
        if not listings:
            raise RecordingError("nothing was written: no whole listing passed through the proxy")
        recording = recording_from(listings, today, description)
        recording.unseen = [path for path in BY_PATH if path not in listings]
        recording.bytes = sum(self._page_bytes.values())
        return recording


def _whole(
    pages: dict[tuple[str, int, int], tuple[dict[str, Any], list[Any]]], path: str, size: int
) -> list[Any] | str:
    """Every record of a listing read at `size`, or why the pages seen do not make it whole."""
    mine = {no: page for (p, s, no), page in pages.items() if p == path and s == size}
    first = mine.get(1)
    if first is None:
        return f"{path}: page 1 (pageSize {size}) never passed"
    count, total = first[0]["pageCount"], first[0]["totalCount"]
    missing = [n for n in range(1, count + 1) if n not in mine]
    if missing:
        return f"{path}: pages {', '.join(map(str, missing[:10]))} of {count} (pageSize {size}) never passed"
    if any(mine[n][0]["totalCount"] != total for n in range(1, count + 1)):
        return f"{path}: totalCount changed between pages (pageSize {size})"
    records = [r for n in range(1, count + 1) for r in mine[n][1]]
    if len(records) != total or len({r.get("id") for r in records}) != total:
        return f"{path}: {len(records)} records ({len({r.get('id') for r in records})} ids) for totalCount {total}"
    return records


# ----- the WSGI app ----------------------------------------------------------------------------------


class _Forwarded(Response):
    default_mimetype = None  # an answer without a Content-Type is forwarded without one


def create_proxy_app(config: ProxyConfig, journal: Journal, on_violation: Callable[[str], None]) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    session = requests.Session()
    session.headers.clear()  # forward the client's headers, not requests' defaults
    session.trust_env = False  # no ~/.netrc Authorization, no HTTP(S)_PROXY: forward exactly what the client sent
    # One session serves every client: it must keep no cookie, or one client's would reach the next
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    app.extensions["proxy_session"] = session  # closed by whoever stops the app (serve_proxy, tests)
    lock = threading.Lock()  # violation lines are printed whole, one at a time

    @app.errorhandler(HTTPException)
    def own_error(error: HTTPException) -> Response:
        """What the proxy itself refuses (a body over max_request_bytes) is problem+json, as the API's errors."""
        body = {
            "type": "about:blank",
            "title": error.name,
            "status": error.code,
            "detail": f"mock-esd proxy: {error.description}",
        }
        return Response(orjson.dumps(body), status=error.code, mimetype="application/problem+json")

    @app.before_request
    def check_host() -> Response | None:
        """Only the proxy's own names are answered: a DNS-rebinding page could otherwise read the journal."""
        refused = misdirected(request.host, config.host, config.allowed_hosts, "proxy --allowed-host NAME")
        if refused is None:
            return None
        body = {"type": "about:blank", "title": "Misdirected Request", "status": 421, "detail": refused}
        return Response(orjson.dumps(body), status=421, mimetype="application/problem+json")

    @app.get("/_mock/violations")
    def violations() -> Response:
        return Response(orjson.dumps(journal.as_json()), mimetype="application/json")

    @app.get("/_mock/journal")
    def exchanges() -> Response:
        return Response(orjson.dumps(journal.exchanges()), mimetype="application/json")

    @app.get("/_mock/")
    def page() -> Response:
        return Response(_html(journal), mimetype="text/html")

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def forward(path: str) -> Response:
        try:
            upstream = session.request(
                request.method, config.origin + _raw_uri(),
                headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
                data=request.get_data(), stream=True, timeout=config.timeout, allow_redirects=False,
            )  # fmt: skip
            raw = upstream.raw.read(config.max_response_bytes + 1, decode_content=False)
            if len(raw) <= config.max_response_bytes:
                upstream.raw.read(decode_content=False)  # to the end: an answer cut short raises here
            upstream.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # the upstream did not answer, or not whole (a dropped connection): nothing to forward but that
            return _bad_gateway(f"the upstream {config.origin} did not answer whole ({type(exc).__name__})")
        try:
            decoded = _decoded(raw, upstream.headers.get("Content-Encoding", ""), config.max_response_bytes)
        except _TooLarge:
            return _bad_gateway(
                f"the upstream's answer is over max_response_bytes ({config.max_response_bytes} bytes, as sent or "
                "decoded); not forwarded"
            )
        headers = [(k, v) for k, v in upstream.raw.headers.items() if k.lower() not in HOP_BY_HOP | SERVER_HEADERS]
        _judge(config, journal, upstream, decoded, on_violation, lock)
        out = _Forwarded(raw, status=upstream.status_code, headers=headers)
        out.headers["Content-Length"] = str(len(raw))
        return out

    return app


def _bad_gateway(detail: str) -> Response:
    body = {"type": "about:blank", "title": "Bad Gateway", "status": 502, "detail": f"mock-esd proxy: {detail}"}
    return Response(orjson.dumps(body), status=502, mimetype="application/problem+json")


def _judge(
    config: ProxyConfig, journal: Journal, upstream: requests.Response, decoded: bytes,
    on_violation: Callable[[str], None], lock: threading.Lock,
) -> None:  # fmt: skip
    if not request.path.startswith(config.prefix + "/"):
        return
    seen = requests.Response()  # what the checks read: the answer with its body decoded
    seen.status_code, seen.headers = upstream.status_code, CaseInsensitiveDict(upstream.headers)
    seen._content = decoded
    ex = Exchange(
        request.method, request.path[len(config.prefix) :], dict(request.args.items()),
        "Authorization" in request.headers, seen,
    )  # fmt: skip
    found = exchange_violations(ex)
    journal.add(ex, found)
    with lock:
        for v in found:
            on_violation(f"VIOLATION {ex.method} {_raw_uri()} {v.check}: {v.reason}")


def _raw_uri() -> str:
    """The path and query exactly as the client sent them (werkzeug keeps them in RAW_URI)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


class _TooLarge(Exception):
    """An answer over max_response_bytes, as sent or decoded."""


def _decoded(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body as the checks read it, never more than `limit` bytes (a compressed bomb stops at the limit)."""
    if len(raw) > limit:
        raise _TooLarge
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding.strip().lower())
    if wbits is None:
        return raw
    inflate = zlib.decompressobj(wbits)
    try:
        body = inflate.decompress(raw, limit + 1)
    except zlib.error:
        return b""  # not decodable: the checks see no body and say so
    if len(body) > limit or inflate.unconsumed_tail:
        raise _TooLarge
    return body


def _html(journal: Journal) -> str:
    data = journal.as_json()
    rows = "".join(
        f"<tr><td>{escape(v['method'])}</td><td>{escape(v['path'])}</td><td>{v['status']}</td>"
        f"<td>{escape(v['check'])}</td><td>{escape(v['reason'])}</td></tr>"
        for v in data["listed"]
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>mock-esd proxy</title>"
        f"<h1>mock-esd proxy → {escape(data['upstream'])}</h1>"
        f"<p>{data['exchanges']} exchanges checked, {data['violations']} violations.</p>"
        "<table><tr><th>method</th><th>path</th><th>status</th><th>check</th><th>what was wrong</th></tr>"
        f"{rows}</table></html>"
    )


def serve_proxy(config: ProxyConfig, on_violation: Callable[[str], None], on_ready: Callable[[str], None]) -> Journal:
    """Serve until Ctrl+C or SIGTERM; the journal of what passed."""
    journal = Journal(config)
    app = create_proxy_app(config, journal, on_violation)
    server = LiveServer(app, config.host, config.port)
    on_ready(f"mock-esd proxy: {server.root_url}{config.prefix} -> {config.upstream}")
    on_ready(f"  violations: {server.root_url}/_mock/violations (browser: {server.root_url}/_mock/)")
    on_ready("Proxying; Ctrl+C stops.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        app.extensions["proxy_session"].close()
    return journal
