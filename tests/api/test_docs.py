"""The contract viewer's server side (`/docs/`): what it serves, what it refuses, and under which guard.

How it renders is in tests/browser/test_docs.py.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from mock_esd_contracts.schema import openapi
from tests.conftest import SMALL, Clock


def test_the_page_loads_only_assets_of_this_server(http: FlaskClient) -> None:
    response = http.get("/docs/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    for url in urls:
        with http.get(url) as asset:  # a file response holds the file open until closed
            assert asset.status_code == 200, url
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy  # no inline script, nothing from elsewhere


def test_docs_without_the_slash_leads_to_the_viewer(http: FlaskClient) -> None:
    response = http.get("/docs")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/docs/")


def test_swagger_ui_is_served_from_the_installed_package(http: FlaskClient) -> None:
    with http.get("/docs/assets/swagger-ui-bundle.js") as script:
        assert script.status_code == 200
        assert script.mimetype == "text/javascript"
        assert b"SwaggerUIBundle" in script.data
    with http.get("/docs/assets/swagger-ui.css") as style:
        assert style.mimetype == "text/css"


def test_a_file_the_viewer_does_not_use_is_a_404_problem(http: FlaskClient) -> None:
    for name in ("swagger-editor-bundle.js", "LICENSE", "swagger-initializer.js"):
        response = http.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
        assert response.mimetype == "application/problem+json"
        assert f'"{name}"' in response.json["detail"]
        assert "swagger-ui-bundle.js" in response.json["detail"]  # says what is there
    outside = http.get("/docs/assets/..%2f..%2fswagger_ui%2fcore.py")
    assert outside.status_code == 404
    assert outside.mimetype == "application/problem+json"


def test_the_viewer_answers_only_this_servers_names(http: FlaskClient) -> None:
    """A DNS-rebinding page gets no more from /docs/ than from the API."""
    for url in ("/docs/", "/docs/viewer.js", "/docs/assets/swagger-ui-bundle.js"):
        refused = http.get(url, headers={"Host": "attacker.example:8080"})
        assert refused.status_code == 421, url
        assert refused.mimetype == "application/problem+json"


def test_the_viewer_stays_with_the_control_api_off() -> None:
    """`serve --no-control` keeps the read-only pages; the contract shown has no control endpoints anyway."""
    http = create_app(AppConfig(spec=SMALL, clock=Clock(), control=False)).test_client()
    assert http.get("/_mock/requests").status_code == 404
    page = http.get("/docs/")
    assert page.status_code == 200
    assert b"/_mock" not in page.data
    assert not any(path.startswith("/_mock") for path in openapi()["paths"])


def test_the_browser_views_menu_leads_to_the_viewer(http: FlaskClient) -> None:
    html = http.get("/guru/").get_data(as_text=True)
    assert '<a href="/docs/">API contract</a>' in html
