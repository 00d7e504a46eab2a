"""The documentation site in headless Chromium, served from 127.0.0.1 with every other address cut off: each
page and the search work and ask for nothing from elsewhere. Saves build/screenshots/docs-*.png. (The site's
other tests, which need no browser, are in tests/docs.)"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import screenshot
from tests.docs.site import build_site

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (`mkdocs build --strict`)."""
    return build_site(tmp_path_factory.mktemp("site"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site on a free 127.0.0.1 port, as `python -m http.server` would serve it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def offline(page: Page, served: str) -> list[str]:
    """Cut off every address but the site's own; what the pages asked for elsewhere is listed here."""
    elsewhere: list[str] = []
    origin = urlsplit(served).netloc

    def route(r: Route) -> None:
        url = r.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != origin:
            elsewhere.append(url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    return elsewhere


def test_every_page_loads_from_the_site_alone(site: Path, page: Page, served: str, offline: list[str]) -> None:
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    assert len(pages) >= 13
    for path in pages:
        response = page.goto(served + path.removesuffix("index.html"))
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        assert page.locator("article h1").count() == 1, f"{path}: no page title"
    assert offline == []


def test_the_search_finds_a_name_of_the_reference(page: Page, served: str, offline: list[str]) -> None:
    page.goto(served)
    from playwright.sync_api import expect

    query = page.locator("input[data-md-component='search-query']")
    query.click()
    # the index is built in a worker after the page loads; a query typed before it is ready finds nothing
    expect(page.locator(".md-search-result__meta")).not_to_have_text("Initializing search", timeout=60_000)
    query.press_sequentially("assert_requests", delay=20)  # typed: the search listens for keys, not `fill`
    result = page.locator(".md-search-result__item a").first
    result.wait_for()
    assert "reference/python/" in str(result.get_attribute("href"))
    assert offline == []


def test_screenshots_of_the_home_the_qa_page_and_the_control_client(
    page: Page, served: str, offline: list[str]
) -> None:
    page.goto(served)
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs-home")
    page.goto(served + "qa/")
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs-qa")
    page.goto(served + "reference/python/#mock_esd.ControlClient")
    page.wait_for_load_state("networkidle")
    heading = page.locator("[id='mock_esd.ControlClient']")
    assert heading.is_visible()
    screenshot(page, "docs-controlclient")
    assert offline == []
