"""Human-readable output of a sync: progress on a terminal, then tables of groups and changes."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from sync.plan import Plan
from sync.run import Report


class Progress:
    """How a sync shows it is alive: on a terminal, one rewritten status line; elsewhere (a pipe, a CI log),
    a plain line on the stream every `interval` seconds while the sync runs, stalls included (None: silent).

    Use it as a context manager (or call `close`) so the background line writer stops.
    """

    def __init__(self, stream: TextIO = sys.stderr, live: bool | None = None, interval: float | None = 10.0) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.interval = None if self.live else interval
        self.state = "starting"
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._since = time.monotonic()

    def __call__(self, endpoint: str, page: int, pages: int, records: int) -> None:
        self._set(f"fetching {endpoint}: page {page}/{pages}, {records} records")
        if self.live:
            self.stream.write(f"\r\033[K{self.state}")
            self.stream.flush()

    def say(self, message: str) -> None:
        self._set(message)
        if self.live:
            self.stream.write(f"\r\033[K{message}\n")
            self.stream.flush()

    def heartbeat(self, wait: Callable[[float], bool]) -> None:
        """Write the current state every interval until `wait` says stop (the background writer's loop)."""
        assert self.interval is not None
        while not wait(self.interval):
            quiet = time.monotonic() - self._since
            self.stream.write(f"mock-esd: {self.state} (nothing new for {quiet:.0f} s)\n")
            self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set(self, state: str) -> None:
        self.state, self._since = state, time.monotonic()
        if self.interval is not None and self._writer is None and not self._stop.is_set():
            self._writer = threading.Thread(target=self.heartbeat, args=(self._stop.wait,), daemon=True)
            self._writer.start()


def group_table(sizes: list[tuple[str, str | None, int]], names: dict[str, str]) -> str:
    """A table of groups: district level first, then each building."""
    rows = [("group", "level", "members")]
    for name, school, count in sizes:
        level = "district" if school is None else f"{school} {names.get(school, '')}".strip()
        rows.append((name, level, str(count)))
    return _table(rows)


def change_table(report: Report, with_errors: bool = True) -> str:
    """The counts of a sync's changes, its warnings and (unless the caller says them elsewhere) its errors."""
    plan = report.plan or Plan()
    counts = plan.counts()
    rows = [("change", "count")] + [(k, str(v)) for k, v in counts.items()]
    lines = [f"sync {report.status}" + (f" (run {report.run_id})" if report.run_id else ""), _table(rows)]
    lines += [f"warning: {w}" for w in plan.warnings[:10]]
    if len(plan.warnings) > 10:
        lines.append(f"... and {len(plan.warnings) - 10} more warnings (--json lists them all)")
    lines += [f"error: {e}" for e in report.errors] if with_errors else []
    return "\n".join(lines)


def plan_listing(plan: Plan, limit: int = 50) -> str:
    """The first student changes of a plan, one per line, for --dry-run and held syncs."""
    lines = [f"  {'+'.join(c.kinds):20} {c.after.operoo_id:22} {c.reason}" for c in plan.students[:limit]]
    if len(plan.students) > limit:
        lines.append(f"  ... and {len(plan.students) - limit} more student changes (--json lists them all)")
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) if cell.isdigit() else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
