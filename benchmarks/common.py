"""Timing helpers for the benchmark scripts: medians over repeats, and a printed table with ratios."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    """One measurement; `value` is seconds unless `unit` says bytes, req/s or us (seconds shown in µs)."""

    name: str
    value: float
    compared_to: str | None = None
    target: str = ""
    unit: str = "s"

    @property
    def seconds(self) -> float:
        return self.value

    def shown(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        if self.unit == "bytes":
            return f"{self.value / 2**20:10.0f} MB"
        if self.unit == "req/s":
            return f"{self.value:10.0f} /s"
        if self.unit == "us":
            return f"{self.value * 1e6:10.2f} µs"
        return f"{self.value * 1000:10.2f} ms" if self.value < 10 else f"{self.value:10.2f} s "


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of `fn` over `repeat` runs, after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_table(rows: list[Row]) -> None:
    by_name = {r.name: r for r in rows}
    print(f"{'measurement':66} {'median':>14} {'ratio':>8}  vs / target")
    for row in rows:
        base = by_name.get(row.compared_to or "")
        ratio = f"{row.value / base.value:7.2f}x" if base and base.value else ""
        versus = f"vs {row.compared_to}" if base else ""
        print(f"{row.name:66} {row.shown():>14} {ratio:>8}  {versus} {row.target}".rstrip())
