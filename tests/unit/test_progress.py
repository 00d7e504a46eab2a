"""Progress and tables as a person sees them: a line per stage and "still working" lines off a terminal (a CI
log shows a run is alive), nothing under -q, aligned plain-text tables."""

from __future__ import annotations

import io

from mock_esd_workbench.terminal import Progress, table


def test_off_a_terminal_the_current_state_is_written_at_each_interval() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    with Progress(stream, live=False, interval=30.0, enabled=True, clock=clock) as progress:
        progress("/v1/students", 2, 4, 200)
        answers = iter([False, False, True])  # two intervals pass without news, then the sync ends
        progress.heartbeat(lambda seconds: clock.waited(seconds, next(answers)))
    assert stream.getvalue().splitlines() == [
        "mock-esd: fetching /v1/students: 2/4, 200 records (nothing new for 30 s)",
        "mock-esd: fetching /v1/students: 2/4, 200 records (nothing new for 60 s)",
    ]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()  # no terminal control codes in a log


def test_a_stall_names_the_request_in_flight_not_the_last_stage() -> None:
    stream, clock = io.StringIO(), FakeClock()
    with Progress(stream, live=False, interval=30.0, enabled=True, clock=clock) as progress:
        progress("/v1/students", 4, 4, 400)
        progress.requesting("GET /v1/contacts page 1")  # sent; /v1/contacts is slow to answer
        answers = iter([False, True])
        progress.heartbeat(lambda seconds: clock.waited(seconds, next(answers)))
    assert stream.getvalue().splitlines() == [
        "mock-esd: fetching /v1/students: 4/4, 400 records",
        "mock-esd: waiting for the answer to GET /v1/contacts page 1 (nothing new for 30 s)",
    ]


def test_each_retry_is_a_line_on_a_terminal_or_not_and_none_under_quiet() -> None:
    line = "retrying GET /v1/students page 2 after 500 (attempt 2 of 5)"
    for live in (False, True):
        stream = io.StringIO()
        with Progress(stream, live=live, interval=None, enabled=True) as progress:
            progress.requesting("GET /v1/students page 2")
            progress.retrying(line)
        assert line in stream.getvalue() and "waiting for the answer" not in stream.getvalue()
    quiet = io.StringIO()
    with Progress(quiet, live=False, interval=0.01, enabled=False) as progress:
        progress.retrying(line)
    assert quiet.getvalue() == ""


class FakeClock:
    """Time that passes only when the heartbeat waits: no test here reads the wall clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def waited(self, seconds: float, stop: bool) -> bool:
        self.now += seconds
        return stop


def test_a_stage_that_keeps_moving_writes_no_still_working_line() -> None:
    stream, clock = io.StringIO(), FakeClock()
    with Progress(stream, live=False, interval=30.0, enabled=True, clock=clock) as progress:
        pages = iter(range(1, 4))

        def news_every_20_seconds(seconds: float) -> bool:
            page = next(pages, None)
            clock.now += min(seconds, 20.0)
            if page is None:
                return True
            progress("/v1/students", page, 100, page * 100)  # a page every 20 s: never 30 s without news
            return False

        progress.heartbeat(news_every_20_seconds)
    assert "nothing new" not in stream.getvalue()


def test_off_a_terminal_each_finished_stage_is_one_line() -> None:
    stream = io.StringIO()
    with Progress(stream, live=False, interval=None, enabled=True) as progress:
        for page in (1, 2, 3):
            progress("/v1/students", page, 3, page * 100)
        progress("/v1/schools", 1, 1, 6)
        progress.say("applying")
    assert stream.getvalue().splitlines() == [
        "mock-esd: fetching /v1/students: 3/3, 300 records",
        "mock-esd: fetching /v1/schools: 1/1, 6 records",
        "mock-esd: applying",
    ]


def test_quiet_writes_nothing() -> None:
    stream = io.StringIO()
    with Progress(stream, live=False, interval=0.01, enabled=False) as progress:
        progress("/v1/students", 1, 1, 5)
        progress.say("done")
    assert stream.getvalue() == ""


def test_on_a_terminal_a_bar_per_stage_shows_its_steps() -> None:
    stream = io.StringIO()
    with Progress(stream, live=True, enabled=True) as progress:
        progress("/v1/students", 1, 2, 100)
        progress("/v1/students", 2, 2, 150)
        progress.say("applying")
    shown = stream.getvalue()
    assert "fetching /v1/students" in shown and "2/2" in shown and "150 records" in shown and "applying" in shown


def test_a_table_aligns_its_columns_and_numbers_to_the_right() -> None:
    lines = table(("change", "count"), [("created", "7"), ("archived", "120")]).splitlines()
    assert lines[0].split() == ["change", "count"] and set(lines[1]) <= {"─", "-", " "}
    assert lines[2].split() == ["created", "7"] and lines[3].split() == ["archived", "120"]
    assert len(lines[2]) == len(lines[3]) and lines[2].endswith("  7"), "counts are right-aligned"
    assert "\x1b" not in "\n".join(lines)
