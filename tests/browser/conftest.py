"""A headless Chromium (Debian's package) driven by Playwright, and a mock district served on 127.0.0.1.

Without a browser the tests are skipped with the reason; `.ci/run` installs one and sets
MOCK_ESD_REQUIRE_BROWSER=1, which turns a missing browser into a failure, so CI really runs them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from mock_esd.district.generator import DistrictSpec
from mock_esd.qa.client import ControlClient
from mock_esd.server.app import create_app
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig
from mock_esd_workbench import with_rule_paths
from tests.conftest import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("MOCK_ESD_CHROMIUM", "/usr/bin/chromium")
# A test run saves pictures of the main pages here; the documentation's (docs/screenshots) are made by setting it.
SCREENSHOTS = Path(
    os.environ.get("MOCK_ESD_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "build" / "screenshots"
)
# As root in a sandbox with no network: no setuid sandbox, no GPU, no calls home.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--font-render-hinting=none",
]  # fmt: skip


def _unavailable(reason: str) -> None:
    if os.environ.get("MOCK_ESD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (MOCK_ESD_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    if shutil.which(CHROMIUM) is None:
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set MOCK_ESD_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test, at a laptop's screen size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def district() -> Iterator[LiveServer]:
    """The default generated district (seed 1, 2,000 students) on a free port, on a clock that never moves."""
    app = create_app(with_rule_paths(AppConfig(spec=DistrictSpec(seed=1, students=2000), clock=Clock())))
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def control(district: LiveServer) -> Iterator[ControlClient]:
    with requests.Session() as session:
        yield ControlClient(session, district.root_url)


def screenshot(page: Page, name: str, **options: Any) -> None:
    """Save a picture of the page (build/screenshots, or MOCK_ESD_SCREENSHOTS)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **options)
