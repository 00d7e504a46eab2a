"""`mock-esd verify --html`: the report a partner sends, opened in a real (headless) Chromium as they would open it."""

from __future__ import annotations

from pathlib import Path

import requests
from playwright.sync_api import Page, Route, expect

from mock_esd.server.app import create_app
from mock_esd.server.inprocess import routed
from mock_esd.state.config import AppConfig
from mock_esd_contracts.checks import CHECKS
from mock_esd_contracts.html_report import Run, write_html
from mock_esd_contracts.verifier import verify
from tests.browser.conftest import screenshot
from tests.contract.test_verify import BROKEN, SPEC, TARGET, both, schools_500


def test_the_verify_report_opens_offline_with_every_check_and_its_evidence(page: Page, tmp_path: Path) -> None:
    app = create_app(AppConfig(spec=SPEC))
    with routed(app, tamper=both(schools_500, BROKEN["records-schema"](app))), requests.Session() as session:
        results = verify(TARGET, session)
    report = tmp_path / "contract.html"
    write_html(report, results, Run(TARGET, started="2025-03-01T09:30:00Z"))

    asked: list[str] = []

    def nothing_but_the_file(route: Route) -> None:
        asked.append(route.request.url)
        if route.request.url == report.as_uri():
            route.continue_()
        else:
            route.abort()

    page.route("**/*", nothing_but_the_file)
    page.on("request", lambda request: asked.append(request.url))
    page.goto(report.as_uri())
    expect(page.locator("#status-banner")).to_contain_text("The contract is broken")
    expect(page.locator("#check-table tbody tr")).to_have_count(len(CHECKS))
    expect(page.locator("#check-table tbody tr").filter(has_text="integrity-schools")).to_contain_text("SKIP")

    page.locator("#check-table").get_by_role("link", name="records-schema", exact=True).click()
    section = page.locator("#check-records-schema")
    expect(section).to_be_in_viewport()
    expect(section.locator(".tag")).to_have_text("FAIL")
    expect(section.locator("dl.evidence").first).to_contain_text("GET /api/v1/operoo/students?pageNo=1&pageSize=100")
    expect(section.locator("pre.trace").first).to_contain_text('"lastName": "<integer>"')
    expect(section.locator(".not-judged")).to_contain_text("/v1/schools (could not be read")
    screenshot(page, "verify-report", full_page=True)
    assert set(asked) == {report.as_uri()}, asked  # the page fetched nothing: no font, no stylesheet, no script
