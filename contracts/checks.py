"""The named contract checks. Each is a small function of a Probe returning its reasons to fail.

An empty list passes; `Skip` says a check could not be judged (a prerequisite failed elsewhere).
Most checks judge the contract (a broken API fails); a `warning` check judges data that keeps the
contract but that the sync skips or treats specially, so its findings warn instead of failing.
Every reason names the endpoint, the record and the field where it applies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from mock_esd_contracts import schema
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.probe import ENDPOINTS, Probe, Walk, json_body


class Skip(Exception):
    """The check cannot be judged; the reason says why."""


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    run: Callable[[Probe], list[str]]
    warning: bool = False  # its findings are about data, not the contract: they warn (fail only under --strict)


CHECKS: list[Check] = []


def check(
    name: str, description: str, warning: bool = False
) -> Callable[[Callable[[Probe], Iterator[str]]], Callable[[Probe], Iterator[str]]]:
    """Register a generator of failure (or, for a `warning` check, warning) reasons as a named check."""

    def register(fn: Callable[[Probe], Iterator[str]]) -> Callable[[Probe], Iterator[str]]:
        CHECKS.append(Check(name, description, lambda probe: list(fn(probe)), warning))
        return fn

    return register


def problem_reasons(where: str, response: requests.Response, status: int) -> Iterator[str]:
    """Why `response` is not a problem+json answer with `status`."""
    if response.status_code != status:
        yield f"{where}: status {response.status_code}, expected {status}"
        return
    if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        yield f"{where}: Content-Type {response.headers.get('Content-Type')!r}, expected application/problem+json"
    for error in schema.violations("Problem", json_body(response)):
        yield f"{where}: problem body: {error}"


def complete_walk(probe: Probe, path: str) -> Walk:
    walk = probe.walk(path)
    if walk.failure:
        raise Skip(f"{path} could not be read ({walk.failure}); see endpoints-reachable")
    return walk


def full_walk(probe: Probe, path: str) -> Walk:
    walk = complete_walk(probe, path)
    if walk.truncated:
        raise Skip(f"needs every page of {path}; run without --max-pages")
    return walk


# ----- authentication --------------------------------------------------------------------------


@check("token-form", "POST /v1/auth/token with client_id/client_secret in the form body gives a Bearer token")
def token_form(probe: Probe) -> Iterator[str]:
    yield from token_reasons(probe.fetch_token(probe.target.client_id, probe.target.client_secret), "form body")


@check("token-basic", "POST /v1/auth/token with HTTP Basic credentials gives a Bearer token")
def token_basic(probe: Probe) -> Iterator[str]:
    yield from token_reasons(
        probe.fetch_token(probe.target.client_id, probe.target.client_secret, basic=True), "HTTP Basic"
    )


def token_reasons(response: requests.Response, how: str) -> Iterator[str]:
    """Why a token answer is not 200 with the contract's Token body."""
    where = f"POST /v1/auth/token ({how})"
    if response.status_code != 200:
        yield f"{where}: status {response.status_code}, expected 200"
        return
    for error in schema.violations("Token", json_body(response)):
        yield f"{where}: {error}"


@check("token-bad-secret", "a wrong client secret is refused with 401 problem+json")
def token_bad_secret(probe: Probe) -> Iterator[str]:
    response = probe.fetch_token(probe.target.client_id, probe.target.client_secret + "-wrong")
    yield from problem_reasons("POST /v1/auth/token (wrong secret)", response, 401)


@check("auth-required", "every endpoint answers 401 problem+json without a token or with a forged one")
def auth_required(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        yield from problem_reasons(f"GET {endpoint.path} (no token)", probe.get(endpoint.path, token=None), 401)
        yield from problem_reasons(
            f"GET {endpoint.path} (forged token)", probe.get(endpoint.path, token="forged.token"), 401
        )


# ----- listings ----------------------------------------------------------------------------------


@check("endpoints-reachable", "every list endpoint answers 200 with its records and pagingInfo")
def endpoints_reachable(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        walk = probe.walk(endpoint.path)
        if walk.failure:
            yield walk.failure


@check("records-schema", "every record (of every page read) has the contract's fields and types")
def records_schema(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        walk = complete_walk(probe, endpoint.path)
        for n, info in enumerate(walk.pages, start=1):
            yield from paging_info_shape_reasons(f"{endpoint.path} page {n}", info)
        for record in walk.records:
            yield from record_shape_reasons(endpoint.path, endpoint.component, record)


def paging_info_shape_reasons(where: str, info: Any) -> Iterator[str]:
    """Why one page's pagingInfo has not the contract's fields and types."""
    for error in schema.violations("PagingInfo", info, structural=True):
        yield f"{where}: pagingInfo.{error}"


def record_shape_reasons(path: str, component: str, record: Any) -> Iterator[str]:
    """Why one record has not the contract's fields and types (`component`: School, Student, Contact)."""
    for error in schema.violations(component, record, structural=True):
        yield f"{path} record {_id(record)}: {error}"


@check("paging-complete", "records read equal totalCount, pageCount fits, pages are full, no id twice")
def paging_complete(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        walk = complete_walk(probe, endpoint.path)
        if not walk.pages:
            continue
        first = walk.pages[0]
        total, size, count = first.get("totalCount"), first.get("pageSize"), first.get("pageCount")
        if not (isinstance(total, int) and isinstance(size, int) and isinstance(count, int)) or not size:
            yield f"{endpoint.path}: pagingInfo {first!r} is not usable"
            continue
        yield from page_count_reasons(endpoint.path, total, size, count)
        for n, info in enumerate(walk.pages, start=1):
            if info.get("pageNo") != n:
                yield f"{endpoint.path} page {n}: pagingInfo.pageNo is {info.get('pageNo')}"
            if info.get("totalCount") != total:
                yield f"{endpoint.path} page {n}: totalCount {info.get('totalCount')}, page 1 said {total}"
        if not walk.truncated and len(walk.records) != total:
            yield f"{endpoint.path}: read {len(walk.records)} records, totalCount says {total}"
        for ident, times in Counter(_id(r) for r in walk.records).items():
            if times > 1:
                yield f"{endpoint.path} record {ident}: appears {times} times"


def page_count_reasons(where: str, total: int, size: int, count: int) -> Iterator[str]:
    """Why pageCount does not fit totalCount at pageSize."""
    if count != -(-total // size):
        yield f"{where}: pageCount {count} does not fit totalCount {total} at pageSize {size}"


@check("paging-stable-order", "two walks of a listing return the same ids in the same order")
def paging_stable_order(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        first = [_id(r) for r in complete_walk(probe, endpoint.path).records]
        second = [_id(r) for r in probe.walk(endpoint.path, fresh=True).records]
        if first != second:
            at = next(
                (i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), min(len(first), len(second))
            )
            yield f"{endpoint.path}: the second walk differs at position {at} ({first[at : at + 3]} then {second[at : at + 3]})"


@check("paging-past-end", "a page past the last answers 200 with no records")
def paging_past_end(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        walk = complete_walk(probe, endpoint.path)
        past = walk.pages[0]["pageCount"] + 1 if walk.pages else 2
        response = probe.get(endpoint.path, {"pageNo": past, "pageSize": probe.target.page_size})
        body = json_body(response)
        if response.status_code != 200:
            yield f"GET {endpoint.path}?pageNo={past}: status {response.status_code}, expected 200 with an empty list"
        elif not isinstance(body, dict) or body.get(endpoint.key) != []:
            yield f"GET {endpoint.path}?pageNo={past}: expected an empty {endpoint.key!r} list"


BAD_PAGING = ({"pageNo": 0}, {"pageNo": -1}, {"pageSize": 0}, {"pageSize": "abc"}, {"pageSize": v.MAX_PAGE_SIZE + 1})


@check("paging-bad-params", "pageNo 0 or -1, pageSize 0, abc or above 1000 answer 400 problem+json")
def paging_bad_params(probe: Probe) -> Iterator[str]:
    for params in BAD_PAGING:
        query = "&".join(f"{k}={val}" for k, val in params.items())
        yield from problem_reasons(f"GET /v1/students?{query}", probe.get("/v1/students", params), 400)


@check("filters", "schoolId, studentStatus and studentId filters return exactly the matching records")
def filters(probe: Probe) -> Iterator[str]:
    students = full_walk(probe, "/v1/students").records
    schools = sorted({s.get("schoolId") for s in students if s.get("schoolId")})[:3]
    statuses = sorted({s.get("studentStatus") for s in students if s.get("studentStatus")})[:4]
    cases: list[tuple[str, dict[str, Any], Callable[[Any], bool]]] = []
    cases += [("/v1/students", {"schoolId": s}, _field_is("schoolId", s)) for s in schools]
    cases += [("/v1/students", {"studentStatus": s}, _field_is("studentStatus", s)) for s in statuses]
    contacts = full_walk(probe, "/v1/contacts").records
    person = next((c["students"][0].get("studentId") for c in contacts if c.get("students")), None)
    if person is not None:
        cases.append(
            (
                "/v1/contacts",
                {"studentId": person},
                lambda r: any(x.get("studentId") == person for x in r.get("students", [])),
            )
        )
    for path, params, matches in cases:
        every = students if path == "/v1/students" else contacts
        got = probe.walk(path, **params)
        if got.failure:
            yield f"GET {path} {params}: {got.failure}"
            continue
        for record in got.records:
            if not matches(record):
                yield f"GET {path} {params}: record {_id(record)} does not match the filter"
        expected = [_id(r) for r in every if matches(r)]
        if [_id(r) for r in got.records] != expected and all(matches(r) for r in got.records):
            yield f"GET {path} {params}: {len(got.records)} records, the full listing has {len(expected)} that match"


def _field_is(name: str, value: Any) -> Callable[[Any], bool]:
    return lambda record: bool(record.get(name) == value)


# ----- data ---------------------------------------------------------------------------------------


@check("integrity-schools", "every student's schoolId is a school of /v1/schools")
def integrity_schools(probe: Probe) -> Iterator[str]:
    known = {s.get("id") for s in full_walk(probe, "/v1/schools").records}
    for path in ("/v1/students", "/v1/operoo/students"):
        for record in complete_walk(probe, path).records:
            school = record.get("schoolId")
            if school is not None and school not in known:
                yield f"{path} record {_id(record)}: schoolId {school!r} is not a known school"


@check("integrity-contacts", "every contact's studentId is a person of the matching student endpoint")
def integrity_contacts(probe: Probe) -> Iterator[str]:
    for contacts_path, students_path in (
        ("/v1/contacts", "/v1/students"),
        ("/v1/operoo/contacts", "/v1/operoo/students"),
    ):
        persons = {_id(s) for s in full_walk(probe, students_path).records}
        for record in full_walk(probe, contacts_path).records:
            for link in record.get("students", []):
                if isinstance(link, dict) and link.get("studentId") not in persons:
                    yield f"{contacts_path} record {_id(record)}: students.studentId {link.get('studentId')!r} is not on {students_path}"


@check("vocabulary", "studentStatus, schoolType and relationship values are eSD's")
def vocabulary(probe: Probe) -> Iterator[str]:
    for endpoint in ENDPOINTS:
        for record in complete_walk(probe, endpoint.path).records:
            yield from record_vocabulary_reasons(endpoint.path, endpoint.key, record)


def record_vocabulary_reasons(path: str, key: str, record: Any) -> Iterator[str]:
    """Why one record's studentStatus, schoolType or relationships are not eSD's (`key`: its listing's key)."""
    if not isinstance(record, dict):
        return
    for name, allowed in {"studentStatus": v.STUDENT_STATUSES, "schoolType": v.SCHOOL_TYPES}.items():
        if name in record and record[name] not in allowed:
            yield f"{path} record {_id(record)}: {name} {record[name]!r} is not one of {', '.join(allowed)}"
    links = record.get("students", []) if key == v.CONTACTS_KEY else []
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relationship") not in v.RELATIONSHIPS:
            yield f"{path} record {_id(record)}: students.relationship {link.get('relationship')!r} is not one of {', '.join(v.RELATIONSHIPS)}"


@check("pre-registered-dates", "Pre-Registered students have an enrollmentDate (data: warns)", warning=True)
def pre_registered_dates(probe: Probe) -> Iterator[str]:
    for path in ("/v1/students", "/v1/operoo/students"):
        for record in complete_walk(probe, path).records:
            if record.get("studentStatus") == v.Status.PRE_REGISTERED and not record.get("enrollmentDate"):
                yield (
                    f"{path} record {_id(record)}: enrollmentDate is {record.get('enrollmentDate')!r} for a "
                    "Pre-Registered student; the sync skips it (with a warning) until it has one"
                )


@check("enrolled-id-format", "enrolledId is 8 digits: always on /v1/students, or null on /v1/operoo/students")
def enrolled_id_format(probe: Probe) -> Iterator[str]:
    for path, nullable in (("/v1/students", False), ("/v1/operoo/students", True)):
        for record in complete_walk(probe, path).records:
            yield from enrolled_id_reasons(path, record, nullable)


def enrolled_id_reasons(path: str, record: Any, nullable: bool) -> Iterator[str]:
    """Why one student's enrolledId is not 8 digits (or, if `nullable`, null)."""
    value = record.get("enrolledId") if isinstance(record, dict) else None
    if value is None and nullable:
        return
    if not (isinstance(value, str) and len(value) == v.ENROLLED_ID_DIGITS and value.isdigit()):
        yield f"{path} record {_id(record)}: enrolledId {value!r} is not 8 digits"


@check("student-by-id", "GET /v1/students/{enrolledId} equals the list record; an unknown id is 404 problem+json")
def student_by_id(probe: Probe) -> Iterator[str]:
    for record in complete_walk(probe, "/v1/students").records[:20]:
        enrolled = record.get("enrolledId")
        response = probe.get(f"/v1/students/{enrolled}")
        if response.status_code != 200:
            yield f"GET /v1/students/{enrolled}: status {response.status_code}, expected 200"
        elif json_body(response) != record:
            yield f"GET /v1/students/{enrolled}: differs from record {_id(record)} of the list"
    yield from problem_reasons("GET /v1/students/00000000x", probe.get("/v1/students/00000000x"), 404)


@check("custom-forbidden", "a client without the custom endpoints gets 403 problem+json from /v1/operoo/*")
def custom_forbidden(probe: Probe) -> Iterator[str]:
    if probe.target.standard_client_id is None:
        raise Skip("no standard client given (--client-id-standard, --client-secret-standard)")
    for endpoint in ENDPOINTS:
        if endpoint.custom:
            yield from problem_reasons(
                f"GET {endpoint.path} (standard client)", probe.get(endpoint.path, token="standard"), 403
            )


def _id(record: Any) -> Any:
    return record.get("id") if isinstance(record, dict) else repr(record)[:40]
