"""`Limits` takes only values every request can live with: a wrong type or a value out of range is refused when the
Limits are made, naming the field and what it takes, never a 500 on every POST or a dropped connection later."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
import requests

from mock_esd import AppConfig, DistrictSpec, Limits, LiveServer, create_app


@pytest.mark.parametrize(
    ("field", "value", "error", "said"),
    [
        ("max_body_bytes", "big", TypeError, "max_body_bytes must be a whole number (int), got str"),
        ("max_body_bytes", 1.5, TypeError, "max_body_bytes must be a whole number (int), got float"),
        ("max_students", True, TypeError, "max_students must be a whole number (int), got bool"),
        ("max_tenants", None, TypeError, "max_tenants must be a whole number (int), got NoneType"),
        (
            "max_header_seconds",
            "10",
            TypeError,
            "max_header_seconds must be a number of seconds (int or float), got str",
        ),
        (
            "max_header_seconds",
            False,
            TypeError,
            "max_header_seconds must be a number of seconds (int or float), got bool",
        ),
        ("max_header_seconds", float("inf"), ValueError, "max_header_seconds must be above 0 and at most 86400"),
        ("max_header_seconds", float("nan"), ValueError, "max_header_seconds must be above 0 and at most 86400"),
        ("max_header_seconds", 86_400.5, ValueError, "at most 86400 (a day; a socket's timeout holds no more), got"),
        ("max_header_seconds", 0, ValueError, "max_header_seconds must be above 0"),
        ("max_body_bytes", 0, ValueError, "max_body_bytes must be at least 1, got 0"),
        ("max_yaml_nodes", -1, ValueError, "max_yaml_nodes must be at least 1, got -1"),
        ("max_students", -1, ValueError, "max_students must be at least 0, got -1"),
        ("max_schools", 1, ValueError, "max_schools must be at least 2, got 1"),
        ("max_request_line_bytes", 8_191, ValueError, "max_request_line_bytes must be 1 to 8190"),
    ],
)
def test_a_value_a_limit_cannot_take_is_refused_naming_the_field(
    field: str, value: Any, error: type[Exception], said: str
) -> None:
    with pytest.raises(error, match=re.escape(said)):
        Limits(**{field: value})


def test_every_limit_is_checked_at_its_lowest() -> None:
    """Each field refuses one below its lowest value and takes the lowest: none is left unchecked."""
    lowest = {"max_students": 0, "max_total_students": 0, "max_schools": 2, "max_cached_scenarios": 0}
    for field in dataclasses.fields(Limits):
        if field.name == "max_header_seconds":
            assert Limits(max_header_seconds=0.001).max_header_seconds == 0.001
            continue
        low = lowest.get(field.name, 1)
        assert getattr(Limits(**{field.name: low}), field.name) == low
        with pytest.raises(ValueError, match=f"^{field.name} must be "):
            Limits(**{field.name: low - 1})
        with pytest.raises(TypeError, match=f"^{field.name} must be a whole number"):
            Limits(**{field.name: True})


def test_the_highest_values_serve() -> None:
    """The top of each range is usable: a day of max_header_seconds is a timeout a socket takes; sizes have no top."""
    limits = Limits(max_header_seconds=86_400, max_body_bytes=2**62, max_connections=10_000)
    app = create_app(AppConfig(spec=DistrictSpec(seed=1, students=5), limits=limits))
    with LiveServer(app) as server:
        answer = requests.post(f"{server.root_url}/_mock/faults", json={"endpoint": "/v1/schools"}, timeout=10)
    assert answer.status_code == 400 and "kind" in answer.text  # read and judged: no 500, no connection dropped
