"""A base URL with no token endpoint under it is a usage error at once, never retried."""

from __future__ import annotations

import pytest
import requests
import responses

from sync.client import EsdClient
from sync.errors import UrlError


def test_a_404_token_endpoint_is_not_retried() -> None:
    slept: list[float] = []
    with responses.RequestsMock() as mocked, requests.Session() as session:
        mocked.post("http://esd.test/v1/auth/token", status=404, json={"detail": "not found"})
        client = EsdClient(session, "http://esd.test", "id", "secret", sleep=slept.append)
        with pytest.raises(UrlError, match="ends in /api"):
            client.authenticate()
        assert len(mocked.calls) == 1 and slept == []
