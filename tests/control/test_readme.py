"""The README's control-API bodies are the real ones: each is sent, in order, and must be accepted."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig

README = Path(__file__).parents[2] / "README.md"
EXAMPLE = re.compile(r"^```json (POST|PATCH|PUT|DELETE) (/_mock/\S*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
# every control route that takes a body, as the README must show it
BODIES = {
    "POST /_mock/reset", "POST /_mock/tenants", "POST /_mock/schools", "POST /_mock/students",
    "PATCH /_mock/students/ID", "POST /_mock/applications", "POST /_mock/students/ID/accept",
    "POST /_mock/students/ID/move", "POST /_mock/students/ID/withdraw", "POST /_mock/contacts",
    "POST /_mock/scenario", "POST /_mock/faults",
}  # fmt: skip


def examples() -> list[tuple[str, str, str]]:
    qa = README.read_text(encoding="utf-8").split("## For QA", 1)[1].split("\n## ", 1)[0]
    return EXAMPLE.findall(qa)


def test_the_readme_shows_a_body_for_every_control_route() -> None:
    shown = {f"{method} {re.sub(r'/[0-9]+', '/ID', path.split('?')[0])}" for method, path, _ in examples()}
    assert shown == BODIES


def test_every_readme_body_is_accepted_by_the_mock() -> None:
    http = create_app(AppConfig()).test_client()
    for method, path, text in examples():
        response = http.open(path, method=method, json=json.loads(text))
        assert response.status_code in (200, 201), f"{method} {path}: {response.data!r}"
    rules = http.get("/_mock/faults").json
    assert rules is not None and sorted(r["kind"] for r in rules) == sorted(
        ["latency", "status", "rate_limit", "expire_token", "malformed", "drop", "drift", "short_last_page", "status"]
    ), "one example per fault kind, and an aimed one"
