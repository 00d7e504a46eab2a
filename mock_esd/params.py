"""Query-parameter parsing for the list endpoints: strict, with a 400 that says what is wrong."""

from __future__ import annotations

from collections.abc import Mapping

from contracts import vocabulary as v
from mock_esd.errors import BadRequest

PAGING_PARAMS = ("pageNo", "pageSize")
MAX_INT = 2**31 - 1  # ids and page numbers are 32-bit in the contract; larger ones are refused, not overflowed


def check_known(args: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    """Reject parameters the endpoint does not know: a typo must not silently widen a listing."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown query parameter {', '.join(unknown)}; this endpoint takes {', '.join(allowed)}")


def positive_int(
    args: Mapping[str, str], name: str, default: int | None = None, maximum: int | None = None
) -> int | None:
    """An integer >= 1 (and <= maximum) from the query string, or `default` when absent."""
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise BadRequest(f"{name} must be at least 1, got {value}")
    if maximum is not None and value > maximum:
        raise BadRequest(f"{name} must be at most {maximum}, got {value}")
    return value


def paging(args: Mapping[str, str]) -> tuple[int, int]:
    """(pageNo, pageSize) with the API's defaults and bounds."""
    page_no = positive_int(args, "pageNo", default=1, maximum=MAX_INT)
    page_size = positive_int(args, "pageSize", default=v.DEFAULT_PAGE_SIZE, maximum=v.MAX_PAGE_SIZE)
    assert page_no is not None and page_size is not None
    return page_no, page_size
