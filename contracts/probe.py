"""The verifier's view of a server: HTTP calls, tokens, and cached walks of each listing."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import requests

from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLarge, limited
from mock_esd_contracts.connection import DEFAULT_TIMEOUT, connection_failure
from mock_esd_contracts.endpoints import BY_PATH
from mock_esd_contracts.errors import CannotRun
from mock_esd_contracts.evidence import Source, redacted, request_line

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
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # an answer's body, decoded, past this: CannotRun


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
        """One HTTP call; a connection failure, or an answer past max_response_bytes, is CannotRun."""
        try:
            return self.session.request(method, self.base + path, timeout=self.timeout, hooks=self._hooks, **kw)
        except ResponseTooLarge as exc:
            raise CannotRun(str(exc)) from None
        except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL):
            raise CannotRun(f"{self.base!r} is not a URL an eSD API can be at; {esd.BASE_URL_HINT}") from None
        except requests.RequestException as exc:
            raise CannotRun(f"{method} {self.base}{path}: {connection_failure(exc, self.timeout)}") from None

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
                response = self.fetch_token(client_id, secret, basic=basic)
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
                raise CannotRun(
                    f"no token for client {client_id}: POST /v1/auth/token answered {response.status_code} {what_it_said(response)}"
                )
        return self._tokens[client_id]

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
            response = self.get(path, {"pageNo": page_no, "pageSize": self.target.page_size, **filters})
            body = json_body(response)
            if (
                response.status_code != 200
                or not isinstance(body, dict)
                or not isinstance(body.get(endpoint.key), list)
            ):
                said = _shape(body, endpoint.key) if response.status_code == 200 else what_it_said(response)
                walk.failure = f"GET {path} page {page_no}: {response.status_code} {said}"
                walk.failed = Source.of(response)
                break
            info = body.get("pagingInfo")
            if not isinstance(info, dict) or not isinstance(info.get("pageCount"), int):
                walk.failure = f"GET {path} page {page_no}: no usable pagingInfo ({info!r})"
                walk.failed = Source(request_line(response), response.status_code, info, "pagingInfo")
                break
            walk.pages.append(info)
            walk.requests.append(request_line(response))
            walk.starts.append(len(walk.records))
            walk.records += body[endpoint.key]
            page_count = info["pageCount"]
            page_no += 1
        return walk


def _shape(body: JSON, key: str) -> str:
    """What a 200 page without its list is, by its shape (a page's body is not repeated: it may hold personal values)."""
    if isinstance(body, dict):
        return f"without a {key!r} list (the body's fields: {', '.join(sorted(map(str, body)))[:200] or 'none'})"
    return f"without a {key!r} list (the body is {'not JSON' if body is None else type(body).__name__ + ' JSON'})"


def json_body(response: requests.Response) -> JSON:
    try:
        return response.json()
    except ValueError:
        return None


_BODY_EXCERPT = 2000  # a body that is not problem+json is quoted up to here, at a word boundary, saying what was left


def what_it_said(response: requests.Response) -> str:
    """What the server said, whole: a problem's detail (or title), or the body's text (huge bodies marked cut).

    A JSON body that is no problem is quoted with its personal and secret fields as their type (a server may
    send records with an error): `{'error': 'db down', 'students': [{'firstName': '<string>', ...}]}`."""
    try:
        body = response.json()
    except ValueError:
        return _excerpt(response.text.replace("\n", " ").strip()) or "(empty body)"
    if isinstance(body, dict) and ("detail" in body or "title" in body):
        return str(body.get("detail") or body.get("title"))
    return _excerpt(str(redacted(body, unknown=False) if isinstance(body, dict | list) else body))


def _excerpt(text: str) -> str:
    if len(text) <= _BODY_EXCERPT:
        return text
    cut = text.rfind(" ", 0, _BODY_EXCERPT)
    cut = cut if cut > _BODY_EXCERPT // 2 else _BODY_EXCERPT
    return f"{text[:cut]} [... {len(text) - cut} more characters]"
