"""Timing and memory helpers for the benchmark scripts, and the printed table: min/median/max, ratio, met or not."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MB = 2**20
GB = 2**30


@dataclass(frozen=True)
class Target:
    """A bound a row must meet: on its median value (in the row's unit), or on its ratio to the row it is compared with."""

    bound: float
    at_most: bool = True
    on_ratio: bool = False
    strict: bool = False  # < or > rather than <= or >=

    def met(self, value: float, ratio: float | None) -> bool | None:
        """True or False; None when there is nothing to judge (no ratio, no value)."""
        x = ratio if self.on_ratio else value
        if x is None or math.isnan(x):
            return None
        if self.at_most:
            return x < self.bound if self.strict else x <= self.bound
        return x > self.bound if self.strict else x >= self.bound

    def text(self, unit: str) -> str:
        sign = ("<" if self.strict else "<=") if self.at_most else (">" if self.strict else ">=")
        shown = f"{self.bound:g}x" if self.on_ratio else shown_value(self.bound, unit).strip()
        return f"{sign} {shown}"


def at_most(bound: float, *, ratio: bool = False, strict: bool = False) -> Target:
    return Target(bound, at_most=True, on_ratio=ratio, strict=strict)


def at_least(bound: float, *, ratio: bool = False) -> Target:
    return Target(bound, at_most=False, on_ratio=ratio)


@dataclass
class Row:
    """One measurement: its samples (seconds unless `unit` says bytes, req/s or us), what it is compared with, its targets."""

    name: str
    samples: Sequence[float]
    compared_to: str | None = None
    targets: tuple[Target, ...] = ()
    unit: str = "s"
    note: str = ""  # said after the verdict, e.g. what a target stands for

    @property
    def value(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan


def shown_value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "bytes":
        return f"{value / MB:8.0f} MB"
    if unit == "req/s":
        return f"{value:8.0f} /s"
    if unit == "us":
        return f"{value * 1e6:8.2f} µs"
    return f"{value * 1000:8.2f} ms" if value < 10 else f"{value:8.2f} s "


def timed(fn: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Wall times of `fn` over `repeat` runs, after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def proc_status(pid: int, field_name: str) -> float:
    """A memory figure of a live process from /proc/<pid>/status (VmRSS: now, VmHWM: its peak), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return float(line.split()[1]) * 1024
    return math.nan


def verdicts(row: Row, ratio: float | None) -> str:
    out = []
    for target in row.targets:
        met = target.met(row.value, ratio)
        label = "n/a" if met is None else "met" if met else "NOT MET"
        out.append(f"target {target.text(row.unit)}: {label}")
    return "; ".join(out)


def print_table(rows: list[Row]) -> None:
    by_name = {r.name: r for r in rows}
    print(f"{'measurement':70} {'min':>11} {'median':>11} {'max':>11} {'ratio':>8}  target: verdict / vs")
    for row in rows:
        base = by_name.get(row.compared_to or "")
        ratio = row.value / base.value if base and base.value and not math.isnan(base.value) else None
        spread = len(row.samples) > 1
        low = shown_value(min(row.samples), row.unit) if spread else ""
        high = shown_value(max(row.samples), row.unit) if spread else ""
        cells = [verdicts(row, ratio), f"vs {row.compared_to}" if base else "", row.note]
        shown_ratio = f"{ratio:7.2f}x" if ratio is not None else ""
        tail = "  ".join(c for c in cells if c)
        print(
            f"{row.name:70} {low:>11} {shown_value(row.value, row.unit):>11} {high:>11} {shown_ratio:>8}  {tail}".rstrip()
        )
