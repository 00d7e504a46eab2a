"""`mock-esd proxy`: forward every request to an eSD server unchanged and check each answer against the contract.

The checks are those one exchange can show (`mock_esd_contracts.exchange`, sharing the verifier's helpers).
The proxy never changes what it forwards: the upstream's status, headers (but hop-by-hop ones) and
body bytes, compressed or not, redirects included (`upstream.py` sends each request and reads its
answer within the timeout and `max_response_bytes`). It keeps a bounded journal, the violations
(`GET /_mock/violations`, `GET /_mock/journal`, and a page for the browser at `/_mock/`), and, when
recording, each page of every listing that passed, as the bytes it counts, which `Journal.recording`
turns into a scenario as `mock-esd record` does.

A caller on another machine reaches the upstream's API only: the mock behind a proxy on the same
machine sees every request come from loopback, so the proxy refuses its `/_mock/` and `/guru/` (and
anything else outside the API) to a caller the mock itself would refuse.
"""

from __future__ import annotations

import datetime as dt
import threading
import xml.etree.ElementTree as ET
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
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mock_esd.http.request import from_loopback
from mock_esd.server.guard import misdirected
from mock_esd.server.live import LiveServer
from mock_esd_contracts.answers import CHUNK_BYTES, DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLarge, decoded
from mock_esd_contracts.endpoints import BY_PATH
from mock_esd_contracts.exchange import EXCHANGE_CHECKS, Exchange, Violation, exchange_violations
from mock_esd_workbench.recording import Listings, Recording, RecordingError, recording_from
from mock_esd_workbench.upstream import Answer, Broken, Late, exchange

HOP_BY_HOP: Final = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
    "upgrade", "host", "content-length",
})  # fmt: skip
SERVER_HEADERS: Final = frozenset({"date", "server"})  # the proxy's own server writes these
METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
UNUSABLE: Final = frozenset({"records-schema", "paging-fields"})  # a page failing these is not recorded
DEFAULT_TIMEOUT: Final = 60.0  # seconds the upstream may take to answer one request whole (not per read): 504
OWN_PAGES: Final = ("/_mock/", "/_mock/violations", "/_mock/journal")  # the proxy's, not forwarded
DEFAULT_MAX_JOURNAL: Final = 10_000  # exchanges /_mock/journal keeps (oldest dropped first)
DEFAULT_MAX_VIOLATIONS: Final = 10_000  # violations kept for /_mock/violations and JUnit (all are counted)
DEFAULT_MAX_REQUEST_BYTES: Final = 1_000_000  # a request body larger than this, chunked or not: 413, not forwarded
# An answer larger than max_response_bytes, as sent or decoded, whatever its status: a 502 (the default is the
# one sync, verify and record read with, `mock_esd_contracts.answers`)
DEFAULT_MAX_RECORDED_BYTES: Final = 512 * 1024 * 1024  # listing pages --record keeps; past it, recording stops
API_PATH: Final = "/v1/"  # below the upstream's path: the eSD API, the one part forwarded to remote callers


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
        # Each page kept as the bytes it came in (decoded): its records as Python objects would take 4-5x them
        self._pages: dict[tuple[str, int, int], bytes] = {}
        self._recorded = 0  # bytes of the pages kept
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
        content = ex.response.content
        key = _page_key(ex.path, endpoint.key, content)
        if key is None:
            return
        recorded = self._recorded - len(self._pages.get(key, b"")) + len(content)  # a page read again replaces it
        if recorded > self.config.max_recorded_bytes:
            self.over_recording_limit = True
            return
        self._pages[key], self._recorded = content, recorded

    def recorded_bytes(self) -> int:
        """Bytes of the listing pages kept for the recording (what max_recorded_bytes bounds)."""
        with self._lock:
            return self._recorded

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
            kept = dict(self._pages)
        pages = {key: _page_parts(body, BY_PATH[key[0]].key) for key, body in kept.items()}
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
        recording.bytes = sum(map(len, kept.values()))
        return recording


def _page_key(path: str, key: str, content: bytes) -> tuple[str, int, int] | None:
    """(path, pageSize, pageNo) of a page that reads as one (its records under `key`), else None."""
    try:
        body = orjson.loads(content)
        info = body["pagingInfo"]
        if not isinstance(body[key], list):
            return None
        return (path, int(info["pageSize"]), int(info["pageNo"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _page_parts(content: bytes, key: str) -> tuple[dict[str, Any], list[Any]]:
    body = orjson.loads(content)
    return body["pagingInfo"], body[key]


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
    """The proxy as a Flask app: its own pages under /_mock/, everything else forwarded to the upstream."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    lock = threading.Lock()  # violation lines are printed whole, one at a time

    @app.errorhandler(HTTPException)
    def own_error(error: HTTPException) -> Response:
        """What the proxy itself refuses (a body over max_request_bytes) is problem+json, as the API's errors."""
        return _problem(error.code or 500, error.name, str(error.description))

    @app.before_request
    def check_host() -> Response | None:
        """Only the proxy's own names are answered: a DNS-rebinding page could otherwise read the journal."""
        refused = misdirected(request.host, config.host, config.allowed_hosts, "proxy --allowed-host NAME")
        return None if refused is None else _problem(421, "Misdirected Request", refused)

    @app.before_request
    def own_pages_for_this_machine() -> Response | None:
        """The proxy's pages hold what passed through it (records, violations): this machine's callers only, as
        the mock's /_mock/ and /guru/ are."""
        if request.path in OWN_PAGES and not from_loopback():
            return _problem(404, "Not Found", "the proxy's /_mock/ pages answer this machine only")
        return None

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
        if not (from_loopback() or _in_api(config.prefix)):
            return _problem(
                404, "Not Found",
                f"only the upstream's API ({config.prefix}{API_PATH}...) is forwarded to a caller on another "
                "machine; the mock's /_mock/ and /guru/ answer this machine only",
            )  # fmt: skip
        body = _request_body(config.max_request_bytes)
        try:
            answer = exchange(
                config.upstream, request.method, _raw_uri(), _forwarded_headers(), body or None, config.timeout,
                config.max_response_bytes,
            )  # fmt: skip
            seen = decoded(answer.body, answer.headers, config.max_response_bytes, _raw_uri())
        except Late:
            return _problem(
                504, "Gateway Timeout",
                f"the upstream {config.origin} did not answer whole within the timeout ({config.timeout} s, for "
                "the whole answer); not forwarded",
            )  # fmt: skip
        except ResponseTooLarge:
            return _bad_gateway(
                f"the upstream's answer is over max_response_bytes ({config.max_response_bytes} bytes, as sent or "
                "decoded); not forwarded"
            )
        except Broken as exc:  # the upstream did not answer, or not whole: nothing to forward but that
            return _bad_gateway(f"the upstream {config.origin} did not answer whole ({exc})")
        except urllib3.exceptions.DecodeError:
            seen = b""  # forwarded as sent; the checks see no body and say so
        _judge(config, journal, answer, seen, on_violation, lock)
        return _forwarded(answer)

    return app


def _in_api(prefix: str) -> bool:
    """Whether the request is for the upstream's API: under its path and /v1/, with no dot segment to climb out."""
    raw = _raw_uri().split("?", 1)[0]
    segments = request.path.split("/")
    return (
        raw.startswith(prefix + API_PATH)
        and request.path.startswith(prefix + API_PATH)
        and not ({".", ".."} & set(segments))
    )


def _request_body(limit: int) -> bytes:
    """The request's body, whole: refused (413) past `limit`, a chunked one too (werkzeug would cut it there)."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge(f"the body is {length} bytes; the limit max_request_bytes is {limit}")
        return request.get_data()
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return b""
    stream = request.environ["wsgi.input"]  # dechunked by the server
    body = bytearray()
    while len(body) <= limit:
        data = stream.read(min(CHUNK_BYTES, limit + 1 - len(body)))
        if not data:
            break
        body += data
    if len(body) > limit:
        raise RequestEntityTooLarge(f"the chunked body is larger than the limit max_request_bytes, {limit} bytes")
    return bytes(body)


def _forwarded_headers() -> dict[str, str]:
    """The client's headers but hop-by-hop ones; nothing added (not even urllib3's User-Agent)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    if "User-Agent" not in request.headers:
        headers["User-Agent"] = urllib3.util.SKIP_HEADER
    return headers


def _forwarded(answer: Answer) -> Response:
    headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | SERVER_HEADERS]
    out = _Forwarded(answer.body, status=answer.status, headers=headers)
    out.headers["Content-Length"] = str(len(answer.body))
    if request.method == "HEAD" and "Content-Length" in answer.headers:
        out.headers["Content-Length"] = answer.headers["Content-Length"]  # the length a GET would have
    return out


def _problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": f"mock-esd proxy: {detail}"}
    return Response(orjson.dumps(body), status=status, mimetype="application/problem+json")


def _bad_gateway(detail: str) -> Response:
    return _problem(502, "Bad Gateway", detail)


def _judge(
    config: ProxyConfig, journal: Journal, answer: Answer, seen: bytes,
    on_violation: Callable[[str], None], lock: threading.Lock,
) -> None:  # fmt: skip
    if not request.path.startswith(config.prefix + "/"):
        return
    response = requests.Response()  # what the checks read: the answer with its body decoded
    response.status_code, response.headers = answer.status, CaseInsensitiveDict(answer.headers)
    response._content = seen
    ex = Exchange(
        request.method, request.path[len(config.prefix) :], dict(request.args.items()),
        "Authorization" in request.headers, response,
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
    return journal
