"""Per-request hooks of the eSD API: fault rules before and after the handler, and the journal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http import HTTPStatus

import orjson
from flask import Response, g, request

from mock_esd.errors import EsdError, TooManyRequests, Unauthorized
from mock_esd.http.request import current
from mock_esd.qa import drift
from mock_esd.qa.faults import FaultKind, FaultRule
from mock_esd_contracts.vocabulary import PAGING_KEY

log = logging.getLogger(__name__)


class InjectedError(EsdError):
    """A 5xx answer a fault rule asked for."""

    title = "Injected Server Error"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = f"Injected {HTTPStatus(status).phrase}" if status in HTTPStatus._value2member_map_ else self.title


class ConnectionDropped(ConnectionError):
    """Raised mid-body to drop the connection; the in-process router turns it into a requests error."""


def _api_path() -> str:
    """The path as fault rules, the journal and the browser view write it: `/v1/students`, without `/api`."""
    return request.path.removeprefix("/api")


def _tenant() -> str | None:
    client = g.get("client")
    return client.tenant if client is not None else None


def faults_before() -> None:
    """Fire the matching rules whose effect replaces the answer (or delays it)."""
    client = g.get("client")
    query = request.args.to_dict(flat=False)
    rules = current().faults.firing(
        _api_path(), request.method, _tenant(), query, client.client_id if client is not None else None
    )
    g.faults = rules
    for rule in rules:
        if rule.kind == FaultKind.LATENCY:
            current().config.sleep(rule.params.get("ms", 100) / 1000)
        elif rule.kind == FaultKind.STATUS:
            raise InjectedError(int(rule.params.get("status", 500)), f"fault rule {rule.rule_id}: injected")
        elif rule.kind == FaultKind.RATE_LIMIT:
            seconds = str(int(rule.params.get("retry_after", 1)))
            raise TooManyRequests(f"fault rule {rule.rule_id}: rate limited", {"Retry-After": seconds})
        elif rule.kind == FaultKind.EXPIRE_TOKEN:
            raise Unauthorized(
                f"access token expired (fault rule {rule.rule_id})",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )


def faults_after(response: Response) -> Response:
    """Fire the rules that damage or follow the answer: malformed body, dropped connection, drift."""
    for rule in g.get("faults", []):
        if rule.kind == FaultKind.MALFORMED:
            data = response.get_data()
            response.set_data(data[: int(len(data) * rule.params.get("keep", 0.5))])
        elif rule.kind == FaultKind.DROP:
            response = _dropped(response, rule)
        elif rule.kind == FaultKind.SHORT_LAST_PAGE:
            _short_last_page(response, rule)
        elif rule.kind == FaultKind.DRIFT and _tenant() is not None:
            tenant, insert, remove = str(_tenant()), rule.params.get("insert", 0), rule.params.get("remove", 0)
            with current().changing():
                store = current().registry.store(tenant)
                insert = _within_limits(rule, tenant, insert)
                changes = drift.apply(store, tenant, insert, remove, operoo="/operoo/" in request.path)
                current().faults.record_changes(rule.rule_id, changes)
    return response


def _within_limits(rule: FaultRule, tenant: str, insert: int) -> int:
    """As many of a drift's `insert` students as `max_students` and `max_total_students` leave room for (logged when fewer)."""
    registry, limits = current().registry, current().config.limits
    sizes = {t: len(registry.store(t).all_students()) for t in registry.tenants()}
    room = max(0, min(limits.max_students - sizes[tenant], limits.max_total_students - sum(sizes.values())))
    if insert > room:
        log.warning(
            "fault rule %d: the drift inserts %d students, not %d: max_students=%d, max_total_students=%d",
            rule.rule_id, room, insert, limits.max_students, limits.max_total_students,
        )  # fmt: skip
    return min(insert, room)


def _short_last_page(response: Response, rule: FaultRule) -> None:
    """A listing's last page without its last records, pagingInfo unchanged (other answers untouched).

    Every page but the last has a size to check; only a client counting the records it read against
    `totalCount` notices this one.
    """
    try:
        body = orjson.loads(response.get_data()) if response.status_code == 200 else None
    except orjson.JSONDecodeError:
        return  # another rule already broke this body
    info = body.get(PAGING_KEY) if isinstance(body, dict) else None
    if not isinstance(info, dict) or info.get("pageNo") != info.get("pageCount"):
        return
    assert isinstance(body, dict)
    for key, value in body.items():
        if isinstance(value, list):
            body[key] = value[: max(0, len(value) - int(rule.params.get("missing", 1)))]
    response.set_data(orjson.dumps(body))


def _dropped(response: Response, rule: FaultRule) -> Response:
    data = response.get_data()
    cut = int(len(data) * rule.params.get("keep", 0.5))

    def body() -> Iterator[bytes]:
        yield data[:cut]
        raise ConnectionDropped(f"fault rule {rule.rule_id}: connection dropped after {cut} of {len(data)} bytes")

    dropped = Response(body(), status=response.status_code, headers=dict(response.headers))
    dropped.headers["Content-Length"] = str(len(data))
    return dropped


def journal_after(response: Response) -> Response:
    client = g.get("client")
    current().journal.record(
        current().config.clock(), request.method, _api_path(), request.query_string.decode(errors="replace"),
        client.client_id if client else None, client.tenant if client else None, response.status_code,
    )  # fmt: skip
    return response
