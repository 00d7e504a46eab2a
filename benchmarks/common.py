"""Timing helpers for the benchmark scripts: medians over repeats, and a printed table with ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    name: str
    seconds: float
    compared_to: str | None = None
    target: str = ""

    def unit(self) -> str:
        return f"{self.seconds * 1000:10.2f} ms" if self.seconds < 10 else f"{self.seconds:10.2f} s "


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
    print(f"{'measurement':58} {'median':>13} {'ratio':>8}  {'vs / target'}")
    for row in rows:
        base = by_name.get(row.compared_to or "")
        ratio = f"{row.seconds / base.seconds:7.2f}x" if base else ""
        versus = f"vs {row.compared_to}" if base else ""
        print(f"{row.name:58} {row.unit():>13} {ratio:>8}  {versus} {row.target}".rstrip())
