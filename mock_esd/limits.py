"""How big a request, a district, a YAML document, the view cache and the journal may grow.

Each limit is a named setting (`AppConfig.limits`) with a documented default (README, "Limits"), so a
test can set a small one; exceeding one is a 4xx problem+json naming the setting, never an exhausted server.
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_esd.errors import BadRequest
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
    max_yaml_nodes: int = 5_000_000  # nodes of a scenario once its aliases are expanded ("billion laughs")
    max_body_depth: int = MAX_DEPTH  # nesting of any /_mock/ body or scenario (a scenario's aliases followed)
    max_cached_views: int = 256  # per district: filtered listings kept encoded (least recently used go)
    max_cached_view_bytes: int = 1024 * MIB  # per district: bytes those listings hold (the 1M district's five fit)
    max_journal_entries: int = 10_000  # requests the journal keeps (the oldest go), also shared by workers
    max_error_detail: int = 4_000  # characters of an error's detail: never megabytes of the input echoed
    max_request_line_bytes: int = 8_190  # a request's line (method, path, query): 414 beyond; gunicorn's own cap

    def __post_init__(self) -> None:
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


DEFAULT_LIMITS = Limits()


def clipped(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters not shown)"


def too_long_line(limit: int) -> str:
    """The 414's detail, the same from either server."""
    return f"the request line (method, path and query) is longer than the limit max_request_line_bytes={limit}"
