"""Query-parameter parsing for the list endpoints: strict, with a 400 that says what is wrong."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from mock_esd.errors import BadRequest
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.schema import shown

PAGING_PARAMS = ("pageNo", "pageSize")
MAX_INT = 2**31 - 1  # ids and page numbers are 32-bit in the contract; larger ones are refused, not overflowed
_INTEGER = re.compile(r"-?[0-9]+")  # \d would match other scripts' digits, and int() takes "1_0" and " 1"


def check_known(args: MultiDict[str, str], allowed: tuple[str, ...]) -> None:
    """Reject unknown and repeated parameters: a typo must not silently widen a listing, nor a repeat pick one."""
    problems = []
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        problems.append(f"unknown query parameter {', '.join(unknown)}; this endpoint takes {', '.join(allowed)}")
    repeated = sorted(k for k in set(args) if len(args.getlist(k)) > 1)
    problems += [f"query parameter {k} given {len(args.getlist(k))} times; give it once" for k in repeated]
    if problems:
        raise BadRequest("; ".join(problems))


def positive_int(
    args: MultiDict[str, str], name: str, default: int | None = None, maximum: int | None = None
) -> int | None:
    """An integer >= 1 (and <= maximum) in ASCII digits from the query string, or `default` when absent."""
    if name not in args:  # before .get: werkzeug's MultiDict raises (and catches) an exception for a missing key
        return default
    raw = args[name]
    if _INTEGER.fullmatch(raw) is None:
        raise BadRequest(f"{name} must be an integer in ASCII digits, got {shown(raw)}")
    # A thousand digits is simply out of range (and int() refuses past 4,300).
    value = int(raw) if len(raw) <= 20 else (MAX_INT + 1) * (-1 if raw.startswith("-") else 1)
    if value < 1:
        raise BadRequest(f"{name} must be at least 1, got {value}")
    if maximum is not None and value > maximum:
        raise BadRequest(f"{name} must be at most {maximum}, got {shown(raw)}")
    return value


def paging(args: MultiDict[str, str]) -> tuple[int, int]:
    """(pageNo, pageSize) with the API's defaults and bounds."""
    page_no = positive_int(args, "pageNo", default=1, maximum=MAX_INT)
    page_size = positive_int(args, "pageSize", default=v.DEFAULT_PAGE_SIZE, maximum=v.MAX_PAGE_SIZE)
    assert page_no is not None and page_size is not None
    return page_no, page_size
