"""The named contract checks. Each is a small function of a Probe yielding its findings.

A check yields a reason to fail (a `Finding`, with where it was seen; a plain string where nothing can be
quoted) for each thing wrong, and an `Unjudged` for each part it could not judge because something it
depends on failed (a listing that could not be read), naming that; everything else it judges. Nothing
found passes; `Skip` says the check could judge nothing at all. Most checks judge the contract (a broken
API fails); a `warning` check judges data that keeps the contract but that the sync skips or treats
specially, so its findings warn instead of failing. Every reason names the endpoint, the record and the
field where it applies, and never quotes a personal value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from mock_esd_contracts import schema
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.endpoints import BY_PATH, ENDPOINTS, Endpoint
from mock_esd_contracts.errors import NoAnswer, described
from mock_esd_contracts.evidence import Source, cut, one_line, type_of
from mock_esd_contracts.probe import Probe, Walk, json_body


class Skip(Exception):
    """The check cannot judge anything; the reason says why."""


@dataclass(frozen=True)
class Finding:
    """A reason a check fails (or warns), and where it was seen (what a report quotes as evidence)."""

    reason: str
    source: Source | None = None


@dataclass(frozen=True)
class Unjudged:
    """A part of a check that could not be judged, and what it depends on that failed."""

    what: str


Outcome = str | Finding | Unjudged  # what a check yields


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    run: Callable[[Probe], list[Outcome]]
    warning: bool = False  # its findings are about data, not the contract: they warn (fail only under --strict)


CHECKS: list[Check] = []


def check(
    name: str, description: str, warning: bool = False
) -> Callable[[Callable[[Probe], Iterator[Outcome]]], Callable[[Probe], Iterator[Outcome]]]:
    """Register a generator of findings (for a `warning` check, warnings) and unjudged parts as a named check."""

    def register(fn: Callable[[Probe], Iterator[Outcome]]) -> Callable[[Probe], Iterator[Outcome]]:
        CHECKS.append(Check(name, description, lambda probe: _outcomes(fn(probe)), warning))
        return fn

    return register


def _outcomes(found: Iterator[Outcome]) -> list[Outcome]:
    """What a check yields. A request of its own that got no usable answer (cut short, a redirect loop, too large,
    too slow) is a finding naming it, and what the check would have asked after it is not judged."""
    outcomes: list[Outcome] = []
    try:
        for outcome in found:
            outcomes.append(outcome)
    except NoAnswer as exc:
        outcomes += [Finding(str(exc), Source(exc.request)), Unjudged(f"what it asks after {exc.named}")]
    return outcomes


def problem_reasons(where: str, response: requests.Response, status: int) -> Iterator[str]:
    """Why `response` is not a problem+json answer with `status`."""
    if response.status_code != status:
        yield f"{where}: status {response.status_code}, expected {status}"
        return
    if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        yield f"{where}: Content-Type {shown(response.headers.get('Content-Type'))}, expected application/problem+json"
    for error in schema.violations("Problem", json_body(response)):
        yield f"{where}: problem body: {error}"


def answered(reasons: Iterable[str], response: requests.Response) -> Iterator[Finding]:
    """Each reason about one answer, with that answer (its request, status and body) as evidence."""
    for reason in reasons:
        yield Finding(reason, Source.of(response))


Listings = Generator[Outcome, None, list[tuple[Endpoint, Walk]]]


def listings(probe: Probe, endpoints: Iterable[Endpoint], every_page: bool = False) -> Listings:
    """The listings a check can judge, as `read = yield from listings(...)`: each that read at least one page
    (with `every_page`, each read whole); every other one, and the pages a listing could not read, are yielded
    as Unjudged, naming why. Skip if none can be judged."""
    read, unjudged = [], []
    for endpoint in endpoints:
        walk = probe.walk(endpoint.path)
        if every_page and walk.truncated:
            unjudged.append(Unjudged(f"{endpoint.path} (needs every page; run without --max-pages)"))
        elif walk.failure and (every_page or not walk.pages):
            unjudged.append(Unjudged(f"{endpoint.path} ({_unread(walk)})"))
        else:
            if walk.failure:
                unjudged.append(Unjudged(f"{endpoint.path} pages {len(walk.pages) + 1} on ({_unread(walk)})"))
            read.append((endpoint, walk))
    if not read:
        raise Skip("nothing it needs could be judged: " + "; ".join(u.what for u in unjudged))
    yield from unjudged
    return read


def _unread(walk: Walk) -> str:
    return f"could not be read: {walk.failure}; see endpoints-reachable"


# ----- authentication --------------------------------------------------------------------------


@check("token-form", "POST /v1/auth/token with client_id/client_secret in the form body gives a Bearer token")
def token_form(probe: Probe) -> Iterator[Outcome]:
    response = probe.fetch_token(probe.target.client_id, probe.target.client_secret)
    yield from answered(token_reasons(response, "form body"), response)


@check("token-basic", "POST /v1/auth/token with HTTP Basic credentials gives a Bearer token")
def token_basic(probe: Probe) -> Iterator[Outcome]:
    response = probe.fetch_token(probe.target.client_id, probe.target.client_secret, basic=True)
    yield from answered(token_reasons(response, "HTTP Basic"), response)


def token_reasons(response: requests.Response, how: str) -> Iterator[str]:
    """Why a token answer is not 200 with the contract's Token body."""
    where = f"POST /v1/auth/token ({how})"
    if response.status_code != 200:
        yield f"{where}: status {response.status_code}, expected 200"
        return
    for error in schema.violations("Token", json_body(response)):
        yield f"{where}: {error}"


@check("token-bad-secret", "a wrong client secret is refused with 401 problem+json")
def token_bad_secret(probe: Probe) -> Iterator[Outcome]:
    response = probe.fetch_token(probe.target.client_id, probe.target.client_secret + "-wrong")
    yield from answered(problem_reasons("POST /v1/auth/token (wrong secret)", response, 401), response)


@check("auth-required", "every endpoint answers 401 problem+json without a token or with a forged one")
def auth_required(probe: Probe) -> Iterator[Outcome]:
    for endpoint in ENDPOINTS:
        for how, token in (("no token", None), ("forged token", "forged.token")):
            response = probe.get(endpoint.path, token=token)
            yield from answered(problem_reasons(f"GET {endpoint.path} ({how})", response, 401), response)


# ----- listings ----------------------------------------------------------------------------------


@check("endpoints-reachable", "every list endpoint answers 200 with its records and pagingInfo")
def endpoints_reachable(probe: Probe) -> Iterator[Outcome]:
    for endpoint in ENDPOINTS:
        walk = probe.walk(endpoint.path)
        if walk.failure:
            yield Finding(walk.failure, walk.failed)


@check("records-schema", "every record (of every page read) has the contract's fields and types")
def records_schema(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, ENDPOINTS)
    for endpoint, walk in read:
        for n, info in enumerate(walk.pages, start=1):
            for reason in paging_info_shape_reasons(f"{endpoint.path} page {n}", info):
                yield Finding(reason, walk.page_source(n))
        for i, record in enumerate(walk.records):
            for reason in record_shape_reasons(endpoint.path, endpoint.component, record):
                yield Finding(reason, walk.source(i))


def paging_info_shape_reasons(where: str, info: Any) -> Iterator[str]:
    """Why one page's pagingInfo has not the contract's fields and types."""
    for error in schema.violations("PagingInfo", info, structural=True):
        yield f"{where}: pagingInfo.{error}"


def record_shape_reasons(path: str, component: str, record: Any) -> Iterator[str]:
    """Why one record has not the contract's fields and types (`component`: School, Student, Contact).

    A personal field of the wrong type is named with the type it has, never its value."""
    for error in schema.violations(component, record, structural=True):
        yield f"{path} record {_id(record)}: {error}"


@check("paging-complete", "records read equal totalCount, pageCount fits, pages are full, no id twice")
def paging_complete(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, ENDPOINTS)
    for endpoint, walk in read:
        first = walk.pages[0]
        total, size, count = first.get("totalCount"), first.get("pageSize"), first.get("pageCount")
        if not (isinstance(total, int) and isinstance(size, int) and isinstance(count, int)) or not size:
            yield Finding(
                f"{endpoint.path}: pagingInfo is not usable (totalCount, pageSize and pageCount must be integers, "
                "pageSize not 0)",
                walk.page_source(1),
            )
            continue
        for reason in page_count_reasons(endpoint.path, total, size, count):
            yield Finding(reason, walk.page_source(1))
        for n, info in enumerate(walk.pages, start=1):
            if info.get("pageNo") != n:
                yield Finding(
                    f"{endpoint.path} page {n}: pagingInfo.pageNo is {info.get('pageNo')}", walk.page_source(n)
                )
            if info.get("totalCount") != total:
                yield Finding(
                    f"{endpoint.path} page {n}: totalCount {info.get('totalCount')}, page 1 said {total}",
                    walk.page_source(n),
                )
        if walk.complete and len(walk.records) != total:
            yield Finding(
                f"{endpoint.path}: read {len(walk.records)} records, totalCount says {total}",
                walk.page_source(len(walk.pages)),
            )
        yield from _repeated_ids(endpoint.path, walk)


def _repeated_ids(path: str, walk: Walk) -> Iterator[Finding]:
    """Each id that appears more than once, said once, at its second appearance (records-schema names non-objects)."""
    counts = Counter(r.get("id") for r in walk.records if isinstance(r, dict))
    seen: set[Any] = set()
    for i, record in enumerate(walk.records):
        ident = record.get("id") if isinstance(record, dict) else None
        if counts[ident] > 1 and ident in seen:
            yield Finding(f"{path} record {shown(ident)}: appears {counts[ident]} times", walk.source(i))
            counts[ident] = 0
        seen.add(ident)


def page_count_reasons(where: str, total: int, size: int, count: int) -> Iterator[str]:
    """Why pageCount does not fit totalCount at pageSize."""
    if count != -(-total // size):
        yield f"{where}: pageCount {count} does not fit totalCount {total} at pageSize {size}"


@check("paging-stable-order", "two walks of a listing return the same ids in the same order")
def paging_stable_order(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, ENDPOINTS)
    for endpoint, walk in read:
        again = probe.walk(endpoint.path, fresh=True)
        if again.failure and not walk.failure:
            yield Finding(f"{endpoint.path}: the second walk could not be read ({again.failure})", again.failed)
        first, second = [_key(r) for r in walk.records], [_key(r) for r in again.records]
        if walk.failure or again.failure:  # judge the pages both walks read
            first, second = first[: len(second)], second[: len(first)]
        if first != second:
            at = next(
                (i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), min(len(first), len(second))
            )
            yield Finding(
                f"{endpoint.path}: the second walk differs at position {at} ({_ids(first[at : at + 3])} then {_ids(second[at : at + 3])})",
                again.source(at) if at < len(again.records) else None,
            )


@check("paging-past-end", "a page past the last answers 200 with no records")
def paging_past_end(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, ENDPOINTS)
    for endpoint, walk in read:
        past = walk.pages[0]["pageCount"] + 1
        response = probe.get(endpoint.path, {"pageNo": past, "pageSize": probe.target.page_size})
        body = json_body(response)
        if response.status_code != 200:
            yield Finding(
                f"GET {endpoint.path}?pageNo={past}: status {response.status_code}, expected 200 with an empty list",
                Source.of(response),
            )
        elif not isinstance(body, dict) or body.get(endpoint.key) != []:
            yield Finding(
                f"GET {endpoint.path}?pageNo={past}: expected an empty {endpoint.key!r} list", Source.of(response)
            )


BAD_PAGING = ({"pageNo": 0}, {"pageNo": -1}, {"pageSize": 0}, {"pageSize": "abc"}, {"pageSize": v.MAX_PAGE_SIZE + 1})


@check("paging-bad-params", "pageNo 0 or -1, pageSize 0, abc or above 1000 answer 400 problem+json")
def paging_bad_params(probe: Probe) -> Iterator[Outcome]:
    for params in BAD_PAGING:
        query = "&".join(f"{k}={val}" for k, val in params.items())
        response = probe.get("/v1/students", params)
        yield from answered(problem_reasons(f"GET /v1/students?{query}", response, 400), response)


@check("filters", "schoolId, studentStatus and studentId filters return exactly the matching records")
def filters(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, (BY_PATH["/v1/students"], BY_PATH["/v1/contacts"]), every_page=True)
    for endpoint, walk in read:
        for params, matches in _filter_cases(endpoint.path, walk.records):
            yield from _filter_reasons(probe, endpoint.path, params, matches, walk.records)


Matcher = Callable[[Any], bool]


def _filter_cases(path: str, every: list[Any]) -> list[tuple[dict[str, Any], Matcher]]:
    """The filters to try on a listing, from its records: up to 3 schools and 4 statuses, or one contact's person."""
    records = [r for r in every if isinstance(r, dict)]
    if path == "/v1/students":
        schools = sorted({s["schoolId"] for s in records if isinstance(s.get("schoolId"), str)})[:3]
        statuses = sorted({s["studentStatus"] for s in records if isinstance(s.get("studentStatus"), str)})[:4]
        return [({"schoolId": s}, _field_is("schoolId", s)) for s in schools] + [
            ({"studentStatus": s}, _field_is("studentStatus", s)) for s in statuses
        ]
    person = next((link["studentId"] for c in records for link in _links(c) if "studentId" in link), None)
    if person is None:
        return []
    return [({"studentId": person}, lambda r: any(link.get("studentId") == person for link in _links(r)))]


def _links(contact: Any) -> list[dict[str, Any]]:
    links = contact.get("students") if isinstance(contact, dict) else None
    return [link for link in links if isinstance(link, dict)] if isinstance(links, list) else []


def _filter_reasons(
    probe: Probe, path: str, params: dict[str, Any], matches: Matcher, every: list[Any]
) -> Iterator[Finding]:
    got = probe.walk(path, **params)
    if got.failure:
        yield Finding(f"GET {path} {params}: {got.failure}", got.failed)
        return
    for i, record in enumerate(got.records):
        if not matches(record):
            yield Finding(f"GET {path} {params}: record {_id(record)} does not match the filter", got.source(i))
    expected = [_key(r) for r in every if matches(r)]
    if [_key(r) for r in got.records] != expected and all(matches(r) for r in got.records):
        yield Finding(
            f"GET {path} {params}: {len(got.records)} records, the full listing has {len(expected)} that match",
            got.page_source(1) if got.pages else None,
        )


def _field_is(name: str, value: Any) -> Matcher:
    return lambda record: isinstance(record, dict) and record.get(name) == value


# ----- data ---------------------------------------------------------------------------------------


@check("integrity-schools", "every student's schoolId is a school of /v1/schools")
def integrity_schools(probe: Probe) -> Iterator[Outcome]:
    (_, schools), *_ = yield from listings(probe, [BY_PATH["/v1/schools"]], every_page=True)
    known = {s.get("id") for s in schools.records}
    read = yield from listings(probe, (BY_PATH["/v1/students"], BY_PATH["/v1/operoo/students"]))
    for endpoint, walk in read:
        for i, record in enumerate(walk.records):
            school = record.get("schoolId") if isinstance(record, dict) else None
            if school is not None and school not in known:
                yield Finding(
                    f"{endpoint.path} record {_id(record)}: schoolId {shown(school)} is not a known school",
                    walk.source(i),
                )


@check("integrity-contacts", "every contact's studentId is a person of the matching student endpoint")
def integrity_contacts(probe: Probe) -> Iterator[Outcome]:
    unjudged: list[Unjudged] = []
    judged = 0
    for contacts_path, students_path in (
        ("/v1/contacts", "/v1/students"),
        ("/v1/operoo/contacts", "/v1/operoo/students"),
    ):
        try:
            (_, students), *_ = yield from listings(probe, [BY_PATH[students_path]], every_page=True)
            (_, contacts), *_ = yield from listings(probe, [BY_PATH[contacts_path]])
        except Skip as skip:
            unjudged.append(Unjudged(f"{contacts_path} against {students_path}: {skip}"))
            continue
        judged += 1
        persons = {_key(s) for s in students.records}
        for i, record in enumerate(contacts.records):
            for link in _links(record):
                if link.get("studentId") not in persons:
                    yield Finding(
                        f"{contacts_path} record {_id(record)}: students.studentId {shown(link.get('studentId'))} is not on {students_path}",
                        contacts.source(i),
                    )
    if not judged:
        raise Skip("; ".join(u.what for u in unjudged))
    yield from unjudged


@check("vocabulary", "studentStatus, schoolType and relationship values are eSD's")
def vocabulary(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, ENDPOINTS)
    for endpoint, walk in read:
        for i, record in enumerate(walk.records):
            for reason in record_vocabulary_reasons(endpoint.path, endpoint.key, record):
                yield Finding(reason, walk.source(i))


def record_vocabulary_reasons(path: str, key: str, record: Any) -> Iterator[str]:
    """Why one record's studentStatus, schoolType or relationships are not eSD's (`key`: its listing's key)."""
    if not isinstance(record, dict):
        return
    for name, allowed in {"studentStatus": v.STUDENT_STATUSES, "schoolType": v.SCHOOL_TYPES}.items():
        if name in record and record[name] not in allowed:
            yield f"{path} record {_id(record)}: {name} {shown(record[name])} is not one of {', '.join(allowed)}"
    links = record.get("students", []) if key == v.CONTACTS_KEY else []
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relationship") not in v.RELATIONSHIPS:
            yield (  # free text: named by its type and length, never quoted (a message quotes no personal value)
                f"{path} record {_id(record)}: students.relationship is not one of {', '.join(v.RELATIONSHIPS)} "
                f"(got {described(link.get('relationship'))})"
            )


STUDENT_LISTINGS = (BY_PATH["/v1/students"], BY_PATH["/v1/operoo/students"])


@check("pre-registered-dates", "Pre-Registered students have an enrollmentDate (data: warns)", warning=True)
def pre_registered_dates(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, STUDENT_LISTINGS)
    for endpoint, walk in read:
        for i, record in enumerate(walk.records):
            if not isinstance(record, dict):
                continue
            if record.get("studentStatus") == v.Status.PRE_REGISTERED and not record.get("enrollmentDate"):
                yield Finding(
                    f"{endpoint.path} record {_id(record)}: enrollmentDate is {described(record.get('enrollmentDate'))} for a "
                    "Pre-Registered student; the sync skips it (with a warning) until it has one",
                    walk.source(i),
                )


@check("enrolled-id-format", "enrolledId is 8 digits: always on /v1/students, or null on /v1/operoo/students")
def enrolled_id_format(probe: Probe) -> Iterator[Outcome]:
    read = yield from listings(probe, STUDENT_LISTINGS)
    for endpoint, walk in read:
        for i, record in enumerate(walk.records):
            for reason in enrolled_id_reasons(endpoint.path, record, nullable=endpoint.custom):
                yield Finding(reason, walk.source(i))


def enrolled_id_reasons(path: str, record: Any, nullable: bool) -> Iterator[str]:
    """Why one student's enrolledId is not 8 digits (or, if `nullable`, null)."""
    value = record.get("enrolledId") if isinstance(record, dict) else None
    if value is None and nullable:
        return
    if not (isinstance(value, str) and len(value) == v.ENROLLED_ID_DIGITS and value.isdigit()):
        yield f"{path} record {_id(record)}: enrolledId is not 8 digits ({described(value)})"


BY_ID_SAMPLE = 20  # students of the first page fetched one by one


@check("student-by-id", "GET /v1/students/{enrolledId} equals the list record; an unknown id is 404 problem+json")
def student_by_id(probe: Probe) -> Iterator[Outcome]:
    walk = probe.walk("/v1/students")
    if not walk.pages:
        yield Unjudged(f"the list records of /v1/students ({_unread(walk)})")
    for record in walk.records[:BY_ID_SAMPLE]:
        enrolled = record.get("enrolledId") if isinstance(record, dict) else None
        if not (isinstance(enrolled, str) and len(enrolled) == v.ENROLLED_ID_DIGITS and enrolled.isdigit()):
            continue  # not an id to ask for (`enrolled-id-format` says so); never sent in a path, nor quoted
        response = probe.get(f"/v1/students/{enrolled}")
        body = json_body(response)
        if response.status_code != 200:
            yield Finding(
                f"GET /v1/students/{enrolled}: status {response.status_code}, expected 200", Source.of(response)
            )
        elif body != record:
            yield Finding(
                f"GET /v1/students/{enrolled}: differs from record {_id(record)} of the list in {_differing(record, body)}",
                Source.of(response),
            )
    response = probe.get("/v1/students/00000000x")
    yield from answered(problem_reasons("GET /v1/students/00000000x", response, 404), response)


def _differing(listed: dict[str, Any], single: Any) -> str:
    """The fields in which two records differ, by name (never their values)."""
    if not isinstance(single, dict):
        return f"everything (the answer is {type_of(single)}, not an object)"
    names = sorted(k for k in listed.keys() | single.keys() if listed.get(k, ...) != single.get(k, ...))
    return cut(one_line(", ".join(names)), 200)


@check("custom-forbidden", "a client without the custom endpoints gets 403 problem+json from /v1/operoo/*")
def custom_forbidden(probe: Probe) -> Iterator[Outcome]:
    if probe.target.standard_client_id is None:
        raise Skip("no standard client given (--client-id-standard, --client-secret-standard)")
    for endpoint in ENDPOINTS:
        if endpoint.custom:
            response = probe.get(endpoint.path, token="standard")
            yield from answered(problem_reasons(f"GET {endpoint.path} (standard client)", response, 403), response)


def _key(record: Any) -> Any:
    """A record's id as sent, to compare records by (never shown: `_id` is)."""
    return record.get("id") if isinstance(record, dict) else type_of(record)


def _ids(keys: list[Any]) -> str:
    return "[" + ", ".join(map(shown, keys)) + "]"


def _id(record: Any) -> Any:
    """A record's id as a reason names it (`shown`), or its type if it is no object."""
    ident = record.get("id") if isinstance(record, dict) else None
    if isinstance(ident, int) and not isinstance(ident, bool):
        return ident
    return shown(ident) if isinstance(record, dict) else type_of(record)


SHOWN_CHARS = 40  # a value a reason repeats (an id, a status, a school id): quoted up to this, else described


def shown(value: Any) -> str:
    """A value as a reason repeats it: its repr if it is a number, a boolean, null or a short printable string
    (ids, statuses, school ids); anything else (long text, a list, an object) by its type and size."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str) and len(value) <= SHOWN_CHARS and value.isprintable():
        return repr(value)
    return f"({described(value)})"
