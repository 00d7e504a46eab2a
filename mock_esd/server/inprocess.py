"""In-process mode: `requests` calls for a base URL go straight into the Flask app, no socket.

Built on the `responses` library, the way moto's `mock_aws` routes boto calls into its backends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit

import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from mock_esd.http.hooks import ConnectionDropped
from mock_esd.server.app import API_PREFIX

Reply = tuple[int, dict[str, str], bytes]
Tamper = Callable[[requests.PreparedRequest, Reply], Reply]
DEFAULT_BASE_URL = "http://esd.invalid" + API_PREFIX
_CLIENT = "mock_esd.server.inprocess.client"


def _client(app: Flask) -> FlaskClient:
    """The app's test client, made once (a fixture routes each test anew). Without a cookie jar of its own:
    cookies belong to the `requests.Session` that sends them, as with a real server."""
    client = app.extensions.get(_CLIENT)
    if client is None:
        client = app.extensions[_CLIENT] = app.test_client(use_cookies=False)
    return cast(FlaskClient, client)


@contextmanager
def routed(
    app: Flask, base_url: str = DEFAULT_BASE_URL, tamper: Tamper | None = None
) -> Iterator[responses.RequestsMock]:
    """Route every requests call under the root of `base_url` into `app`, no socket.

    `tamper`, if given, sees each request and the app's reply and returns the reply to deliver:
    a test's way to make one page fail, shrink or repeat.
    """
    root = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    client = _client(app)

    def forward(request: requests.PreparedRequest) -> Reply:
        parts = urlsplit(request.url or "")
        body: Any = request.body
        try:
            response = client.open(
                parts.path, method=request.method or "GET", query_string=parts.query,
                headers=dict(request.headers), data=body.encode() if isinstance(body, str) else body,
            )  # fmt: skip
            data = response.get_data()
        except ConnectionDropped as exc:
            raise requests.ConnectionError(str(exc)) from None
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        reply = (response.status_code, headers, data)
        return tamper(request, reply) if tamper else reply

    # What other hosts' calls pass through to is the send in place now: another routing around this one (a
    # district nested in another, a test's own `responses` mock), else the network (a live mock, say).
    # responses' default would be the network even inside another mock.
    outer = requests.adapters.HTTPAdapter.send
    with responses.RequestsMock(assert_all_requests_are_fired=False, real_adapter_send=outer) as mock:
        mock.add_passthru(re.compile(r"^(?!" + re.escape(root) + r"(/|$))"))
        pattern = re.compile(re.escape(root) + r"(/.*)?$")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            mock.add_callback(method, pattern, callback=forward)
        yield mock
