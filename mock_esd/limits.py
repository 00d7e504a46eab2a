"""How big a request, a district, a YAML document, the view cache and the journal may grow.

Each limit is a named setting (`AppConfig.limits`) with a documented default (docs/limits.md), so a
test can set a small one; exceeding one is a 4xx problem+json naming the setting, never an exhausted server.
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_esd.errors import MAX_REPORTED_ERRORS, BadRequest
from mock_esd_contracts.schema import MAX_DEPTH

MIB = 1024 * 1024
MAX_REQUEST_LINE = 8_190  # gunicorn's largest `limit_request_line`: both servers keep to one limit


@dataclass(frozen=True)
class Limits:
    """Every size limit of the mock; the defaults fit a 1,000,000-student district on a laptop."""

    max_body_bytes: int = 32 * MIB  # any request body (413, refused before it is read)
    max_token_body_bytes: int = 64 * 1024  # the token endpoint's form: credentials, not megabytes
    max_students: int = 1_000_000  # persons of a generated district (reset, tenants, a scenario's base)
    max_schools: int = 1_000  # schools of a generated district
    max_scenario_bytes: int = (
        256 * MIB
    )  # a scenario file `serve --scenario` reads (a JSON recording of 350,000 students)
    max_yaml_nodes: int = (
        10_000_000  # nodes of a YAML scenario, as written and with its aliases expanded (<= 70 bytes each)
    )
    max_cached_scenarios: int = 8  # scenarios a server keeps parsed and built, for the next load of the same text
    max_body_depth: int = MAX_DEPTH  # nesting of any /_mock/ body or scenario (a scenario's aliases followed)
    max_cached_views: int = 256  # per district: filtered listings kept encoded (least recently used go)
    max_cached_view_bytes: int = 1024 * MIB  # per district: bytes those listings hold (the 1M district's five fit)
    max_journal_entries: int = 10_000  # requests the journal keeps (the oldest go), also shared by workers
    max_error_detail: int = 4_000  # characters of an error's detail: never megabytes of the input echoed
    max_request_line_bytes: int = 8_190  # a request's line (method, path, query): 414 beyond; gunicorn's own cap
    max_reported_errors: int = MAX_REPORTED_ERRORS  # problems a 400 lists; the check stops there ("and more")
    max_field_chars: int = 1_000  # characters of any string in a record or control body (names, addresses, ids)
    max_tenants: int = 100  # districts one server holds, the default one included
    max_total_students: int = 2_000_000  # persons of every tenant together: two districts of max_students
    max_header_seconds: float = 10.0  # a request's line and headers must arrive within this (and an idle keep-alive)
    max_connections: int = 64  # connections served at once (a thread each); under --workers N, split among them

    def __post_init__(self) -> None:
        for name in ("max_reported_errors", "max_field_chars", "max_tenants", "max_connections", "max_scenario_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.max_header_seconds > 0:
            raise ValueError(f"max_header_seconds must be above 0, got {self.max_header_seconds}")
        if not 1 <= self.max_request_line_bytes <= MAX_REQUEST_LINE:
            raise ValueError(
                f"max_request_line_bytes must be 1 to {MAX_REQUEST_LINE} (gunicorn's cap under --workers), "
                f"got {self.max_request_line_bytes}"
            )

    def check_district(self, students: int, schools: int) -> None:
        """BadRequest naming the limit when a district to generate would be larger than allowed."""
        problems = []
        if students > self.max_students:
            problems.append(f"students {students} is above the limit max_students={self.max_students}")
        if schools > self.max_schools:
            problems.append(f"schools {schools} is above the limit max_schools={self.max_schools}")
        if problems:
            raise BadRequest("district too large: " + "; ".join(problems))

    def check_total(self, beside: int, students: int) -> None:
        """BadRequest naming `max_total_students` when a district of `students`, beside `beside` persons in
        the other districts, would take the server's total over it."""
        if beside + students > self.max_total_students:
            raise BadRequest(
                f"too many students in all: this district's {students} and the other tenants' {beside} make "
                f"{beside + students}, above the limit max_total_students={self.max_total_students}"
            )

    def check_tenants(self, tenants: int) -> None:
        """BadRequest naming `max_tenants` when the server would hold more districts than it."""
        if tenants > self.max_tenants:
            raise BadRequest(
                f"too many tenants: {tenants} would be above the limit max_tenants={self.max_tenants} "
                "(DELETE /_mock/tenants/NAME removes one)"
            )


DEFAULT_LIMITS = Limits()


def clipped(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters not shown)"


def too_late_headers(seconds: float) -> str:
    """The 408's detail, the same from either server."""
    return f"the request line and headers did not arrive within the limit max_header_seconds={seconds:g}"


def too_long_line(limit: int) -> str:
    """The 414's detail, the same from either server."""
    return f"the request line (method, path and query) is longer than the limit max_request_line_bytes={limit}"
