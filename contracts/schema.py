"""The contract as data: the OpenAPI document and JSON Schema validators for its components."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

FORMAT_KEYWORDS = ("enum", "pattern")  # values checked by named checks, not by the structural schema


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document (contracts/openapi.json)."""
    return json.loads(resources.files("contracts").joinpath("openapi.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def openapi_bytes() -> bytes:
    return resources.files("contracts").joinpath("openapi.json").read_bytes()


@cache
def validator(component: str, structural: bool = False) -> Draft202012Validator:
    """A validator for `#/components/schemas/<component>`.

    `structural` drops enum and pattern keywords: the verifier's schema check then reports shapes and
    types only, and its vocabulary and format checks report values, so one fault fails one check.
    """
    components = openapi()["components"]
    if structural:
        components = _strip(components)
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": components})


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in FORMAT_KEYWORDS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def violations(component: str, instance: Any, structural: bool = False) -> list[str]:
    """Every violation, each as 'field: message'."""
    out = []
    for error in sorted(validator(component, structural).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(record)"
        out.append(f"{path}: {error.message}")
    return out
