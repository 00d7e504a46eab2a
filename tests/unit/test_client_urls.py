"""A base URL with no token endpoint under it is a usage error at once, never retried."""

from __future__ import annotations

import pytest
import requests
import responses

from mock_esd_contracts import CannotRun, Target, verify
from mock_esd_sync.client import EsdClient
from mock_esd_sync.errors import FetchError, UrlError


def test_a_404_token_endpoint_is_not_retried() -> None:
    slept: list[float] = []
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/v1/auth/token", status=404, json={"detail": "not found"})
        client = EsdClient(session, "http://esd.test", "id", "secret", sleep=slept.append)
        with pytest.raises(UrlError, match="ends in /api"):
            client.authenticate()
        assert len(mocked.calls) == 1 and slept == []


def test_a_problem_is_said_by_its_title_and_the_length_of_its_detail_never_the_detail() -> None:
    """RFC 9457's detail is about this occurrence: where a server names the record it choked on."""
    detail = "Student Ada Lovelace (DOB 2010-02-03, ada@example.com) has no school\nsecond line"
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", json={"access_token": "t"})
        mocked.get("http://esd.test/api/v1/schools", status=400, json={"title": "Bad Request", "detail": detail})
        client = EsdClient(session, "http://esd.test/api", "id", "secret")
        with pytest.raises(FetchError) as err:
            client.fetch_raw(False)
    assert str(err.value).endswith(f"400: Bad Request (detail of {len(detail)} characters, not quoted)")


@pytest.mark.parametrize(
    "title",
    ["Student Ada Lovelace, born 2010-02-03, ada@example.com, could not be read from the roster database at all",
     "line one\nline two", "\x1b[31mred"],
    ids=["too long for a title", "two lines", "a terminal escape"],
)  # fmt: skip
def test_a_title_that_is_no_short_printable_line_is_not_quoted(title: str) -> None:
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", json={"access_token": "t"})
        mocked.get("http://esd.test/api/v1/schools", status=400, json={"title": title})
        with pytest.raises(FetchError) as err:
            EsdClient(session, "http://esd.test/api", "id", "secret").fetch_raw(False)
    assert str(err.value).endswith(f"400: (a title that is a string of {len(title)} characters)")


def test_a_body_that_is_not_json_is_said_by_its_size_and_type_never_quoted() -> None:
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", json={"access_token": "t"})
        body = '{"students": [{"firstName": "Ada", "email": "ada@example.com"'  # a page cut short
        mocked.get("http://esd.test/api/v1/schools", status=418, body=body, content_type="text/plain")
        with pytest.raises(FetchError) as err:
            EsdClient(session, "http://esd.test/api", "id", "secret").fetch_raw(False)
    assert str(err.value).endswith(f"418: ({len(body)} bytes of text/plain, not JSON; not quoted)")


def test_verify_says_what_the_server_said_as_the_sync_does() -> None:
    detail = "the token service is down for maintenance until the nightly roster import has finished; " * 3
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", status=503, json={"title": "Unavailable", "detail": detail})
        with pytest.raises(CannotRun) as err:
            verify(Target("http://esd.test/api", "id", "secret"), session)
    assert str(err.value).endswith(f"503 Unavailable (detail of {len(detail)} characters, not quoted)")


def test_what_a_server_said_never_repeats_a_personal_value() -> None:
    from mock_esd_sync.client import RetryPolicy

    body = {"error": "database down", "schools": [{"id": "0101", "email": "ann.smith@example.org"}]}
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", json={"access_token": "t"})
        mocked.get("http://esd.test/api/v1/schools", status=500, json=body)
        client = EsdClient(session, "http://esd.test/api", "id", "secret", retry=RetryPolicy(attempts=1))
        with pytest.raises(FetchError) as err:
            client.fetch_raw(False)
    said = str(err.value)
    assert "'id': '0101'" in said and "'error': '<string>'" in said  # the shape, and what the contract names
    assert "ann.smith" not in said and "database down" not in said and "'email': '<string>'" in said
