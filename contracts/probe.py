"""The verifier's view of a server: HTTP calls, tokens, and cached walks of each listing."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import requests

from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLarge, limited, loads
from mock_esd_contracts.connection import DEFAULT_TIMEOUT, connection_failure
from mock_esd_contracts.endpoints import BY_PATH
from mock_esd_contracts.errors import CannotRun, NoAnswer, described, type_name
from mock_esd_contracts.evidence import (
    Source,
    content_type,
    cut,
    one_line,
    redacted,
    request_line,
    scrubbed,
    secret_forms,
    summary,
    unusable,
)

JSON = Any


@dataclass(frozen=True)
class Target:
    """Where and as whom to verify; the standard client (without custom endpoints) is optional."""

    base_url: str
    client_id: str
    client_secret: str
    standard_client_id: str | None = None
    standard_client_secret: str | None = None
    max_pages: int | None = None
    page_size: int = 100
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # an answer's body, decoded, past this: NoAnswer


@dataclass
class Walk:
    """One listing as read: records in order, each page's pagingInfo, and why it stopped early if so.

    `requests[n]` is the request that read page n + 1, whose records start at `records[starts[n]]`;
    `failed` is the answer that stopped the walk (with `failure`, what it said).
    """

    records: list[JSON] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    truncated: bool = False
    requests: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    failed: Source | None = None

    @property
    def complete(self) -> bool:
        return self.failure is None and not self.truncated

    def source(self, index: int) -> Source:
        """Where `records[index]` was read: its page's request, and the record itself."""
        page = bisect_right(self.starts, index) - 1
        return Source(self.requests[page], 200, self.records[index])

    def page_source(self, page: int) -> Source:
        """Page `page` (1-based): its request and its pagingInfo."""
        return Source(self.requests[page - 1], 200, self.pages[page - 1], "pagingInfo")


class Probe:
    """HTTP access for the checks; walks are read once and shared."""

    def __init__(self, session: requests.Session, target: Target, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.session, self.target, self.timeout = session, target, timeout
        self.base = target.base_url.rstrip("/")
        self._tokens: dict[str, str] = {}
        self._walks: dict[tuple[str, tuple[tuple[str, Any], ...]], Walk] = {}
        self._hooks = {"response": [limited(target.max_response_bytes)]}  # every answer, redirects too

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One HTTP call. NoAnswer if it got no usable answer (cut short, redirected in a loop, past
        max_response_bytes, not whole within the timeout); CannotRun if the server cannot be reached at all (no
        connection, TLS) or the URL is none."""
        try:
            return self.session.request(method, self.base + path, timeout=self.timeout, hooks=self._hooks, **kw)
        except ResponseTooLarge as exc:
            raise self._unanswered(method, path, kw, exc.reason) from None
        except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL):
            raise CannotRun(f"{self.base!r} is not a URL an eSD API can be at; {esd.BASE_URL_HINT}") from None
        except requests.RequestException as exc:
            failure = connection_failure(exc, self.timeout)
            if not failure.connected:
                raise CannotRun(f"{method} {self.base}{path}: {failure}") from None
            raise self._unanswered(method, path, kw, str(failure)) from None

    def _unanswered(self, method: str, path: str, kw: dict[str, Any], why: str) -> NoAnswer:
        """NoAnswer for a request: shown as a report shows a request (`request_line`), named as a check names it."""
        sent = requests.Request(method, self.base + path, params=kw.get("params")).prepare()
        query = sent.path_url.partition("?")[2]
        return NoAnswer(f"{method} {sent.path_url}", why, f"{method} {path}{'?' if query else ''}{query}")

    def fetch_token(self, client_id: str, secret: str, basic: bool = False) -> requests.Response:
        form = {"grant_type": "client_credentials"}
        if basic:
            return self.request("POST", esd.TOKEN_PATH, data=form, auth=(client_id, secret))
        return self.request("POST", esd.TOKEN_PATH, data={**form, "client_id": client_id, "client_secret": secret})

    def token(self, standard: bool = False) -> str:
        """A bearer token for the main (or the standard) client; CannotRun if none can be had."""
        t = self.target
        client_id, secret = (
            (t.standard_client_id, t.standard_client_secret) if standard else (t.client_id, t.client_secret)
        )
        assert client_id is not None and secret is not None
        if client_id not in self._tokens:
            for basic in (False, True):  # either way will do, so the token checks can judge each one
                try:
                    response = self.fetch_token(client_id, secret, basic=basic)
                except NoAnswer as exc:  # the token endpoint: without it nothing can be judged
                    raise CannotRun(f"POST {self.base}{esd.TOKEN_PATH}: {exc.why}") from None
                body = json_body(response)
                token = body.get("access_token") if isinstance(body, dict) else None
                if response.status_code == 200 and isinstance(token, str) and token:
                    self._tokens[client_id] = token
                    break
            else:
                if response.status_code in (404, 405):
                    raise CannotRun(
                        f"POST {self.base}{esd.TOKEN_PATH}: {response.status_code}: no token endpoint there; "
                        f"{esd.BASE_URL_HINT}"
                    )
                said = what_it_said(response, self.secrets()) if response.status_code != 200 else _token_shape(body)
                raise CannotRun(
                    f"no token for client {client_id}: POST /v1/auth/token answered {response.status_code} {said}"
                )
        return self._tokens[client_id]

    def secrets(self) -> tuple[str, ...]:
        """What no quote may repeat: each client's secret as it was sent (`secret_forms`) and the access tokens."""
        t = self.target
        forms = secret_forms(t.client_id, t.client_secret)
        if t.standard_client_id is not None and t.standard_client_secret is not None:
            forms += secret_forms(t.standard_client_id, t.standard_client_secret)
        return forms + tuple(self._tokens.values())

    def get(self, path: str, params: dict[str, Any] | None = None, token: str | None = "main") -> requests.Response:
        headers = {}
        if token == "main":
            headers["Authorization"] = f"Bearer {self.token()}"
        elif token == "standard":
            headers["Authorization"] = f"Bearer {self.token(standard=True)}"
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("GET", path, params=params, headers=headers)

    def walk(self, path: str, fresh: bool = False, **filters: Any) -> Walk:
        """Every page of a listing (or the first max_pages), cached unless `fresh`."""
        key = (path, tuple(sorted(filters.items())))
        if fresh or key not in self._walks:
            walk = self._read(path, filters)
            if fresh:
                return walk
            self._walks[key] = walk
        return self._walks[key]

    def _read(self, path: str, filters: dict[str, Any]) -> Walk:
        walk, endpoint = Walk(), BY_PATH[path]
        page_no, page_count = 1, 1
        while page_no <= page_count:
            if self.target.max_pages is not None and page_no > self.target.max_pages:
                walk.truncated = True
                break
            try:
                response = self.get(path, {"pageNo": page_no, "pageSize": self.target.page_size, **filters})
            except NoAnswer as exc:  # this listing could not be read; the others still can
                walk.failure, walk.failed = f"GET {path} page {page_no}: {exc.why}", Source(exc.request)
                break
            body = json_body(response)
            if (
                response.status_code != 200
                or not isinstance(body, dict)
                or not isinstance(body.get(endpoint.key), list)
            ):
                said = (
                    _shape(body, endpoint.key, response)
                    if response.status_code == 200
                    else what_it_said(response, self.secrets())
                )
                walk.failure = f"GET {path} page {page_no}: {response.status_code} {said}"
                walk.failed = Source.of(response)
                break
            info = body.get("pagingInfo")
            if not isinstance(info, dict) or not isinstance(info.get("pageCount"), int):
                shown = (
                    f"pageCount is {type_name(info.get('pageCount'))}" if isinstance(info, dict) else type_name(info)
                )
                walk.failure = f"GET {path} page {page_no}: no usable pagingInfo ({shown})"
                walk.failed = Source(request_line(response), response.status_code, info, "pagingInfo")
                break
            walk.pages.append(info)
            walk.requests.append(request_line(response))
            walk.starts.append(len(walk.records))
            walk.records += body[endpoint.key]
            page_count = info["pageCount"]
            page_no += 1
        return walk


def _shape(body: JSON, key: str, response: requests.Response) -> str:
    """What a 200 page without its list is, by its shape (a page's body is not repeated: it may hold personal values)."""
    if isinstance(body, dict):
        fields = cut(one_line(", ".join(sorted(map(str, body)))), 200) or "none"
        return f"without a {key!r} list (the body's fields: {fields})"
    if body is None and response.content.strip() != b"null":
        return f"without a {key!r} list (the body is not usable JSON: {_unusable(response)})"
    return f"without a {key!r} list (the body is {type_name(body)} JSON)"


def _token_shape(body: JSON) -> str:
    """What a 200 token answer without a usable access_token is (never the token's value, nor the body's)."""
    if not isinstance(body, dict):
        return f"with a body that is {'not usable JSON' if body is None else type_name(body) + ' JSON'}"
    return f"without a usable access_token (it is {type_name(body.get('access_token'))})"


def json_body(response: requests.Response) -> JSON:
    """The answer's JSON (read by `answers.loads`: no deeper than MAX_JSON_DEPTH); None if it is not usable JSON."""
    try:
        return loads(response.content)
    except ValueError:
        return None


MAX_SAID_CHARS = 200  # what an error line quotes of a JSON answer that is no problem (its shape), then cut


def what_it_said(response: requests.Response, secrets: tuple[str, ...] = ()) -> str:
    """What the server said, as one short line that quotes nothing personal or secret (the rules of
    `mock_esd_contracts.evidence`): a problem's title, and its detail's length; the shape of other JSON, with
    personal, secret and unknown fields as their type; the size and type of a body that is not JSON.

    `Internal Server Error (detail of 3,000,080 characters, not quoted)`, `(5,120 bytes of text/html, not JSON;
    not quoted)`, `{'error': '<string>'}`. Each of `secrets` (`secret_forms`) is scrubbed wherever it is."""
    if not response.content:
        return "(empty body)"
    try:
        body = loads(response.content)
    except ValueError as exc:
        return f"({_unusable(response, exc)}; not quoted)"
    if isinstance(body, dict) and ("detail" in body or "title" in body):
        return _problem(body, secrets)
    return cut(one_line(scrubbed(str(redacted(body)), secrets)), MAX_SAID_CHARS)


def _unusable(response: requests.Response, exc: ValueError | None = None) -> str:
    """`5,120 bytes of text/html, not JSON` (`exc`: why `loads` refused it; read again if not given)."""
    if exc is None:
        try:
            loads(response.content)
        except ValueError as refused:
            exc = refused
    if exc is None:
        return f"{len(response.content):,} bytes of {content_type(response)}"
    return unusable(response, exc)


def _problem(body: dict[str, Any], secrets: tuple[str, ...]) -> str:
    """A problem's title (if it is one short printable line) and its detail's length, never the detail."""
    title, detail = body.get("title"), body.get("detail")
    if isinstance(title, str) and summary(title):
        said = scrubbed(title, secrets)
    else:
        said = f"(a title that is {described(title)})"
    if title is None:
        said = "(no title)"
    if isinstance(detail, str) and detail:
        said += f" (detail of {len(detail):,} characters, not quoted)"
    elif detail is not None:
        said += f" (detail that is {described(detail)}, not quoted)"
    return said
