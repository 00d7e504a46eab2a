"""Reading an HTTP answer's body within a size limit, counted decoded, whatever the answer's status.

Every part that reads a server it does not control reads through here: the sync's client, the
verifier's probe, `mock-esd record` (through the sync's client) and `mock-esd proxy`. A gzip answer
of 1 MB can inflate to gigabytes; the limit counts the bytes as decoded, as they are read, and stops
at once when they pass it.

Decoding is urllib3's (2.6 and later): `stream(amt, decode_content=True)` inflates at most `amt`
bytes per step, whatever the compressed input holds, and decodes every member of a multi-member
gzip body (as browsers and curl do), so what is judged is what a client reads. A `requests` response
hook (`limited`) applies the limit to every answer a session receives, redirects included: `requests`
reads a redirect's body whole before following it, or before handing back an unfollowed one, and the
hook has read it (within the limit) by then.

An answer's JSON is read by `loads`: orjson (which refuses nesting past 1,024 levels with a
JSONDecodeError, where the standard library's parser raises RecursionError), and no deeper than
`MAX_JSON_DEPTH`, so that no code walking it later (a quote, a comparison, a repr) can recurse too deep.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, compress
from typing import Any, Final

import orjson
import requests
import urllib3

from mock_esd_contracts.errors import ContractError

DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024  # a 1,000-record page is about 0.6 MB; 100x that is no page
CHUNK_BYTES: Final = 64 * 1024  # read (and inflate) this much at a time
SETTING: Final = "max_response_bytes"
MAX_JSON_DEPTH: Final = 64  # an eSD page nests 4 deep (page, records, a contact's students, a link); a problem 2


class ResponseTooLarge(ContractError):
    """An answer's body, as decoded, passed the limit; it was not read further (the connection is dropped)."""

    def __init__(self, what: str, limit: int) -> None:
        self.what, self.limit = what, limit
        super().__init__(f"{what}: {self.reason}")

    @property
    def reason(self) -> str:
        """Why the answer was not read, without naming the request."""
        return f"the answer is over {SETTING} ({self.limit} bytes decoded), so it was not read further"


def read_within(chunks: Iterable[bytes], limit: int, what: str) -> bytes:
    """`chunks` joined, or ResponseTooLarge (naming `what`) as soon as they pass `limit` bytes."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(what, limit)
    return bytes(body)


def read_decoded(response: urllib3.BaseHTTPResponse, limit: int, what: str) -> bytes:
    """A urllib3 response's body decoded as its Content-Encoding says, read within `limit` decoded bytes."""
    return read_within(response.stream(CHUNK_BYTES, decode_content=True), limit, what)


def decoded(raw: bytes, headers: Mapping[str, str], limit: int, what: str) -> bytes:
    """A body as it was sent (`raw`, maybe compressed) decoded as `headers` say, within `limit` decoded bytes.

    urllib3.exceptions.DecodeError if it does not decode (a corrupt gzip stream, say).
    """
    answer = urllib3.HTTPResponse(io.BytesIO(raw), headers=dict(headers), preload_content=False, decode_content=True)
    return read_decoded(answer, limit, what)


def limited(limit: int) -> Callable[..., requests.Response]:
    """A `requests` response hook that reads each answer's body within `limit` decoded bytes.

    Give it per request (`hooks={"response": [limited(n)]}`) or to a session; a body over the limit
    raises ResponseTooLarge from the call that sent the request, and the connection is closed.
    """

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        what = f"{response.request.method} {response.url}"
        try:
            content = read_within(response.iter_content(CHUNK_BYTES), limit, what)
        except ResponseTooLarge:
            response.close()  # the rest is never read: the connection cannot go back to the pool
            raise
        # What `Response.content` holds had it read the body itself (iter_content has marked it consumed).
        response._content = content
        return response

    return hook


class TooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH: read as not usable JSON."""


def loads(content: bytes | str) -> Any:
    """The JSON value of an answer's body; ValueError (orjson's JSONDecodeError, or TooDeep) if it is not JSON or
    nests deeper than MAX_JSON_DEPTH."""
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit, 1,024 levels
            raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        raise
    if nested_deeper(value, MAX_JSON_DEPTH):
        raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_CONTAINERS: Final = frozenset({dict, list})
_is_dict = frozenset({dict}).__contains__


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether objects and arrays in JSON as parsed (`dict`, `list` and scalars) nest more than `limit` levels.

    Level by level, without recursion, and each level's values gone through by C's iteration (`map`, `chain`,
    `compress`), not a Python step per value: a level of scalars (most of a page's records) ends the walk at
    once. A walk of every value in Python made the sync's walk of 100,000 students some 0.3 s slower; this
    check takes about 0.5 ms for a 1,000-record students page and 1 ms for a contacts page."""
    level: list[Any] = [value] if type(value) in _CONTAINERS else []
    for _ in range(limit):
        if not level:
            return False
        dicts = list(map(_is_dict, map(type, level)))

        def values(level: list[Any] = level, dicts: list[bool] = dicts) -> Iterator[Any]:
            return chain(
                chain.from_iterable(map(dict.values, compress(level, dicts))),
                chain.from_iterable(compress(level, map(operator.not_, dicts))),
            )

        if _SCALARS.issuperset(map(type, values())):
            return False
        found = list(values())
        level = list(compress(found, map(_CONTAINERS.__contains__, map(type, found))))
    return bool(level)
