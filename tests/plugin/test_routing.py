"""In-process districts whose blocks overlap in any order, or run in threads: each answers its own host while its
block lasts, other hosts pass through, and afterwards `requests` is exactly as it was."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import requests
import responses
from flask import Flask

from mock_esd import EsdDistrict, mock_district
from mock_esd.district.generator import DistrictSpec
from mock_esd.qa.client import ControlClient
from mock_esd.server.app import create_app
from mock_esd.server.inprocess import routed
from mock_esd.state.config import AppConfig


def token_status(esd: EsdDistrict) -> int:
    form = {"grant_type": "client_credentials", "client_id": esd.custom.client_id}
    form["client_secret"] = esd.custom.client_secret
    return requests.post(f"{esd.base_url}/v1/auth/token", data=form, timeout=10).status_code


@pytest.fixture
def send_before() -> Iterator[object]:
    """`HTTPAdapter.send` as the test found it; the test must leave it so."""
    before = requests.adapters.HTTPAdapter.send
    yield before
    assert requests.adapters.HTTPAdapter.send is before, "a route left HTTPAdapter.send patched"


def test_districts_that_overlap_without_nesting_each_keep_their_host(send_before: object) -> None:
    a, b = mock_district(students=5), mock_district(students=5)
    with mock_district(live=True, students=5) as live:  # on 127.0.0.1: a call to another host, passed through
        ea, eb = a.start(), b.start()
        assert ea.base_url != eb.base_url
        a.stop()  # the first started ends first
        assert token_status(eb) == 200
        assert token_status(live) == 200
        with pytest.raises(requests.ConnectionError):  # a's host goes nowhere now: esd.invalid does not resolve
            token_status(ea)
        b.stop()
        assert requests.adapters.HTTPAdapter.send is send_before
        assert token_status(live) == 200  # requests still works once every route is gone


def test_districts_in_two_threads_whose_blocks_overlap(send_before: object) -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def first() -> None:
        with mock_district(students=5) as esd:
            first_in.set()
            second_in.wait(30)
            seen["first"] = token_status(esd)
        first_out.set()  # leaves while the second is still in its block

    def second() -> None:
        first_in.wait(30)
        with mock_district(students=5) as esd:
            second_in.set()
            first_out.wait(30)
            seen["second"] = token_status(esd)

    def run(target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except Exception as exc:  # the assertion below names it; no thread is left waiting for the other
                seen[target.__name__] = exc
                first_in.set(), second_in.set(), first_out.set()

        thread = threading.Thread(target=guarded)
        thread.start()
        return thread

    for thread in [run(first), run(second)]:
        thread.join(60)
    assert seen == {"first": 200, "second": 200}
    assert requests.adapters.HTTPAdapter.send is send_before


def test_the_later_route_of_one_host_answers_it_and_the_earlier_one_again_when_it_ends(send_before: object) -> None:
    def app(students: int) -> Flask:
        return create_app(AppConfig(spec=DistrictSpec(seed=7, students=students)))

    def students_there() -> int:
        with requests.Session() as session:
            return len(ControlClient(session, "http://esd.invalid").export_scenario()["students"])

    earlier, later, third = routed(app(3)), routed(app(4)), routed(app(5))
    assert earlier.__enter__().root == later.__enter__().root == "http://esd.invalid"
    assert students_there() == 4
    earlier.__exit__(None, None, None)  # out of turn: the later one still answers
    assert students_there() == 4
    third.__enter__()
    assert students_there() == 5
    third.__exit__(None, None, None)
    assert students_there() == 4
    later.__exit__(None, None, None)
    assert requests.adapters.HTTPAdapter.send is send_before


def test_a_tests_own_mock_ending_before_a_district_leaves_requests_as_that_mock_found_it(
    send_before: object,
) -> None:
    theirs = responses.RequestsMock()
    theirs.start()
    district = mock_district(students=5)
    try:
        district.start()
    finally:
        theirs.stop()  # out of turn: it puts back the send it found, under the district's routing
        district.stop()
    assert requests.adapters.HTTPAdapter.send is send_before  # not the ended mock's send, which refuses every call


def test_a_tests_own_mock_started_inside_a_district_is_answered_and_the_district_too(send_before: object) -> None:
    with mock_district(students=5) as outer, responses.RequestsMock() as theirs:
        theirs.add_passthru("http://esd")  # theirs hands the districts' hosts on to the routing beneath it
        theirs.add(responses.GET, "https://api.other.example/ping", json={"pong": True})
        with mock_district(students=5) as inner:
            assert requests.get("https://api.other.example/ping", timeout=5).json() == {"pong": True}
            assert token_status(outer) == token_status(inner) == 200
