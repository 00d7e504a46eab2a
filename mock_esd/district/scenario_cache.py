"""Scenarios parsed and built once: the next load of the same text gets a copy-on-write fork of its district.

A test suite loads the same scenario file test after test (`ControlClient.load_scenario(text)`, the
`esd_district(scenario=...)` marker): a 2,000-student recording took 4.7 s to parse, check and build, every
test. A server keeps the latest `max_cached_scenarios` it built, keyed by the text's hash and the limits it
was checked within, and hands each load a fork (`DistrictStore.fork`: constant time, isolated); the kept
districts together hold at most `max_students` persons, so what a server keeps stays within the size of
one district it may serve. A merge (`?merge=true`) builds on a tenant's district and is never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import xxhash

from mock_esd.district.store import DistrictStore
from mock_esd.limits import Limits

Built = tuple[dict[str, Any], DistrictStore]  # a scenario's data (its recipe's) and its district


class ScenarioCache:
    """The latest `limit` scenarios built, by text and limits; `load` hands out forks of their districts."""

    def __init__(self, limit: int, max_students: int) -> None:
        self.limit, self.max_students = limit, max_students
        self._kept: OrderedDict[tuple[bytes, Limits], tuple[dict[str, Any], DistrictStore, int]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, text: bytes, limits: Limits, build: Callable[[], Built]) -> Built:
        """The scenario of `text` and a fresh fork of its district: `build()` makes them the first time (its
        errors go to the caller, nothing kept); later loads of the same text within the same limits reuse them.

        The key is the text's 128-bit xxh3 hash: a collision by chance is out of reach, and one made on
        purpose could only give a caller of the loopback control API a district it can load anyway.
        """
        key = (xxhash.xxh3_128_digest(text), limits)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept[0], kept[1].fork()
            scenario, store = build()  # under the lock: two tests asking at once build it once
            persons = len(store.all_students())
            if self.limit > 0 and persons <= self.max_students:
                self._kept[key] = (scenario, store, persons)
                self._trim()
            return scenario, store.fork()

    def _trim(self) -> None:
        """Forget the least recently used until both bounds hold."""
        while len(self._kept) > self.limit or sum(p for _, _, p in self._kept.values()) > self.max_students:
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)
