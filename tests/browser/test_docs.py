"""The contract viewer at /docs/, as a partner reads it: in Chromium, with every address but 127.0.0.1 cut off."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
from mock_esd.server.live import LiveServer
from mock_esd_contracts.schema import openapi
from tests.browser.conftest import screenshot

CUSTOM, _ = default_clients(DEFAULT_TENANT)


@pytest.fixture
def offline(page: Page) -> list[str]:
    """Abort every request that leaves 127.0.0.1 and list it, with the console's errors (a CSP refusal is one)."""
    trouble: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            trouble.append(f"left 127.0.0.1: {route.request.url}")
            route.abort()

    page.route("**/*", only_loopback)
    page.on("console", lambda message: trouble.append(message.text) if message.type == "error" else None)
    return trouble


def operation(page: Page, method: str, path: str) -> Locator:
    summary = page.locator(".opblock-summary-path").get_by_text(path, exact=True)
    return page.locator(f".opblock-{method}").filter(has=summary)


def test_the_viewer_lists_every_endpoint_of_the_contract_without_the_network(
    page: Page, district: LiveServer, offline: list[str]
) -> None:
    page.goto(district.root_url + "/docs/")
    expect(page.get_by_role("heading", name="eSchoolData (eSD) API as used by the Operoo sync")).to_be_visible()
    for path, methods in openapi()["paths"].items():
        for method in methods:
            expect(operation(page, method, path)).to_be_visible()
    expect(page.get_by_text("/v1/operoo/students", exact=True)).to_be_visible()
    screenshot(page, "docs", full_page=True)
    assert offline == []


def test_authorize_then_try_it_out_reads_this_mock(page: Page, district: LiveServer, offline: list[str]) -> None:
    """The "Try it out" button calls this server, though the document names eSD's own host as its first server."""
    page.goto(district.root_url + "/docs/")
    expect(page.locator(".servers select")).to_have_value(district.base_url)
    page.locator(".auth-wrapper .authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("client_id:").fill(CUSTOM.client_id)
    dialog.get_by_label("client_secret:").fill(CUSTOM.secret)
    dialog.locator("button.modal-btn.authorize").click()
    expect(dialog.get_by_text("Authorized")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    students = operation(page, "get", "/v1/operoo/students")
    students.locator(".opblock-summary").click()
    students.get_by_role("button", name="Try it out").click()
    students.get_by_role("button", name="Execute").click()
    expect(students.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(students.locator(".live-responses-table .microlight").first).to_contain_text('"pagingInfo"')
    expect(students.locator(".request-url")).to_contain_text(district.base_url + "/v1/operoo/students")
    assert offline == []
