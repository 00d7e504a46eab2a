"""What a verify report shows beside a finding: the request made, the status, and the record or body quoted.

A check says where it saw a finding (`Source`: raw, cheap, never shown); the verifier quotes the first few of
each check (`quote`: an `Evidence`, the only form any report shows). A quote never repeats a personal value:
a record's personal fields (names, date of birth, email, address, phones), the access token, and every field
the contract does not name are shown as their type (`"<string>"`), so a report can be sent on. Each quote is
cut to `MAX_QUOTE_CHARS`.

What a server says in its own words is quoted by these rules (here for reports, and by
`mock_esd_contracts.probe.what_it_said` for error lines), because a server in trouble may answer with the
very records it choked on, or echo the request that carried the client secret:

- A body that is not JSON (an HTML error page, a page cut short, a proxy's text) is never quoted, not even
  its first bytes: nothing tells a name in free text from an error code. Its size and Content-Type are said.
  JSON nested deeper than `MAX_JSON_DEPTH` counts as not JSON.
- A problem's `detail` is never quoted, only its length: RFC 9457 makes it the text about this occurrence,
  which is where a server names the record. Its `title` (and `type`) are the summary of the problem's kind,
  the same for every occurrence, and are quoted while they are one printable line of at most
  `MAX_TITLE_CHARS`; a longer one is no summary, and is shown as its type.
- The client's secret (as sent: plain, form-encoded, and inside HTTP Basic) and the access tokens are
  replaced by `<secret>` wherever they appear in what a server said (`scrubbed`), whatever field holds them
  (one shorter than `MIN_SCRUBBED_CHARS` is no secret worth the name, and is not looked for).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from urllib.parse import quote as url_quoted
from urllib.parse import quote_plus

import requests

from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.answers import MAX_JSON_DEPTH, TooDeep, loads
from mock_esd_contracts.errors import type_name
from mock_esd_contracts.schema import openapi

MAX_EVIDENCE: Final = 5  # findings of a check quoted with their evidence (the first ones; the rest are listed)
MAX_QUOTE_CHARS: Final = 2000  # characters of one quoted record or body, then "[... N more characters]"
SECRET_FIELDS: Final = frozenset({"access_token", "client_secret"})
FREE_TEXT_FIELDS: Final = frozenset({"detail"})  # a problem's words about this occurrence: never quoted
SUMMARY_FIELDS: Final = frozenset({"title", "type"})  # a problem's kind: quoted while one short printable line
MAX_TITLE_CHARS: Final = 100  # the longest title (or type) quoted; RFC 9457 titles are a few words
SECRET_MARK: Final = "<secret>"  # what a quote shows in place of the client secret or an access token
MIN_SCRUBBED_CHARS: Final = 4  # a shorter secret is not looked for: it would mark every word holding its letters
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


def quote(source: Source, secrets: Iterable[str] = ()) -> Evidence:
    """The evidence a report may show for `source`, with each of `secrets` (`secret_forms`, access tokens) scrubbed."""
    hidden = tuple(secrets)
    request = scrubbed(source.request, hidden)
    if source.response is not None and source.quoted is None:
        what, text = _body(source.response, hidden)
        return Evidence(request, source.status, what, text)
    if source.quoted is None:
        return Evidence(request, source.status, None, None)
    return Evidence(request, source.status, source.what, cut(scrubbed(_json(redacted(source.quoted)), hidden)))


def _body(response: requests.Response, secrets: tuple[str, ...]) -> tuple[str | None, str | None]:
    what = f"body ({content_type(response)})"
    if not response.content:
        return what, "(empty)"
    try:
        body = loads(response.content)
    except ValueError as exc:
        return what, f"(not quoted: {unusable(response, exc)})"
    return what, cut(scrubbed(_json(redacted(body)), secrets))


def content_type(response: requests.Response) -> str:
    """The answer's media type (`application/json`), or "no Content-Type"; one short printable line."""
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    return media[:MAX_TITLE_CHARS] if media.isprintable() and media else "no Content-Type"


def unusable(response: requests.Response, exc: ValueError) -> str:
    """What a body that `loads` refused (`exc`) is, without a byte of it: `5,120 bytes of text/html, not JSON`."""
    why = f"JSON nested deeper than {MAX_JSON_DEPTH} levels" if isinstance(exc, TooDeep) else "not JSON"
    return f"{len(response.content):,} bytes of {content_type(response)}, {why}"


def redacted(value: Any, unknown: bool = True, depth: int = MAX_JSON_DEPTH) -> Any:
    """`value` (a record, a page, a problem) with every value a report may not repeat replaced by its type: personal
    and secret fields, a problem's detail, a title too long to be one, and (if `unknown`) fields the contract does
    not name. Objects and arrays nested deeper than `depth` are shown as their type."""
    if isinstance(value, dict | list) and depth <= 0:
        return type_of(value)
    if isinstance(value, dict):
        return {k: _field(str(k), item, unknown, depth - 1) for k, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, unknown, depth - 1) for item in value]
    return type_of(value)


def _field(name: str, value: Any, unknown: bool, depth: int) -> Any:
    if name in v.PERSONAL_FIELDS or name in SECRET_FIELDS or name in FREE_TEXT_FIELDS:
        return type_of(value) if value is not None else None
    if unknown and name not in contract_fields():
        return type_of(value) if value is not None else None
    if name in SUMMARY_FIELDS and isinstance(value, str) and not summary(value):
        return type_of(value)
    if name in v.KNOWN_WORDS and value is not None and value not in v.KNOWN_WORDS[name]:  # free text, maybe a person's
        return type_of(value)
    if isinstance(value, dict | list):
        return redacted(value, unknown, depth)
    return value


def summary(text: str) -> bool:
    """Whether `text` may be quoted as a problem's title: one printable line of at most MAX_TITLE_CHARS."""
    return 0 < len(text) <= MAX_TITLE_CHARS and text.isprintable()


def secret_forms(client_id: str, secret: str) -> tuple[str, ...]:
    """The ways a client's `secret` travels in a token request, which an answer echoing it may repeat: as is,
    form-encoded, and inside an HTTP Basic header (base64 of `id:secret`)."""
    if not secret:
        return ()
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
    return tuple(dict.fromkeys((secret, quote_plus(secret), url_quoted(secret, safe=""), basic)))


def scrubbed(text: str, secrets: Iterable[str]) -> str:
    """`text` (what a server said) with every occurrence of each secret (the longest first) replaced by SECRET_MARK."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SCRUBBED_CHARS}, key=len, reverse=True):
        text = text.replace(secret, SECRET_MARK)
    return text


def one_line(text: str) -> str:
    """`text` with every character that would break a line or drive a terminal (newlines, escapes) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


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
