"""What a verify report shows beside a finding: the request made, the status, and the record or body quoted.

A check says where it saw a finding (`Source`: raw, cheap, never shown); the verifier quotes the first few of
each check (`quote`: an `Evidence`, the only form any report shows). A quote never repeats a personal value:
a record's personal fields (names, date of birth, email, address, phones), the access token, and every field
the contract does not name are shown as their type (`"<string>"`), so a report can be sent on. Each quote is
cut to `MAX_QUOTE_CHARS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import requests

from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.errors import type_name
from mock_esd_contracts.schema import openapi

MAX_EVIDENCE: Final = 5  # findings of a check quoted with their evidence (the first ones; the rest are listed)
MAX_QUOTE_CHARS: Final = 2000  # characters of one quoted record or body, then "[... N more characters]"
SECRET_FIELDS: Final = frozenset({"access_token", "client_secret"})
REDACTION_NOTE: Final = (
    "personal values (names, date of birth, email, address, phones), the access token and fields the contract "
    "does not name are shown as their type, never as sent"
)


@dataclass(frozen=True)
class Source:
    """Where a finding was seen: the request line, the status, and what to quote (a record, or a response's body)."""

    request: str
    status: int | None = None
    quoted: Any = None  # a record or pagingInfo (JSON); None with `response`: quote the response's body
    what: str = "record"  # what `quoted` is, as the report names it
    response: requests.Response | None = None

    @classmethod
    def of(cls, response: requests.Response) -> Source:
        """A response's request, status and body."""
        return cls(request_line(response), response.status_code, what="body", response=response)


@dataclass(frozen=True)
class Evidence:
    """A finding's evidence as reports show it: nothing personal, nothing secret, cut to size."""

    request: str
    status: int | None
    what: str | None  # "record", "pagingInfo", "body (application/json)", ...; None: nothing quoted
    quote: str | None

    def as_json(self) -> dict[str, Any]:
        return {"request": self.request, "status": self.status, "quoted": self.what, "quote": self.quote}

    def lines(self) -> list[str]:
        """The evidence as indented text lines (the JUnit failure's text)."""
        lines = [f"  request: {self.request}"]
        if self.status is not None:
            lines.append(f"  status: {self.status}")
        if self.quote is not None:
            lines.append(f"  {self.what}:")
            lines += [f"    {line}" for line in self.quote.splitlines()]
        return lines


def request_line(response: requests.Response) -> str:
    """`GET /api/v1/students?pageNo=1&pageSize=100`: the method and what was asked, never a header or a form body."""
    sent = response.request
    return f"{sent.method} {sent.path_url}" if sent is not None else "(unknown request)"


def quote(source: Source) -> Evidence:
    """The evidence a report may show for `source`."""
    if source.response is not None and source.quoted is None:
        what, text = _body(source.response)
        return Evidence(source.request, source.status, what, text)
    if source.quoted is None:
        return Evidence(source.request, source.status, None, None)
    return Evidence(source.request, source.status, source.what, cut(_json(redacted(source.quoted))))


def _body(response: requests.Response) -> tuple[str | None, str | None]:
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or "no Content-Type"
    if not response.content:
        return f"body ({content_type})", "(empty)"
    try:
        body = response.json()
    except ValueError:
        return f"body ({content_type})", cut(response.text)
    return f"body ({content_type})", cut(_json(redacted(body)))


def redacted(value: Any, unknown: bool = True) -> Any:
    """`value` (a record, a page, a problem) with every value a report may not repeat replaced by its type: personal
    and secret fields, and (if `unknown`) fields the contract does not name."""
    if isinstance(value, dict):
        return {k: _field(str(k), item, unknown) for k, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, unknown) for item in value]
    return type_of(value)


def _field(name: str, value: Any, unknown: bool) -> Any:
    if name in v.PERSONAL_FIELDS or name in SECRET_FIELDS or (unknown and name not in contract_fields()):
        return type_of(value) if value is not None else None
    if name in v.KNOWN_WORDS and value is not None and value not in v.KNOWN_WORDS[name]:  # free text, maybe a person's
        return type_of(value)
    if isinstance(value, dict | list):
        return redacted(value, unknown)
    return value


def type_of(value: Any) -> str:
    """A value's JSON type, as a quote shows it in the value's place: `"<string>"`, `"<integer>"`, ..."""
    return f"<{type_name(value)}>"


@cache
def contract_fields() -> frozenset[str]:
    """Every field name the contract's schemas define (records, links, pagingInfo, problems, tokens)."""
    names: set[str] = set()
    for schema in openapi()["components"]["schemas"].values():
        names |= set(schema.get("properties", {}))
    return frozenset(names)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def cut(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """`text` up to `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [... {len(text) - limit} more characters]"
