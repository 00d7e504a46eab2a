"""Errors of the mock server, each rendered as one RFC 7807 problem+json body.

EsdError                      status, title, detail; the root
├── BadRequest (ValueError)   400: a bad query parameter or body
│   └── Invalid                400: a body breaking its JSON Schema, with every problem in `errors`
├── Unauthorized              401: missing, invalid or expired credentials or token
├── Forbidden                 403: the client may not use this endpoint
├── NotFound                  404: unknown id or route
├── MethodNotAllowed          405
├── Conflict                  409: the change contradicts the district (duplicate id, ...)
├── UnsupportedMediaType      415: a control body that is not JSON (or YAML for a scenario)
├── MisdirectedRequest        421: a Host this server does not answer for (DNS rebinding)
└── TooManyRequests           429, with Retry-After
"""

from __future__ import annotations

from collections.abc import Sequence


class EsdError(Exception):
    """An error the API answers with; `headers` go into the response."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra: dict[str, object] = {}  # more members of the problem+json body

    def problem(self) -> dict[str, object]:
        """The problem+json body."""
        return {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.detail, **self.extra}


class BadRequest(EsdError, ValueError):
    status, title = 400, "Bad Request"


MAX_REPORTED_ERRORS = 100  # the default of `Limits.max_reported_errors`
SHOWN_IN_DETAIL = 20  # problems the detail spells out; `errors` lists them all
_PATH_CHARS, _MESSAGE_CHARS = 300, 400  # a problem's parts, cut: the 400's body stays small whatever the input


class Invalid(BadRequest):
    """A body that breaks its schema: `errors` lists its problems as {path, message}, at most `limit` of them.

    `more`: the check stopped with problems left (it looks for `limit` and one more, no further), so
    the answer says "and more" without counting them: a body of a million bad records is a small 400.
    """

    def __init__(
        self, what: str, errors: Sequence[dict[str, str]], more: bool = False, limit: int = MAX_REPORTED_ERRORS
    ) -> None:
        listed = [{"path": e["path"][:_PATH_CHARS], "message": e["message"][:_MESSAGE_CHARS]} for e in errors[:limit]]
        more = more or len(errors) > limit
        shown = "; ".join(f"{e['path']}: {e['message']}" for e in listed[:SHOWN_IN_DETAIL])
        rest = len(listed) - SHOWN_IN_DETAIL
        if more:
            note = f" (and more: `errors` lists the first {len(listed)}, the limit max_reported_errors={limit}; the rest are not counted)"
        else:
            note = f" (and {rest} more in `errors`)" if rest > 0 else ""
        super().__init__(f"invalid {what}: {shown}{note}")
        self.errors = listed
        self.extra = {"errors": listed, **({"moreErrors": True} if more else {})}


class Unauthorized(EsdError):
    status, title = 401, "Unauthorized"


class Forbidden(EsdError):
    status, title = 403, "Forbidden"


class NotFound(EsdError):
    status, title = 404, "Not Found"


class MethodNotAllowed(EsdError):
    status, title = 405, "Method Not Allowed"


class Conflict(EsdError):
    status, title = 409, "Conflict"


class UnsupportedMediaType(EsdError):
    status, title = 415, "Unsupported Media Type"


class MisdirectedRequest(EsdError):
    status, title = 421, "Misdirected Request"


class TooManyRequests(EsdError):
    status, title = 429, "Too Many Requests"
