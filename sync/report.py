"""Human-readable output of a sync: progress on a terminal, then tables of groups and changes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from sync.plan import Plan
from sync.run import Report


class Progress:
    """Rewrites one status line on a terminal; silent elsewhere."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled

    def __call__(self, endpoint: str, page: int, pages: int, records: int) -> None:
        if self.enabled:
            self.stream.write(f"\r\033[Kfetching {endpoint}: page {page}/{pages}, {records} records")
            self.stream.flush()

    def say(self, message: str) -> None:
        if self.enabled:
            self.stream.write(f"\r\033[K{message}\n")
            self.stream.flush()


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
