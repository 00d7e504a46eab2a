"""The checks one request and its response can show, for a proxy that watches live traffic.

Each judges a single exchange with the same helpers the verifier's checks use over whole walks
(`mock_esd_contracts.checks`), and under the same names where the verifier has one: `records-schema`,
`vocabulary`, `enrolled-id-format`, `auth-required`, `student-by-id`. What only a single answer shows
gets its own name: `content-type`, `paging-fields`, `problem-json`, `token-answer`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import requests

from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.checks import (
    enrolled_id_reasons,
    page_count_reasons,
    paging_info_shape_reasons,
    problem_reasons,
    record_shape_reasons,
    record_vocabulary_reasons,
    token_reasons,
)
from mock_esd_contracts.endpoints import BY_PATH, Endpoint
from mock_esd_contracts.probe import json_body
from mock_esd_contracts.schema import violations

EXCHANGE_CHECKS: Final[dict[str, str]] = {
    "auth-required": "a request to /v1/* without a token is answered 401 problem+json",
    "problem-json": "every 4xx and 5xx answer is application/problem+json with the Problem body",
    "token-answer": "a 200 from POST /v1/auth/token carries the contract's Token body",
    "content-type": "a 200 from GET /v1/* is application/json",
    "records-schema": "each record and pagingInfo of a page has the contract's fields and types",
    "paging-fields": "pagingInfo answers the pageNo and pageSize asked; pageCount fits totalCount; pages are full",
    "vocabulary": "studentStatus, schoolType and relationship values are eSD's",
    "enrolled-id-format": "enrolledId is 8 digits (null only on /v1/operoo/students)",
    "student-by-id": "GET /v1/students/{enrolledId} answers that student",
}
STUDENT_PREFIX: Final = "/v1/students/"


@dataclass(frozen=True)
class Exchange:
    """One request (path below the eSD base URL, e.g. /v1/students) and the response it got."""

    method: str
    path: str
    query: Mapping[str, str]
    authorized: bool  # the request carried an Authorization header
    response: requests.Response


@dataclass(frozen=True)
class Violation:
    check: str
    reason: str


def exchange_violations(ex: Exchange) -> list[Violation]:
    """Every way one exchange breaks the contract, each under the name of the check it fails."""
    return [Violation(name, reason) for name, reasons in _judged(ex) for reason in reasons]


def _judged(ex: Exchange) -> Iterator[tuple[str, Iterator[str]]]:
    where = f"{ex.method} {ex.path}"
    status = ex.response.status_code
    if ex.path == v.TOKEN_PATH:
        if status == 200:
            yield "token-answer", token_reasons(ex.response, "as forwarded")
        elif status >= 400:
            yield "problem-json", problem_reasons(where, ex.response, status)
        return
    if not ex.path.startswith("/v1/"):
        return
    if not ex.authorized:
        yield "auth-required", problem_reasons(f"{where} (no token)", ex.response, 401)
        return
    if status >= 400:
        yield "problem-json", problem_reasons(where, ex.response, status)
        return
    if status != 200 or ex.method != "GET":
        return
    content_type = ex.response.headers.get("Content-Type", "")
    if not content_type.startswith("application/json"):
        yield "content-type", iter([f"{where}: Content-Type {content_type!r}, expected application/json"])
    body = json_body(ex.response)
    endpoint = BY_PATH.get(ex.path)
    if endpoint is not None:
        yield from _page_judged(where, endpoint, ex.query, body)
    elif ex.path.startswith(STUDENT_PREFIX) and "/" not in ex.path[len(STUDENT_PREFIX) :]:
        yield from _student_judged(ex.path, ex.path[len(STUDENT_PREFIX) :], body)


def _page_judged(
    where: str, endpoint: Endpoint, query: Mapping[str, str], body: Any
) -> Iterator[tuple[str, Iterator[str]]]:
    if not isinstance(body, dict) or not isinstance(body.get(endpoint.key), list):
        yield "records-schema", iter([f"{where}: the body has no {endpoint.key!r} list"])
        return
    records, info = body[endpoint.key], body.get(v.PAGING_KEY)
    shape = list(paging_info_shape_reasons(where, info))
    for record in records:
        shape += record_shape_reasons(endpoint.path, endpoint.component, record)
    yield "records-schema", iter(shape)
    if not shape and isinstance(info, dict):
        yield "paging-fields", _paging_reasons(where, query, info, len(records))
    yield (
        "vocabulary",
        (r for record in records for r in record_vocabulary_reasons(endpoint.path, endpoint.key, record)),
    )
    if endpoint.key == v.STUDENTS_KEY:
        nullable = endpoint.custom
        yield (
            "enrolled-id-format",
            (r for record in records for r in enrolled_id_reasons(endpoint.path, record, nullable)),
        )


def _paging_reasons(where: str, query: Mapping[str, str], info: dict[str, int], count: int) -> Iterator[str]:
    asked_no, asked_size = _asked(query, "pageNo", 1), _asked(query, "pageSize", v.DEFAULT_PAGE_SIZE)
    if asked_no is not None and info["pageNo"] != asked_no:
        yield f"{where}: pagingInfo.pageNo is {info['pageNo']}, asked for {asked_no}"
    if asked_size is not None and info["pageSize"] != asked_size:
        yield f"{where}: pagingInfo.pageSize is {info['pageSize']}, asked for {asked_size}"
    if info["pageSize"] <= 0:
        yield f"{where}: pagingInfo.pageSize is {info['pageSize']}"
        return
    yield from page_count_reasons(where, info["totalCount"], info["pageSize"], info["pageCount"])
    page_no, page_count, size, total = info["pageNo"], info["pageCount"], info["pageSize"], info["totalCount"]
    expected = max(0, min(size, total - (page_no - 1) * size))
    if page_no <= page_count and count != expected:
        yield f"{where}: page {page_no} of {page_count} has {count} records, expected {expected} (totalCount {total})"
    elif page_no > page_count and count:
        yield f"{where}: page {page_no} is past the last ({page_count}) but has {count} records"


def _asked(query: Mapping[str, str], name: str, default: int) -> int | None:
    """The integer the request asked for (its default if it asked nothing); None if the ask was no integer."""
    text = query.get(name)
    if text is None:
        return default
    return int(text) if text.isascii() and text.isdecimal() else None  # "²" is a digit, not an integer


def _student_judged(path: str, enrolled_id: str, body: Any) -> Iterator[tuple[str, Iterator[str]]]:
    yield "records-schema", record_shape_reasons(path, "Student", body)
    yield "vocabulary", record_vocabulary_reasons(path, v.STUDENTS_KEY, body)
    yield "enrolled-id-format", enrolled_id_reasons(path, body, nullable=False)
    got = body.get("enrolledId") if isinstance(body, dict) else None
    if isinstance(body, dict) and not violations("Student", body, structural=True) and got != enrolled_id:
        yield "student-by-id", iter([f"GET {path}: answered the student with enrolledId {got!r}"])
