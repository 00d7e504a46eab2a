"""Fault rules: what goes wrong, on which calls, and when. Plain data and decisions; no Flask here.

A rule matches an API path the mock serves (exact, or a prefix ending in `*`), and optionally a method, a
tenant, query parameters (each given once with exactly the value named, as WireMock's `equalTo`) and the
client whose token made the call. It fires always / on the Nth matching call / for the first N calls /
with a probability drawn from its own seeded generator, so a fault sequence is reproducible. What each
kind takes (`params`) is read from the control schema (`contracts/control.schema.json`), written once.

A rule that could never fire, or would do nothing where it fires, is refused when it is added
(`reach_problems`), so `assert_faults_fired` never passes on a rule that changed nothing. The token
endpoint (`POST /v1/auth/token`) takes latency, status, rate_limit, malformed and drop, and no `client`,
`query`, drift, short_last_page nor expire_token: a token request carries no bearer token yet, reads no
query parameter and is no listing. On a prefix (`/v1/*`), a listing's kinds count and change listings only,
and expire_token every path but the token endpoint.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from mock_esd.errors import Invalid
from mock_esd.qa import served
from mock_esd_contracts.schema import MAX_DEPTH, MAX_PROBLEMS, Problems, body_problems, control_schema, shown


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
LISTING_KINDS = (FaultKind.DRIFT, FaultKind.SHORT_LAST_PAGE)  # they change a listing's answer, and nothing else


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
        if not endpoint_matches(self.endpoint, path):
            return False
        return _kind_reaches(self.kind, path)

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


def _kind_reaches(kind: FaultKind, path: str) -> bool:
    """Whether a rule of `kind` does anything to a call of `path`: a listing's kinds to a listing only, expire_token
    off the token endpoint. A rule on a prefix counts (and fires on) only those calls, so `fired` means changed."""
    if kind in LISTING_KINDS:
        return path in served.listing_paths()
    return kind != FaultKind.EXPIRE_TOKEN or path != TOKEN_PATH


def endpoint_matches(endpoint: str, path: str) -> bool:
    """A rule's endpoint against a call's path: equal, or a prefix of it when the endpoint ends in `*`."""
    return path.startswith(endpoint[:-1]) if endpoint.endswith("*") else path == endpoint


def rule_problems(
    body: Any, tenants: list[str] | None = None, max_depth: int = MAX_DEPTH, limit: int = MAX_PROBLEMS,
    clients: Mapping[str, list[str]] | None = None,
) -> Problems:  # fmt: skip
    """The problems of a rule body (at most `limit` of its schema's): its schema (contracts/control.schema.json),
    a tenant that must exist (one of `tenants`), then whether it can fire and do something where it fires
    (`reach_problems`; `clients` maps each tenant to its client ids, None: clients not checked)."""
    found = body_problems("fault", body, max_depth, limit)
    problems = Problems(_flat_hint(p, body) for p in found)
    problems.more = found.more
    if not isinstance(body, dict):
        return problems
    tenant = body.get("tenant")
    if tenants is not None and isinstance(tenant, str) and tenant not in tenants:
        problems.append({"path": "tenant", "message": f"no tenant {shown(tenant)}; tenants: {', '.join(tenants)}"})
    wrong = {p["path"].split(".", 1)[0] for p in problems}  # a field with a problem is told that one only
    problems += reach_problems({k: v for k, v in body.items() if k not in wrong}, clients)
    problems.sort(key=lambda p: p["path"])
    return problems


def reach_problems(body: Mapping[str, Any], clients: Mapping[str, list[str]] | None = None) -> list[dict[str, str]]:
    """Why a rule (its fields that passed the schema) could never fire, or would do nothing where it fires.

    Checked against what the contract says each path serves (`mock_esd.qa.served`): the endpoint must name a
    path the mock serves; `method` one that path answers; `query` parameters one path it names reads, all of
    them; `client` one of the rule's tenant's clients (of any tenant's when it names none), and none on the
    token endpoint (a token request carries no bearer token yet); each of `n`, `probability`, `seed` only with
    the mode that reads it; drift and short_last_page on a listing; expire_token off the token endpoint.
    """
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        return []
    paths = served.named_by(endpoint)
    if not paths:
        every = ", ".join(s.template for s in served.served())
        message = f"the mock serves no {shown(endpoint)}; it serves {every} (a prefix may end in *)"
        return [{"path": "endpoint", "message": message}]
    problems = _mode_problems(body)
    method = body.get("method")
    if isinstance(method, str) and not any(method in s.methods for s in paths):
        problems.append({"path": "method", "message": _unanswered(endpoint, paths, method)})
    elif isinstance(method, str):  # the kind and the client are judged on the paths the method reaches
        paths = [s for s in paths if method in s.methods]
    problems += _kind_problems(body, endpoint, paths) + _client_problems(body, endpoint, paths, clients)
    query = body.get("query")
    if isinstance(query, dict) and query:
        problems += served.query_problems(endpoint, paths, set(query))
    return problems


def _unanswered(endpoint: str, paths: list[served.Served], method: str) -> str:
    answered = ", ".join(dict.fromkeys(m for s in paths for m in s.methods))
    where = paths[0].template if len(paths) == 1 else f"every path under {endpoint}"
    return f"{where} is served to {answered}; a {method} call never reaches it"


# Which modes read each of a rule's timing fields: given with another mode, it would be silently ignored.
_READ_BY: dict[str, tuple[Mode, ...]] = {
    "n": (Mode.NTH, Mode.TIMES), "probability": (Mode.PROBABILITY,), "seed": (Mode.PROBABILITY,),
}  # fmt: skip


def _mode_problems(body: Mapping[str, Any]) -> list[dict[str, str]]:
    mode = body.get("mode", Mode.ALWAYS)
    if mode not in MODES:
        return []
    return [
        {"path": name, "message": f"mode {mode} does not read it ({name} is for mode {' or '.join(modes)})"}
        for name, modes in _READ_BY.items()
        if name in body and mode not in modes
    ]


def _kind_problems(body: Mapping[str, Any], endpoint: str, paths: list[served.Served]) -> list[dict[str, str]]:
    kind = body.get("kind")
    if kind in LISTING_KINDS and not any(s.listing for s in paths):
        what = "changes a listing's pages" if kind == FaultKind.DRIFT else "shortens a listing's last page"
        where = f"no listing is under {endpoint}" if endpoint.endswith("*") else f"{endpoint} is no listing"
        if isinstance(body.get("method"), str) and endpoint.endswith("*"):
            where = f"no listing under {endpoint} answers {body['method']}"
        listings = ", ".join(served.listing_paths())
        return [{"path": "kind", "message": f"{where}; the listings: {listings} ({kind} {what})"}]
    if kind == FaultKind.EXPIRE_TOKEN and all(s.template == TOKEN_PATH for s in paths):
        message = (
            f"a call to {TOKEN_PATH} carries no token to expire: aim expire_token at a path that takes one, "
            'or answer the token request with kind status, params {"status": 401}'
        )
        return [{"path": "kind", "message": message}]
    return []


def _client_problems(
    body: Mapping[str, Any], endpoint: str, paths: list[served.Served], clients: Mapping[str, list[str]] | None
) -> list[dict[str, str]]:
    client, tenant = body.get("client"), body.get("tenant")
    if not isinstance(client, str):
        return []
    if all(s.template == TOKEN_PATH for s in paths):
        message = f"a call to {TOKEN_PATH} carries no client yet (it asks for the token): leave client out"
        return [{"path": "client", "message": message}]
    if clients is None:
        return []
    if isinstance(tenant, str) and tenant in clients and client not in clients[tenant]:
        message = f"tenant {tenant} has no client {shown(client)}; its clients: {', '.join(clients[tenant])}"
        return [{"path": "client", "message": message}]
    if all(client not in ids for ids in clients.values()):
        return [{"path": "client", "message": f"no tenant has a client {shown(client)}"}]
    return []


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
