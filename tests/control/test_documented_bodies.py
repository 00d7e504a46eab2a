"""The control-API bodies the QA pages show are the real ones: each is sent, in order, and must be accepted.

docs/qa/scenarios.md shows a body for every route that changes the district, docs/qa/faults.md one for every
fault kind; each is a JSON block titled with its route (```json title="POST /_mock/reset"```).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig

DOCS = Path(__file__).parents[2] / "docs"
# in this order: a fault rule aims at the tenant a body of scenarios.md makes
PAGES = [DOCS / "qa" / "scenarios.md", DOCS / "qa" / "faults.md"]
EXAMPLE = re.compile(r'^```json title="(POST|PATCH|PUT|DELETE) (/_mock/\S*)"\n(.*?)^```$', re.DOTALL | re.MULTILINE)
# every control route that takes a body, as the pages must show it
BODIES = {
    "POST /_mock/reset", "POST /_mock/tenants", "POST /_mock/schools", "POST /_mock/students",
    "PATCH /_mock/students/ID", "POST /_mock/applications", "POST /_mock/students/ID/accept",
    "POST /_mock/students/ID/move", "POST /_mock/students/ID/withdraw", "POST /_mock/contacts",
    "POST /_mock/scenario", "POST /_mock/faults",
}  # fmt: skip


def examples() -> list[tuple[str, str, str]]:
    return [found for page in PAGES for found in EXAMPLE.findall(page.read_text(encoding="utf-8"))]


def test_the_pages_show_a_body_for_every_control_route() -> None:
    shown = {f"{method} {re.sub(r'/[0-9]+', '/ID', path.split('?')[0])}" for method, path, _ in examples()}
    assert shown == BODIES


def test_every_body_shown_is_accepted_by_the_mock() -> None:
    http = create_app(AppConfig()).test_client()
    for method, path, text in examples():
        response = http.open(path, method=method, json=json.loads(text))
        assert response.status_code in (200, 201), f"{method} {path}: {response.data!r}"
    rules = http.get("/_mock/faults").json
    assert rules is not None and sorted(r["kind"] for r in rules) == sorted(
        ["latency", "status", "rate_limit", "expire_token", "malformed", "drop", "drift", "short_last_page", "status"]
    ), "one example per fault kind, and an aimed one"
