"""Fault rules: what goes wrong, on which calls, and when. Plain data and decisions; no Flask here.

A rule matches an API path (exact, or a prefix ending in `*`), optionally a tenant, and fires
always / on the Nth matching call / for the first N calls / with a probability drawn from its own
seeded generator, so a fault sequence is reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from mock_esd.errors import BadRequest

KINDS = ("latency", "status", "rate_limit", "expire_token", "malformed", "drop", "drift")
MODES = ("always", "nth", "times", "probability")


@dataclass
class FaultRule:
    """One rule; `fired` counts the calls it changed, `calls` the calls it matched."""

    rule_id: int
    endpoint: str
    kind: str
    mode: str = "always"
    n: int = 1
    probability: float = 1.0
    seed: int = 0
    tenant: str | None = None
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    calls: int = 0
    fired: int = 0

    def matches(self, path: str, method: str, tenant: str | None) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.tenant is not None and self.tenant != tenant:
            return False
        if self.endpoint.endswith("*"):
            return path.startswith(self.endpoint[:-1])
        return path == self.endpoint

    def should_fire(self) -> bool:
        """Count a matching call and say whether the fault applies to it."""
        self.calls += 1
        fire = {
            "always": True,
            "nth": self.calls == self.n,
            "times": self.fired < self.n,
            # a draw per call number, not a generator's state: worker processes sharing the
            # counters make the same decisions as one process would
            "probability": random.Random(f"{self.seed}:{self.calls}").random() < self.probability,
        }[self.mode]
        if fire:
            self.fired += 1
        return fire

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.rule_id, "endpoint": self.endpoint, "kind": self.kind, "mode": self.mode, "n": self.n,
            "probability": self.probability, "seed": self.seed, "tenant": self.tenant, "method": self.method,
            "params": self.params, "calls": self.calls, "fired": self.fired,
        }  # fmt: skip


_PARAMS: dict[str, dict[str, type]] = {
    "latency": {"ms": int},
    "status": {"status": int},
    "rate_limit": {"retry_after": int},
    "expire_token": {},
    "malformed": {"keep": float},
    "drop": {"keep": float},
    "drift": {"insert": int, "remove": int},
}


def parse_rule(rule_id: int, body: Any) -> FaultRule:
    """A rule from the control API's JSON; BadRequest naming every problem."""
    if not isinstance(body, dict):
        raise BadRequest("a fault rule is a JSON object")
    problems = []
    kind, mode = body.get("kind"), body.get("mode", "always")
    if kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if mode not in MODES:
        problems.append(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        problems.append(
            f"endpoint must be an API path such as /v1/students (or a prefix ending in *), got {endpoint!r}"
        )
    params = body.get("params", {})
    allowed = _PARAMS.get(str(kind), {})
    if not isinstance(params, dict):
        problems.append("params must be an object")
        params = {}
    for name, value in params.items():
        if name not in allowed:
            problems.append(f"{kind} takes params {', '.join(allowed) or 'none'}, not {name!r}")
        elif not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"params.{name} must be a number, got {value!r}")
    if kind == "status" and not 500 <= int(params.get("status", 500)) <= 599:
        problems.append("a status fault answers 5xx; use other kinds for 401 or 429")
    n, probability = body.get("n", 1), body.get("probability", 1.0)
    if not isinstance(n, int) or n < 1:
        problems.append(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(probability, int | float) or not 0 <= probability <= 1:
        problems.append(f"probability must be from 0 to 1, got {probability!r}")
    if problems:
        raise BadRequest("; ".join(problems))
    return FaultRule(
        rule_id, str(endpoint), str(kind), str(mode), n, float(probability), int(body.get("seed", 0)),
        body.get("tenant"), body.get("method"), dict(params),
    )  # fmt: skip


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
        with self._lock:
            return self._rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules.values())

    def firing(self, path: str, method: str, tenant: str | None) -> list[FaultRule]:
        """The rules that fire on this call (each matching rule counts the call)."""
        with self._lock:
            return [r for r in self._rules.values() if r.matches(path, method, tenant) and r.should_fire()]
