"""What the mock's eSD API serves, from the contract: each path, the methods it answers, the query parameters it
reads, and whether it is a listing. Fault rules and journal filters are checked against it, so a rule or a
filter that can never match a call is refused rather than silently never matching.

Plain data, derived once from `openapi.json` (`mock_esd_contracts.schema.api_operations`) and the listings'
table (`mock_esd_contracts.endpoints`); `tests/control/test_rule_reach.py` holds it to the mock's routes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from mock_esd.qa.journal import api_path
from mock_esd_contracts import endpoints
from mock_esd_contracts.schema import api_operations, shown

# Methods anyone may name (a journal filter, an assertion), whether or not the API serves them.
_DIGITS = re.compile(r"[0-9]{1,6}")  # not str.isdigit: that takes other scripts' digits, which int() reads too
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")


@dataclass(frozen=True)
class Served:
    """One path of the API as the mock serves it: `/v1/students/{enrolledId}` (a `{...}` part is any one part)."""

    template: str
    methods: tuple[str, ...]  # GET also answers HEAD (a GET without its body)
    reads: tuple[str, ...]  # the query parameters it reads; any other is a 400
    listing: bool  # a paged listing: what drift and short_last_page change

    def reads_all(self, names: set[str]) -> bool:
        return names <= set(self.reads)


@cache
def served() -> tuple[Served, ...]:
    """Every path of the API, in the contract's order."""
    out = []
    for template, operations in api_operations().items():
        methods = list(operations)
        if "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        reads = tuple(dict.fromkeys(name for names in operations.values() for name in names))
        out.append(Served(template, tuple(methods), reads, template in endpoints.BY_PATH))
    return tuple(out)


def named_by(endpoint: str) -> list[Served]:
    """The paths a rule's `endpoint` (or a journal's `path` filter) names: the one it is (an id being any one
    part), or, ending in `*`, every one with a path that begins with it. None: the mock serves no such path."""
    return [s for s in served() if _names(endpoint, s.template)]


def _names(endpoint: str, template: str) -> bool:
    wanted = template.split("/")
    if not endpoint.endswith("*"):
        parts = endpoint.split("/")
        return len(parts) == len(wanted) and all(map(_part_fits, parts, wanted))
    *whole, partial = endpoint[:-1].split("/")
    if len(whole) >= len(wanted):
        return False
    last = wanted[len(whole)]
    fits_partial = last.startswith("{") or last.startswith(partial)
    return all(map(_part_fits, whole, wanted)) and fits_partial


def _part_fits(part: str, wanted: str) -> bool:
    """One part of a path against one of a template: equal, or any non-empty part for `{id}`."""
    return part == wanted or (wanted.startswith("{") and part != "")


@cache  # a fault rule of a listing's kind asks on every call it matches
def listing_paths() -> tuple[str, ...]:
    """The listings' paths: `/v1/schools`, `/v1/students`, ..."""
    return tuple(s.template for s in served() if s.listing)


def query_problems(endpoint: str, paths: list[Served], names: set[str]) -> list[dict[str, str]]:
    """Each query parameter none of `paths` reads, or, when each is read somewhere, that no one path reads them all."""
    if any(s.reads_all(names) for s in paths):
        return []
    if len(paths) == 1:
        reads = ", ".join(paths[0].reads) or "no query parameter"
        what = f"{paths[0].template} does not read it; it reads {reads}"
    else:
        what = f"no path under {endpoint} reads it"
    unread = sorted(n for n in names if not any(n in s.reads for s in paths))
    if unread:
        return [{"path": _query_path(n), "message": what} for n in unread]
    together = ", ".join(sorted(names))
    return [{"path": "query", "message": f"no one path under {endpoint} reads all of {together}"}]


def _query_path(name: str) -> str:
    """`query.pageNo`; a name that is no field's name (empty, spaces, ...) is shown quoted."""
    return f"query.{name}" if name.isidentifier() else f"query.{shown(name)}"


def path_problem(path: str) -> str | None:
    """What is wrong with a journal's `path` filter or an assertion's (None: it names a path the mock serves)."""
    if named_by(api_path(path)):
        return None
    return (
        f"the mock serves no {shown(path)}; it serves {', '.join(s.template for s in served())} (a prefix may end in *)"
    )


def method_problem(method: str) -> str | None:
    """What is wrong with a `method` filter (None: an HTTP method, in any case)."""
    if method.upper() in HTTP_METHODS:
        return None
    return f"not an HTTP method, got {shown(method)}; one of {', '.join(HTTP_METHODS)}"


def status_problem(status: object) -> str | None:
    """What is wrong with a `status` filter (None: a number from 100 to 599, as an int or in ASCII digits)."""
    number = status if isinstance(status, int) and not isinstance(status, bool) else None
    if isinstance(status, str) and _DIGITS.fullmatch(status):
        number = int(status)
    if number is not None and 100 <= number <= 599:
        return None
    got = str(number) if number is not None else shown(status)
    return f"a status is a number from 100 to 599, got {got}"


def criteria_problems(
    criteria: Mapping[str, Any], tenants: list[str] | None = None, clients: list[str] | None = None
) -> list[dict[str, str]]:
    """Each criterion of a journal filter or `assert_requests` that no request could match, as {path, message}:
    a method that is none, a path the mock does not serve, a status out of range, query parameters no path it
    names reads, and (when `tenants`, `clients` are given) a tenant or client that does not exist."""
    method, path, status = criteria.get("method"), criteria.get("path"), criteria.get("status")
    said = {
        "method": method_problem(str(method)) if method is not None else None,
        "path": path_problem(str(path)) if path is not None else None,
        "status": status_problem(status) if status is not None else None,
    }
    problems = [{"path": name, "message": message} for name, message in said.items() if message]
    query = criteria.get("query")
    if query is not None and not said["path"]:
        names = set(parse_qs(query, keep_blank_values=True) if isinstance(query, str) else map(str, query))
        endpoint = api_path(str(path)) if path is not None else "/*"
        problems += query_problems(endpoint, named_by(endpoint), names)
    tenant, client = criteria.get("tenant"), criteria.get("client")
    if tenants is not None and tenant is not None and tenant not in tenants:
        problems.append({"path": "tenant", "message": f"no tenant {shown(tenant)}; tenants: {', '.join(tenants)}"})
    if clients is not None and client is not None and client not in clients:
        problems.append({"path": "client", "message": f"no tenant has a client {shown(client)}"})
    return problems
