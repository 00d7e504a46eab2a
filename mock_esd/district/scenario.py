"""Scenario files (YAML or JSON): explicit schools, students and contacts, optionally over a seeded district.

The format's JSON Schema is `contracts/scenario.schema.json`. Records merge by id onto the base
district; fields left out take the defaults of `mock_esd.district.builders`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Iterator
from typing import Any, Final

import orjson
import yaml

from mock_esd import heap
from mock_esd.district import bounded_yaml, builders, scenario_check
from mock_esd.district.defaults import DEFAULT_TODAY
from mock_esd.district.generator import District, DistrictSpec, generate_district, today_problem
from mock_esd.district.store import DistrictStore
from mock_esd.errors import BadRequest, Invalid
from mock_esd.limits import DEFAULT_LIMITS, Limits
from mock_esd_contracts.errors import type_name
from mock_esd_contracts.schema import body_problems, depth_problem, duplicate_keys


def parse_text(text: str | bytes, source: str = "scenario", limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """YAML or JSON (text, or a file's bytes, which must be UTF-8) into plain data with dates as ISO strings;
    bounded by `limits`.

    JSON is read as JSON (orjson: a tenth of the time YAML's reader takes for it); anything else as YAML
    within `max_yaml_nodes`. An error names `source`, the line and column and what was expected,
    never the text it found there (a file given by mistake may hold anything, /etc/shadow included).
    """
    with heap.paused():
        return _parse(text, source, limits)


def _parse(text: str | bytes, source: str, limits: Limits) -> dict[str, Any]:
    data = _json_object(text)  # a file's bytes as they are: no text copy of a 70 MB recording
    if data is not None:
        _once_each(data, text, source, limits)
    else:
        if isinstance(text, bytes):
            text = utf8(text, source)
        try:
            data = bounded_yaml.load(text, source, limits)
        except yaml.YAMLError as exc:
            if getattr(exc, "problem", None) == LIBYAML_TOO_DEEP and limits.max_body_depth < LIBYAML_MAX_DEPTH:
                raise BadRequest(
                    f"{source} is nested deeper than the limit max_body_depth={limits.max_body_depth}"
                ) from None
            raise BadRequest(f"{source} is neither YAML nor JSON: {_yaml_problem(exc)}") from None
        except BadRequest:  # a limit of bounded_yaml, which names the source itself (a ValueError too)
            raise
        except ValueError as exc:  # a YAML date that is no date: 2026-02-30
            raise BadRequest(f"{source}: {str(exc)[:300]}") from None
        data = data if data is not None else {}
    if not isinstance(data, dict):
        raise BadRequest(
            f"{source} is no scenario: expected a mapping of schools, students, ..., got {type_name(data)}"
        )
    return data


# libyaml's scanner reads ahead and stops at 1,000 levels of nesting before any event of them reaches us
LIBYAML_TOO_DEEP: Final = "exceeded maximum nesting depth"
LIBYAML_MAX_DEPTH: Final = 1000


def _once_each(data: Any, text: str | bytes, source: str, limits: Limits) -> None:
    """A JSON key given twice in one object is refused where it is (a parser keeps only the last, silently)."""
    if depth_problem(data, limits.max_body_depth) is not None:
        return  # the scenario's own check says how deep; the key check below recurses
    twice = duplicate_keys(text, limits.max_reported_errors)
    if twice:
        raise Invalid(source, twice, twice.more, limits.max_reported_errors)


def _json_object(text: str | bytes) -> Any:
    """The JSON object `text` holds, or None when it is no JSON object (then it is read as YAML)."""
    if not (text.lstrip().startswith(b"{") if isinstance(text, bytes) else text.lstrip().startswith("{")):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # YAML's flow style ({a: 1}), or broken: the YAML reader says where
        return None


_QUOTED = re.compile(r"'([^']*)'")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What PyYAML found wrong and where, without the excerpt of the text it quotes (nor a name it found)."""
    if isinstance(exc, yaml.reader.ReaderError):
        code = f" #x{exc.character:04x}" if isinstance(exc.character, int) else ""
        return f"character {exc.position + 1}: unacceptable character{code} ({exc.reason})"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        return where + _QUOTED.sub(
            lambda m: m.group(0) if len(m.group(1)) <= 2 or m.group(1).startswith("<") else "'…'", what
        )
    return type(exc).__name__


def read_file(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The scenario in the file at `path`, read within `max_scenario_bytes` (and, YAML, `max_yaml_nodes`)."""
    return parse_text(file_bytes(path, limits), str(path), limits)


def file_text(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> str:
    """The text of a scenario file, read no further than `max_scenario_bytes`; BadRequest naming the file."""
    return utf8(file_bytes(path, limits), str(path))


def file_bytes(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a scenario file, read no further than `max_scenario_bytes`; BadRequest naming the file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_scenario_bytes + 1)
    except OSError as exc:
        raise BadRequest(f"cannot read scenario {path}: {exc.strerror}") from None
    if len(data) > limits.max_scenario_bytes:
        raise BadRequest(f"scenario {path} is larger than the limit max_scenario_bytes={limits.max_scenario_bytes}")
    return data


def utf8(data: bytes, source: str) -> str:
    """A scenario file's bytes as text; BadRequest naming the file and the first byte that is no UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"scenario {source} is not UTF-8 text (byte {exc.start + 1})") from None


YAML_SUFFIXES: Final = (".yaml", ".yml")
NUMBER_LIKE: Final = re.compile(r"[-+]?[0-9][0-9_.:eExXoO+-]*")


def encode_file(scenario: dict[str, Any], suffix: str) -> bytes:
    """A scenario as a file's bytes: YAML for a `.yaml`/`.yml` suffix (numbers-as-text quoted), else JSON."""
    if suffix.lower() in YAML_SUFFIXES:
        return yaml.dump(scenario, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120).encode()
    return orjson.dumps(scenario, option=orjson.OPT_INDENT_2) + b"\n"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # libyaml's: twice as fast
    """Quotes every string that looks like a number (school id 0900, enrolledId 20000001), so that no
    YAML reader (1.1 or 1.2) takes it for one."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if NUMBER_LIKE.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def build_store(
    scenario: dict[str, Any], base: DistrictStore | None = None, limits: Limits = DEFAULT_LIMITS
) -> DistrictStore:
    """A district from a scenario: over `base` if given, else over its `base` spec, else empty.

    The scenario is checked against its schema and `limits` (depth, field lengths; at most
    `max_reported_errors` problems are looked for); its size is the caller's to check. Its records may become
    the district's as they are (a store never changes a record in place): the caller changes none after.
    """
    with heap.paused():
        return _build(scenario, base, limits)


def _build(scenario: dict[str, Any], base: DistrictStore | None, limits: Limits) -> DistrictStore:
    check_scenario(scenario, limits)
    today = (
        dt.date.fromisoformat(scenario["today"])
        if "today" in scenario
        else (base.spec.today if base else DEFAULT_TODAY)
    )
    if base is not None:  # the base's records are shared, not copied: none is changed in place, and the
        district, spec = base.district_copy(), base.spec  # new store reuses the encoded bytes of those unchanged
    elif "base" in scenario:
        spec = DistrictSpec(**scenario["base"], today=today)
        district = generate_district(spec)
    else:
        spec = DistrictSpec(students=0, today=today)
        district = District([], [], [])
    _merge(district, scenario)
    _check(district)
    return DistrictStore(spec, district, previous=base)


def check_scenario(scenario: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Invalid naming the first problems of a scenario (its schema, `max_field_chars`, a `today` out of range)."""
    found = scenario_check.problems(scenario, limits.max_body_depth, limits.max_reported_errors, limits.max_field_chars)
    if found:
        raise Invalid("scenario", found, found.more, limits.max_reported_errors)
    problem = today_problem(dt.date.fromisoformat(scenario["today"])) if "today" in scenario else None
    if problem:
        raise Invalid("scenario", [{"path": "today", "message": problem}])


def _merge(district: District, scenario: dict[str, Any]) -> None:
    schools = {s["id"]: s for s in district.schools}
    for given in scenario.get("schools", []):
        schools[given["id"]] = {
            **builders.school(given["id"], given.get("name"), given.get("schoolType", "Elementary")),
            **given,
        }
        schools[given["id"]]["isHoldingSchool"] = schools[given["id"]]["schoolType"] == "Holding"
    students = {s["id"]: s for s in district.students}
    accepted = district.recently_accepted
    for given in scenario.get("students", []):
        person_id = given["id"]
        students[person_id] = _student(given, students.get(person_id))
        accepted.discard(person_id)
        if given.get("recentlyAccepted"):
            accepted.add(person_id)
    contacts = {c["id"]: c for c in district.contacts}
    for given in scenario.get("contacts", []):
        contacts[given["id"]] = _contact(given)
        district.operoo_contact_fields.pop(given["id"], None)  # given anew: alike on both unless said below
    for given in scenario.get("operooContacts", []):
        district.operoo_contact_fields[given["id"]] = {k: val for k, val in given.items() if k != "id"}
    district.schools, district.students, district.contacts = (
        list(schools.values()),
        list(students.values()),
        list(contacts.values()),
    )


# The fields of a record in the order the API shows them (`builders`' order). A record a scenario gives whole,
# in this order (every recorded or exported one), is taken as it is, the very dict: what the builders would
# make of it, in a fraction of the time and none of the memory (a 100,000-student district's records took
# 2.9 s through them, and 130 MB besides the scenario's).
STUDENT_FIELDS: Final = tuple(builders.student(1))
CONTACT_FIELDS: Final = tuple(builders.contact(1, [(1, "Mother", 1)]))
LINK_FIELDS: Final = tuple(builders.contact(1, [(1, "Mother", 1)])["students"][0])


def _student(given: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    """The person a scenario's student makes: `given` over `prior` (the base's person of that id), or over
    the builders' defaults; `recentlyAccepted` left out (the district keeps it beside the records)."""
    if tuple(given) == STUDENT_FIELDS and (prior is None or tuple(prior) == STUDENT_FIELDS):
        return given  # every field given, in the order the defaults' (or the prior's) would put them
    record = {k: v for k, v in given.items() if k != "recentlyAccepted"}
    if prior is None:
        prior = builders.student(record["id"], status=record.get("studentStatus", "Enrolled"))
    return {**prior, **record}


def _contact(given: dict[str, Any]) -> dict[str, Any]:
    """The contact a scenario's contact makes: defaults filled in, every given field kept (`builders.contact_from`)."""
    if tuple(given) == CONTACT_FIELDS and all(tuple(link) == LINK_FIELDS for link in given["students"]):
        return given
    return builders.contact_from(given)


def _check(district: District) -> None:
    """Every reference resolves and every enrolledId is unique: say the first ten problems."""
    problems = list(itertools.islice(_broken(district), 11))
    if problems:
        more = "; and more" if len(problems) > 10 else ""
        raise BadRequest("invalid scenario: " + "; ".join(problems[:10]) + more)


def _broken(district: District) -> Iterator[str]:
    """Each dangling reference and each enrolledId used twice, found lazily."""
    school_ids = {s["id"] for s in district.schools}
    person_ids = {s["id"] for s in district.students}
    seen: dict[str, int] = {}
    for s in district.students:
        if s["schoolId"] is not None and s["schoolId"] not in school_ids:
            yield f"student {s['id']}: unknown schoolId {s['schoolId']!r}"
        if s["enrolledId"] is not None:
            if s["enrolledId"] in seen:
                yield f"student {s['id']}: enrolledId {s['enrolledId']} already belongs to student {seen[s['enrolledId']]}"
            seen[s["enrolledId"]] = s["id"]
    for c in district.contacts:
        yield from (
            f"contact {c['id']}: unknown studentId {x['studentId']}"
            for x in c["students"]
            if x["studentId"] not in person_ids
        )
    contact_ids = {c["id"] for c in district.contacts}
    yield from (f"operooContacts {c}: no such contact" for c in district.operoo_contact_fields if c not in contact_ids)
    unenrolled = {s["id"] for s in district.students if not s["enrolledId"]}
    yield from (f"recentlyAccepted {p}: has no enrolledId" for p in district.recently_accepted if p in unenrolled)


def export(store: DistrictStore) -> dict[str, Any]:
    """The district as a scenario file that rebuilds it exactly."""
    accepted = store.recently_accepted()
    return {
        "today": store.spec.today.isoformat(),
        "schools": [{"id": s["id"], "name": s["name"], "schoolType": s["schoolType"]} for s in store.schools().records],
        "students": [
            {**s, **({"recentlyAccepted": True} if s["id"] in accepted else {})} for s in store.all_students()
        ],
        "contacts": store.all_contacts(),
        **({"operooContacts": differing} if (differing := store.operoo_contact_fields()) else {}),
    }


def check_record(kind: str, record: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    """Validate one school, student or contact against the scenario format (for the control API)."""
    found = body_problems(kind[:-1], record, limits.max_body_depth, limits.max_reported_errors, limits.max_field_chars)
    if found:
        raise Invalid(kind[:-1], found, found.more, limits.max_reported_errors)
