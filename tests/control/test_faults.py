"""Each fault kind: the client sees exactly what the rule says, and the rule stops when it should."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from mock_esd.server.app import create_app
from mock_esd.server.inprocess import DEFAULT_BASE_URL, routed
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig
from tests.conftest import CUSTOM, SMALL, Clock, tenant_headers, token_for


def add(http: FlaskClient, **rule: Any) -> int:
    response = http.post("/_mock/faults", json=rule)
    assert response.status_code == 201, response.data
    return int(response.json["id"])  # type: ignore[index]


def statuses(http: FlaskClient, headers: dict[str, str], n: int, path: str = "/api/v1/schools") -> list[int]:
    return [http.get(path, headers=headers).status_code for _ in range(n)]


def test_status_always_until_removed(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    rule = add(http, endpoint="/v1/schools", kind="status", params={"status": 503})
    response = http.get("/api/v1/schools", headers=custom_headers)
    assert response.status_code == 503 and response.content_type == "application/problem+json"
    assert http.get("/api/v1/students", headers=custom_headers).status_code == 200, "other endpoints unaffected"
    assert http.delete(f"/_mock/faults/{rule}").status_code == 204
    assert statuses(http, custom_headers, 2) == [200, 200]


def test_on_the_nth_call_only(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/schools", kind="status", mode="nth", n=2)
    assert statuses(http, custom_headers, 4) == [200, 500, 200, 200]


def test_for_n_calls(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/*", kind="status", mode="times", n=3, params={"status": 502})
    assert statuses(http, custom_headers, 5) == [502, 502, 502, 200, 200]
    rules = http.get("/_mock/faults").json
    assert rules is not None and rules[0]["calls"] == 5 and rules[0]["fired"] == 3


def test_probability_is_reproducible_from_its_seed() -> None:
    def run() -> list[int]:
        http = create_app(AppConfig(spec=SMALL, clock=Clock())).test_client()
        add(http, endpoint="/v1/schools", kind="status", mode="probability", probability=0.5, seed=42)
        return statuses(http, {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}, 30)

    first = run()
    assert first == run() and 5 < first.count(500) < 25


def test_rate_limit_with_retry_after(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/students", kind="rate_limit", mode="times", n=1, params={"retry_after": 7})
    response = http.get("/api/v1/students", headers=custom_headers)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert http.get("/api/v1/students", headers=custom_headers).status_code == 200


def test_a_token_that_expires_early(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/students", kind="expire_token", mode="nth", n=1)
    response = http.get("/api/v1/students", headers=custom_headers)
    assert response.status_code == 401 and "expired" in response.json["detail"]  # type: ignore[index]
    assert http.get("/api/v1/students", headers=custom_headers).status_code == 200


def test_latency_is_added_through_the_configured_sleep() -> None:
    slept: list[float] = []
    http = create_app(AppConfig(spec=SMALL, clock=Clock(), sleep=slept.append)).test_client()
    add(http, endpoint="/v1/schools", kind="latency", params={"ms": 250})
    assert statuses(http, {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}, 2) == [200, 200]
    assert slept == [0.25, 0.25]


def test_a_malformed_body(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    add(http, endpoint="/v1/schools", kind="malformed", mode="times", n=1, params={"keep": 0.5})
    broken = http.get("/api/v1/schools", headers=custom_headers)
    whole = http.get("/api/v1/schools", headers=custom_headers)
    assert broken.status_code == 200 and len(broken.data) == len(whole.data) // 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.data)


def test_a_short_last_page_loses_its_last_record_and_keeps_its_paging(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    def page(n: int) -> Any:
        return http.get(f"/api/v1/students?pageSize=40&pageNo={n}", headers=custom_headers).json

    first = page(1)
    last = first["pagingInfo"]["pageCount"]
    whole = page(last)
    assert last > 1
    add(http, endpoint="/v1/students", kind="short_last_page")
    assert page(1) == first, "a page before the last is left alone"
    short = page(last)
    assert short["pagingInfo"] == whole["pagingInfo"]
    assert short["students"] == whole["students"][:-1]
    add(http, endpoint="/v1/schools", kind="short_last_page", params={"missing": 2})
    schools = http.get("/api/v1/schools", headers=custom_headers).json
    assert len(schools["schools"]) == schools["pagingInfo"]["totalCount"] - 2


def test_drift_inserts_and_removes_records_between_pages(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    total = lambda: http.get("/api/v1/students?pageSize=10", headers=custom_headers).json["pagingInfo"]["totalCount"]  # type: ignore[index]  # noqa: E731
    before = total()
    add(http, endpoint="/v1/students", kind="drift", mode="nth", n=2, params={"insert": 3})
    assert total() == before  # call 1: nothing
    assert total() == before, "the drifting call answers before the change"
    assert total() == before + 3
    add(http, endpoint="/v1/students", kind="drift", mode="nth", n=1, params={"remove": 2})
    assert total() == before + 3
    assert total() == before + 1


def test_a_rule_for_one_tenant_leaves_the_others_alone(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    created = http.post("/_mock/tenants", json={"name": "other", "students": 20}).json
    assert created is not None
    add(http, endpoint="/v1/schools", kind="status", tenant="other")
    other = tenant_headers(http, created)
    assert statuses(http, other, 1) == [500]
    assert statuses(http, custom_headers, 1) == [200]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"endpoint": "/v1/schools", "kind": "explode"}, 'kind: expected one of "latency"'),
        ({"endpoint": "v1/schools", "kind": "status"}, "endpoint: expected text matching ^/"),
        (
            {"endpoint": "/v1/schools", "kind": "status", "params": {"status": 200}},
            "params.status: expected a number >= 400",
        ),
        (
            {"endpoint": "/v1/schools", "kind": "latency", "params": {"seconds": 1}},
            "params.seconds: unknown field; allowed: ms",
        ),
        ({"endpoint": "/v1/schools", "kind": "status", "mode": "nth", "n": 0}, "n: expected a number >= 1, got 0"),
    ],
)
def test_a_bad_rule_is_refused_clearly(http: FlaskClient, rule: dict[str, Any], message: str) -> None:
    response = http.post("/_mock/faults", json=rule)
    assert response.status_code == 400 and message in response.json["detail"]  # type: ignore[index]
    assert http.get("/_mock/faults").json == []


def token(session: requests.Session, base: str) -> dict[str, str]:
    body = session.post(
        f"{base}/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(CUSTOM.client_id, CUSTOM.secret)
    ).json()
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_a_dropped_connection_in_process_is_a_requests_connection_error() -> None:
    app = create_app(AppConfig(spec=SMALL))
    with routed(app), requests.Session() as session:
        session.post(
            DEFAULT_BASE_URL.removesuffix("/api") + "/_mock/faults",
            json={"endpoint": "/v1/students", "kind": "drop", "mode": "times", "n": 1},
        )
        headers = token(session, DEFAULT_BASE_URL)
        with pytest.raises(requests.ConnectionError, match="connection dropped"):
            session.get(f"{DEFAULT_BASE_URL}/v1/students", headers=headers)
        assert session.get(f"{DEFAULT_BASE_URL}/v1/students", headers=headers).status_code == 200


@pytest.mark.e2e
def test_a_dropped_connection_over_a_socket_breaks_the_read() -> None:
    with LiveServer(create_app(AppConfig(spec=SMALL))) as server, requests.Session() as session:
        session.post(
            f"{server.root_url}/_mock/faults",
            json={"endpoint": "/v1/students", "kind": "drop", "mode": "times", "n": 1},
        )
        headers = token(session, server.base_url)
        with pytest.raises(requests.RequestException):
            session.get(f"{server.base_url}/v1/students", headers=headers, timeout=10).json()
        assert session.get(f"{server.base_url}/v1/students", headers=headers, timeout=10).status_code == 200


def test_a_drift_lists_what_it_changed_and_one_call_reverts_it(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    ids = sorted(s["id"] for s in http.get("/api/v1/students?pageSize=1000", headers=custom_headers).json["students"])  # type: ignore[index]
    first, other = ids[0], ids[5]  # a drift removes from the top of the listing: `first` goes
    links = [{"studentId": sid, "relationship": "Mother", "priority": 1} for sid in (other, first)]
    assert http.post("/_mock/contacts", json={"students": links}).status_code == 201
    before = http.get("/_mock/scenario").json
    rule = add(http, endpoint="/v1/students", kind="drift", mode="times", n=2, params={"insert": 2, "remove": 1})
    for _ in range(3):
        http.get("/api/v1/students", headers=custom_headers)
    assert http.get("/_mock/scenario").json != before
    [listed] = http.get("/_mock/faults").json  # type: ignore[misc]
    inserted = [c["inserted"] for c in listed["changed"] if "inserted" in c]
    removed = [c["removed"] for c in listed["changed"] if "removed" in c]
    assert len(inserted) == 4 and len(removed) == 2 and first in removed
    assert all(c["tenant"] == "default" for c in listed["changed"])
    assert "4 inserted, 2 removed" in http.get("/guru/activity").get_data(as_text=True)

    reverted = http.post(f"/_mock/faults/{rule}/revert")
    assert reverted.status_code == 200, reverted.data
    assert reverted.json == {
        "id": rule,
        "kind": "drift",
        "deleted": inserted[::-1],
        "restored": removed[::-1],
        "skipped": [],
    }
    assert http.get("/_mock/scenario").json == before, "the district is as it was, contacts' links included"
    assert http.get("/_mock/faults").json == []
    assert http.post(f"/_mock/faults/{rule}/revert").status_code == 404


def test_clearing_with_revert_undoes_every_rule_and_skips_what_moved_on(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    before = http.get("/_mock/scenario").json
    add(http, endpoint="/v1/students", kind="drift", mode="nth", n=1, params={"insert": 2})
    add(http, endpoint="/v1/operoo/students", kind="drift", mode="nth", n=1, params={"insert": 1, "remove": 1})
    add(http, endpoint="/v1/schools", kind="status")
    http.get("/api/v1/students", headers=custom_headers)
    http.get("/api/v1/operoo/students", headers=custom_headers)
    edited = http.get("/_mock/faults").json[0]["changed"][0]["inserted"]  # type: ignore[index]
    assert http.patch(f"/_mock/students/{edited}", json={"grade": "5"}).status_code == 200
    assert http.delete("/_mock/faults?revert=maybe").status_code == 400
    assert len(http.get("/_mock/faults").json) == 3, "a bad flag changes nothing"  # type: ignore[arg-type]

    undone = http.delete("/_mock/faults?revert=true").json
    assert [(u["id"], len(u["deleted"]), len(u["restored"])) for u in undone] == [(3, 0, 0), (2, 1, 1), (1, 1, 0)]  # type: ignore[union-attr]
    assert undone[2]["skipped"] == [
        f"tenant default: student {edited}, inserted by the drift, changed since; left as it is"
    ]  # type: ignore[index]
    after = http.get("/_mock/scenario").json
    assert [s["id"] for s in after["students"]] == [s["id"] for s in before["students"]] + [edited]  # type: ignore[index]
    assert http.get("/_mock/faults").json == []
    assert http.delete("/_mock/faults").status_code == 204, "without revert: as before"


def test_deleting_a_drift_rule_with_revert_undoes_it_and_without_keeps_what_it_changed(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    before = http.get("/_mock/scenario").json
    kept = add(http, endpoint="/v1/students", kind="drift", mode="nth", n=1, params={"insert": 1})
    http.get("/api/v1/students", headers=custom_headers)
    changed = http.get("/_mock/scenario").json
    assert changed != before
    assert http.delete(f"/_mock/faults/{kept}").status_code == 204
    assert http.get("/_mock/scenario").json == changed, "a plain DELETE removes the rule only"
    undone = add(http, endpoint="/v1/students", kind="drift", mode="nth", n=1, params={"remove": 1})
    http.get("/api/v1/students", headers=custom_headers)
    answer = http.delete(f"/_mock/faults/{undone}?revert=true")
    assert answer.status_code == 200 and answer.json["kind"] == "drift" and len(answer.json["restored"]) == 1  # type: ignore[index]
    assert http.get("/_mock/scenario").json == changed and http.get("/_mock/faults").json == []
