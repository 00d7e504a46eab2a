"""`mock-esd proxy` against hostile upstreams and callers: every limit on every path, the mock's own pages kept home.

Each finding of the issue as its probe found it: a redirect carrying a gzip bomb or 1.5 GB, a remote
caller asking for `/guru/` and `/_mock/reset`, an upstream trickling its answer, a chunked request body
over the limit, a multi-member gzip answer, and what `--record` holds against what it counts.
"""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
import requests
from requests.structures import CaseInsensitiveDict

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
from mock_esd.server.live import LiveServer
from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES
from mock_esd_contracts.exchange import Exchange
from mock_esd_sync.settings import MAX_SETTINGS_BYTES
from mock_esd_workbench.proxy_app import Journal, ProxyConfig, create_proxy_app
from tests.e2e.roundtrip import mock_serving
from tests.hostile import TOKEN, Sent, capped_proxy, gzip_bomb, gzipped, hostile_server, report

CEILING_MB = 400  # the capped proxy's peak RSS; a 1 GiB bomb inflated whole would need 1,024 MB for its bytes alone
PAGE = {"schools": [], "pagingInfo": {"pageNo": 1, "pageSize": 100, "pageCount": 0, "totalCount": 0}}


@contextmanager
def proxying(upstream: str, **settings: float) -> Iterator[tuple[str, Journal, list[str]]]:
    """The proxy in this process on a free port: its eSD base URL, its journal, the lines it printed."""
    config = ProxyConfig(upstream=upstream, port=0, **settings)  # type: ignore[arg-type]
    journal, printed = Journal(config), []
    app = create_proxy_app(config, journal, printed.append)
    with LiveServer(app) as server:
        yield server.root_url + config.prefix, journal, printed


@pytest.mark.e2e
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda: gzipped(gzip_bomb(), 302, Location="/api/v1/students"), id="302-gzip-bomb"),
        pytest.param(lambda: Sent(302, {"Location": "/api/v1/students"}, b" " * (1 << 20), repeat=1536), id="302-1.5GB"),
        pytest.param(lambda: gzipped(gzip_bomb()), id="200-gzip-bomb"),
    ],
)  # fmt: skip
def test_an_answer_over_the_limit_is_a_502_whatever_its_status_in_bounded_memory(
    answer: object, request: pytest.FixtureRequest
) -> None:
    routes = {"GET /api/v1/schools": answer()}  # type: ignore[operator]
    with hostile_server(routes) as upstream, capped_proxy(upstream.base_url) as proxy:
        got = requests.get(f"{proxy.base_url}/v1/schools", headers={"Accept-Encoding": "gzip"}, timeout=60)
        assert got.status_code == 502 and got.headers["Content-Type"] == "application/problem+json"
        assert "over max_response_bytes (67108864 bytes" in got.json()["detail"]
        after = requests.get(f"{proxy.base_url.removesuffix('/api')}/_mock/violations", timeout=30)
        assert after.status_code == 200  # still serving
    assert proxy.ended is not None
    report(f"proxy against {request.node.callspec.id}", proxy.ended)
    assert "Traceback" not in proxy.ended.stderr and "MemoryError" not in proxy.ended.stderr, proxy.ended
    assert proxy.ended.peak_mb < CEILING_MB, proxy.ended


def test_a_redirect_passes_unchanged_with_its_body() -> None:
    """A 3xx is forwarded as it came (status, Location, body bytes), not followed and not emptied."""
    body = b"<html><a href='/api/v1/students'>moved</a></html>"
    routes = {"GET /api/v1/schools": Sent(302, {"Location": "/api/v1/students", "Content-Type": "text/html"}, body)}
    with hostile_server(routes) as upstream, proxying(upstream.base_url) as (proxy, _, _):
        got = requests.get(f"{proxy}/v1/schools", allow_redirects=False, timeout=30)
        assert (got.status_code, got.content, got.headers["Location"]) == (302, body, "/api/v1/students")
        assert got.headers["Content-Length"] == str(len(body))
        assert [r.path for r in upstream.received] == ["/api/v1/schools"]  # not followed by the proxy


# ----- the mock's loopback-only pages --------------------------------------------------------------


REMOTE = {"REMOTE_ADDR": "203.0.113.9"}  # a caller on another machine (TEST-NET-3), as the proxy sees it
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def test_a_remote_caller_gets_the_upstream_s_api_and_never_the_mock_s_own_pages() -> None:
    """`proxy --host 0.0.0.0` before a mock on 127.0.0.1: the mock sees the proxy's loopback address, so the
    proxy itself must refuse what the mock refuses a remote caller: `/guru/` (the client secrets) and `/_mock/`."""
    custom, _ = default_clients(DEFAULT_TENANT)
    with mock_serving(spec=DistrictSpec(seed=4, students=20)) as upstream:
        config = ProxyConfig(upstream=upstream, host="0.0.0.0", port=0)
        app = create_proxy_app(config, Journal(config), lambda line: None)
        client = app.test_client()
        for method, path in (("GET", "/guru/"), ("POST", "/_mock/reset"), ("GET", "/_mock/requests"),
                             ("GET", "/docs/"), ("GET", "/api/../guru/"), ("GET", "/api/v1/../../_mock/requests")):  # fmt: skip
            got = client.open(path, method=method, json={}, environ_base=REMOTE)
            assert got.status_code == 404, (method, path, got.status_code)
            assert got.headers["Content-Type"] == "application/problem+json"
            assert "only the upstream's API" in got.get_json()["detail"]
            assert custom.secret not in got.get_data(as_text=True)
        seen = requests.get(upstream.removesuffix("/api") + "/_mock/requests", timeout=30).json()
        assert seen == []  # nothing reached the mock
        api = client.get("/api/v1/schools", environ_base=REMOTE)
        assert api.status_code == 401  # the API is forwarded: the mock asks for a token
        own = client.get("/guru/", environ_base=LOCAL)
        assert own.status_code == 200 and custom.secret in own.get_data(as_text=True)  # this machine: as the mock
        for page in ("/_mock/", "/_mock/violations", "/_mock/journal"):  # the proxy's own: what passed through it
            assert client.get(page, environ_base=REMOTE).status_code == 404, page
            assert client.get(page, environ_base=LOCAL).status_code == 200, page


# ----- time and size of a request --------------------------------------------------------------------


def test_the_timeout_is_for_the_whole_answer_not_each_read() -> None:
    """An upstream sending a byte every 0.05 s never waits a read out, but takes 5 s for its answer: a 504 at 1 s."""
    routes = {"GET /api/v1/schools": Sent(body=b" " * 100, trickle=0.05)}
    with hostile_server(routes) as upstream, proxying(upstream.base_url, timeout=1.0) as (proxy, _, _):
        got = requests.get(f"{proxy}/v1/schools", timeout=30)
        assert got.status_code == 504 and got.headers["Content-Type"] == "application/problem+json"
        assert "did not answer whole within the timeout (1.0 s, for the whole answer)" in got.json()["detail"]


def test_a_trickled_status_line_is_bounded_too() -> None:
    routes = {"GET /api/v1/schools": Sent(body=b"{}", trickle=0.05, headers={f"X-Pad-{n}": "x" * 20 for n in range(4)})}
    with hostile_server(routes) as upstream, proxying(upstream.base_url, timeout=1.0) as (proxy, _, _):
        got = requests.get(f"{proxy}/v1/schools", timeout=30)
        assert got.status_code == 504


def test_a_chunked_request_body_over_the_limit_is_a_413_and_nothing_is_forwarded() -> None:
    """A body without Content-Length (chunked) was cut at the limit and forwarded; the mock answers such a body 413."""
    routes = {"POST /api/v1/auth/token": TOKEN}
    with hostile_server(routes) as upstream, proxying(upstream.base_url) as (proxy, _, _):
        chunks = (b"x" * 100_000 for _ in range(20))  # 2 MB, sent chunked (requests does for a generator)
        got = requests.post(f"{proxy}/v1/auth/token", data=chunks, timeout=30)
        assert got.status_code == 413 and got.headers["Content-Type"] == "application/problem+json"
        assert "max_request_bytes" in got.json()["detail"]
        assert upstream.received == []
        small = requests.post(f"{proxy}/v1/auth/token", data=(b"x" * 1000 for _ in range(3)), timeout=30)
        assert small.status_code == 200 and upstream.received[-1].body == b"x" * 3000  # forwarded whole


# ----- what is judged is what a client reads ------------------------------------------------------------


def test_every_member_of_a_multi_member_gzip_answer_is_judged() -> None:
    """A client reads all members; the proxy judged the first only, so a page broken in its second passed."""
    whole = orjson.dumps(PAGE)
    broken = gzip.compress(whole) + gzip.compress(b' "and more"')  # a valid page, then text after it
    page = orjson.dumps({"contacts": [], "pagingInfo": PAGE["pagingInfo"]})
    good = gzip.compress(page[:10]) + gzip.compress(page[10:])  # valid only read whole
    routes = {"GET /api/v1/schools": gzipped(broken), "GET /api/v1/contacts": gzipped(good)}
    with hostile_server(routes) as upstream, proxying(upstream.base_url) as (proxy, journal, _):
        headers = {"Authorization": "Bearer t", "Accept-Encoding": "gzip"}
        assert requests.get(f"{proxy}/v1/schools", headers=headers, timeout=30).status_code == 200
        assert [v["check"] for v in journal.violations()] == ["records-schema"]
        assert requests.get(f"{proxy}/v1/contacts", headers=headers, timeout=30).status_code == 200
        assert [v["path"] for v in journal.violations()] == ["/v1/schools"]  # the contacts page was whole


def test_record_holds_about_the_bytes_it_counts() -> None:
    """`--record` keeps each listing page that passed; it counted their bytes but held them parsed, ~4.3x."""
    config = ProxyConfig(upstream="http://127.0.0.1:9/api", record=True)
    journal = Journal(config)
    pages = 40
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1, pages + 1):
            journal.add(_page_exchange(n, pages), [])
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    counted = journal.recorded_bytes()
    print(f"\n[measured] --record holds {held} bytes for {counted} counted ({held / counted:.2f}x)")
    assert counted > 2_000_000 and held < 1.3 * counted


def _page_exchange(n: int, pages: int) -> Exchange:
    students = [
        {"id": n * 1000 + i, "enrolledId": f"{n * 1000 + i:08d}", "studentStatus": "Enrolled", "schoolId": "0101",
         "enrollmentDate": None, "grade": "3", "firstName": f"F{i}", "middleName": None, "lastName": f"L{i}",
         "dateOfBirth": "2017-01-02", "gender": "F", "email": f"s{i}@x.invalid", "address": f"{i} Elm",
         "lastModified": "2026-01-01T00:00:00Z"}
        for i in range(200)
    ]  # fmt: skip
    info = {"pageNo": n, "pageSize": 200, "pageCount": pages, "totalCount": 200 * pages}
    answer = requests.Response()
    answer.status_code, answer.headers = 200, CaseInsensitiveDict({"Content-Type": "application/json"})
    answer._content = orjson.dumps({"students": students, "pagingInfo": info})
    return Exchange("GET", "/v1/students", {"pageNo": str(n), "pageSize": "200"}, True, answer)


def test_the_limits_page_names_every_limit_of_the_tools_with_its_default() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    config = ProxyConfig(upstream="http://127.0.0.1:9/api")
    limits = {
        "`max_response_bytes` (`sync`": DEFAULT_MAX_RESPONSE_BYTES,
        "`ProxyConfig.max_response_bytes`": config.max_response_bytes,
        "`ProxyConfig.timeout`": config.timeout,
        "`ProxyConfig.max_request_bytes`": config.max_request_bytes,
        "`ProxyConfig.max_recorded_bytes`": config.max_recorded_bytes,
        "`MAX_SETTINGS_BYTES`": MAX_SETTINGS_BYTES,
    }
    for name, default in limits.items():
        row = next((r for r in rows if r.startswith(f"| {name}")), None)
        assert row is not None, f"docs/limits.md lacks {name}"
        assert row.split(" | ")[1] == _written(default), (name, row)


def _written(value: float) -> str:
    if isinstance(value, float):
        return f"{value:g} s"
    return f"{value >> 20} MiB" if value % (1 << 20) == 0 else f"{value:,}"
