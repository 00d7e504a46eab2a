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


class Invalid(BadRequest):
    """A body that breaks its schema: `errors` lists every problem as {path, message}."""

    def __init__(self, what: str, errors: list[dict[str, str]]) -> None:
        shown = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"invalid {what}: {shown}{more}")
        self.errors = errors
        self.extra = {"errors": errors}


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
