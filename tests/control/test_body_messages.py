"""What a refused control body is told: every schema keyword named with its bound (never a Python repr of the
input), and a key given twice in one object refused where it is, not silently reduced to its last value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from mock_esd.limits import Limits
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from mock_esd_contracts import schema
from tests.control.test_bodies import refused


def fault(**fields: Any) -> dict[str, Any]:
    return {"endpoint": "/v1/students", "kind": "status", **fields}


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (fault(query={f"k{i}": "v" for i in range(21)}), "query", "expected at most 20 fields, got 21"),
        (fault(query={"k" * 101: "v"}), "query", "a field's name: expected at most 100 characters, got 101"),
        (fault(query={"pageNo": "v" * 501}), "query.pageNo", "expected at most 500 characters, got 501"),
        (fault(endpoint="/" + "v" * 500), "endpoint", "expected at most 500 characters, got 501"),
    ],
)
def test_a_fault_rule_s_bounds_are_named_with_their_numbers(
    http: FlaskClient, body: dict[str, Any], path: str, message: str
) -> None:
    problem = refused(http, "POST", "/_mock/faults", json=body)
    assert problem["errors"] == [{"path": path, "message": message}]
    assert "{'" not in problem["detail"] and "vvvvvvvvvv" not in problem["detail"], "no repr, no echo of the input"


@pytest.mark.parametrize(
    ("clients", "message"),
    [([], "expected at least 1 items, got 0"), (["custom", "custom"], "expected every item once, got one twice")],
)
def test_a_scenario_s_item_bounds_are_named(http: FlaskClient, clients: list[str], message: str) -> None:
    problem = refused(http, "POST", "/_mock/tenants", json={"name": "qa", "scenario": {"clients": clients}})
    assert problem["errors"] == [{"path": "scenario.clients", "message": message}]


def test_any_other_keyword_is_named_with_its_bound_and_the_value_described() -> None:
    assert schema._expected("multipleOf", 5, "Ada Lovelace") == (
        "breaks the schema's multipleOf 5, got a string of 12 characters"
    )


def test_the_schema_documents_the_query_s_and_the_endpoint_s_bounds() -> None:
    """The docs' control-API reference is generated from the schema: its descriptions say the bounds it holds."""
    fields = schema.control_schema()["$defs"]["fault"]["properties"]
    query = fields["query"]
    said = query["description"]
    assert f"At most {query['maxProperties']} parameters" in said
    assert f"names of at most {query['propertyNames']['maxLength']} characters" in said
    assert f"values of at most {query['additionalProperties']['maxLength']}" in said
    assert f"at most {fields['endpoint']['maxLength']} characters" in fields["endpoint"]["description"]
    assert "drift and short_last_page change a listing" in fields["kind"]["description"]


# ----- keys given twice ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "text", "where"),
    [
        ("POST", "/_mock/faults", '{"endpoint":"/v1/students","kind":"status","kind":"latency"}', "kind"),
        ("POST", "/_mock/faults", '{"endpoint":"/v1/students","kind":"status","query":{"pageNo":"1","pageNo":"2"}}',
         "query.pageNo"),
        ("PATCH", "/_mock/students/2", '{"grade":"4","grade":"5"}', "grade"),
        ("POST", "/_mock/reset", '{"seed":1,"seed":2}', "seed"),
        ("POST", "/_mock/tenants", '{"name":"qa","scenario":{"students":[{"id":90,"id":91}]}}', "scenario.students.0.id"),
    ],
)  # fmt: skip
def test_a_key_given_twice_is_a_400_naming_it_and_where(
    http: FlaskClient, method: str, path: str, text: str, where: str
) -> None:
    problem = refused(http, method, path, data=text, content_type="application/json")
    assert problem["errors"] == [
        {
            "path": where,
            "message": "given more than once in one object (a parser would keep only the last): give it once",
        }
    ]
    assert problem["detail"].startswith(f"invalid body: {where}: given more than once")


def test_the_same_key_in_two_objects_is_no_duplicate(http: FlaskClient) -> None:
    body = fault(params={"status": 503}, query={"pageNo": "1"})
    assert http.post("/_mock/faults", data=json.dumps(body), content_type="application/json").status_code == 201


def test_a_body_too_deep_for_the_key_check_is_a_400_under_any_depth_limit() -> None:
    """With max_body_depth set past what Python's parser recurses to, the key check still answers a 400."""
    http = create_app(AppConfig(limits=Limits(max_body_depth=5000))).test_client()
    for depth in (1000, 1030):
        text = "[" * depth + "]" * depth
        answer = http.post("/_mock/faults", data=text, content_type="application/json")
        assert answer.status_code == 400, depth
        assert "nested" in answer.json["detail"] and "max_body_depth=5000" not in answer.json["detail"]


def test_a_json_scenario_with_a_key_given_twice_is_a_400_naming_it(http: FlaskClient) -> None:
    text = '{"students": [{"id": 90, "firstName": "A", "firstName": "B"}]}'
    problem = refused(http, "POST", "/_mock/scenario", data=text, content_type="application/json")
    assert problem["errors"] == [
        {
            "path": "students.0.firstName",
            "message": "given more than once in one object (a parser would keep only the last): give it once",
        }
    ]
