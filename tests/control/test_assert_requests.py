"""ControlClient.assert_requests: how many journal entries match, and near misses when the count is wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mock_esd import ControlClient
from mock_esd.server.app import create_app
from mock_esd.server.inprocess import DEFAULT_BASE_URL, routed
from mock_esd.state.config import AppConfig
from tests.conftest import CUSTOM, SMALL


@pytest.fixture
def control() -> Iterator[ControlClient]:
    """A control client over an in-process mock whose journal holds three calls of the custom client."""
    with routed(create_app(AppConfig(spec=SMALL))), requests.Session() as session:
        control = ControlClient(session, DEFAULT_BASE_URL.removesuffix("/api"))
        token = session.post(
            f"{DEFAULT_BASE_URL}/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(CUSTOM.client_id, CUSTOM.secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        control.clear_requests()
        for query in ("pageNo=1&pageSize=10", "pageNo=2&pageSize=10"):
            session.get(f"{DEFAULT_BASE_URL}/v1/students?{query}", headers=headers)
        session.get(f"{DEFAULT_BASE_URL}/v1/schools", headers=headers)
        yield control


def test_counts_what_matches_every_criterion(control: ControlClient) -> None:
    assert len(control.assert_requests(2, method="GET", path="/v1/students", status=200)) == 2
    control.assert_requests(2, path="/api/v1/students")  # either notation
    control.assert_requests(3, path="/v1/*", client=CUSTOM.client_id)
    [second] = control.assert_requests(1, path="/v1/students", query={"pageNo": 2})
    assert second["query"] == "pageNo=2&pageSize=10"
    control.assert_requests(1, query="pageNo=1&pageSize=10")
    control.assert_requests(0, method="POST")


def test_a_wrong_count_lists_matches_and_near_misses(control: ControlClient) -> None:
    with pytest.raises(AssertionError) as failure:
        control.assert_requests(1, method="GET", path="/v1/students", query={"pageNo": 3})
    message = str(failure.value)
    assert message.splitlines()[0] == (
        "tenant default: expected 1 request(s) matching method=GET path=/v1/students query=pageNo=3,"
        " got 0 of 3 in the journal"
    )
    assert "near misses (every criterion but one):" in message
    assert "GET /v1/students?pageNo=1&pageSize=10 -> 200" in message
    assert "query pageNo=1&pageSize=10, wanted pageNo=3" in message
    assert "query pageNo=2&pageSize=10, wanted pageNo=3" in message
    assert "/v1/schools" not in message, "two criteria differ: not a near miss"


def test_too_many_matches_are_listed_and_the_differing_criterion_named(control: ControlClient) -> None:
    with pytest.raises(AssertionError) as failure:
        control.assert_requests(1, path="/v1/students", status=200)
    message = str(failure.value)
    assert "got 2 of 3" in message and "  matched:" in message
    assert "path /v1/schools, wanted /v1/students" in message


def test_no_near_misses_is_said(control: ControlClient) -> None:
    with pytest.raises(AssertionError, match="no near misses"):
        control.assert_requests(1, method="DELETE", path="/v1/contacts")
