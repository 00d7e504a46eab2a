"""One source of truth: the mock's own answers validate against the OpenAPI document it serves."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from mock_esd_contracts import endpoints, schema
from tests.conftest import walk

LISTS = [("/v1/schools", "schools", "School"), ("/v1/students", "students", "Student"), ("/v1/contacts", "contacts", "Contact"),
         ("/v1/operoo/students", "students", "Student"), ("/v1/operoo/contacts", "contacts", "Contact")]  # fmt: skip


def test_the_mock_serves_the_contract(http: FlaskClient) -> None:
    doc = http.get("/openapi.json").json
    assert doc == schema.openapi()
    assert doc is not None and doc["openapi"].startswith("3.1")
    for component in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(component)
    assert set(doc["paths"]) == {"/v1/auth/token", *(p for p, _, _ in LISTS), "/v1/students/{enrolledId}"}


def test_the_endpoint_table_is_the_documents() -> None:
    """`mock_esd_contracts.endpoints`, which the mock, the sync and the verifier derive their listings from, says
    what openapi.json says: the paged paths, each page's key and record schema, its filters, who may read it."""
    doc = schema.openapi()

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            *_, kind, name = node["$ref"].split("/")
            node = doc["components"][kind][name]
        return node

    paged = {}
    for path, item in doc["paths"].items():
        answer = (
            deref(item["get"]["responses"]["200"]["content"]["application/json"]["schema"]) if "get" in item else {}
        )
        if "pagingInfo" not in answer.get("properties", {}):
            continue
        (key,) = (k for k in answer["properties"] if k != "pagingInfo")
        component = answer["properties"][key]["items"]["$ref"].rsplit("/", 1)[1]
        names = [deref(p)["name"] for p in item["get"].get("parameters", [])]
        forbidden = "403" in item["get"]["responses"]
        paged[path] = (key, component, tuple(n for n in names if n not in ("pageNo", "pageSize")), forbidden)
    assert paged == {e.path: (e.key, e.component, e.filters, e.custom) for e in endpoints.ENDPOINTS}
    assert [(e.path, e.key, e.component) for e in endpoints.ENDPOINTS] == LISTS


@pytest.mark.parametrize(("path", "key", "component"), LISTS)
def test_every_record_of_the_mock_conforms_strictly(
    http: FlaskClient, custom_headers: dict[str, str], path: str, key: str, component: str
) -> None:
    for body in walk(http, f"/api{path}", custom_headers, key, 1000):
        assert schema.violations(f"{key[:-1].capitalize()}Page", body) == []
        for record in body[key]:
            assert schema.violations(component, record) == []


def test_the_mock_s_errors_conform(http: FlaskClient, custom_headers: dict[str, str]) -> None:
    for response in (
        http.get("/api/v1/students?pageSize=0", headers=custom_headers),
        http.get("/api/v1/students"),
        http.get("/api/v1/students/1", headers=custom_headers),
    ):
        assert schema.violations("Problem", response.json) == []


def test_a_bad_record_is_reported_by_field() -> None:
    assert schema.violations("School", {"id": "1", "name": "x", "schoolType": "Castle", "isHoldingSchool": "no"}) == [
        "isHoldingSchool: expected boolean, got string",
        "schoolType: not one of Elementary, Middle, High, Holding (got a string of 6 characters)",
    ]
