"""Progress off a terminal: plain lines at an interval, stalls included, so a CI log shows a sync is alive."""

from __future__ import annotations

import io

from sync.report import Progress


def test_off_a_terminal_the_current_state_is_written_at_each_interval() -> None:
    stream = io.StringIO()
    with Progress(stream, interval=30.0) as progress:
        progress("/v1/students", 2, 4, 200)
        answers = iter([False, False, True])  # two intervals pass without news, then the sync ends
        progress.heartbeat(lambda seconds: next(answers))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(
        line.startswith("mock-esd: fetching /v1/students: page 2/4, 200 records (nothing new for ") for line in lines
    )
    assert "\r" not in stream.getvalue()  # no terminal control codes in a log


def test_with_no_interval_nothing_is_written_off_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(stream, interval=None) as progress:
        progress("/v1/students", 1, 1, 5)
        progress.say("done")
    assert stream.getvalue() == ""
