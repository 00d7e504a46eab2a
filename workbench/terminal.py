"""What the commands show a person: progress while they work and tables when they are done, drawn by rich.

`Progress` is the one progress helper every long command uses (`sync`, `verify`, `demo`, and any command
added later): on a terminal, a live bar per stage; elsewhere (a pipe, a CI log), one plain line per stage
finished and, while a stage makes no news, a line every `interval` seconds so the log shows it is alive.
Nothing at all under -q (`cli_support.chatty`).

    with Progress() as progress:
        for n, item in enumerate(items, 1):
            progress.step("recording /v1/students", n, len(items), f"{records} records")
        progress.say("writing the scenario")
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.table import Table

from mock_esd_sync.plan import Plan
from mock_esd_sync.run import Report
from mock_esd_workbench.cli_support import chatty

DEFAULT_INTERVAL = 10.0  # seconds between "still working" lines off a terminal (`sync --progress-every`)
SHOWN_WARNINGS = 10  # a sync's warnings listed under its table; --json lists them all


class Progress:
    """Progress of a command with stages, each counted in steps (pages, checks); a context manager.

    `live`: None asks the stream whether it is a terminal. `interval`: None writes no "still working"
    lines. `enabled`: None follows the log level (nothing under -q).
    """

    def __init__(
        self, stream: TextIO | None = None, *, live: bool | None = None, interval: float | None = DEFAULT_INTERVAL,
        enabled: bool | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = chatty() if enabled is None else enabled
        self.live = self.enabled and (self.stream.isatty() if live is None else live)
        self.interval = interval if self.enabled and not self.live else None
        self.state = "starting"
        self._clock = clock
        self._since = clock()
        self._writing = threading.Lock()  # the heartbeat thread and the command never interleave a line
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._bars: Bars | None = None
        self._tasks: dict[str, TaskID] = {}
        if self.live:
            self._bars = Bars(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                console=Console(file=self.stream), transient=False,
            )  # fmt: skip
            self._bars.start()

    def step(self, stage: str, done: int, total: int | None = None, detail: str = "") -> None:
        """`done` of `total` steps of `stage` are done; off a terminal, a line when the stage is complete."""
        self._set(f"{stage}: {done}/{total}" if total else f"{stage}: {done}", detail)
        if self._bars is not None:
            task = self._tasks.get(stage)
            if task is None:
                task = self._tasks[stage] = self._bars.add_task(stage, total=total, detail=detail)
            self._bars.update(task, completed=done, total=total, detail=detail)
        elif self.enabled and total is not None and done >= total:
            self._line(f"{stage}: {done}/{total}{f', {detail}' if detail else ''}")

    def __call__(self, endpoint: str, page: int, pages: int, records: int) -> None:
        """The sync client's progress callback: one stage per endpoint, one step per page."""
        self.step(f"fetching {endpoint}", page, pages, f"{records} records")

    def requesting(self, request: str) -> None:
        """The sync client's request is sent (`GET /v1/contacts page 3`): what a "still working" line names
        until something else happens. No line of its own."""
        self._set(f"waiting for the answer to {request}", "")

    def retrying(self, line: str) -> None:
        """The sync client retries a request: its line (`retrying GET /v1/students page 2 after 500 (attempt 2
        of 5)`), on a terminal or not; nothing under -q."""
        self.say(line)

    def say(self, message: str) -> None:
        """A stage with no steps begins (or the command's last word): one line, on a terminal or not."""
        self._set(message, "")
        if self._bars is not None:
            self._bars.console.print(message, markup=False, highlight=False)
        elif self.enabled:
            self._line(message)

    def heartbeat(self, wait: Callable[[float], bool]) -> None:
        """While nothing new happens, a line every interval, until `wait` says stop (the background writer's loop).

        A stage that keeps moving writes none: the line is due only `interval` seconds after the last news
        (or the last such line).
        """
        assert self.interval is not None
        last_line = float("-inf")
        while not wait(max(max(self._since, last_line) + self.interval - self._clock(), 0.0)):
            now = self._clock()
            if now >= max(self._since, last_line) + self.interval:
                self._line(f"{self.state} (nothing new for {now - self._since:.0f} s)")
                last_line = now

    def close(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join()
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _line(self, text: str) -> None:
        with self._writing:
            self.stream.write(f"mock-esd: {text}\n")
            self.stream.flush()

    def _set(self, state: str, detail: str) -> None:
        self.state, self._since = f"{state}, {detail}" if detail else state, self._clock()
        if self.interval is not None and self._writer is None and not self._stop.is_set():
            self._writer = threading.Thread(target=self.heartbeat, args=(self._stop.wait,), daemon=True)
            self._writer.start()


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under a header and a rule, columns aligned, numbers to the right: plain text, no colour codes."""
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, safe_box=True)
    for n, name in enumerate(header):
        numeric = n > 0 and bool(rows) and all(row[n].isdigit() for row in rows)
        grid.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:
        grid.add_row(*row)
    out = io.StringIO()
    Console(file=out, width=10_000, color_system=None, emoji=False, highlight=False).print(grid)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines() if line.strip())


def group_table(sizes: list[tuple[str, str | None, int]], names: dict[str, str]) -> str:
    """A table of groups: district level first, then each building."""
    rows = []
    for name, school, count in sizes:
        level = "district" if school is None else f"{school} {names.get(school, '')}".strip()
        rows.append((name, level, str(count)))
    return table(("group", "level", "members"), rows)


def change_table(report: Report, with_errors: bool = True) -> str:
    """The counts of a sync's changes, its warnings and (unless the caller says them elsewhere) its errors."""
    plan = report.plan or Plan()
    rows = [(kind, str(count)) for kind, count in plan.counts().items()]
    lines = [
        f"sync {report.status}" + (f" (run {report.run_id})" if report.run_id else ""),
        table(("change", "count"), rows),
    ]
    lines += [f"warning: {w}" for w in plan.warnings[:SHOWN_WARNINGS]]
    if len(plan.warnings) > SHOWN_WARNINGS:
        lines.append(f"... and {len(plan.warnings) - SHOWN_WARNINGS} more warnings (--json lists them all)")
    lines += [f"error: {e}" for e in report.errors] if with_errors else []
    return "\n".join(lines)
