"""`mock-esd proxy`: forwards unchanged, and names each answer that breaks the contract, as it happens."""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from requests.structures import CaseInsensitiveDict

from mock_esd.district.generator import DistrictSpec
from mock_esd.server.live import LiveServer
from mock_esd_contracts.exchange import EXCHANGE_CHECKS, Exchange, exchange_violations
from mock_esd_workbench.proxy_app import Journal, ProxyConfig, create_proxy_app
from tests.contract.independent_esd import CUSTOM, district, independent_server
from tests.e2e.roundtrip import MOCK_CUSTOM, cli, listings, mock_serving, token

MOCK = (MOCK_CUSTOM.client_id, MOCK_CUSTOM.secret)


@contextmanager
def proxying(upstream: str, record: bool = False) -> Iterator[tuple[str, Journal, list[str]]]:
    """The proxy in this process on a free port: its eSD base URL, its journal, the lines it printed."""
    config = ProxyConfig(upstream=upstream, port=0, record=record)
    journal, printed = Journal(config), []
    app = create_proxy_app(config, journal, printed.append)
    with LiveServer(app) as server:
        yield server.root_url + config.prefix, journal, printed


def traffic(base_url: str, client: tuple[str, str]) -> None:
    """What a sync and a careless client send: pages, a page past the end, a student, no token, a bad page."""
    headers = {"Authorization": f"Bearer {token(base_url, client)}"}
    for params in ({"pageNo": 1, "pageSize": 20}, {"pageNo": 2, "pageSize": 20}, {"pageNo": 99}, {}):
        requests.get(f"{base_url}/v1/students", params=params, headers=headers, timeout=30)
    requests.get(f"{base_url}/v1/operoo/contacts", headers=headers, timeout=30)
    requests.get(f"{base_url}/v1/students/00000000", headers=headers, timeout=30)
    requests.get(f"{base_url}/v1/students", timeout=30)
    requests.get(f"{base_url}/v1/students", params={"pageNo": 0}, headers=headers, timeout=30)


def test_a_keeping_server_passes_every_check_and_bodies_are_forwarded_byte_for_byte() -> None:
    with (
        mock_serving(spec=DistrictSpec(seed=4, students=80)) as upstream,
        proxying(upstream) as (proxy, journal, printed),
    ):
        traffic(proxy, MOCK)
        headers = {"Authorization": f"Bearer {token(upstream, MOCK)}"}
        for path, params in (("/v1/contacts", {"pageSize": 7, "pageNo": 3}), ("/v1/students", {"pageNo": 0}),
                             ("/v1/nowhere", {}), ("/v1/students/zz", {})):  # fmt: skip
            direct = requests.get(upstream + path, params=params, headers=headers, timeout=30)
            forwarded = requests.get(proxy + path, params=params, headers=headers, timeout=30)
            assert (forwarded.status_code, forwarded.content) == (direct.status_code, direct.content)
            assert forwarded.headers["Content-Type"] == direct.headers["Content-Type"]
        assert printed == [] and journal.violations() == []
        recent = requests.get(proxy.removesuffix("/api") + "/_mock/journal", timeout=30).json()
        assert {"method": "GET", "path": "/v1/nowhere", "query": {}, "status": 404, "violations": 0} in recent
        body = requests.get(proxy.removesuffix("/api") + "/_mock/violations", timeout=30).json()
        assert body["exchanges"] >= 10 and body["violations"] == 0 and set(body["byCheck"]) == set(EXCHANGE_CHECKS)


FAULT_CHECK = {
    "content-type": "content-type", "no-auth": "auth-required", "paging": "paging-fields",
    "html-errors": "problem-json", "record": "records-schema", "total": "paging-fields",
}  # fmt: skip


@pytest.mark.parametrize("fault", sorted(FAULT_CHECK))
def test_each_broken_answer_is_named_by_its_check(fault: str) -> None:
    data = district()
    data.broken.add(fault)
    with independent_server(data) as upstream, proxying(upstream) as (proxy, journal, printed):
        traffic(proxy, CUSTOM)
        failing = {v["check"] for v in journal.violations()}
        # the 401 without a token is judged by auth-required, which (as in verify) wants problem+json too
        assert failing == {FAULT_CHECK[fault]} | ({"auth-required"} if fault == "html-errors" else set())
        assert printed and all(line.startswith("VIOLATION GET /api/v1/") for line in printed)
        assert any(f" {FAULT_CHECK[fault]}: " in line for line in printed)
        listed = requests.get(proxy.removesuffix("/api") + "/_mock/violations", timeout=30).json()
        assert sum(listed["byCheck"].values()) == len(journal.violations()) > 0
        page = requests.get(proxy.removesuffix("/api") + "/_mock/", timeout=30)
        assert page.status_code == 200 and FAULT_CHECK[fault] in page.text


def test_an_unreachable_upstream_is_a_502_problem() -> None:
    with mock_serving() as gone:
        pass  # stopped: nothing listens there now
    with proxying(gone) as (proxy, _, _):
        answer = requests.get(f"{proxy}/v1/schools", timeout=30)
        assert answer.status_code == 502 and answer.headers["Content-Type"] == "application/problem+json"
        assert "did not answer whole" in answer.json()["detail"]


def _started(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "proxy", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    head = ""
    while "Proxying" not in head:
        line = proc.stdout.readline()
        assert line, (head, proc.stderr.read() if proc.stderr else "")
        head += line
    found = re.search(r"mock-esd proxy: (\S+) ->", head)
    assert found, head
    return proc, found.group(1)


def test_the_command_prints_violations_as_they_happen_then_a_summary_junit_and_a_scrubbed_recording(
    tmp_path: Path,
) -> None:
    data = district()
    data.broken.add("content-type")
    junit, recorded = tmp_path / "proxy.xml", tmp_path / "passed.json"
    with independent_server(data) as upstream:
        proc, proxy = _started("--upstream", upstream, "--junit", str(junit), "--record", str(recorded),
                               "--scrub", "--scrub-key", "k", "--today", "2026-09-15")  # fmt: skip
        try:
            headers = {"Authorization": f"Bearer {token(proxy, CUSTOM)}"}
            requests.get(f"{proxy}/v1/schools", headers=headers, timeout=30)
            assert proc.stdout is not None
            line = proc.stdout.readline()  # printed while the proxy still runs
            assert line.startswith("VIOLATION GET /api/v1/schools content-type: ") and "text/plain" in line
            data.broken.clear()
            listings(proxy, CUSTOM, page_size=100)  # every listing whole, as a sync reads them
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        summary = next(line for line in out.splitlines() if line.startswith("proxy: "))
        assert "content-type 1" in summary and "vocabulary 1" in summary and "Traceback" not in err
        cases = {c.get("name"): c for c in ET.parse(junit).getroot()}
        assert set(cases) == set(EXCHANGE_CHECKS)
        assert cases["content-type"].find("failure") is not None and cases["vocabulary"].find("failure") is not None
        assert cases["records-schema"].find("failure") is None
        scenario: dict[str, Any] = json.loads(recorded.read_text())
        assert "First1" not in recorded.read_text() and scenario["students"]
        with mock_serving(recorded) as replay:
            source = listings(upstream, CUSTOM)
            again = listings(replay, MOCK)
            assert {p: [r["id"] for r in rs] for p, (_, rs) in again.items()} == {
                p: [r["id"] for r in rs] for p, (_, rs) in source.items()
            }


def test_a_listing_read_in_part_records_nothing(tmp_path: Path) -> None:
    with independent_server(district()) as upstream:
        proc, proxy = _started("--upstream", upstream, "--record", str(tmp_path / "passed.json"))
        try:
            headers = {"Authorization": f"Bearer {token(proxy, CUSTOM)}"}
            requests.get(f"{proxy}/v1/students", params={"pageSize": 10}, headers=headers, timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1 and "/v1/students: pages 2, 3, 4, 5 of 5 (pageSize 10) never passed" in err
        assert list(tmp_path.iterdir()) == []


def test_a_compressed_answer_is_forwarded_compressed_and_judged_decoded() -> None:
    data = district()
    data.gzip = True
    with independent_server(data) as upstream, proxying(upstream) as (proxy, journal, _):
        headers = {"Authorization": f"Bearer {token(proxy, CUSTOM)}", "Accept-Encoding": "gzip"}
        direct = requests.get(f"{upstream}/v1/students", headers=headers, timeout=30, stream=True)
        forwarded = requests.get(f"{proxy}/v1/students", headers=headers, timeout=30, stream=True)
        assert forwarded.headers["Content-Encoding"] == "gzip"
        assert forwarded.raw.read(decode_content=False) == direct.raw.read(decode_content=False)
        assert journal.violations() == [] and journal.as_json()["exchanges"] == 2


def test_a_request_body_over_the_limit_is_a_413_problem() -> None:
    with mock_serving() as upstream:
        config = ProxyConfig(upstream=upstream, port=0, max_request_bytes=100)
        with LiveServer(create_proxy_app(config, Journal(config), print)) as server:
            answer = requests.post(f"{server.root_url}/api/v1/auth/token", data={"x": "y" * 200}, timeout=30)
            assert answer.status_code == 413 and answer.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("--upstream", "ftp://host/api"), "--upstream 'ftp://host/api' is not an http(s) URL; e.g. https://host/api"),
        (("--upstream", "http://127.0.0.1:9/api", "--scrub"), "--scrub, --scrub-key, --scrub-school-names and --today go with --record"),
        (("--upstream", "http://127.0.0.1:9/api", "--record", "x.txt"), "--record 'x.txt' must end in .json, .yaml or .yml"),
        (("--upstream", "http://127.0.0.1:9/api", "--junit", "/nowhere/j.xml"), "--junit '/nowhere/j.xml': directory '/nowhere' does not exist"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_before_anything_listens(args: tuple[str, ...], text: str) -> None:
    done = cli("proxy", "--port", "0", *args)
    assert done.exit_code == 2 and done.stderr == f"mock-esd: error: {text}\n" and done.stdout == ""


def test_headers_an_answer_depends_on_are_forwarded() -> None:
    with mock_serving() as upstream, proxying(upstream) as (proxy, journal, _):
        rule = {"endpoint": "/v1/schools", "kind": "rate_limit", "params": {"retry_after": 7}}
        assert requests.post(upstream.removesuffix("/api") + "/_mock/faults", json=rule, timeout=30).status_code == 201
        headers = {"Authorization": f"Bearer {token(proxy, MOCK)}"}
        answer = requests.get(f"{proxy}/v1/schools", headers=headers, timeout=30)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
        assert journal.violations() == []


def test_an_answer_cut_short_upstream_is_a_502_problem() -> None:
    with mock_serving(spec=DistrictSpec(seed=4, students=80)) as upstream, proxying(upstream) as (proxy, _, _):
        rule = {"endpoint": "/v1/students", "kind": "drop", "params": {"keep": 0.3}}
        assert requests.post(upstream.removesuffix("/api") + "/_mock/faults", json=rule, timeout=30).status_code == 201
        headers = {"Authorization": f"Bearer {token(proxy, MOCK)}"}
        answer = requests.get(f"{proxy}/v1/students", headers=headers, timeout=30)
        assert answer.status_code == 502 and answer.headers["Content-Type"] == "application/problem+json"
        assert "did not answer whole" in answer.json()["detail"]


def hostile_upstream() -> Flask:
    """An upstream that sets cookies, answers a login page without a token, sends too much, or a gzip bomb."""
    app = Flask(__name__)

    @app.get("/api/v1/schools")
    def schools() -> Response:
        """What the request carried, and a sticky cookie for whoever it was."""
        seen = {"cookie": request.headers.get("Cookie"), "authorization": request.headers.get("Authorization")}
        answer = Response(json.dumps(seen), mimetype="application/json")
        answer.set_cookie("AWSALB", f"sticky-{request.headers.get('X-Client')}")
        return answer

    @app.get("/api/v1/students")
    def login_page() -> Response:
        return Response("<html>please log in</html>", mimetype="text/html")

    @app.get("/api/v1/contacts")
    def too_much() -> Response:
        return Response(b"[" + b"0," * 1000 + b"0]", mimetype="application/json")

    @app.get("/api/v1/operoo/contacts")
    def bomb() -> Response:
        answer = Response(gzip.compress(b" " * 5_000_000), mimetype="application/json")
        answer.headers["Content-Encoding"] = "gzip"
        return answer

    return app


@contextmanager
def hostile_proxy(**limits: int) -> Iterator[tuple[str, Journal]]:
    with LiveServer(hostile_upstream()) as upstream:
        config = ProxyConfig(upstream=upstream.root_url + "/api", port=0, record=True, **limits)
        journal = Journal(config)
        app = create_proxy_app(config, journal, lambda line: None)
        with LiveServer(app) as server:
            yield server.root_url + "/api", journal


def test_one_client_s_cookies_never_reach_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))  # the proxy's own ~/.netrc must not add an Authorization header
    with hostile_proxy() as (proxy, _), requests.Session() as a, requests.Session() as b:
        a.trust_env = b.trust_env = False  # the clients here read no netrc: whatever arrives, the proxy added
        first = a.get(f"{proxy}/v1/schools", headers={"X-Client": "A", "Authorization": "Bearer a"}, timeout=30)
        assert first.status_code == 200 and "sticky-A" in first.headers["Set-Cookie"], "forwarded to its client"
        second = b.get(f"{proxy}/v1/schools", headers={"X-Client": "B"}, timeout=30).json()
        assert second == {"cookie": None, "authorization": None}, "B sent neither; the proxy added neither"


def test_recording_never_turns_an_answer_into_an_error() -> None:
    with hostile_proxy() as (proxy, journal):
        answer = requests.get(f"{proxy}/v1/students", timeout=30)  # no token: a login page, not a listing
        assert (answer.status_code, answer.text) == (200, "<html>please log in</html>")
        assert [v["check"] for v in journal.violations()] == ["auth-required"]


def test_an_answer_over_max_response_bytes_is_a_502_problem_even_compressed() -> None:
    with hostile_proxy(max_response_bytes=1000) as (proxy, _):
        headers = {"Authorization": "Bearer a", "Accept-Encoding": "gzip"}
        for path in ("/v1/contacts", "/v1/operoo/contacts"):  # 2,001 bytes as sent; 5 MB from a 5 KB gzip
            answer = requests.get(f"{proxy}{path}", headers=headers, timeout=30)
            assert answer.status_code == 502 and answer.headers["Content-Type"] == "application/problem+json"
            assert "over max_response_bytes (1000 bytes" in answer.json()["detail"]


def test_a_page_number_in_non_ascii_digits_is_judged_not_a_crash() -> None:
    """`"²".isdigit()` is true but int("²") fails: a lenient upstream's 200 to ?pageNo=² is judged, not a 500."""
    answer = requests.Response()
    answer.status_code, answer.headers = 200, CaseInsensitiveDict({"Content-Type": "application/json"})
    answer._content = json.dumps({"pagingInfo": {"pageNo": 1, "pageSize": 100, "pageCount": 1, "totalCount": 0},
                                  "schools": []}).encode()  # fmt: skip
    found = exchange_violations(Exchange("GET", "/v1/schools", {"pageNo": "²"}, True, answer))
    assert all(v.check in EXCHANGE_CHECKS for v in found)


def test_a_request_naming_another_host_is_a_421_and_forwards_nothing() -> None:
    """A DNS-rebinding page reaches the proxy under its own name: it must read no journal and reach no upstream."""
    with mock_serving() as upstream:
        config = ProxyConfig(upstream=upstream, port=0, allowed_hosts=("proxy.test",))
        journal = Journal(config)
        with LiveServer(create_proxy_app(config, journal, print)) as server:
            rebound = {"Host": f"rebound.evil.example:{server.port}"}
            for path in ("/api/v1/schools", "/_mock/journal", "/_mock/violations", "/_mock/"):
                answer = requests.get(server.root_url + path, headers=rebound, timeout=30)
                assert answer.status_code == 421, path
                assert answer.headers["Content-Type"] == "application/problem+json"
                assert 'Host "rebound.evil.example"' in answer.json()["detail"]
                assert "proxy --allowed-host NAME" in answer.json()["detail"]
            assert journal.exchanges() == []
            seen = requests.get(upstream.removesuffix("/api") + "/_mock/requests", timeout=30).json()
            assert seen == []  # the upstream journal: nothing reached it
            named = requests.get(f"{server.root_url}/api/v1/schools", headers={"Host": "Proxy.Test."}, timeout=30)
            assert named.status_code == 401  # forwarded: the upstream asks for a token
            assert len(journal.exchanges()) == 1


def test_the_proxy_takes_request_lines_to_64_kb_and_names_no_mock_setting_past_them() -> None:
    """The proxy forwards what a client sends: the mock's 8,190-byte request-line limit is not the proxy's."""
    with mock_serving() as upstream, proxying(upstream) as (proxy, _, _):
        long = requests.get(f"{proxy}/v1/schools", params={"q": "x" * 20_000}, timeout=30)
        assert long.status_code == 414  # the upstream mock's own limit, forwarded
        assert "max_request_line_bytes=8190" in long.json()["detail"]
        past = requests.get(f"{proxy}/v1/schools", params={"q": "x" * 70_000}, timeout=30)
        assert past.status_code == 414 and "max_request_line_bytes" not in past.json()["detail"]
        assert "longer than 65536 bytes" in past.json()["detail"]
