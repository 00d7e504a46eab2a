"""Request verification over journal entries (as `responses.assert_call_count` or WireMock's `verify`).

Plain data in, a message out: `ControlClient.assert_requests` fetches the journal and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from mock_esd.qa.journal import api_path

SHOWN = 10  # entries listed per section of a failure message


def differences(entry: Mapping[str, Any], criteria: Mapping[str, Any]) -> list[str]:
    """Each given criterion the journal entry fails, as 'path /v1/schools, wanted /v1/students'."""
    out = []
    for name, wanted in criteria.items():
        if wanted is not None and not _matches(name, entry.get(name), wanted):
            out.append(f"{name} {_shown(name, entry.get(name))}, wanted {_shown(name, wanted)}")
    return out


def count_failure(entries: list[dict[str, Any]], count: int, criteria: Mapping[str, Any]) -> str | None:
    """None when exactly `count` entries match every criterion; else a message with the near misses."""
    matched = [e for e in entries if not differences(e, criteria)]
    if len(matched) == count:
        return None
    wanted = " ".join(f"{k}={_shown(k, v)}" for k, v in criteria.items() if v is not None) or "(anything)"
    lines = [f"expected {count} request(s) matching {wanted}, got {len(matched)} of {len(entries)} in the journal"]
    lines += _section("matched", [(e, "") for e in matched])
    near = [(e, diff[0]) for e in entries if len(diff := differences(e, criteria)) == 1]
    lines += _section("near misses (every criterion but one)", near) or ["  no near misses (no request missed by one)"]
    return "\n".join(lines)


def _section(title: str, rows: list[tuple[dict[str, Any], str]]) -> list[str]:
    if not rows:
        return []
    more = [f"    ... and {len(rows) - SHOWN} more"] if len(rows) > SHOWN else []
    return [f"  {title}:", *(f"    {_entry(e)}{': ' + why if why else ''}" for e, why in rows[:SHOWN]), *more]


def _entry(entry: Mapping[str, Any]) -> str:
    query = f"?{entry['query']}" if entry.get("query") else ""
    return f"#{entry.get('seq')} {entry.get('method')} {entry.get('path')}{query} -> {entry.get('status')} (client {entry.get('client')})"


def _matches(name: str, value: Any, wanted: Any) -> bool:
    if name == "method":
        return str(value).upper() == str(wanted).upper()
    if name == "path":
        path, want = api_path(str(value)), api_path(str(wanted))
        return path.startswith(want[:-1]) if want.endswith("*") else path == want
    if name == "query" and isinstance(wanted, Mapping):
        given = parse_qs(str(value or ""), keep_blank_values=True)
        return all(given.get(str(k)) == [str(v)] for k, v in wanted.items())
    if name == "status":
        return bool(value == int(wanted))
    return bool(str(value or "") == str(wanted))


def _shown(name: str, value: Any) -> str:
    if name == "query" and isinstance(value, Mapping):
        return urlencode({str(k): str(v) for k, v in value.items()})
    return str(value) if value not in (None, "") else "(none)"
