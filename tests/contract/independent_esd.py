"""A small eSD-compatible server written apart from the mock (http.server, no Flask, no mock code).

It serves five explicit listings exactly as given (so it can show what the mock's model would not
derive by itself, such as a contact with another doNotContact on the custom listing), with tokens,
paging, filters, problem+json errors and a standard client refused the custom endpoints. `broken`
names deliberate faults, for the proxy's tests.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Record = dict[str, Any]
CUSTOM = ("independent-custom", "custom-secret")
STANDARD = ("independent-standard", "standard-secret")
PATHS = ("/v1/schools", "/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts")
KEYS = {"/v1/schools": "schools", "/v1/students": "students", "/v1/contacts": "contacts",
        "/v1/operoo/students": "students", "/v1/operoo/contacts": "contacts"}  # fmt: skip
# Deliberate faults: "content-type" (listings as text/plain), "no-auth" (listings without a token),
# "paging" (pageCount off by one), "html-errors" (errors as text/html), "record" (students lack lastName),
# "total" (totalCount one more than the records)
FAULTS = frozenset({"content-type", "no-auth", "paging", "html-errors", "record", "total"})


@dataclass
class District:
    listings: dict[str, list[Record]]
    broken: set[str] = field(default_factory=set)
    tokens: dict[str, bool] = field(default_factory=dict)  # token -> the client has the custom endpoints
    gzip: bool = False  # compress answers for clients that accept gzip
    hidden_from_standard: set[int] = field(default_factory=set)  # record ids the standard client is not shown


def student(pid: int, enrolled: str | None, status: str, school: str | None, rng: random.Random, **over: Any) -> Record:
    record = {
        "id": pid, "enrolledId": enrolled, "studentStatus": status, "schoolId": school,
        "enrollmentDate": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}" if status == "Pre-Registered" else None,
        "grade": rng.choice(["K", "1", "5", "9"]), "firstName": f"First{pid}", "middleName": None,
        "lastName": f"Last{pid}", "dateOfBirth": f"201{rng.randint(0, 9)}-0{rng.randint(1, 9)}-2{rng.randint(0, 8)}",
        "gender": rng.choice(["F", "M", "X"]), "email": f"kid{pid}@school.invalid", "address": f"{pid} Elm Road",
        "lastModified": "2026-08-01T10:00:00Z",
    }  # fmt: skip
    return {**record, **over}


def contact(cid: int, links: list[tuple[int, str, int]], **over: Any) -> Record:
    record = {
        "id": cid, "firstName": f"Parent{cid}", "lastName": f"Family{cid}", "email": f"p{cid}@home.invalid",
        "mobilePhone": f"555-01{cid:02d}", "homePhone": None, "doNotContact": False,
        "students": [{"studentId": s, "relationship": r, "priority": p, "livesWith": True, "hasCustody": p == 1}
                     for s, r, p in links],
    }  # fmt: skip
    return {**record, **over}


def district(seed: int = 5, students: int = 60) -> District:
    """Enrolled, Pre-Registered and withdrawn students in two schools, applications on the custom listing
    only, one accepted student on both, and a contact the custom listing shows with another doNotContact."""
    rng = random.Random(seed)
    schools = [
        {"id": "S1", "name": "North Elementary", "schoolType": "Elementary", "isHoldingSchool": False},
        {"id": "S2", "name": "South High", "schoolType": "High", "isHoldingSchool": False},
        {"id": "H9", "name": "Holding", "schoolType": "Holding", "isHoldingSchool": True},
    ]
    standard, operoo = [], []
    for pid in range(1, students + 1):
        kind = pid % 6
        if kind == 5:  # an application: no enrolledId, on the custom listing only
            operoo.append(student(pid, None, "Pre-enrolled", None if pid % 12 else "S1", rng))
            continue
        status = ["Enrolled", "Enrolled", "Pre-Registered", "Withdrawn", "Pre-enrolled"][kind]
        school = "H9" if status == "Pre-enrolled" else rng.choice(["S1", "S2"])
        standard.append(student(pid, f"{20000000 + pid:08d}", status, school, rng))
    # data a verifier judges: a Pre-Registered student without an enrollmentDate (warns), a relationship
    # outside eSD's list (fails vocabulary); a recording must keep both, so the replay is judged alike
    next(r for r in standard if r["studentStatus"] == "Pre-Registered")["enrollmentDate"] = None
    accepted = standard[3]
    operoo.append(accepted)  # recently accepted: on both listings
    operoo.sort(key=lambda r: r["id"])
    contacts_std, contacts_op = [], []
    cid = 1
    visible = {r["id"] for r in standard}
    for person in sorted([*standard, *operoo], key=lambda r: r["id"]):
        if any(link["studentId"] == person["id"] for c in [*contacts_std, *contacts_op] for link in c["students"]):
            continue
        links = [(person["id"], rng.choice(["Mother", "Father", "Guardian", "Grandparent"]), 1)]
        record = contact(cid, links, doNotContact=cid % 7 == 0)
        (contacts_std if person["id"] in visible else contacts_op).append(record)
        cid += 1
    contacts_std[-1]["students"][0]["relationship"] = "Neighbour"
    # a parent of an enrolled child and of an applicant: each listing shows the link to its own person
    parent, applicant = contacts_std[0], next(r for r in operoo if r["enrolledId"] is None)
    link = {
        "studentId": applicant["id"],
        "relationship": "Mother",
        "priority": 2,
        "livesWith": True,
        "hasCustody": False,
    }
    contacts_op.append({**parent, "students": [link]})
    shared = next(c for c in contacts_std if c["students"][0]["studentId"] == accepted["id"])
    contacts_op.append({**shared, "doNotContact": not shared["doNotContact"]})  # the custom listing says otherwise
    contacts_op.sort(key=lambda c: c["id"])
    return District({
        "/v1/schools": schools, "/v1/students": standard, "/v1/contacts": contacts_std,
        "/v1/operoo/students": operoo, "/v1/operoo/contacts": contacts_op,
    })  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if self.server.district.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            data = gzip.compress(data, mtime=0)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _problem(self, status: int, detail: str) -> None:
        if "html-errors" in self.server.district.broken:
            data = f"<html><body>{status} {detail}</body></html>"
            self._send(status, data, "text/html")
            return
        title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}[status]
        self._send(status, {"type": "about:blank", "title": title, "status": status, "detail": detail},
                   "application/problem+json")  # fmt: skip

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/api/v1/auth/token":
            return self._problem(404, "no such route")
        form = {
            k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()).items()
        }
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return self._problem(400, "grant_type must be client_credentials")
        if (client_id, secret) not in (CUSTOM, STANDARD):
            return self._problem(401, "invalid client credentials")
        token = secrets.token_hex(12)
        self.server.district.tokens[token] = (client_id, secret) == CUSTOM
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.removeprefix("/api")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        district = self.server.district
        auth = self.headers.get("Authorization", "")
        custom = district.tokens.get(auth.removeprefix("Bearer "))
        if custom is None and not (path in PATHS and "no-auth" in district.broken):
            return self._problem(401, "a valid bearer token is needed")
        if path.startswith("/v1/operoo/") and custom is False:
            return self._problem(403, "the custom endpoints are not enabled for this client")
        if path.startswith("/v1/students/"):
            wanted = path.removeprefix("/v1/students/")
            found = [r for r in district.listings["/v1/students"] if r["enrolledId"] == wanted]
            return self._send(200, found[0]) if found else self._problem(404, f"no student {wanted}")
        if path not in PATHS:
            return self._problem(404, "no such route")
        try:
            page_no, page_size = int(query.get("pageNo", "1")), int(query.get("pageSize", "100"))
        except ValueError:
            return self._problem(400, "pageNo and pageSize are integers")
        if page_no < 1 or not 1 <= page_size <= 1000:
            return self._problem(400, "pageNo >= 1 and 1 <= pageSize <= 1000")
        hidden = district.hidden_from_standard if custom is False else set()
        records = [r for r in district.listings[path] if _matches(r, query) and r["id"] not in hidden]
        self._page(path, records, page_no, page_size)

    def _page(self, path: str, records: list[Record], page_no: int, page_size: int) -> None:
        broken = self.server.district.broken
        total = len(records) + ("total" in broken)
        count = -(-total // page_size) + ("paging" in broken)
        items = records[(page_no - 1) * page_size : page_no * page_size]
        if "record" in broken and KEYS[path] == "students":
            items = [{k: v for k, v in r.items() if k != "lastName"} for r in items]
        info = {"pageNo": page_no, "pageSize": page_size, "pageCount": count, "totalCount": total}
        self._send(200, {KEYS[path]: items, "pagingInfo": info},
                   "text/plain" if "content-type" in broken else "application/json")  # fmt: skip


def _matches(record: Record, query: dict[str, str]) -> bool:
    if "schoolId" in query and record.get("schoolId") != query["schoolId"]:
        return False
    if "studentStatus" in query and record.get("studentStatus") != query["studentStatus"]:
        return False
    if "studentId" in query:
        return any(str(link["studentId"]) == query["studentId"] for link in record.get("students", []))
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, district: District) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.district = district


@contextmanager
def independent_server(data: District) -> Iterator[str]:
    """Serve `data` on a free 127.0.0.1 port; yields the eSD base URL (…/api); stopped after."""
    server = _Server(data)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
