"""Every /_mock/ body is checked against contracts/control.schema.json: one 400 naming every problem, nothing changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

MILLION = "x" * 1_000_000


def state(http: FlaskClient) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the district, the tenants, the fault rules."""
    return http.get("/_mock/scenario").json, http.get("/_mock/tenants").json, http.get("/_mock/faults").json


def refused(http: FlaskClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """Send a bad body; assert one 400 problem+json and no change; return the problem."""
    before = state(http)
    response = http.open(path, method=method, **kwargs)
    assert response.status_code == 400, response.data[:500]
    assert response.content_type == "application/problem+json"
    assert state(http) == before, "a refused body changed something"
    return response.json  # type: ignore[return-value]


def paths(problem: dict[str, Any]) -> list[str]:
    return [e["path"] for e in problem["errors"]]


def test_a_fault_rule_with_many_problems_names_every_one(http: FlaskClient) -> None:
    rule = {
        "endpoint": "/v1/students", "kind": "latency", "params": {"ms": -5}, "seed": "abc", "method": 5,
        "colour": "blue",
    }  # fmt: skip
    problem = refused(http, "POST", "/_mock/faults", json=rule)
    assert paths(problem) == ["colour", "method", "params.ms", "seed"]
    messages = {e["path"]: e["message"] for e in problem["errors"]}
    assert messages["params.ms"] == "expected a number >= 0, got -5"
    assert messages["seed"] == 'expected an integer, got "abc"'
    assert messages["colour"] == (
        "unknown field; allowed: client, endpoint, kind, method, mode, n, params, probability, query, seed, tenant"
    )
    assert "params.ms: expected a number >= 0" in problem["detail"]


@pytest.mark.parametrize(
    ("flat", "hint"),
    [
        (
            {"kind": "status", "status": 503},
            'status belongs in params: write {"kind": "status", "params": {"status": 503}}',
        ),
        ({"kind": "latency", "ms": 5000}, 'ms belongs in params: write {"kind": "latency", "params": {"ms": 5000}}'),
        ({"kind": "drift", "insert": 3}, 'insert belongs in params: write {"kind": "drift", "params": {"insert": 3}}'),
    ],
)
def test_flat_fault_fields_are_refused_with_the_params_notation(
    http: FlaskClient, flat: dict[str, Any], hint: str
) -> None:
    problem = refused(http, "POST", "/_mock/faults", json={"endpoint": "/v1/students", **flat})
    assert [e["message"] for e in problem["errors"]] == [hint]


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ({"kind": "status", "params": {"status": 200}}, "params.status", "expected a number >= 400, got 200"),
        ({"kind": "status", "params": {"status": 600}}, "params.status", "expected a number <= 599, got 600"),
        ({"kind": "latency", "params": {"ms": 60001}}, "params.ms", "expected a number <= 60000, got 60001"),
        ({"kind": "rate_limit", "params": {"retry_after": -10}}, "params.retry_after", "expected a number >= 0"),
        ({"kind": "rate_limit", "params": {"retry_after": 1e300}}, "params.retry_after", "expected an integer"),
        ({"kind": "rate_limit", "params": {"retry_after": 2.5}}, "params.retry_after", "expected an integer"),
        ({"kind": "malformed", "params": {"keep": 1.5}}, "params.keep", "expected a number <= 1"),
        ({"kind": "expire_token", "params": {"ms": 1}}, "params.ms", "unknown field; allowed: none"),
        ({"kind": "status", "mode": "probability", "probability": 2}, "probability", "expected a number <= 1"),
        ({"kind": "status", "mode": "times", "n": 0}, "n", "expected a number >= 1, got 0"),
        ({"kind": "status", "method": "get"}, "method", 'expected one of "GET", "HEAD", "POST", null'),
        ({"kind": "status", "method": 5}, "method", 'expected one of "GET"'),
        ({"kind": "status", "seed": {}}, "seed", "expected an integer, got {}"),
        ({"kind": "status", "tenant": "nobody"}, "tenant", 'no tenant "nobody"; tenants: default'),
        ({"kind": "status", "endpoint": 7}, "endpoint", "expected a string, got 7"),
        ({"kind": "boom"}, "kind", 'expected one of "latency", "status", "rate_limit"'),
    ],
)
def test_each_fault_bound_is_enforced(http: FlaskClient, rule: dict[str, Any], path: str, message: str) -> None:
    problem = refused(http, "POST", "/_mock/faults", json={"endpoint": "/v1/students", **rule})
    assert [e["path"] for e in problem["errors"]] == [path]
    assert problem["errors"][0]["message"].startswith(message), problem["errors"]


def test_a_rule_missing_its_required_fields_says_so(http: FlaskClient) -> None:
    assert paths(refused(http, "POST", "/_mock/faults", json={})) == ["endpoint", "kind"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/_mock/reset", {"seed": 3, "colour": "blue"}),
        ("POST", "/_mock/tenants", {"name": "qa", "colour": "blue"}),
        ("POST", "/_mock/schools", {"id": "0950", "colour": "blue"}),
        ("POST", "/_mock/students", {"firstName": "Ada", "colour": "blue"}),
        ("PATCH", "/_mock/students/2", {"grade": "4", "colour": "blue"}),
        ("POST", "/_mock/applications", {"firstName": "Ada", "colour": "blue"}),
        ("POST", "/_mock/students/2/accept", {"schoolId": "0900", "colour": "blue"}),
        ("POST", "/_mock/students/2/move", {"schoolId": "0900", "colour": "blue"}),
        ("POST", "/_mock/students/2/withdraw", {"colour": "blue"}),
        ("POST", "/_mock/contacts", {"students": [], "colour": "blue"}),
        ("POST", "/_mock/scenario", {"today": "2026-01-15", "colour": "blue"}),
    ],
)
def test_every_body_refuses_unknown_fields(http: FlaskClient, method: str, path: str, body: dict[str, Any]) -> None:
    assert "colour" in paths(refused(http, method, path, json=body))


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("POST", "/_mock/reset", {"today": "2026-02-30"}, "today"),
        ("POST", "/_mock/reset", {"students": -1}, "students"),
        ("POST", "/_mock/tenants", {"name": "qa", "seed": "abc"}, "seed"),
        ("POST", "/_mock/tenants", {"name": "qa", "scenario": {"today": "2026-13-01"}}, "scenario.today"),
        ("POST", "/_mock/students", {"id": 2**64}, "id"),
        ("POST", "/_mock/students", {"id": 2**53}, "id"),
        ("POST", "/_mock/students", {"id": 1.5}, "id"),
        ("POST", "/_mock/students", {"dateOfBirth": "2017-02-29"}, "dateOfBirth"),
        ("PATCH", "/_mock/students/2", {"id": 3}, "id"),
        ("PATCH", "/_mock/students/2", {"studentStatus": "Expelled"}, "studentStatus"),
        ("POST", "/_mock/contacts", {"students": [{"studentId": 2**64, "relationship": "Mother", "priority": 1}]},
         "students.0.studentId"),
        ("POST", "/_mock/students/2/move", {}, "schoolId"),
        ("POST", "/_mock/students/2/accept", {"enrolledId": "12"}, "enrolledId"),
        ("POST", "/_mock/scenario", {"today": "2026-02-30"}, "today"),
        ("POST", "/_mock/scenario", {"students": [{"id": 2**64}]}, "students.0.id"),
    ],
)  # fmt: skip
def test_bounds_and_real_dates(http: FlaskClient, method: str, path: str, body: dict[str, Any], where: str) -> None:
    assert where in paths(refused(http, method, path, data=json.dumps(body), content_type="application/json"))


def test_a_huge_student_id_stores_nothing_and_the_tenant_keeps_working(
    http: FlaskClient, custom_headers: dict[str, str]
) -> None:
    refused(http, "POST", "/_mock/students", json={"id": 2**64, "enrolledId": "99999999"})
    assert http.get("/api/v1/students", headers=custom_headers).status_code == 200
    assert http.post("/_mock/students", json={"firstName": "Ada"}).status_code == 201


def test_a_yaml_scenario_with_an_impossible_date_is_a_400(http: FlaskClient) -> None:
    problem = refused(http, "POST", "/_mock/scenario", data="today: 2026-02-30\n", content_type="application/yaml")
    assert "day is out of range" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/_mock/faults", "[" * 1000 + "]" * 1000),
        ("/_mock/faults", '{"params":' * 1000 + "{}" + "}" * 1000),
        ("/_mock/students", '{"address":' * 1000 + "1" + "}" * 1000),
        ("/_mock/scenario", "[" * 1000 + "]" * 1000),
        ("/_mock/scenario", "{a: " * 1000 + "1" + "}" * 1000),
        ("/_mock/scenario", "".join(" " * i + "- \n" for i in range(0, 2000, 2))),
        ("/_mock/faults", "[" * 5000 + "]" * 5000),
    ],
)
def test_deeply_nested_bodies_are_a_400_not_a_recursion_error(http: FlaskClient, path: str, text: str) -> None:
    problem = refused(http, "POST", path, data=text, content_type="application/json")
    assert "deep" in problem["detail"] or "nested" in problem["detail"] or "not JSON" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_mock/faults", {"endpoint": "/v1/students", "kind": MILLION}),
        ("/_mock/faults", {"endpoint": "/v1/students", "kind": "status", MILLION: 1}),
        ("/_mock/students", {"firstName": 5, "lastName": [MILLION]}),
        ("/_mock/scenario", {"today": MILLION}),
    ],
)
def test_an_error_never_echoes_megabytes(http: FlaskClient, path: str, body: dict[str, Any]) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 400 and len(response.data) < 4000


def test_a_body_that_is_not_json_is_one_clear_400(http: FlaskClient) -> None:
    problem = refused(http, "POST", "/_mock/faults", data="{nope", content_type="application/json")
    assert problem["detail"].startswith("the body is not JSON")
    response = http.post("/_mock/faults", data="kind=status", content_type="text/plain")  # a form a web page can send
    assert response.status_code == 415 and "application/json" in response.json["detail"]  # type: ignore[index]
    assert http.get("/_mock/faults").json == []


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "text"),
    [
        ("POST", "/_mock/reset?tenatn=qa", {"json": {"seed": 9}}, '"tenatn"; it takes tenant'),
        ("POST", "/_mock/scenario?merge=yes", {"json": {"schools": []}}, 'merge must be true or false, got "yes"'),
        ("POST", "/_mock/scenario?marge=true", {"json": {"schools": []}}, '"marge"; it takes tenant, merge'),
        ("POST", "/_mock/scenario?merge=true&merge=false", {"json": {"schools": []}}, "merge given more than once"),
        ("DELETE", "/_mock/faults?revert=1", {}, 'revert must be true or false, got "1"'),
        ("DELETE", "/_mock/faults?tenant=qa", {}, "a fault rule names its tenant in its body"),
        ("POST", "/_mock/faults?tenant=qa", {"json": {"endpoint": "/v1/students", "kind": "status"}}, '"tenant"'),
        ("DELETE", "/_mock/tenants/nobody?force=true", {}, '"force"; it takes none'),
    ],
)
def test_a_query_parameter_an_endpoint_does_not_read_is_refused_and_changes_nothing(
    http: FlaskClient, method: str, path: str, kwargs: dict[str, Any], text: str
) -> None:
    assert text in refused(http, method, path, **kwargs)["detail"]


def test_the_scenario_export_format_is_json_or_yaml(http: FlaskClient) -> None:
    exported = http.get("/_mock/scenario?format=yaml")
    assert exported.status_code == 200 and exported.content_type == "application/yaml"
    assert yaml.safe_load(exported.data) == http.get("/_mock/scenario").json  # a generated district's enums too
    assert http.get("/_mock/scenario?format=json").json == http.get("/_mock/scenario").json
    wrong = http.get("/_mock/scenario?format=yml")
    assert wrong.status_code == 400 and 'format must be json or yaml, got "yml"' in wrong.json["detail"]  # type: ignore[index]


def test_an_unknown_control_path_is_still_a_404(http: FlaskClient) -> None:
    assert http.get("/_mock/nowhere?x=1").status_code == 404
