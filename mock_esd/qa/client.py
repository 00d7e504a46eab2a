"""A small client of the `/_mock/` control API, for QA tests (the pytest plugin hands one out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from mock_esd.errors import EsdError
from mock_esd.qa.expectations import count_failure, differences


class ControlError(EsdError):
    """The control API refused a request; the message is its problem detail."""


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


def _server_wide(path: str) -> bool:
    """Paths about the whole server, not one tenant's district: they take no `?tenant=`."""
    return path in ("", "/") or path.startswith(("/faults", "/tenants"))


class ControlClient:
    """Calls `/_mock/...` on one server for one tenant."""

    def __init__(self, session: requests.Session, root_url: str, tenant: str = "default") -> None:
        self.session, self.root, self.tenant = session, root_url.rstrip("/"), tenant

    def call(
        self, method: str, path: str, json: Any = None, data: str | bytes | None = None,
        headers: dict[str, str] | None = None, **params: Any,
    ) -> Any:  # fmt: skip
        """One control call; `?tenant=` goes with the calls about a district (a fault rule names its tenant in its body)."""
        response = self.session.request(
            method,
            f"{self.root}/_mock{path}",
            params={**({} if _server_wide(path) else {"tenant": self.tenant}), **params},
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

    # districts
    def reset(self, **spec: Any) -> Any:
        return self.call("POST", "/reset", json=spec)

    def load_scenario(self, text: str, merge: bool = False) -> Any:
        return self.call(
            "POST", "/scenario", data=text.encode(), headers={"Content-Type": "application/yaml"},
            **({"merge": "true"} if merge else {}),
        )  # fmt: skip

    def export_scenario(self) -> Any:
        return self.call("GET", "/scenario")

    # records
    def put_school(self, **school: Any) -> Any:
        return self.call("POST", "/schools", json=school)

    def delete_school(self, school_id: str) -> None:
        self.call("DELETE", f"/schools/{school_id}")

    def create_student(self, **student: Any) -> Any:
        return self.call("POST", "/students", json=student)

    def student(self, person_id: int) -> Any:
        return self.call("GET", f"/students/{person_id}")

    def patch_student(self, person_id: int, **fields: Any) -> Any:
        return self.call("PATCH", f"/students/{person_id}", json=fields)

    def delete_student(self, person_id: int) -> None:
        self.call("DELETE", f"/students/{person_id}")

    def put_contact(self, **contact: Any) -> Any:
        return self.call("POST", "/contacts", json=contact)

    def delete_contact(self, contact_id: int) -> None:
        self.call("DELETE", f"/contacts/{contact_id}")

    # the real workflow
    def submit_application(self, **fields: Any) -> Any:
        return self.call("POST", "/applications", json=fields)

    def accept(self, person_id: int, school_id: str, **fields: Any) -> Any:
        return self.call("POST", f"/students/{person_id}/accept", json={"schoolId": school_id, **fields})

    def move(self, person_id: int, school_id: str) -> Any:
        return self.call("POST", f"/students/{person_id}/move", json={"schoolId": school_id})

    def withdraw(self, person_id: int) -> Any:
        return self.call("POST", f"/students/{person_id}/withdraw")

    # faults and journal
    def add_fault(self, endpoint: str, kind: str, **rule: Any) -> int:
        return int(self.call("POST", "/faults", json={"endpoint": endpoint, "kind": kind, **rule})["id"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/faults"))

    def remove_fault(self, rule_id: int) -> None:
        self.call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self, revert: bool = False) -> Any:
        """Remove every rule; with `revert`, also undo what they changed and return what was undone."""
        return self.call("DELETE", "/faults", revert="true") if revert else self.call("DELETE", "/faults")

    def revert_fault(self, rule_id: int) -> Any:
        """Remove a rule and undo what it changed (a drift's students): {"deleted", "restored", "skipped"}."""
        return self.call("POST", f"/faults/{rule_id}/revert")

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Journal entries of this tenant, filtered by method, path (prefix with *), client, status."""
        return list(
            self.session.get(
                f"{self.root}/_mock/requests", params={"tenant": self.tenant, **filters}, timeout=60
            ).json()
        )

    def clear_requests(self) -> None:
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
        """
        criteria = {"method": method, "path": path, "query": query, "client": client, "status": status}
        entries = self.requests()
        failure = count_failure(entries, count, criteria)
        if failure is not None:
            raise AssertionError(f"tenant {self.tenant}: {failure}")
        return [e for e in entries if not differences(e, criteria)]
