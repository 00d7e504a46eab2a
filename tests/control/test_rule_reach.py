"""A fault rule that could never fire, or would do nothing where it fires, is refused when it is added (a 400
naming the field and why, nothing armed), so `assert_faults_fired` never passes on a rule that did nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mock_esd.http.api import LISTINGS
from mock_esd.qa.served import served
from mock_esd_contracts import schema
from tests.conftest import CUSTOM, STANDARD

ENROLLED = "/v1/students/38179657"  # a student by id: a path the mock serves, and no listing


def add(http: FlaskClient, **rule: Any) -> Any:
    return http.post("/_mock/faults", json={"endpoint": "/v1/students", "kind": "status", **rule})


def refused(http: FlaskClient, **rule: Any) -> dict[str, str]:
    """Add a rule that must be refused; assert one problem+json 400 and nothing armed; {path: message}."""
    answer = add(http, **rule)
    assert answer.status_code == 400, answer.json
    assert answer.content_type == "application/problem+json"
    assert http.get("/_mock/faults").json == [], "a refused rule was armed"
    return {e["path"]: e["message"] for e in answer.json["errors"]}


LISTING_READS = "it reads pageNo, pageSize, schoolId, studentStatus"


@pytest.mark.parametrize(
    ("rule", "path", "said"),
    [
        ({"query": {"pagNo": "2"}}, "query.pagNo", f"/v1/students does not read it; {LISTING_READS}"),
        ({"query": {"pageNo ": "3"}}, 'query."pageNo "', "/v1/students does not read it"),
        ({"query": {"": ""}}, 'query.""', "/v1/students does not read it"),
        ({"endpoint": "/v1/schools", "query": {"studentId": "1"}}, "query.studentId", "it reads pageNo, pageSize"),
        ({"endpoint": "/v1/auth/token", "query": {"pageNo": "1"}}, "query.pageNo", "it reads no query parameter"),
        ({"endpoint": ENROLLED, "query": {"pageNo": "1"}}, "query.pageNo", "it reads no query parameter"),
        ({"endpoint": "/v1/*", "query": {"nope": "1"}}, "query.nope", "no path under /v1/* reads it"),
        (
            {"endpoint": "/v1/*", "query": {"studentId": "1", "schoolId": "0101"}},
            "query",
            "no one path under /v1/* reads all of schoolId, studentId",
        ),
        ({"method": "POST"}, "method", "/v1/students is served to GET, HEAD; a POST call never reaches it"),
        ({"endpoint": "/v1/auth/token", "method": "GET"}, "method", "is served to POST; a GET call never reaches it"),
        ({"endpoint": "/v1/auth/*", "method": "HEAD"}, "method", "is served to POST"),
        ({"client": "nobody"}, "client", 'no tenant has a client "nobody"'),
        ({"client": ""}, "client", 'no tenant has a client ""'),
        ({"n": 3}, "n", "mode always does not read it (n is for mode nth or times)"),
        ({"probability": 0.5}, "probability", "mode always does not read it (probability is for mode probability)"),
        ({"seed": 4}, "seed", "mode always does not read it (seed is for mode probability)"),
        ({"mode": "nth", "n": 2, "seed": 4}, "seed", "mode nth does not read it"),
        ({"mode": "probability", "probability": 0.5, "n": 2}, "n", "mode probability does not read it"),
        ({"endpoint": ENROLLED, "kind": "short_last_page"}, "kind", f"{ENROLLED} is no listing; the listings: "),
        ({"endpoint": "/v1/auth/token", "kind": "short_last_page"}, "kind", "/v1/auth/token is no listing"),
        ({"endpoint": "/v1/auth/token", "kind": "drift"}, "kind", "drift changes a listing's pages"),
        ({"endpoint": "/v1/students/*", "kind": "drift"}, "kind", "no listing is under /v1/students/*"),
        ({"endpoint": "/v1/auth/token", "kind": "expire_token"}, "kind", "/v1/auth/token carries no token to expire"),
        ({"endpoint": "/v1/auth/*", "kind": "expire_token"}, "kind", "carries no token to expire"),
        ({"endpoint": "/v1/auth/token", "client": STANDARD.client_id}, "client", "carries no client yet"),
        # a method that narrows a prefix to the token endpoint: judged on what the method reaches
        ({"endpoint": "/v1/*", "method": "POST", "kind": "drift"}, "kind", "no listing under /v1/* answers POST"),
        ({"endpoint": "/v1/*", "method": "POST", "kind": "expire_token"}, "kind", "carries no token to expire"),
        ({"endpoint": "/v1/*", "method": "POST", "client": STANDARD.client_id}, "client", "carries no client yet"),
    ],
)
def test_a_rule_that_cannot_fire_or_do_anything_is_refused_naming_the_field(
    http: FlaskClient, rule: dict[str, Any], path: str, said: str
) -> None:
    problems = refused(http, **rule)
    assert list(problems) == [path]
    assert said in problems[path]


def test_a_client_must_be_one_of_the_rule_s_tenant(http: FlaskClient) -> None:
    other = http.post("/_mock/tenants", json={"name": "other", "students": 3}).json["clients"][0]["clientId"]
    problems = refused(http, tenant="default", client=other)
    assert problems["client"].startswith(f'tenant default has no client "{other[:40]}')
    assert f"; its clients: {CUSTOM.client_id}, {STANDARD.client_id}" in problems["client"]
    assert add(http, tenant="other", client=other).status_code == 201
    assert add(http, client=other).status_code == 201, "no tenant named: a client of any tenant"
    assert add(http, tenant="default", client=STANDARD.client_id).status_code == 201


@pytest.mark.parametrize(
    "rule",
    [
        {"mode": "nth", "n": 2},
        {"mode": "times", "n": 2},
        {"mode": "probability", "probability": 0.5, "seed": 4},
        {"endpoint": "/v1/*", "query": {"studentId": "1"}},  # the contacts read it
        {"endpoint": "/v1/*", "method": "POST"},  # the token endpoint answers POST
        {"endpoint": "/v1/schools", "method": "HEAD", "query": {"pageSize": "5"}},
        {"endpoint": "/v1/schools", "kind": "drift", "params": {"insert": 1}},
        {"endpoint": "/v1/*", "kind": "short_last_page"},
        {"endpoint": "/v1/operoo/contacts", "query": {"studentId": "7", "pageNo": "1"}},
    ],
)
def test_a_rule_that_can_fire_is_armed(http: FlaskClient, rule: dict[str, Any]) -> None:
    assert add(http, **rule).status_code == 201


def test_a_listing_kind_on_a_prefix_counts_listings_only(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    """`short_last_page` on `/v1/*` would have counted a student by id and the token request as fired: it did
    nothing there, and `assert_faults_fired` passed on it."""
    assert add(http, endpoint="/v1/*", kind="short_last_page").status_code == 201
    enrolled = http.get("/api/v1/students?pageSize=1", headers=custom_headers).json["students"][0]["enrolledId"]
    (rule,) = http.get("/_mock/faults").json
    assert (rule["calls"], rule["fired"]) == (1, 1)  # the listing it just shortened
    assert http.get(f"/api/v1/students/{enrolled}", headers=custom_headers).status_code == 200
    http.post("/api/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(CUSTOM.client_id, CUSTOM.secret))
    (rule,) = http.get("/_mock/faults").json
    assert (rule["calls"], rule["fired"]) == (1, 1), "a student by id and a token request are no listings"


def test_the_table_rules_are_checked_against_is_what_the_mock_serves(app: Flask) -> None:
    """`mock_esd.qa.served` (from the contract) holds the methods each path answers and the parameters it reads,
    as the mock's routes do: a rule it admits can fire, and one it refuses cannot."""
    routes = {
        rule.rule.removeprefix("/api").replace("<enrolled_id>", "{enrolledId}"): tuple(sorted(rule.methods or ()))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    table = {s.template: tuple(sorted((*s.methods, "OPTIONS"))) for s in served()}  # Flask answers OPTIONS itself
    assert table == routes
    reads = {s.template: s.reads for s in served()}
    assert {path: reads[path] for path in LISTINGS} == {path: route.params for path, route in LISTINGS.items()}
    assert {path: names for path, names in reads.items() if path not in LISTINGS} == {
        "/v1/auth/token": (),
        "/v1/students/{enrolledId}": (),
    }


def test_the_schema_s_methods_are_those_the_api_answers() -> None:
    """A rule's `method` enum (in the docs' reference) names every method some path answers, and no other."""
    enum = schema.control_schema()["$defs"]["fault"]["properties"]["method"]["enum"]
    answered = {m for s in served() for m in s.methods}
    assert set(enum) == {*answered, None}


def test_expire_token_on_a_prefix_leaves_the_token_request_alone(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    """On `/*` it expires the token of every call that carries one; a token request carries none: no 401 there."""
    assert add(http, endpoint="/*", kind="expire_token").status_code == 201
    form = {"grant_type": "client_credentials"}
    assert http.post("/api/v1/auth/token", data=form, auth=(CUSTOM.client_id, CUSTOM.secret)).status_code == 200
    assert http.get("/api/v1/schools", headers=custom_headers).status_code == 401
    (rule,) = http.get("/_mock/faults").json
    assert (rule["calls"], rule["fired"]) == (1, 1)
