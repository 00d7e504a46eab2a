"""A client of the `/_mock/` control API for QA tests: change a district, inject faults, assert what was asked.

The pytest fixtures and `mock_district` hand one out as `esd.control`, bound to the test's district
(tenant). Every method is one call of the control API (docs/qa/scenarios.md); a refusal raises `ControlError`
with the mock's problem detail, which names every field it could not take.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests

from mock_esd.errors import EsdError
from mock_esd.qa.expectations import count_failure, differences, unfired_failure
from mock_esd.qa.served import criteria_problems

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
FaultKindName = Literal[
    "latency", "status", "rate_limit", "expire_token", "malformed", "drop", "drift", "short_last_page"
]  # fmt: skip
ModeName = Literal["always", "nth", "times", "probability"]
_RULE_FIELDS = ("endpoint", "kind", "params", "mode", "n", "probability", "seed", "method", "query", "client", "tenant")


class ControlError(EsdError):
    """The control API refused a request; the message is its problem detail. `status` is the HTTP status."""


@dataclass(frozen=True)
class Credentials:
    """A client's OAuth2 credentials, as `POST /v1/auth/token` takes them."""

    client_id: str
    client_secret: str


def _server_wide(path: str) -> bool:
    """Paths about the whole server, not one tenant's district: they take no `?tenant=`."""
    return path in ("", "/") or path.startswith(("/faults", "/tenants"))


class ControlClient:
    """Calls `/_mock/...` of the server at `root_url` for one tenant (district), through `session`."""

    def __init__(self, session: requests.Session, root_url: str, tenant: str = "default") -> None:
        self.session, self.root, self.tenant = session, root_url.rstrip("/"), tenant

    def call(
        self, method: str, path: str, json: Any = None, data: str | bytes | None = None,
        headers: dict[str, str] | None = None, query: Mapping[str, Any] | None = None, **params: Any,
    ) -> Any:  # fmt: skip
        """One control call (`call("GET", "/tenants")`): the parsed JSON answer, or None for an empty one.

        `?tenant=` goes with the calls about a district (a fault rule names its tenant in its body); `query`
        and `params` become the query string. Raises ControlError for a 4xx or 5xx answer, with every
        problem it named.
        """
        response = self.session.request(
            method,
            f"{self.root}/_mock{path}",
            params={**({} if _server_wide(path) else {"tenant": self.tenant}), **(query or {}), **params},
            json=json,
            data=data,
            headers=headers,
            timeout=60,
        )
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text[:200]
            error = ControlError(f"{method} /_mock{path}: {response.status_code}: {detail}")
            error.status = response.status_code
            raise error
        return response.json() if response.content else None

    # ----- districts ---------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, students: int | None = None, schools: int | None = None,
        today: dt.date | str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Generate this tenant's district again, with another seed, size or date where given (the rest as it was):
        `reset(seed=4, students=500)`. Fault rules stay. Returns `{"tenant", "seed", "students", "schools"}`."""
        body = {"seed": seed, "students": students, "schools": schools, "today": today}
        return self.call("POST", "/reset", json={k: _plain(v) for k, v in body.items() if v is not None})  # type: ignore[no-any-return]

    def load_scenario(self, text: str, merge: bool = False) -> dict[str, Any]:
        """Replace the district with a scenario (YAML or JSON text, `contracts/scenario.schema.json`), or with
        `merge=True` add its records to it. Returns `{"tenant", "schools", "students"}` counts."""
        return self.call(  # type: ignore[no-any-return]
            "POST", "/scenario", data=text.encode(), headers={"Content-Type": "application/yaml"},
            query={"merge": "true"} if merge else None,
        )  # fmt: skip

    def export_scenario(self) -> dict[str, Any]:
        """The district as a scenario (`schools`, `students`, `contacts`, `today`, ...): load it back to replay it."""
        return self.call("GET", "/scenario")  # type: ignore[no-any-return]

    # ----- records (in the API's own field names: schoolId, firstName, ...) ----------------------------

    def put_school(self, **school: Any) -> dict[str, Any]:
        """Add or replace a school: `put_school(id="0950", name="Harbor Elementary", schoolType="Elementary")`
        (`isHoldingSchool` defaults to false). Returns the school as stored."""
        return self.call("POST", "/schools", json=school)  # type: ignore[no-any-return]

    def delete_school(self, school_id: str) -> None:
        """Remove a school that no student is in (a 409 otherwise)."""
        self.call("DELETE", f"/schools/{school_id}")

    def create_student(self, **student: Any) -> dict[str, Any]:
        """Add a person in the API's shape (`enrolledId`, `studentStatus`, `schoolId`, `firstName`, ...; `id`
        defaults to the next free one, the rest to `mock_esd.district.builders`'). Returns the stored record."""
        return self.call("POST", "/students", json=student)  # type: ignore[no-any-return]

    def student(self, person_id: int) -> dict[str, Any]:
        """One person by person id, whatever the endpoints show of it."""
        return self.call("GET", f"/students/{person_id}")  # type: ignore[no-any-return]

    def patch_student(self, person_id: int, **fields: Any) -> dict[str, Any]:
        """Change fields of a person: `patch_student(12, lastName="Porter")` (any field but `id`)."""
        return self.call("PATCH", f"/students/{person_id}", json=fields)  # type: ignore[no-any-return]

    def delete_student(self, person_id: int) -> None:
        """Remove a person, and its links from its contacts."""
        self.call("DELETE", f"/students/{person_id}")

    def put_contact(self, **contact: Any) -> dict[str, Any]:
        """Add or replace a contact: `put_contact(firstName="Ann", students=[{"studentId": 12, "relationship":
        "Mother", "priority": 1}])` (`id` defaults to the next free one). Returns the stored contact."""
        return self.call("POST", "/contacts", json=contact)  # type: ignore[no-any-return]

    def delete_contact(self, contact_id: int) -> None:
        """Remove a contact."""
        self.call("DELETE", f"/contacts/{contact_id}")

    # ----- the district's workflow: what a parent, the registrar or a school does -------------------------

    def submit_application(
        self, *, firstName: str | None = None, lastName: str | None = None, schoolId: str | None = None,
        grade: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A parent applies online: a new person without an enrolledId, Pre-enrolled, usually without a school.
        Returns the new person (its `id` is what `accept` takes)."""
        body = {"firstName": firstName, "lastName": lastName, "schoolId": schoolId, "grade": grade}
        return self.call("POST", "/applications", json={k: v for k, v in body.items() if v is not None})  # type: ignore[no-any-return]

    def accept(
        self, person_id: int, school_id: str, *, enrolled_id: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        """The district accepts an application into a school with a new enrolledId (or `enrolled_id`): Enrolled,
        or Pre-enrolled in a holding school, unless `status` says otherwise. Returns the person."""
        body = {"schoolId": school_id, "enrolledId": enrolled_id, "studentStatus": status}
        return self.call(  # type: ignore[no-any-return]
            "POST", f"/students/{person_id}/accept", json={k: v for k, v in body.items() if v is not None}
        )

    def move(self, person_id: int, school_id: str) -> dict[str, Any]:
        """A student changes school. Returns the person."""
        return self.call("POST", f"/students/{person_id}/move", json={"schoolId": school_id})  # type: ignore[no-any-return]

    def withdraw(self, person_id: int) -> dict[str, Any]:
        """A student leaves the district (Withdrawn). Returns the person."""
        return self.call("POST", f"/students/{person_id}/withdraw")  # type: ignore[no-any-return]

    # ----- faults ------------------------------------------------------------------------------------

    def add_fault(
        self,
        endpoint: str | Mapping[str, Any],
        kind: FaultKindName | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        mode: ModeName | None = None,
        n: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        method: Method | None = None,
        query: Mapping[str, str] | None = None,
        client: str | None = None,
        tenant: str | None = None,
        every_tenant: bool = False,
    ) -> int:
        """Arm a fault rule; returns its id. `add_fault("/v1/students", "status", params={"status": 503},
        query={"pageNo": "2"})` answers 503 to every request for page 2 of `/v1/students`.

        What goes wrong: `kind` (latency, status, rate_limit, expire_token, malformed, drop, drift,
        short_last_page) with its `params` (`{"ms": 300}`, `{"status": 503}`, ...: the table of docs/qa/faults.md).
        On which calls: `endpoint` (a path the mock serves, or a prefix ending in `*`), and only those with
        this `method`, every parameter of `query` given once with exactly that value, made with this
        `client` id's token, or of this `tenant`. When: `mode` always (default), nth (the `n`th matching
        call), times (the first `n`) or probability (`probability`, drawn from `seed`).

        Whose calls: this client's tenant by default (the district it is bound to: `esd.control` arms rules
        for its own district only), another `tenant` if named, or every tenant of the server with
        `every_tenant=True` (then `tenant` may not be given). Over raw HTTP a body without `tenant` is for
        every tenant; only this method's default is the client's own.

        The whole rule may also be given as one mapping: `add_fault({"endpoint": ..., "kind": ...})`; without
        a `tenant` key it is this client's tenant's too (`every_tenant=True`, or `"tenant": None` as over
        HTTP, for every tenant). A field the control API does not know, a wrong value, an endpoint the mock
        does not serve, or a rule that could never fire or would do nothing (a method or query parameter the
        endpoint does not take, a client its tenant does not have, `n` with mode always, drift off a listing)
        raises ControlError naming each (nothing is armed); a field this method does not know, or
        `every_tenant` with a tenant named, raises TypeError.
        """
        if isinstance(endpoint, Mapping):
            given = [name for name, value in locals().items() if name in _RULE_FIELDS[1:] and value is not None]
            if given:
                raise TypeError(
                    f"add_fault takes the rule as one mapping or as arguments, not both; also got {', '.join(given)}"
                )
            unknown = sorted(set(endpoint) - set(_RULE_FIELDS))
            if unknown:
                raise TypeError(
                    f"a fault rule has no field {', '.join(map(repr, unknown))}; its fields: {', '.join(_RULE_FIELDS)}"
                )
            body = dict(endpoint)
        else:
            if kind is None:
                raise TypeError(
                    "add_fault needs the kind of fault: add_fault('/v1/students', 'status', params={'status': 503})"
                )
            fields = {
                "endpoint": endpoint, "kind": kind, "params": dict(params) if params is not None else None, "mode": mode,
                "n": n, "probability": probability, "seed": seed, "method": method,
                "query": dict(query) if query is not None else None, "client": client, "tenant": tenant,
            }  # fmt: skip
            body = {k: v for k, v in fields.items() if v is not None}
        if every_tenant:
            if body.get("tenant") is not None:
                raise TypeError(f"add_fault: every_tenant=True, or tenant={body['tenant']!r}, not both")
            body["tenant"] = None
        body.setdefault("tenant", self.tenant)
        return int(self.call("POST", "/faults", json=body)["id"])

    def faults(self) -> list[dict[str, Any]]:
        """Every armed rule of the server, each with `calls` (matched) and `fired` (changed) so far."""
        return list(self.call("GET", "/faults"))

    def remove_fault(self, rule_id: int) -> None:
        """Disarm one rule (what it changed stays; `revert_fault` undoes that too)."""
        self.call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self, revert: bool = False) -> Any:
        """Remove every rule; with `revert`, also undo what they changed and return what was undone."""
        return self.call("DELETE", "/faults", revert="true") if revert else self.call("DELETE", "/faults")

    def revert_fault(self, rule_id: int) -> dict[str, Any]:
        """Remove a rule and undo what it changed (a drift's students): {"deleted", "restored", "skipped"}."""
        return self.call("POST", f"/faults/{rule_id}/revert")  # type: ignore[no-any-return]

    def assert_faults_fired(self) -> list[dict[str, Any]]:
        """Assert that every armed rule that can reach this district (its tenant, or any) fired at least once;
        return the rules. On failure the AssertionError names each rule that never fired, how many calls it
        matched, and the journal's nearest requests: those that missed it by one criterion, and which."""
        rules = [r for r in self.faults() if r.get("tenant") in (None, self.tenant)]
        failure = unfired_failure(rules, self.requests())
        if failure is not None:
            raise AssertionError(f"tenant {self.tenant}: {failure}")
        return rules

    # ----- the journal ---------------------------------------------------------------------------------

    def requests(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        client: str | None = None,
        status: int | None = None,
    ) -> list[dict[str, Any]]:
        """This tenant's journal entries (`seq`, `time`, `method`, `path`, `query`, `client`, `tenant`, `status`),
        oldest first, filtered by method, path (a prefix if it ends in `*`), client id and status. A filter no
        request could match (a path the mock does not serve, say) raises ControlError naming it."""
        given = {"method": method, "path": path, "client": client, "status": status}
        return list(self.call("GET", "/requests", query={k: v for k, v in given.items() if v is not None}))

    def clear_requests(self) -> None:
        """Empty this tenant's journal."""
        self.call("DELETE", "/requests")

    def assert_requests(
        self,
        count: int,
        *,
        method: str | None = None,
        path: str | None = None,
        query: str | Mapping[str, Any] | None = None,
        client: str | None = None,
        status: int | None = None,
    ) -> list[dict[str, Any]]:
        """Assert that exactly `count` of this tenant's journal entries match; return them.

        `path` is `/v1/...` or `/api/v1/...` (a prefix if it ends in `*`); `query` is the exact query
        string or a mapping of parameters that must have those values. On failure the AssertionError
        lists the matches and the near misses: entries that match every criterion but one, and which.
        A criterion no request could match (a path the mock does not serve, a method that is none, a status
        outside 100-599, a query parameter no path named reads, a client no tenant has) raises ValueError
        naming it, before the journal is read.
        """
        criteria = {"method": method, "path": path, "query": query, "client": client, "status": status}
        clients = [c["clientId"] for t in self.call("GET", "/tenants") for c in t["clients"]] if client else None
        problems = criteria_problems(criteria, clients=clients)
        if problems:  # no request could match it: `assert_requests(0, ...)` would pass on anything
            raise ValueError(
                "assert_requests cannot match: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems)
            )
        entries = self.requests()
        failure = count_failure(entries, count, criteria)
        if failure is not None:
            raise AssertionError(f"tenant {self.tenant}: {failure}")
        return [e for e in entries if not differences(e, criteria)]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
