"""The request journal: what clients called, so a test can assert what a client did and how often."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from mock_esd.errors import BadRequest

FILTERS = ("method", "path", "client", "tenant", "status")


@dataclass(frozen=True)
class Entry:
    seq: int
    time: float
    method: str
    path: str
    query: str
    client: str | None
    tenant: str | None
    status: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Requests(Protocol):
    """Where a server journals its API requests: `Journal` in one process, `changelog.SharedJournal` across workers."""

    def record(
        self, time: float, method: str, path: str, query: str, client: str | None, tenant: str | None, status: int
    ) -> None: ...
    def clear(self, tenant: str | None = None) -> None: ...
    def entries(self, filters: Mapping[str, str]) -> list[Entry]: ...


def check_filters(filters: Mapping[str, str]) -> None:
    """A journal filter name that is not one of FILTERS is a 400, not an empty answer."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise BadRequest(f"unknown journal filter {', '.join(unknown)}; use {', '.join(FILTERS)}")


def matching(entries: list[Entry], filters: Mapping[str, str]) -> list[Entry]:
    """The entries matching every filter."""
    return [e for e in entries if all(_match(e, k, v) for k, v in filters.items())]


class Journal:
    """A bounded, thread-safe log of API requests."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._seq = 0
        self._lock = threading.Lock()

    def record(
        self, time: float, method: str, path: str, query: str, client: str | None, tenant: str | None, status: int
    ) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(Entry(self._seq, time, method, path, query, client, tenant, status))

    def clear(self, tenant: str | None = None) -> None:
        with self._lock:
            if tenant is None:
                self._entries.clear()
            else:
                self._entries = deque((e for e in self._entries if e.tenant != tenant), maxlen=self._entries.maxlen)

    def entries(self, filters: Mapping[str, str]) -> list[Entry]:
        """Entries matching every given filter (`path`: `/v1/...` or `/api/v1/...`, a prefix if it ends in `*`)."""
        check_filters(filters)
        with self._lock:
            entries = list(self._entries)
        return matching(entries, filters)


def api_path(path: str) -> str:
    """`/api/v1/students` or `/v1/students` as the journal stores it: `/v1/students`."""
    return path.removeprefix("/api") if path.startswith("/api/") else path


def _match(entry: Entry, name: str, wanted: str) -> bool:
    value = getattr(entry, name)
    if name == "path":
        wanted = api_path(wanted)
    if name == "path" and wanted.endswith("*"):
        return str(value).startswith(wanted[:-1])
    if name == "method":
        return str(value).upper() == wanted.upper()
    return str(value) == wanted
