"""The Flask application factory: wires routes and renders every error as problem+json."""

from __future__ import annotations

import logging
import os

import orjson
from flask import Flask, Response, current_app, redirect
from jinja2 import ChoiceLoader, PackageLoader
from werkzeug.exceptions import HTTPException

from mock_esd.district.tenants import Registry
from mock_esd.errors import EsdError
from mock_esd.http.api import api
from mock_esd.http.control import control
from mock_esd.http.docs import docs
from mock_esd.http.pages import GURU_PREFIX, guru, no_framing
from mock_esd.limits import clipped
from mock_esd.server import guard
from mock_esd.server.shortcut import ListingShortcut
from mock_esd.state.config import AppConfig
from mock_esd.state.mock_state import EXTENSION, MockState
from mock_esd_contracts.schema import openapi_bytes

API_PREFIX = "/api"
log = logging.getLogger(__name__)


def create_app(config: AppConfig | None = None, registry: Registry | None = None) -> Flask:
    """A mock eSD server: the API under `/api` (the base URL of a real eSD host), a browser view under `/guru/`."""
    app = Flask(__name__)
    app.extensions[EXTENSION] = MockState(config or AppConfig(), registry)
    guard.install(app)  # first: the Host, size and cross-origin checks run before anything else
    app.register_blueprint(api, url_prefix=API_PREFIX)
    if app.extensions[EXTENSION].config.control:
        app.register_blueprint(control, url_prefix="/_mock")
    app.register_blueprint(guru, url_prefix=GURU_PREFIX)
    app.after_request(no_framing)  # every answer under /guru/, its 404s and redirects too
    app.register_blueprint(docs, url_prefix="/docs")  # the contract in a browser (Swagger UI, served from here)
    # The browser view's pages, and the house stylesheet they share with the sync's HTML report.
    app.jinja_loader = ChoiceLoader([PackageLoader("mock_esd"), PackageLoader("mock_esd_contracts")])
    app.add_url_rule("/", "root", lambda: redirect("/guru/"))
    app.add_url_rule("/openapi.json", "openapi", lambda: Response(openapi_bytes(), mimetype="application/json"))
    app.before_request(lambda: app.extensions[EXTENSION].catch_up())
    if app.extensions[EXTENSION].log is not None:
        app.after_request(_worker_header)
    app.register_error_handler(EsdError, _esd_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.wsgi_app = ListingShortcut(app, app.wsgi_app, API_PREFIX)  # type: ignore[method-assign]
    return app


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: object) -> Response:
    """An RFC 7807 problem+json response; the detail cut to `Limits.max_error_detail` (it may quote input)."""
    limit = current_app.extensions[EXTENSION].config.limits.max_error_detail if current_app else None
    detail = clipped(detail, limit or len(detail))
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = Response(orjson.dumps(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def _worker_header(response: Response) -> Response:
    """Which worker answered: lets a test see that every worker serves the same district."""
    response.headers["X-Mock-Worker"] = str(os.getpid())
    return response


def _esd_error(exc: EsdError) -> Response:
    return problem(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    return problem(status, exc.name, exc.description or exc.name, headers)


def _unexpected_error(exc: Exception) -> Response:
    log.exception("unexpected error")
    return problem(500, "Internal Server Error", f"{type(exc).__name__}: the mock failed; see its log")
