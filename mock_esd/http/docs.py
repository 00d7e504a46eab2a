"""`/docs/`: the contract (`/openapi.json`) in a browser, with Swagger UI's assets from the `swagger-ui-py` package.

Nothing is fetched from elsewhere: the page, its script and Swagger UI's files all come from this server,
and a Content-Security-Policy says so to the browser. The page reads; "Try it out" calls this server's
`/api`, as any client of the API would, and the control API is not part of the contract it shows.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, render_template, send_from_directory

from mock_esd.errors import NotFound
from mock_esd_contracts.schema import shown

docs = Blueprint("docs", __name__)

# Only what the page uses of the package's files (it also ships Swagger Editor and source maps).
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})
# Swagger UI sets styles on elements and shows its logo as a data: URL; everything else is this server's.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@cache
def _swagger_ui_static() -> Path:
    """The directory of Swagger UI's files, found without importing the package (it imports nothing we need)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; it is a dependency of mock-esd: pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _strict(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@docs.get("/")
def viewer() -> Response:
    return _strict(Response(render_template("docs.html"), mimetype="text/html"))


@docs.get("/viewer.js")
def viewer_script() -> Response:
    script = resources.files("mock_esd").joinpath("templates/docs.js").read_bytes()
    return _strict(Response(script, mimetype="text/javascript"))


@docs.get("/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no viewer asset {shown(name)}; the viewer serves {', '.join(sorted(ASSETS))}")
    return _strict(send_from_directory(_swagger_ui_static(), name, max_age=3600))
