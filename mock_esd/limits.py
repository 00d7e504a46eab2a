"""How big a request, a district, a YAML document, the view cache and the journal may grow.

Each limit is a named setting (`AppConfig.limits`) with a documented default (docs/limits.md), so a
test can set a small one; exceeding one is a 4xx problem+json naming the setting, never an exhausted server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from mock_esd.errors import MAX_REPORTED_ERRORS, BadRequest
from mock_esd_contracts.schema import MAX_DEPTH

MIB = 1024 * 1024
MAX_REQUEST_LINE = 8_190  # gunicorn's largest `limit_request_line`: both servers keep to one limit
MAX_HEADER_SECONDS = 86_400.0  # a day: far beyond any test, and within what a socket's timeout can hold
# The values each limit takes, lowest and highest (inclusive): a district may have no students, has at least two
# schools; every other count or size is at least 1. max_header_seconds alone is a float, above 0.
_RANGES: dict[str, tuple[float, float]] = {
    "max_students": (0, math.inf),
    "max_total_students": (0, math.inf),
    "max_cached_scenarios": (0, math.inf),  # 0: a server keeps no scenario built
    "max_schools": (2, math.inf),
    "max_request_line_bytes": (1, MAX_REQUEST_LINE),
    "max_header_seconds": (0, MAX_HEADER_SECONDS),  # a float's lowest is excluded: above 0
}
_WHY = {
    "max_request_line_bytes": " (gunicorn's cap under --workers)",
    "max_header_seconds": " (a day; a socket's timeout holds no more)",
}


@dataclass(frozen=True)
class Limits:
    """Every size limit of the mock; the defaults fit a 1,000,000-student district on a laptop.

    Each is a whole number (an int, not a bool) of at least 1, except: `max_students`,
    `max_total_students` and `max_cached_scenarios` (0: none kept) at least 0, `max_schools` at least 2 (a district's fewest), `max_request_line_bytes`
    1 to 8,190, and `max_header_seconds` a number of seconds (int or float) above 0 and at most 86,400.
    Anything else is refused when the Limits are made: TypeError or ValueError naming the field and what it takes.
    """

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
        """TypeError for a limit that is not a number of its kind (an int, not a bool; max_header_seconds may
        be a float), ValueError for one outside its range (`Limits` docstring), each naming the field."""
        for field in fields(self):
            name, value = field.name, getattr(self, field.name)
            whole = isinstance(field.default, int)  # max_header_seconds, the one float, defaults to 10.0
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
                kind = "a whole number (int)" if whole else "a number of seconds (int or float)"
                raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
            low, high = _RANGES.get(name, (1, math.inf))
            if whole and not low <= value <= high:
                wanted = f"at least {low:g}" if high == math.inf else f"{low:g} to {high:g}"
            elif not whole and not low < value <= high:  # NaN too
                wanted = f"above {low:g} and at most {high:g}"
            else:
                continue
            raise ValueError(f"{name} must be {wanted}{_WHY.get(name, '')}, got {value!r}")

    def check_district(self, students: int, schools: int) -> None:
        """BadRequest naming the limit when a district to generate would be larger than allowed."""
        problems = []
        if students > self.max_students:
            problems.append(f"students {students} is above the limit max_students={self.max_students}")
        if schools > self.max_schools:
            problems.append(f"schools {schools} is above the limit max_schools={self.max_schools}")
        if problems:
            raise BadRequest("district too large: " + "; ".join(problems))

    def check_spec(self, students: int, schools: int) -> None:
        """ValueError naming the limit and its setting (`mock_esd.Limits`) when a district to generate from a
        spec (serve's options, create_app's, a test's district) would be larger than allowed: the 400's words."""
        try:
            self.check_district(students, schools)
        except BadRequest as exc:
            raise ValueError(f"{exc.detail} (a setting of mock_esd.Limits)") from None

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
