"""Fault rules: what goes wrong, on which calls, and when. Plain data and decisions; no Flask here.

A rule matches an API path the mock serves (exact, or a prefix ending in `*`), and optionally a method, a
tenant, query parameters (each given once with exactly the value named, as WireMock's `equalTo`) and the
client whose token made the call. It fires always / on the Nth matching call / for the first N calls /
with a probability drawn from its own seeded generator, so a fault sequence is reproducible. What each
kind takes (`params`) is read from the control schema (`contracts/control.schema.json`), written once.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from mock_esd.errors import Invalid
from mock_esd_contracts.schema import MAX_DEPTH, MAX_PROBLEMS, Problems, api_paths, body_problems, control_schema, shown


class FaultKind(StrEnum):
    """What a fault rule does to a matching request (docs/qa/faults.md: the fault kinds and their params)."""

    LATENCY = "latency"
    STATUS = "status"
    RATE_LIMIT = "rate_limit"
    EXPIRE_TOKEN = "expire_token"
    MALFORMED = "malformed"
    DROP = "drop"
    DRIFT = "drift"
    SHORT_LAST_PAGE = "short_last_page"


class Mode(StrEnum):
    """When a matching rule fires."""

    ALWAYS = "always"
    NTH = "nth"
    TIMES = "times"
    PROBABILITY = "probability"


KINDS, MODES = tuple(FaultKind), tuple(Mode)


@dataclass
class FaultRule:
    """One rule; `fired` counts the calls it changed, `calls` the calls it matched."""

    rule_id: int
    endpoint: str
    kind: FaultKind
    mode: Mode = Mode.ALWAYS
    n: int = 1
    probability: float = 1.0
    seed: int = 0
    tenant: str | None = None
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)  # parameter -> the one value it must be given
    client: str | None = None  # the client id whose bearer token made the call
    calls: int = 0
    fired: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)  # what a drift changed, to undo (mock_esd.qa.drift)

    def matches(
        self, path: str, method: str, tenant: str | None, query: Mapping[str, list[str]] | None = None,
        client: str | None = None,
    ) -> bool:  # fmt: skip
        """Whether a call is one of this rule's: `query` maps each parameter to the values it was given."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.tenant is not None and self.tenant != tenant:
            return False
        if self.client is not None and self.client != client:
            return False
        if self.query and not query_matches(query or {}, self.query):
            return False
        return endpoint_matches(self.endpoint, path)

    def should_fire(self) -> bool:
        """Count a matching call and say whether the fault applies to it."""
        self.calls += 1
        fire = {
            Mode.ALWAYS: True,
            Mode.NTH: self.calls == self.n,
            Mode.TIMES: self.fired < self.n,
            # a draw per call number, not a generator's state: worker processes sharing the
            # counters make the same decisions as one process would
            Mode.PROBABILITY: random.Random(f"{self.seed}:{self.calls}").random() < self.probability,
        }[self.mode]
        if fire:
            self.fired += 1
        return fire

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.rule_id, "endpoint": self.endpoint, "kind": self.kind, "mode": self.mode, "n": self.n,
            "probability": self.probability, "seed": self.seed, "tenant": self.tenant, "method": self.method,
            "query": self.query, "client": self.client, "params": self.params, "calls": self.calls,
            "fired": self.fired, "changed": self.changed(),
        }  # fmt: skip

    def changed(self) -> list[dict[str, Any]]:
        """What the rule changed in districts: [{"tenant": ..., "inserted" | "removed": student id}]."""
        return [
            {"tenant": c["tenant"], **({"inserted": c["inserted"]} if "inserted" in c else {"removed": c["removed"]})}
            for c in self.changes
        ]


# What each kind takes in `params`, as the control schema says (`$defs/params/$defs/<kind>`).
PARAMS: dict[str, tuple[str, ...]] = {
    kind: tuple(control_schema()["$defs"]["params"]["$defs"][kind]["properties"]) for kind in KINDS
}
TOKEN_PATH = "/v1/auth/token"


def query_matches(given: Mapping[str, list[str]], wanted: Mapping[str, str]) -> bool:
    """Every wanted parameter given once, with exactly the value wanted (others may be given too)."""
    return all(given.get(name) == [value] for name, value in wanted.items())


def endpoint_matches(endpoint: str, path: str) -> bool:
    """A rule's endpoint against a call's path: equal, or a prefix of it when the endpoint ends in `*`."""
    return path.startswith(endpoint[:-1]) if endpoint.endswith("*") else path == endpoint


def _served(endpoint: str) -> bool:
    """Whether the mock serves a path `endpoint` names: one of the contract's paths (an `{id}` part being any
    one part), or, ending in `*`, the beginning of one."""
    for template in api_paths():
        if endpoint.endswith("*"):
            if template.startswith(endpoint[:-1]) or template.split("{", 1)[0].startswith(endpoint[:-1]):
                return True
            continue
        parts, wanted = endpoint.split("/"), template.split("/")
        if len(parts) == len(wanted) and all(
            w == p or (w.startswith("{") and p) for p, w in zip(parts, wanted, strict=True)
        ):
            return True
    return False


def rule_problems(
    body: Any, tenants: list[str] | None = None, max_depth: int = MAX_DEPTH, limit: int = MAX_PROBLEMS
) -> Problems:
    """The problems of a rule body (at most `limit` of its schema's): its schema (contracts/control.schema.json),
    an endpoint the mock serves, a tenant that must exist, and a client that a call to its endpoint can carry."""
    found = body_problems("fault", body, max_depth, limit)
    problems = Problems(_flat_hint(p, body) for p in found)
    problems.more = found.more
    if not isinstance(body, dict):
        return problems
    tenant, endpoint = body.get("tenant"), body.get("endpoint")
    if tenants is not None and isinstance(tenant, str) and tenant not in tenants:
        problems.append({"path": "tenant", "message": f"no tenant {shown(tenant)}; tenants: {', '.join(tenants)}"})
    if isinstance(endpoint, str) and endpoint.startswith("/") and not _served(endpoint):
        served = ", ".join(api_paths())
        problems.append(
            {
                "path": "endpoint",
                "message": f"the mock serves no {shown(endpoint)}; it serves {served} (a prefix may end in *)",
            }
        )
    if body.get("client") is not None and endpoint == TOKEN_PATH:
        problems.append(
            {
                "path": "client",
                "message": f"a call to {TOKEN_PATH} carries no client yet (it asks for the token): leave client out",
            }
        )
    problems.sort(key=lambda p: p["path"])
    return problems


def _flat_hint(problem: dict[str, str], body: Any) -> dict[str, str]:
    """A kind's setting written beside `kind` (flat) gets a message showing the `params` object it belongs in."""
    name = problem["path"]
    owners = [kind for kind, names in PARAMS.items() if name in names]
    if not owners or not problem["message"].startswith("unknown field"):
        return problem
    kind = body.get("kind") if body.get("kind") in owners else owners[0]
    example = f'{{"kind": "{kind}", "params": {{"{name}": {shown(body[name])}}}}}'
    return {"path": name, "message": f"{name} belongs in params: write {example}"}


def parse_rule(rule_id: int, body: Any) -> FaultRule:
    """A rule from the control API's JSON; Invalid naming every problem."""
    problems = rule_problems(body)
    if problems:
        raise Invalid("fault rule", problems, problems.more)
    return rule_from(rule_id, body)


def rule_from(rule_id: int, body: dict[str, Any]) -> FaultRule:
    """A rule from a body already checked (as the shared fault table stores them): no schema check per request."""
    return FaultRule(
        rule_id, body["endpoint"], FaultKind(body["kind"]), Mode(body.get("mode", Mode.ALWAYS)), body.get("n", 1),
        float(body.get("probability", 1.0)), body.get("seed", 0), body.get("tenant"), body.get("method"),
        dict(body.get("params", {})), dict(body.get("query") or {}), body.get("client"),
    )  # fmt: skip


class Faults(Protocol):
    """Where a server keeps its fault rules: `FaultBook` in one process, `changelog.SharedFaults` across workers."""

    def add(self, body: Any) -> FaultRule: ...
    def remove(self, rule_id: int) -> bool: ...
    def take(self, rule_id: int) -> FaultRule | None: ...
    def clear(self) -> list[FaultRule]: ...
    def record_changes(self, rule_id: int, changes: list[dict[str, Any]]) -> None: ...
    def rules(self) -> list[FaultRule]: ...
    def armed(self) -> bool: ...
    def firing(
        self, path: str, method: str, tenant: str | None, query: Mapping[str, list[str]], client: str | None
    ) -> list[FaultRule]: ...


class FaultBook:
    """The active rules of one server; thread-safe, as the threaded server calls it concurrently."""

    def __init__(self) -> None:
        self._rules: dict[int, FaultRule] = {}
        self._next = 1
        self._lock = threading.Lock()

    def add(self, body: Any) -> FaultRule:
        with self._lock:
            rule = parse_rule(self._next, body)
            self._rules[rule.rule_id] = rule
            self._next += 1
            return rule

    def remove(self, rule_id: int) -> bool:
        return self.take(rule_id) is not None

    def take(self, rule_id: int) -> FaultRule | None:
        """Remove a rule and return it (None if there is none), e.g. to undo what it changed."""
        with self._lock:
            return self._rules.pop(rule_id, None)

    def clear(self) -> list[FaultRule]:
        """Remove every rule; the removed rules, oldest first."""
        with self._lock:
            removed = list(self._rules.values())
            self._rules.clear()
            return removed

    def record_changes(self, rule_id: int, changes: list[dict[str, Any]]) -> None:
        """Remember what a rule changed in a district, so that reverting it can undo that."""
        with self._lock:
            if rule_id in self._rules:
                self._rules[rule_id].changes.extend(changes)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules.values())

    def armed(self) -> bool:
        """True when there is any rule (one that may fire on a call): a cheap check, without counting a call."""
        return bool(self._rules)

    def firing(
        self, path: str, method: str, tenant: str | None, query: Mapping[str, list[str]], client: str | None
    ) -> list[FaultRule]:
        """The rules that fire on this call (each matching rule counts the call)."""
        with self._lock:
            return [
                r for r in self._rules.values() if r.matches(path, method, tenant, query, client) and r.should_fire()
            ]
