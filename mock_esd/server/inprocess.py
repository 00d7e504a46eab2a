"""In-process mode: `requests` calls for a base URL go straight into the Flask app, no socket.

Built on the `responses` library, the way moto's `mock_aws` routes boto calls into its backends.

One router serves the whole process: a single `responses` patch of `HTTPAdapter.send`, put in place when the
first route is added and taken away when the last one leaves, and a table of routes (root -> app) that any
thread may add to or remove from in any order. Two districts whose blocks overlap without nesting, or live in
two threads, each keep answering their own host for as long as their own block lasts, and when none is left
`HTTPAdapter.send` is again exactly what it was. Calls to any other host pass through to the send that was in
place when the router started: the network, or a test's own `responses` mock around the districts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from mock_esd_contracts.extras import require

require("testing", "in-process routing (mock_esd.routed, an in-process mock district)")  # responses

import requests  # noqa: E402
import responses  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from mock_esd.http.hooks import ConnectionDropped  # noqa: E402
from mock_esd.server.app import API_PREFIX  # noqa: E402

Reply = tuple[int, dict[str, str], bytes]
Tamper = Callable[[requests.PreparedRequest, Reply], Reply]
DEFAULT_BASE_URL = "http://esd.invalid" + API_PREFIX
_CLIENT = "mock_esd.server.inprocess.client"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ANY_URL = re.compile(r".*")


def _client(app: Flask) -> FlaskClient:
    """The app's test client, made once (a fixture routes each test anew). Without a cookie jar of its own:
    cookies belong to the `requests.Session` that sends them, as with a real server."""
    client = app.extensions.get(_CLIENT)
    if client is None:
        client = app.extensions[_CLIENT] = app.test_client(use_cookies=False)
    return cast(FlaskClient, client)


def _root(url: str) -> str:
    """`scheme://host[:port]` of `url`: what a route answers."""
    return "{0.scheme}://{0.netloc}".format(urlsplit(url)).lower()  # requests lowercases the host it sends to


@dataclass(frozen=True, eq=False)
class Route:
    """`app` answering every `requests` call under `root` (`scheme://host[:port]`) while its `routed` block lasts.

    `tamper`, if given, sees each request and the app's reply and returns the reply to deliver.
    """

    root: str
    app: Flask
    tamper: Tamper | None = None

    def answer(self, request: requests.PreparedRequest) -> Reply:
        """The app's reply to `request`, through `tamper`; requests.ConnectionError where the app drops it."""
        parts = urlsplit(request.url or "")
        body: Any = request.body
        try:
            response = _client(self.app).open(
                parts.path, method=request.method or "GET", query_string=parts.query,
                headers=dict(request.headers), data=body.encode() if isinstance(body, str) else body,
            )  # fmt: skip
            data = response.get_data()
        except ConnectionDropped as exc:
            raise requests.ConnectionError(str(exc)) from None
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        reply = (response.status_code, headers, data)
        return self.tamper(request, reply) if self.tamper else reply


class _Router:
    """The process's routes and the `responses` patch that serves them (module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, list[Route]] = {}  # root -> its routes, the latest (innermost) last
        # Each patch this router started and the send it put in place. Normally one at most; another only when
        # someone else replaced ours while routes were active (a test's own `responses` mock ended out of turn).
        self._patches: list[tuple[responses.RequestsMock, object]] = []

    def add(self, route: Route) -> None:
        """Answer `route.root` with `route` (over an earlier route of the same root) until `remove(route)`."""
        with self._lock:
            if self._current() is None:
                self._start()
            self._routes.setdefault(route.root, []).append(route)

    def remove(self, route: Route) -> None:
        """Stop answering with `route`; when no route is left, put back the send the router found."""
        with self._lock:
            routes = self._routes[route.root]
            routes.remove(route)
            if not routes:
                del self._routes[route.root]
            if self._routes:
                return
            # Undo only a patch whose send is the one in place: stopping one that someone has since replaced
            # would put back what that someone had found (their mock's send, dead once their mock ends).
            while (current := self._current()) is not None:
                current.stop(allow_assert=False)
                self._patches = [(m, send) for m, send in self._patches if m is not current]

    def _current(self) -> responses.RequestsMock | None:
        """The router's patch whose send is `HTTPAdapter.send` now, if one is."""
        send = requests.adapters.HTTPAdapter.send
        return next((mock for mock, installed in self._patches if installed is send), None)

    def _start(self) -> None:
        # Other hosts' calls pass through to the send in place now (responses' default would be the network
        # even inside a test's own mock). Every route shares the one table, so a patch answers them all.
        mock = responses.RequestsMock(
            assert_all_requests_are_fired=False, real_adapter_send=requests.adapters.HTTPAdapter.send
        )
        mock.add_passthru(_ANY_URL)  # consulted only for a call no route matched
        for method in _METHODS:
            mock.add_callback(method, _ANY_URL, callback=self._answer, match=[self._matches])
        mock.start()
        self._patches.append((mock, requests.adapters.HTTPAdapter.send))

    def _find(self, request: requests.PreparedRequest) -> Route | None:
        with self._lock:
            routes = self._routes.get(_root(request.url or ""))
            return routes[-1] if routes else None

    def _matches(self, request: requests.PreparedRequest) -> tuple[bool, str]:
        return (True, "") if self._find(request) is not None else (False, "no mock district routed at this host")

    def _answer(self, request: requests.PreparedRequest) -> Reply:
        route = self._find(request)
        if route is None:  # its block ended between the match and now (another thread)
            raise requests.ConnectionError(f"{_root(request.url or '')} is no longer routed to a mock district")
        return route.answer(request)


_ROUTER = _Router()


@contextmanager
def routed(app: Flask, base_url: str = DEFAULT_BASE_URL, tamper: Tamper | None = None) -> Iterator[Route]:
    """Route every requests call under the root of `base_url` into `app`, no socket, for the block; yield the Route.

    `tamper`, if given, sees each request and the app's reply and returns the reply to deliver:
    a test's way to make one page fail, shrink or repeat. Blocks may overlap in any order and in any thread;
    while two routes of the same root are active, the later one answers it.
    """
    route = Route(_root(base_url), app, tamper)
    _ROUTER.add(route)
    try:
        yield route
    finally:
        _ROUTER.remove(route)
