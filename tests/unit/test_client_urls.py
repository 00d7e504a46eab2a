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


def test_what_the_server_said_is_quoted_whole_not_cut_mid_word() -> None:
    detail = "pageSize must be an integer from 1 to 1000; " * 6 + "you sent a value this server cannot read as one"
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", json={"access_token": "t"})
        mocked.get("http://esd.test/api/v1/schools", status=400, json={"title": "Bad Request", "detail": detail})
        client = EsdClient(session, "http://esd.test/api", "id", "secret")
        with pytest.raises(FetchError) as err:
            client.fetch_raw(False)
    assert len(detail) > 300 and str(err.value).endswith(f"400: {detail}")


def test_a_huge_text_body_is_quoted_at_a_word_boundary_saying_how_much_was_left() -> None:
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", json={"access_token": "t"})
        mocked.get("http://esd.test/api/v1/schools", status=418, body="teapot " * 1000)
        with pytest.raises(FetchError) as err:
            EsdClient(session, "http://esd.test/api", "id", "secret").fetch_raw(False)
    assert str(err.value).endswith(f"teapot [... {len('teapot ' * 1000) - 1 - 1994} more characters]")


def test_verify_quotes_what_the_server_said_as_the_sync_does() -> None:
    detail = "the token service is down for maintenance until the nightly roster import has finished; " * 3
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/api/v1/auth/token", status=503, json={"title": "Unavailable", "detail": detail})
        with pytest.raises(CannotRun) as err:
            verify(Target("http://esd.test/api", "id", "secret"), session)
    assert len(detail) > 200 and detail in str(err.value)


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
    assert "database down" in said and "'id': '0101'" in said  # what helps, kept
    assert "ann.smith" not in said and "'email': '<string>'" in said
