"""What a refused control body is told: every schema keyword named with its bound (never a Python repr of the
input)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

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
