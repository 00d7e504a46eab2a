"""The only module of `sync/` that talks HTTP: fetch a complete, consistent eSD snapshot or raise.

Retries 429 (honouring Retry-After), 5xx, malformed bodies and connection errors with bounded
exponential backoff; refreshes the token once on 401; checks every listing is whole (count equals
totalCount, pageCount right, no duplicate ids, totalCount stable across pages, records well-formed).
Every answer's body is read within `max_response_bytes`, decoded, redirects included
(`mock_esd_contracts.answers`): one over it stops the read at once, never retried.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import requests
import xxhash

from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLarge, TooDeep, limited, loads
from mock_esd_contracts.connection import DEFAULT_TIMEOUT, connection_failure
from mock_esd_contracts.endpoints import SCHOOLS, readable
from mock_esd_contracts.errors import type_name
from mock_esd_contracts.evidence import secret_forms
from mock_esd_contracts.probe import what_it_said
from mock_esd_sync.errors import AuthError, FetchError, RecordError, TooLargeError, UnreachableError, UrlError
from mock_esd_sync.records import RawSnapshot, Snapshot, parse_school

T = TypeVar("T")
PageRead = Callable[[str, int, int, int], None]  # endpoint, page, pageCount, records so far


class Progress(Protocol):
    """What a client tells while it reads (a command's progress display, `mock_esd_workbench.terminal.Progress`)."""

    def __call__(self, endpoint: str, page: int, pages: int, records: int) -> None:
        """Page `page` of `pages` of `endpoint` was read and checked; `records` read from it so far."""

    def requesting(self, request: str) -> None:
        """`request` (`GET /v1/contacts page 3`) is sent and its answer awaited: what a stall waits on."""

    def retrying(self, line: str) -> None:
        """A request failed in a way worth another try, which follows: one line saying so (`retry_line`)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 30.0
    timeout: float = DEFAULT_TIMEOUT


class EsdClient:
    """Reads an eSD-compatible API through an injected `requests.Session`."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        page_size: int = esd.MAX_PAGE_SIZE,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        progress: Progress | PageRead | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.session, self.base_url = session, base_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.page_size, self.retry, self.sleep, self.progress = page_size, retry, sleep, progress
        # A plain function hears the pages only; a `Progress` hears each request and each retry too.
        self._requesting: Callable[[str], None] | None = getattr(progress, "requesting", None)
        self._retrying: Callable[[str], None] | None = getattr(progress, "retrying", None)
        self._hooks = {"response": [limited(max_response_bytes)]}  # every answer read within the limit
        self._token: str | None = None
        self._digest: Any = None  # a blake2b over the page digests of the current fetch_raw
        self._page_digests: list[str] = []  # an xxh3 of each page's path, parameters and body

    def authenticate(self) -> None:
        """Get a token now: a wrong URL or wrong credentials show here, before anything else is done."""
        self._token = self._fetch_token()

    def fetch_snapshot(self, custom_endpoints: bool) -> Snapshot:
        """Every endpoint the sync needs, read whole and parsed; FetchError if any of it cannot be."""
        return self.fetch_raw(custom_endpoints).parse()

    def fetch_raw(
        self,
        custom_endpoints: bool,
        last_pages: Sequence[str] | None = None,
        read: Callable[[str, list[Any]], None] | None = None,
    ) -> RawSnapshot:
        """Every endpoint's page bodies, listings checked, with a digest of each page and of them all.

        `last_pages`, when given with `read`, are the page digests of the last applied sync: in each listing,
        from the first page that is not one of them (the first page at once if they are empty) the sync will
        read every record of the listing anyway, so each page's records are passed to `read` as the page
        arrives, from the JSON the check read, instead of keeping its bytes to read again. Pages before it
        are kept as bytes: an unchanged eSD reads nothing, and a listing whose every page is as it was may
        not be read at all (`listing.Listing`). A page's digest covers its path and parameters, so a page is
        "as it was" whatever the listings before it did.
        """
        return self.fetch_schools(custom_endpoints).fetch_rest(last_pages, read)

    def fetch_schools(self, custom_endpoints: bool) -> Fetch:
        """The first step of `fetch_raw`: read `/v1/schools` whole (its records in `Fetch.schools`), so that the
        settings can be checked against them (R4) before anything else is read or opened; `Fetch.fetch_rest`
        reads the rest. One fetch at a time per client."""
        self._digest, self._page_digests = hashlib.blake2b(digest_size=20), []
        return Fetch(self, custom_endpoints, list(self._pages(SCHOOLS.path, SCHOOLS.key)))

    def _fetch_rest(
        self, fetch: Fetch, last_pages: Sequence[str] | None, read: Callable[[str, list[Any]], None] | None
    ) -> RawSnapshot:
        """`Fetch.fetch_rest`: the schools' pages read before, then every other listing, as `fetch_raw` says."""
        endpoints = [(e.path, e.key) for e in readable(fetch.custom_endpoints)]
        # Keep each page's bytes, not its parsed JSON: a 100k district is ~60 MB of bytes, ~10x as dicts.
        pages: dict[str, list[bytes]] = {path: [] for path, _ in endpoints}
        listing_pages: dict[str, tuple[str, ...]] = {}
        last = None if last_pages is None or read is None else frozenset(last_pages)
        schools, fetch.school_pages = fetch.school_pages, []  # read first, their digests first in `_page_digests`
        n = 0  # the page's place in reading order: its digest is `self._page_digests[n]`
        for path, key in endpoints:
            first, early = n, False
            for items, body in iter(schools) if path == SCHOOLS.path else self._pages(path, key):
                if not early and last is not None:
                    early = self._page_digests[n] not in last
                if early and read is not None:
                    read(path, items)
                else:
                    pages[path].append(body)
                n += 1
            listing_pages[path] = tuple(self._page_digests[first:n])
        digest, self._digest = self._digest.hexdigest(), None
        return RawSnapshot(pages, fetch.custom_endpoints, digest, {}, tuple(self._page_digests), listing_pages)

    def fetch_all(self, path: str, key: str, parse: Callable[[Any, str], T]) -> list[T]:
        """Walk every page of a list endpoint and parse its records, checking the listing is whole."""
        return [parse(item, path) for items, _ in self._pages(path, key) for item in items]

    def _pages(self, path: str, key: str) -> Iterator[tuple[list[Any], bytes]]:
        """Each page's records and body, after checking it against the pages before (R11)."""
        seen: set[Any] = set()
        total: int | None = None
        size: int | None = None  # page 1's pageSize: every page has it (a re-sync finds record n on page n // it)
        page_no, page_count = 1, 1
        while page_no <= page_count:
            body, raw = self.get_json(path, {"pageNo": page_no, "pageSize": self.page_size})
            items, info = _page_parts(path, page_no, key, body)
            if total is None:
                total, page_count = info["totalCount"], info["pageCount"]
                _check_page_count(path, total, page_count, info["pageSize"])
            elif (info["totalCount"], info["pageCount"]) != (total, page_count):
                raise FetchError(
                    f"{path}: the listing changed while it was read (page {page_no} says totalCount "
                    f"{info['totalCount']}, pageCount {info['pageCount']}; page 1 said {total}, {page_count})"
                )
            if size is None:
                size = info["pageSize"]
            elif info["pageSize"] != size:
                raise FetchError(
                    f"{path}: the listing changed while it was read (page {page_no} says pageSize "
                    f"{info['pageSize']}; page 1 said {size})"
                )
            if page_no < page_count and len(items) != info["pageSize"]:
                raise FetchError(
                    f"{path}: page {page_no} of {page_count} has {len(items)} records, expected {info['pageSize']}"
                )
            for item in items:
                if not isinstance(item, dict):
                    raise RecordError(path, "?", "(record)", f"expected an object, got {type_name(item)}")
                ident = item.get("id")
                try:
                    repeated = ident in seen
                except TypeError:  # an array or an object: no id, and no key for the check of repeats
                    raise RecordError(path, "?", "id", f"expected integer, got {type_name(ident)}") from None
                if repeated:
                    named = ident if isinstance(ident, int) else f"with {type_name(ident)} id"
                    raise FetchError(
                        f"{path}: record {named} appears twice (page {page_no}); the listing is inconsistent"
                    )
                seen.add(ident)
            if self.progress:
                self.progress(path, page_no, page_count, len(seen))
            yield items, raw
            page_no += 1
        if len(seen) != total:
            raise FetchError(f"{path}: read {len(seen)} records but totalCount is {total}")

    def get_json(self, path: str, params: dict[str, Any]) -> tuple[Any, bytes]:
        """GET with retries: the parsed JSON body of a 200 and its bytes, or FetchError saying why not."""
        refreshed = False

        request = f"GET {path}" + (f" page {params['pageNo']}" if "pageNo" in params else "")

        def attempt() -> tuple[Any, bytes]:
            nonlocal refreshed
            headers = self._auth()
            if self._requesting:
                self._requesting(request)
            response = self._send(
                "GET", self.base_url + path, params=params, headers=headers, timeout=self.retry.timeout
            )
            if response.status_code == 401 and not refreshed:
                refreshed, self._token = True, None
                raise _Retry("401: token refused", wait=0.0, short="401, token refused; a new one is fetched")
            if response.status_code != 200:
                raise FetchError(f"GET {path} {params}: {response.status_code}: {self._said(response)}")
            try:
                body = loads(response.content)  # no deeper than MAX_JSON_DEPTH: nothing after recurses too deep
            except TooDeep as exc:
                raise _Retry(f"200 with a body that is {exc}", short=f"a 200 whose body is {exc}") from None
            except ValueError:
                raise _Retry("200 with a body that is not JSON", short="a 200 whose body is not JSON") from None
            if self._digest is not None:
                # xxh3 (a change detector, not a seal: the server is the source anyway) costs a tenth of blake2b
                page = xxhash.xxh3_128(f"{path} {sorted(params.items())}".encode())
                page.update(response.content)
                self._page_digests.append(page.hexdigest())
                self._digest.update(page.digest())
            return body, response.content

        return self._with_retries(request, attempt, f"GET {path} {params}")

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def _fetch_token(self) -> str:
        url = self.base_url + esd.TOKEN_PATH
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}

        request = f"POST {esd.TOKEN_PATH}"

        def attempt() -> str:
            if self._requesting:
                self._requesting(request)
            response = self._send("POST", url, data=form, timeout=self.retry.timeout)
            if response.status_code in (404, 405):
                raise UrlError(f"POST {url}: {response.status_code}: no token endpoint there; {esd.BASE_URL_HINT}")
            if response.status_code in (400, 401, 403):
                raise AuthError(
                    f"POST {url}: {response.status_code}: {self._said(response)} (check the client id and secret)"
                )
            if response.status_code != 200:
                raise _Retry(f"{response.status_code}: {self._said(response)}", short=str(response.status_code))
            try:
                token = loads(response.content)["access_token"]
            except (ValueError, KeyError, TypeError):
                raise _Retry("200 without an access_token in a JSON body") from None
            if not (isinstance(token, str) and token):  # its type, never its value (which may be the token, say)
                raise _Retry(
                    f"access_token is {'empty' if token == '' else type_name(token)}",
                    short="a 200 without a usable access_token",
                )
            return token

        return self._with_retries(request, attempt, f"POST {url} (no token)")

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request; what every caller retries alike (no connection, 429, 5xx) raised as _Retry."""
        try:
            response = self.session.request(method, url, hooks=self._hooks, **kwargs)
        except ResponseTooLarge as exc:
            raise TooLargeError(str(exc)) from None  # the same answer again would be as large: not retried
        except (
            requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL,
        ) as exc:  # fmt: skip
            raise UrlError(
                f"{self.base_url!r} is not a URL an eSD API can be at ({exc}); {esd.BASE_URL_HINT}"
            ) from None
        except requests.RequestException as exc:
            failure = connection_failure(exc, self.retry.timeout)
            if failure.lasting:  # a certificate not trusted is as untrusted on the next try
                raise UnreachableError(f"{method} {url}: {failure}") from None
            raise _Retry(str(failure), unreachable=True) from None
        if response.status_code == 429:
            wait, asked = self._retry_after(response)
            capped = (
                f" (Retry-After asked for {asked:g} s; a wait is capped at max_retry_after, {wait:g} s)"
                if asked > wait
                else ""
            )
            raise _Retry("429: rate limited", wait=wait, short=f"429 rate limited, waiting {wait:g} s{capped}")
        if response.status_code >= 500:
            raise _Retry(f"{response.status_code}: {self._said(response)}", short=str(response.status_code))
        return response

    def _said(self, response: requests.Response) -> str:
        """What the server said (`what_it_said`: one short line, nothing personal), the secret and token scrubbed."""
        return what_it_said(
            response, secret_forms(self.client_id, self.client_secret) + ((self._token,) if self._token else ())
        )

    def _with_retries(self, request: str, attempt: Callable[[], T], what: str | None = None) -> T:
        """The one retry loop: call `attempt` until it returns, waiting between tries with capped exponential
        backoff (or the wait a _Retry asks for), and telling `progress` of each retry (`retry_line`);
        FetchError after `retry.attempts` tries, naming `what` (default `request`) and the last reason."""
        # Hand-written on purpose. urllib3.Retry (a requests adapter's max_retries) works below the response
        # body and the headers we send: it cannot retry a 200 whose body is not JSON, nor get a new token after
        # a 401 and send it on the next try. tenacity could run this loop, but every decision (refresh, malformed
        # body, Retry-After) stays in `attempt` and its wait would need a custom callable reading the _Retry:
        # a dependency in place of these ten lines, with nothing gained.
        last = _Retry("")
        for n in range(self.retry.attempts):
            try:
                return attempt()
            except _Retry as retry:
                last = retry
                if n + 1 < self.retry.attempts:
                    if self._retrying:
                        self._retrying(retry_line(request, retry.short, n + 2, self.retry.attempts))
                    self.sleep(self._backoff(n) if retry.wait is None else retry.wait)
        error = UnreachableError if last.unreachable else FetchError
        raise error(f"{what or request}: gave up after {self.retry.attempts} attempts; last: {last.reason}")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff before attempt number `attempt + 1`, capped."""
        return float(min(self.retry.backoff * 2.0**attempt, self.retry.max_backoff))

    def _retry_after(self, response: requests.Response) -> tuple[float, float]:
        """How long to wait after a 429, and how long Retry-After asked (the wait is capped at max_retry_after)."""
        try:
            seconds = float(str(response.headers.get("Retry-After", self.retry.backoff)))
        except ValueError:
            seconds = self.retry.backoff
        if math.isnan(seconds):  # "nan" reads as a float, and waits for no number
            seconds = self.retry.backoff
        return max(0.0, min(seconds, self.retry.max_retry_after)), seconds


def retry_line(request: str, reason: str, attempt: int, attempts: int) -> str:
    """What a user reads of a retry: `retrying GET /v1/students page 2 after 500 (attempt 2 of 5)`."""
    return f"retrying {request} after {reason} (attempt {attempt} of {attempts})"


class Fetch:
    """A reading of eSD begun by `EsdClient.fetch_schools`: the schools are read, `fetch_rest` reads the rest."""

    def __init__(self, client: EsdClient, custom_endpoints: bool, school_pages: list[tuple[list[Any], bytes]]) -> None:
        self.client, self.custom_endpoints, self.school_pages = client, custom_endpoints, school_pages
        self.school_ids = frozenset(parse_school(item).school_id for items, _ in school_pages for item in items)

    def fetch_rest(
        self, last_pages: Sequence[str] | None = None, read: Callable[[str, list[Any]], None] | None = None
    ) -> RawSnapshot:
        """Every other listing, and the whole snapshot, as `EsdClient.fetch_raw` gives it (once)."""
        return self.client._fetch_rest(self, last_pages, read)


class _Retry(Exception):
    """A failure worth another try: why (whole, and `short` for the retry's line: the status, or the connection's
    failure as `connection_failure` words it), how long to wait first (None: the backoff), whether no answer came."""

    def __init__(self, reason: str, wait: float | None = None, unreachable: bool = False, short: str = "") -> None:
        super().__init__(reason)
        self.reason, self.wait, self.unreachable, self.short = reason, wait, unreachable, short or reason


def _page_parts(path: str, page_no: int, key: str, body: Any) -> tuple[list[Any], dict[str, int]]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise FetchError(f"{path}: page {page_no} has no {key!r} list")
    info = body.get(esd.PAGING_KEY)
    fields = ("pageNo", "pageSize", "pageCount", "totalCount")
    if not isinstance(info, dict):
        raise FetchError(f"{path}: page {page_no} has no valid pagingInfo: expected an object, got {type_name(info)}")
    wrong = [f for f in fields if not (type(info.get(f)) is int and info[f] >= 0)]
    if wrong:
        raise FetchError(f"{path}: page {page_no} has no valid pagingInfo: {', '.join(wrong)} not a whole number >= 0")
    if info["pageNo"] != page_no:
        raise FetchError(f"{path}: asked for page {page_no}, got pageNo {info['pageNo']}")
    return body[key], info


def _check_page_count(path: str, total: int, page_count: int, page_size: int) -> None:
    expected = -(-total // page_size) if page_size else -1
    if page_count != expected:
        raise FetchError(f"{path}: pageCount {page_count} does not fit totalCount {total} at pageSize {page_size}")
