"""Errors of the contract harness.

ContractError            the root
├── CannotRun            the server cannot be judged (unreachable, no token): exit 2
├── NoAnswer             one request got no usable answer (cut short, redirected in a loop, too large, too slow):
│                        what needed it is not judged, and the rest of the run goes on
└── ResponseTooLarge     an answer's body passed max_response_bytes (`answers.py`)

A message names the record, the field and the type of a wrong value (`type_name`), never the value: it may be
personal, and messages reach terminals, CI logs and reports.
"""

from __future__ import annotations


class ContractError(Exception):
    """Root of the contract harness's errors."""


class CannotRun(ContractError):
    """The verifier cannot run against this server at all."""


class NoAnswer(ContractError):
    """One request got no usable answer: `request` as a report shows it (`GET /api/v1/contacts?pageNo=1`), and why;
    the message names it as the checks do (`named`: `GET /v1/contacts?pageNo=1`)."""

    def __init__(self, request: str, why: str, named: str | None = None) -> None:
        super().__init__(f"{named or request}: {why}")
        self.request, self.why, self.named = request, why, named or request


def type_name(value: object) -> str:
    """What a message says of a value instead of quoting it (it may be personal): its JSON type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {dict: "object", list: "array", tuple: "array", str: "string", int: "integer", float: "number"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)


def described(value: object) -> str:
    """A value as a message may describe it: its type, and a string's length ("a string of 22 characters")."""
    size = f" of {len(value)} characters" if isinstance(value, str) else ""
    return f"{'an' if type_name(value)[0] in 'aeiou' else 'a'} {type_name(value)}{size}"
