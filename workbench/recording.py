"""`mock-esd record`: read a whole eSD-compatible district with the sync's client and write it as a scenario.

The listings are read exactly as a sync reads them (`mock_esd_sync.client.EsdClient`: same retries, same checks
that each listing is whole and consistent), then turned into a scenario, which is loaded into the
mock's store and served back in memory before anything is written: if any listing would come back
different (a field, a link, a record on the wrong listing), the recording stops and says where,
because the scenario format cannot hold it. Fields the contract does not name are not recorded, and
are listed. `mock-esd proxy --record` builds its scenario with the same functions.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import requests

from mock_esd.district import scenario as scenarios
from mock_esd.district.store import DistrictStore
from mock_esd.errors import EsdError
from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES
from mock_esd_contracts.connection import DEFAULT_TIMEOUT
from mock_esd_contracts.endpoints import ENDPOINTS
from mock_esd_contracts.errors import type_name
from mock_esd_sync.client import EsdClient, Progress, RetryPolicy
from mock_esd_sync.records import RawSnapshot

Record = dict[str, Any]
Listings = dict[str, list[Record]]  # endpoint path -> its records, in the order the server listed them

STANDARD_PATHS: Final = tuple(e.path for e in ENDPOINTS if not e.custom)
CUSTOM_PATHS: Final = tuple(e.path for e in ENDPOINTS if e.custom)
KEYS: Final = {e.path: e.key for e in ENDPOINTS}
SHOWN_DIFFERENCES: Final = 10  # differences a refused recording lists (then "and N more")

# What the scenario format holds of each record; anything else a server sends is listed, not recorded.
SCHOOL_FIELDS: Final = frozenset({"id", "name", "schoolType", "isHoldingSchool"})
STUDENT_FIELDS: Final = frozenset({
    "id", "enrolledId", "studentStatus", "schoolId", "enrollmentDate", "grade", "firstName", "middleName",
    "lastName", "dateOfBirth", "gender", "email", "address", "lastModified",
})  # fmt: skip
CONTACT_FIELDS: Final = frozenset({
    "id", "firstName", "lastName", "email", "mobilePhone", "homePhone", "doNotContact", "students",
})  # fmt: skip
LINK_FIELDS: Final = frozenset({"studentId", "relationship", "priority", "livesWith", "hasCustody"})
# What a refusal may quote when a field differs (ids, statuses, flags, a school's type): nothing a person wrote or is
QUOTED_FIELDS: Final = frozenset({
    "id", "enrolledId", "studentStatus", "schoolId", "recentlyAccepted", "doNotContact", "schoolType",
    "isHoldingSchool",
})  # fmt: skip
CONTACT_SCALARS: Final = tuple(sorted(CONTACT_FIELDS - {"id", "students"}))


class RecordingError(ValueError):
    """What was read cannot become a scenario that serves it back; says every reason (up to a few)."""


@dataclass
class Recording:
    """A scenario and what went into it: endpoints, records and bytes read, fields left out."""

    scenario: dict[str, Any]
    endpoints: int = 0
    records: int = 0
    bytes: int = 0
    dropped: dict[str, Counter[str]] = field(default_factory=dict)  # endpoint -> field -> records
    unseen: list[str] = field(default_factory=list)  # endpoints never read (the proxy records what passed)

    def summary(self) -> str:
        return f"{self.endpoints} endpoints, {self.records} records, {self.bytes} bytes read"

    def dropped_lines(self) -> list[str]:
        """One line per endpoint whose records had fields the scenario does not hold."""
        return [
            f"{path}: not recorded (not in the contract): "
            + ", ".join(f"{name} ({count} records)" for name, count in sorted(counts.items()))
            for path, counts in sorted(self.dropped.items())
        ] + [f"{path}: never read whole, so the replay lists nothing there" for path in self.unseen]


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


def read_listings(
    session: requests.Session, url: str, client: Credentials, custom_endpoints: bool, progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> tuple[Listings, int]:  # fmt: skip
    """Every listing one client reads, whole and checked as the sync checks it, and the bytes it read."""
    retry = RetryPolicy(timeout=timeout)
    esd_client = EsdClient(
        session, url, client.client_id, client.client_secret, retry=retry, progress=progress,
        max_response_bytes=max_response_bytes,
    )  # fmt: skip
    esd_client.authenticate()
    raw = esd_client.fetch_raw(custom_endpoints)
    size = sum(len(body) for bodies in raw.pages.values() for body in bodies)
    listings = {
        path: [r for body in bodies for r in orjson.loads(body)[KEYS[path]]] for path, bodies in raw.pages.items()
    }
    RawSnapshot(dict(raw.pages), custom_endpoints, raw.digest).parse()  # every record as the sync parses it
    return listings, size


def record_district(
    session: requests.Session, url: str, custom: Credentials, standard: Credentials | None, today: dt.date,
    description: str, progress: Progress | None = None, say: Callable[[str], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Recording:  # fmt: skip
    """Read every endpoint (with the standard client too, when given) and build the scenario that serves it.

    `say` hears each phase after the reading (so a progress line does not go on saying "fetching"); `timeout`
    is each request's, as for the sync.
    """
    listings, size = read_listings(session, url, custom, True, progress, timeout, max_response_bytes)
    clients = "a client with the custom endpoints"
    if standard is not None:
        seen, more = read_listings(session, url, standard, False, progress, timeout, max_response_bytes)
        size += more
        differences = list(_differences("standard client", {p: listings[p] for p in STANDARD_PATHS}, seen))
        if differences:
            raise _refused("the standard client reads other records than the custom one", differences)
        clients += " and a standard client"
    if say is not None:
        say(f"checking that the scenario serves all {sum(map(len, listings.values()))} records back")
    recording = recording_from(listings, today, f"{description}; read with {clients}")
    recording.scenario["clients"] = ["custom", "standard"] if standard is not None else ["custom"]
    recording.bytes = size
    return recording


def recording_from(listings: Mapping[str, list[Record]], today: dt.date, description: str) -> Recording:
    """The scenario that serves `listings` back (checked by serving it in memory), or RecordingError."""
    dropped: dict[str, Counter[str]] = {}
    kept = {path: [_known_fields(path, r, dropped) for r in records] for path, records in listings.items()}
    scenario = scenario_from(kept, today, description)
    differences = list(replay_differences(scenario, kept))
    if differences:
        raise _refused("the scenario format cannot represent what the server showed", differences)
    return Recording(scenario, endpoints=len(listings), records=sum(map(len, listings.values())), dropped=dropped)


def _refused(what: str, differences: list[str]) -> RecordingError:
    more = len(differences) - SHOWN_DIFFERENCES
    shown = "; ".join(differences[:SHOWN_DIFFERENCES]) + (f"; and {more} more" if more > 0 else "")
    return RecordingError(f"{what}, so nothing was written: {shown}")


def _known_fields(path: str, record: Record, dropped: dict[str, Counter[str]]) -> Record:
    key = KEYS[path]
    known = {esd.SCHOOLS_KEY: SCHOOL_FIELDS, esd.STUDENTS_KEY: STUDENT_FIELDS, esd.CONTACTS_KEY: CONTACT_FIELDS}[key]
    extra = [name for name in record if name not in known]
    links = record.get("students") if key == esd.CONTACTS_KEY else None
    if links is not None:
        extra += [f"students.{name}" for link in links for name in link if name not in LINK_FIELDS]
        record = {**record, "students": [{k: x for k, x in link.items() if k in LINK_FIELDS} for link in links]}
    for name in extra:
        dropped.setdefault(path, Counter())[name] += 1
    return {k: x for k, x in record.items() if k in known}


# ----- listings -> scenario ---------------------------------------------------------------------


def scenario_from(listings: Mapping[str, list[Record]], today: dt.date, description: str) -> dict[str, Any]:
    """Schools, persons (both student listings, by id) and contacts (both contact listings, links merged)."""
    standard_students = listings.get("/v1/students", [])
    operoo_students = listings.get("/v1/operoo/students", [])
    students: dict[int, Record] = {}
    for record in (*standard_students, *operoo_students):
        students.setdefault(record["id"], dict(record))
    for record in operoo_students:
        if record.get("enrolledId") is not None:
            students[record["id"]]["recentlyAccepted"] = True
    contacts, differing = _contacts(listings.get("/v1/contacts", []), listings.get("/v1/operoo/contacts", []))
    out: dict[str, Any] = {
        "name": "recorded district",
        "description": description,
        "today": today.isoformat(),
        "schools": [{k: s[k] for k in ("id", "name", "schoolType")} for s in listings.get("/v1/schools", [])],
        "students": [students[k] for k in sorted(students)],
        "contacts": [contacts[k] for k in sorted(contacts)],
    }
    if differing:
        out["operooContacts"] = differing
    return out


def _contacts(standard: Iterable[Record], operoo: Iterable[Record]) -> tuple[dict[int, Record], list[Record]]:
    """Contacts by id with the links of both listings merged in order; and what the custom listing shows otherwise."""
    contacts = {c["id"]: {**c, "students": list(c["students"])} for c in standard}
    differing = []
    for record in operoo:
        known = contacts.get(record["id"])
        if known is None:
            contacts[record["id"]] = {**record, "students": list(record["students"])}
            continue
        known["students"] = _merged(known["students"], record["students"])
        other = {k: record[k] for k in CONTACT_SCALARS if k in record and record[k] != known.get(k)}
        if other:
            differing.append({"id": record["id"], **other})
    return contacts, sorted(differing, key=lambda c: c["id"])


def _merged(first: list[Record], second: list[Record]) -> list[Record]:
    """Both lists of links, each link once (by studentId), keeping the order of each: a link only in
    `second` goes just before the next link both share, or at the end."""
    out = list(first)
    pending: list[Record] = []
    for link in second:
        index = next((i for i, x in enumerate(out) if x["studentId"] == link["studentId"]), None)
        if index is None:
            pending.append(link)
        else:
            out[index:index] = pending
            pending = []
    return out + pending


# ----- the proof: serve the scenario in memory and compare -----------------------------------------


def replay_differences(scenario: dict[str, Any], listings: Mapping[str, list[Record]]) -> Iterable[str]:
    """How the mock, serving `scenario`, would list each endpoint of `listings` otherwise (none: a faithful copy)."""
    try:
        store = scenarios.build_store(scenario)
    except EsdError as exc:
        raise RecordingError(
            f"the scenario format cannot hold what the server showed, so nothing was written: {exc}"
        ) from None
    for path, records in listings.items():
        yield from _differences("replay", {path: records}, {path: _view(store, path)})


def _view(store: DistrictStore, path: str) -> list[Record]:
    views: dict[str, Callable[[], Any]] = {
        "/v1/schools": store.schools, "/v1/students": store.students, "/v1/contacts": store.contacts,
        "/v1/operoo/students": store.operoo_students, "/v1/operoo/contacts": store.operoo_contacts,
    }  # fmt: skip
    return list(views[path]().records)


def _differences(what: str, source: Mapping[str, list[Record]], other: Mapping[str, list[Record]]) -> Iterable[str]:
    """Each record of `source` that `other` lacks or shows otherwise (by id, field by field), and each extra."""
    for path, records in source.items():
        theirs = {r["id"]: r for r in other.get(path, [])}
        for record in records:
            got = theirs.pop(record["id"], None)
            if got is None:
                yield f"{path} record {record['id']}: missing from the {what}"
                continue
            for name in sorted(set(record) | set(got)):
                if record.get(name) == got.get(name):
                    continue
                if name in QUOTED_FIELDS:
                    yield f"{path} record {record['id']}: {name} is {_short(got.get(name))} in the {what}, {_short(record.get(name))} at the source"
                else:  # a refusal is printed, maybe into a CI log: no personal value in it, only what it is
                    yield f"{path} record {record['id']}: {name} differs in the {what} from the source ({_kind(record.get(name))} there)"
        yield from (f"{path} record {ident}: only in the {what}" for ident in theirs)


def _kind(value: Any) -> str:
    """A value as a refusal describes it without quoting it: its type (and a list's length)."""
    return f"an array of {len(value)}" if isinstance(value, list) else f"a {type_name(value)}"


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:79] + "…"
