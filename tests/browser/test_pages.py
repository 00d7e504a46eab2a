"""The browser view and the HTML sync report, used as a person would: in a real (headless) Chromium."""

from __future__ import annotations

from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
from mock_esd.qa.client import ControlClient
from mock_esd.server.live import LiveServer
from mock_esd_contracts import vocabulary as v
from mock_esd_sync.explanation import explain
from mock_esd_sync.store import connect
from mock_esd_workbench.commands.demo import demo_settings
from mock_esd_workbench.commands.sync import execute_sync
from tests.browser.conftest import screenshot

CUSTOM, _ = default_clients(DEFAULT_TENANT)


def test_the_overview_shows_each_school_and_leads_to_its_students(page: Page, district: LiveServer) -> None:
    page.goto(district.root_url + "/")
    expect(page.get_by_role("heading", name="District overview")).to_be_visible()
    expect(page.locator("#count-students")).to_have_text("2000")
    holding = page.get_by_role("row").filter(has_text="Document School")
    expect(holding.get_by_role("cell").nth(1)).to_have_text("Holding")
    screenshot(page, "overview", full_page=True)
    holding.get_by_role("link", name="0900").click()
    expect(page).to_have_url(f"{district.root_url}/guru/students?school=0900")
    expect(page.locator("#filter-school")).to_have_value("0900")


def test_filtering_the_student_list(page: Page, district: LiveServer, control: ControlClient) -> None:
    page.goto(district.root_url + "/guru/students")
    page.locator("#filter-status").select_option(v.Status.PRE_REGISTERED)
    page.locator("#filter-school").select_option("0101")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{district.root_url}/guru/students?status=Pre-Registered&school=0101&enrolled=&q=")
    everyone = control.call("GET", "/scenario")["students"]
    want = [s for s in everyone if s["studentStatus"] == v.Status.PRE_REGISTERED and s["schoolId"] == "0101"]
    expect(page.locator("#result-count")).to_contain_text(f"{len(want)} persons match")
    statuses = page.locator("#student-list td.status")
    expect(statuses).to_have_count(len(want))
    assert set(statuses.all_inner_texts()) == {v.Status.PRE_REGISTERED}
    screenshot(page, "students")


def test_opening_a_student_shows_contacts_and_rule_paths(page: Page, district: LiveServer) -> None:
    page.goto(district.root_url + "/guru/students?enrolled=without&school=none")
    first = page.locator("#student-list tbody tr").first
    name = first.get_by_role("link").nth(1).inner_text()  # "Last, First"
    person_id = first.get_by_role("link").first.inner_text()
    first.get_by_role("link").nth(1).click()
    expect(page).to_have_url(f"{district.root_url}/guru/students/{person_id}")
    last, given = name.split(", ")
    expect(page.get_by_role("heading", level=1)).to_contain_text(given)
    expect(page.get_by_role("heading", level=1)).to_contain_text(last)
    expect(page.get_by_role("row").filter(has_text="custom endpoints (R1)")).to_contain_text(
        f"student-operoo-{person_id}"
    )
    expect(page.locator("table[aria-labelledby=contacts] tbody tr").first).to_be_visible()
    screenshot(page, "student", full_page=True)


def test_clearing_a_fault_rule_from_the_page(page: Page, district: LiveServer, control: ControlClient) -> None:
    rule = control.add_fault("/v1/schools", "status", mode="times", n=1, params={"status": 503})
    token = requests.post(
        district.base_url + "/v1/auth/token", data={"grant_type": "client_credentials"},
        auth=(CUSTOM.client_id, CUSTOM.secret), timeout=30,
    ).json()["access_token"]  # fmt: skip
    failed = requests.get(district.base_url + "/v1/schools", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert failed.status_code == 503
    page.goto(district.root_url + "/guru/activity")
    row = page.locator("table[aria-labelledby=faults] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("/v1/schools")
    expect(page.locator("table[aria-labelledby=journal] tbody tr").first).to_contain_text("503")
    screenshot(page, "activity", full_page=True)
    page.get_by_role("button", name=f"Remove fault rule {rule}").click()
    expect(page.locator("#no-faults")).to_be_visible()
    assert control.faults() == []
    page.get_by_role("button", name="Clear the journal").click()
    expect(page.get_by_text("No requests yet.")).to_be_visible()


def test_the_sync_report_finds_a_student_with_groups_and_trace(
    page: Page, district: LiveServer, control: ControlClient, tmp_path: Path
) -> None:
    db, report = str(tmp_path / "operoo.db"), tmp_path / "report.html"
    settings = demo_settings(district.app.extensions["mock_esd"].registry.store(DEFAULT_TENANT).schools().records)
    execute_sync(district.base_url, CUSTOM.client_id, CUSTOM.secret, settings, db)
    control.withdraw(1)  # the second sync archives person 1
    applicant = next(
        s for s in control.call("GET", "/scenario")["students"]
        if s["enrolledId"] is None and s["studentStatus"] == v.Status.PRE_ENROLLED
    )  # fmt: skip
    done, _, _ = execute_sync(district.base_url, CUSTOM.client_id, CUSTOM.secret, settings, db, html_report=str(report))
    assert done.status == "applied"

    page.goto(report.as_uri())
    expect(page.locator("#status-banner")).to_contain_text("Applied")
    expect(page.locator("#archived tbody tr")).to_have_count(1)
    page.locator("#student-search").fill(applicant["lastName"])
    result = page.locator("#search-results a").filter(has_text=f"(student-operoo-{applicant['id']}, ")
    expect(result).to_be_visible()
    result.click()
    conn = connect(db)
    try:
        lines = explain(conn, f"student-operoo-{applicant['id']}")
    finally:
        conn.close()
    expect(page.locator("#detail-trace")).to_have_text("\n".join(lines))
    expect(page.locator("#detail-groups")).to_contain_text("All District Pre-Enrolled Students")
    page.evaluate("document.getElementById('search').scrollIntoView()")
    screenshot(page, "report")

    page.locator("#archived tbody a").first.click()  # an archived student's link opens its explanation
    expect(page.locator("#detail-title")).to_contain_text("[archived]")
    expect(page.locator("#detail-trace")).to_contain_text("R7")


def test_the_pages_keep_their_style_under_their_policy_and_no_other_site_can_frame_them(
    page: Page, district: LiveServer
) -> None:
    """The Content-Security-Policy admits the page's own stylesheet and refuses being framed (clickjacking)."""
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.goto("about:blank")  # another site's page (no policy of its own)
    page.set_content(f'<p>another site</p><iframe id="framed" src="{district.root_url}/guru/activity"></iframe>')
    framed = page.frame_locator("#framed")
    expect(framed.locator("html[subframe]")).to_have_count(1)  # Chromium's error page, in place of the view
    assert [f.url for f in page.frames][1].startswith("chrome-error://"), "refused by frame-ancestors 'none'"
    expect(framed.get_by_role("heading", name="Requests and faults")).to_have_count(0)
    page.goto(district.root_url + "/guru/activity")
    expect(page.get_by_role("heading", name="Requests and faults")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)", "styled"
    assert refused == [], refused
