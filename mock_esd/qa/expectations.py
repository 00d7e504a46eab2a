"""Request verification over journal entries (as `responses.assert_call_count` or WireMock's `verify`), and
fault rules that never fired (as responses' `assert_all_requests_are_fired`, with WireMock's near misses).

Plain data in, a message out: `ControlClient.assert_requests` and `assert_faults_fired` fetch the journal
(and the rules) and call these.
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


def unfired_failure(rules: list[dict[str, Any]], entries: list[dict[str, Any]]) -> str | None:
    """None when every rule (as `GET /_mock/faults` gives them) fired; else a message naming each one that did
    not, what it matched, and the journal's requests that missed it by one criterion."""
    idle = [rule for rule in rules if not rule.get("fired")]
    if not idle:
        return None
    lines = [f"{len(idle)} of {len(rules)} fault rule(s) never fired ({len(entries)} request(s) in the journal)"]
    for rule in idle:
        criteria = rule_criteria(rule)
        wanted = " ".join(f"{k}={_shown(k, v)}" for k, v in criteria.items() if v is not None)
        why = _why_idle(rule)
        lines.append(f"  rule {rule.get('id')} ({rule.get('kind')} on {wanted}): {why}")
        near = [(e, diff[0]) for e in entries if len(diff := differences(e, criteria)) == 1]
        lines += [f"  {line}" for line in _section("nearest requests (every criterion but one)", near)] or [
            "    no request missed it by one criterion"
        ]
    return "\n".join(lines)


def rule_criteria(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A fault rule's matching fields as journal criteria: method, path (its endpoint), query, client."""
    return {"method": rule.get("method"), "path": rule.get("endpoint"), "query": rule.get("query") or None,
            "client": rule.get("client")}  # fmt: skip


def _why_idle(rule: Mapping[str, Any]) -> str:
    calls, mode, n = rule.get("calls", 0), rule.get("mode"), rule.get("n", 1)
    if not calls:
        return "no call matched it"
    if mode == "nth":
        return f"it matched {calls} call(s) and fires on call {n}"
    if mode == "probability":
        return (
            f"it matched {calls} call(s) and fires with probability {rule.get('probability')} (seed {rule.get('seed')})"
        )
    return f"it matched {calls} call(s) but fired on none"


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
