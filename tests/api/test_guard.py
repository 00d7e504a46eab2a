"""Safe from a browser page and from big or hostile input (issue 13 §3): Host, cross-origin, sizes, low-level errors."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from mock_esd.district.generator import DistrictSpec
from mock_esd.limits import Limits
from mock_esd.server.app import create_app
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig
from tests.api.test_errors import assert_problem
from tests.api.test_views import csrf_token, page
from tests.conftest import CUSTOM, SMALL

TINY = DistrictSpec(seed=7, students=40)
EVIL = {"Origin": "http://evil.example"}


def _students(http: FlaskClient) -> int:
    return len(http.get("/_mock/scenario").json["students"])  # type: ignore[index]


# ----- Host (DNS rebinding) -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/schools", "/guru/", "/_mock/tenants", "/openapi.json"])
def test_a_host_that_is_not_this_server_is_refused(http: FlaskClient, path: str) -> None:
    response = http.get(path, headers={"Host": "evil.example:8080"})
    assert_problem(response, 421, 'does not answer for Host "evil.example"')


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8080", "127.0.0.1:8080", "127.3.4.5", "[::1]:8080", "[::1]"])
def test_loopback_hosts_are_answered(http: FlaskClient, host: str) -> None:
    assert http.get("/guru/", headers={"Host": host}).status_code == 200


def test_the_bind_address_and_allowed_hosts_are_answered() -> None:
    http = create_app(AppConfig(spec=TINY, bind_host="10.0.0.5", allowed_hosts=("mock.lan",))).test_client()
    for host in ("10.0.0.5:8080", "mock.lan", "MOCK.LAN:80", "localhost"):
        assert http.get("/guru/", headers={"Host": host}).status_code == 200, host
    for host in ("10.0.0.6", "evil.example", "mock.lan.evil.example"):
        assert http.get("/guru/", headers={"Host": host}).status_code == 421, host


def test_listening_everywhere_answers_any_address_but_not_an_unknown_name() -> None:
    http = create_app(AppConfig(spec=TINY, bind_host="0.0.0.0")).test_client()
    assert http.get("/guru/", headers={"Host": "192.168.1.20:8080"}).status_code == 200
    assert http.get("/guru/", headers={"Host": "[fe80::1]:8080"}).status_code == 200
    assert http.get("/guru/", headers={"Host": "rebound.evil.example"}).status_code == 421


def test_a_long_host_is_not_echoed_whole(http: FlaskClient) -> None:
    response = http.get("/api/v1/schools", headers={"Host": "x" * 5000 + ".example"})
    assert response.status_code == 421 and len(response.data) < 600


# ----- cross-origin state changes on /_mock/ ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/_mock/reset", {"students": 3}),
        ("POST", "/_mock/tenants", {"name": "evil"}),
        ("POST", "/_mock/students", {"firstName": "Eve"}),
        ("POST", "/_mock/applications", {"firstName": "Eve"}),
        ("POST", "/_mock/students/10/withdraw", None),
        ("POST", "/_mock/scenario", {"students": []}),
        ("PATCH", "/_mock/students/10", {"firstName": "Eve"}),
        ("DELETE", "/_mock/students/10", None),
        ("DELETE", "/_mock/faults", None),
        ("DELETE", "/_mock/requests", None),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [EVIL, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
     {"Origin": "http://localhost:8081"}, {"Origin": "https://localhost"}],
)  # fmt: skip
def test_a_cross_origin_state_change_is_refused_and_changes_nothing(
    http: FlaskClient, method: str, path: str, body: object, headers: dict[str, str]
) -> None:
    before = http.get("/_mock/scenario").json
    response = http.open(path, method=method, json=body, headers=headers)
    assert_problem(response, 403, "a cross-site request may not change the mock")
    assert http.get("/_mock/scenario").json == before
    assert "evil" not in str(http.get("/_mock/tenants").json)


def test_the_servers_own_origin_and_no_origin_may_change_it(http: FlaskClient) -> None:
    own = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert http.post("/_mock/students/10/withdraw", headers=own).status_code == 200
    assert http.post("/_mock/students/11/withdraw", headers={"Sec-Fetch-Site": "none"}).status_code == 200
    assert http.post("/_mock/students/12/withdraw").status_code == 200


def test_reading_is_not_a_state_change(http: FlaskClient) -> None:
    assert http.get("/_mock/faults", headers=EVIL).status_code == 200  # no CORS header: a page cannot read it


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/_mock/scenario", "text/plain"),
        ("/_mock/scenario", "application/x-www-form-urlencoded"),
        ("/_mock/scenario", "multipart/form-data; boundary=x"),
        ("/_mock/scenario", None),
        ("/_mock/tenants", "text/plain;charset=UTF-8"),
        ("/_mock/tenants", "application/yaml"),  # YAML is for the scenario endpoint only
        ("/_mock/faults", "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_that_is_not_json_is_refused(http: FlaskClient, path: str, content_type: str | None) -> None:
    before = http.get("/_mock/scenario").json
    data = json.dumps({"name": "plain", "students": [], "endpoint": "/v1/schools", "kind": "status"})
    response = http.post(path, data=data, content_type=content_type)
    assert_problem(response, 415, "a /_mock/ body must be sent as Content-Type: application/json")
    assert http.get("/_mock/scenario").json == before
    assert "plain" not in str(http.get("/_mock/tenants").json)


def test_a_form_with_no_body_is_refused_too(http: FlaskClient) -> None:
    response = http.post("/_mock/students/10/withdraw", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml", "text/yaml", "application/json"])
def test_a_scenario_may_be_yaml_or_json(http: FlaskClient, content_type: str) -> None:
    response = http.post("/_mock/scenario", data='{"students": []}', content_type=content_type)
    assert response.status_code == 200, response.data
    assert _students(http) == 0


def test_json_with_a_charset_is_json(http: FlaskClient) -> None:
    body = json.dumps({"name": "cs", "students": 3})
    assert http.post("/_mock/tenants", data=body, content_type="application/json; charset=utf-8").status_code == 201


# ----- /guru/ forms: same origin and a CSRF token -------------------------------------------------------


@pytest.fixture
def token(http: FlaskClient) -> str:
    http.post("/_mock/faults", json={"endpoint": "/v1/schools", "kind": "latency"})
    http.get("/api/v1/schools")
    return csrf_token(page(http, "/guru/activity"))


@pytest.mark.parametrize("path", ["/guru/faults/clear", "/guru/faults/1/delete", "/guru/journal/clear"])
def test_a_guru_form_needs_the_pages_token(http: FlaskClient, token: str, path: str) -> None:
    assert_problem(http.post(path), 403, "needs the token of a page this server rendered")
    assert_problem(http.post(path, data={"csrf_token": token[:-1] + "x"}), 403)
    assert_problem(http.post(path, data={"csrf_token": token}, headers=EVIL), 403, "cross-site")
    assert_problem(http.post(path, data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}), 403)
    assert len(http.get("/_mock/faults").json) == 1  # type: ignore[arg-type]
    assert http.get("/_mock/requests").json
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert http.post(path, data={"csrf_token": token}, headers=same).status_code == 303


def test_each_app_has_its_own_token(token: str) -> None:
    other = create_app(AppConfig(spec=TINY)).test_client()
    other.post("/_mock/faults", json={"endpoint": "/v1/schools", "kind": "latency"})
    assert csrf_token(page(other, "/guru/activity")) != token
    assert other.post("/guru/faults/clear", data={"csrf_token": token}).status_code == 403


# ----- sizes ---------------------------------------------------------------------------------------------


def test_a_big_token_form_is_413_before_it_is_parsed() -> None:
    http = create_app(AppConfig(spec=TINY, limits=Limits(max_token_body_bytes=1000))).test_client()
    form = {"grant_type": "client_credentials", "client_id": CUSTOM.client_id, "client_secret": CUSTOM.secret}
    assert http.post("/api/v1/auth/token", data=form).status_code == 200
    response = http.post("/api/v1/auth/token", data={**form, "padding": "x" * 2000})
    assert_problem(response, 413, "max_token_body_bytes is 1000")


def test_a_big_control_body_is_413() -> None:
    http = create_app(AppConfig(spec=TINY, limits=Limits(max_body_bytes=5000))).test_client()
    people = [{"id": n, "studentStatus": "Pre-enrolled"} for n in range(1000, 1400)]
    assert_problem(http.post("/_mock/scenario", json={"students": people}), 413, "max_body_bytes is 5000")


def test_an_error_never_echoes_megabytes_of_its_input(http: FlaskClient) -> None:
    response = http.post("/_mock/scenario", json={"students": [{"id": "x" * 1_000_000}]})
    assert response.status_code == 400
    assert len(response.data) < 5_000 and "x" * 100 not in response.get_data(as_text=True)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    app = create_app(AppConfig(spec=SMALL, limits=Limits(max_token_body_bytes=4096, max_body_bytes=64 * 1024)))
    with LiveServer(app) as server:
        yield server


def _exchange(server: LiveServer, raw: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a new connection; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before taking it all: the point
            sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _expected(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length:\s*(\d+)", head)
    return len(head) + 4 + int(length.group(1)) if length else 1 << 30


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict[str, object]:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = json.loads(body)
    assert problem["status"] == expected
    return problem


def test_a_300_mb_token_form_is_refused_without_reading_it(live: LiveServer) -> None:
    raw = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 300000000\r\n\r\ngrant_type=client_credentials&" + b"x" * 1000
    )
    problem = _problem(*_exchange(live, raw), 413)
    assert "max_token_body_bytes is 4096" in str(problem["detail"])


def test_a_chunked_body_past_the_limit_is_413(live: LiveServer) -> None:
    chunk = b"x" * 50_000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    raw = (
        b"POST /_mock/scenario HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/yaml\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + body
    )
    _problem(*_exchange(live, raw), 413)


def test_a_malformed_chunked_body_is_a_400(live: LiveServer) -> None:
    raw = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    problem = _problem(*_exchange(live, raw), 400)
    assert "could not be read" in str(problem["detail"])


def _line(length: int) -> bytes:
    """A GET whose request line (method, path, query, version) is `length` bytes long."""
    start, end = b"GET /api/v1/schools?q=", b" HTTP/1.1"
    return start + b"x" * (length - len(start) - len(end)) + end + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def test_a_too_long_uri_is_414_problem_json_naming_the_limit(live: LiveServer) -> None:
    for length in (8_191, 70_000):
        problem = _problem(*_exchange(live, _line(length)), 414)
        assert "max_request_line_bytes=8190" in str(problem["detail"])
    status, _, _ = _exchange(live, _line(8_190))
    assert status == 401  # as long as allowed: the app answers it (no token)


def test_the_request_line_limit_is_a_setting() -> None:
    app = create_app(AppConfig(spec=SMALL, limits=Limits(max_request_line_bytes=100)))
    with LiveServer(app) as server:
        problem = _problem(*_exchange(server, _line(101)), 414)
        assert "max_request_line_bytes=100" in str(problem["detail"])
        assert _exchange(server, _line(100))[0] == 401
    with pytest.raises(ValueError, match="max_request_line_bytes must be 1 to 8190"):
        Limits(max_request_line_bytes=10_000)


def test_too_many_or_too_long_headers_are_431_problem_json(live: LiveServer) -> None:
    many = b"".join(b"X-H%d: 1\r\n" % n for n in range(150))
    _problem(*_exchange(live, b"GET /api/v1/schools HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n"), 431)
    long = b"X-Long: " + b"x" * 70_000 + b"\r\n"
    _problem(*_exchange(live, b"GET /api/v1/schools HTTP/1.1\r\nHost: 127.0.0.1\r\n" + long + b"\r\n"), 431)


def test_a_double_slash_is_a_404_problem_not_a_redirect(live: LiveServer) -> None:
    raw = b"GET /api//v1/schools HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _problem(*_exchange(live, raw), 404)  # was a 308 (HTML) to the merged path
    raw = b"GET //api/v1/schools HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _problem(*_exchange(live, raw), 401)  # http.server itself reads a leading // as /: the API, no token


def test_a_rebinding_host_over_a_socket_is_421(live: LiveServer) -> None:
    raw = b"GET /_mock/tenants HTTP/1.1\r\nHost: rebind.evil.example:%d\r\nConnection: close\r\n\r\n" % live.port
    _problem(*_exchange(live, raw), 421)
