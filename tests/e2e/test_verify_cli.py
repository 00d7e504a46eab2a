"""`mock-esd verify` as a partner runs it, against real sockets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from flask import Flask

from mock_esd.server.live import LiveServer
from tests.e2e.conftest import Served, mock_esd

pytestmark = pytest.mark.e2e


def test_verify_passes_against_the_mock_with_json_and_junit(served: Served, tmp_path: Path) -> None:
    junit = tmp_path / "contract.xml"
    done = mock_esd(
        "verify", "--url", served.base_url, "--client-id", served.custom[0], "--client-secret", served.custom[1],
        "--client-id-standard", served.standard[0], "--client-secret-standard", served.standard[1],
        "--json", "--junit", str(junit),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] and {c["result"] for c in report["checks"]} == {"pass"}
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and len(list(suite.iter("testcase"))) == len(report["checks"])


def test_text_report_and_max_pages(served: Served) -> None:
    done = mock_esd(
        "verify",
        "--url",
        served.base_url,
        "--client-id",
        served.custom[0],
        "--client-secret",
        served.custom[1],
        "--max-pages",
        "1",
    )
    assert done.returncode == 0, done.stdout
    checked = re.fullmatch(r"mock-esd: checking: (\d+)/\1, done\n", done.stderr)  # stderr is not a terminal here
    reported = re.findall(r"^  (?:PASS|WARN|FAIL|SKIP)  ", done.stdout, re.M)
    assert checked and int(checked.group(1)) == len(reported) > 0, done.stderr
    assert "PASS  token-form" in done.stdout and "SKIP  filters" in done.stdout and "needs every page" in done.stdout


def test_schools_answering_500_leaves_every_other_check_its_verdict_in_every_report(tmp_path: Path) -> None:
    """The issue's case: one listing broken, and still every other check judges what it can, in one run."""
    import requests

    from tests.e2e.conftest import serving

    junit, html = tmp_path / "c.xml", tmp_path / "c.html"
    with serving("--students", "200", "--seed", "5") as (server, _):
        root = server.base_url.removesuffix("/api")
        rule = {"endpoint": "/v1/schools", "kind": "status", "params": {"status": 500}}
        assert requests.post(f"{root}/_mock/faults", json=rule, timeout=10).status_code == 201
        args = [
            "verify",
            "--url",
            server.base_url,
            "--client-id",
            server.custom[0],
            "--client-secret",
            server.custom[1],
        ]
        text = mock_esd(*args)
        done = mock_esd(*args, "--json", "--junit", str(junit), "--html", str(html))
    assert done.returncode == 1 == text.returncode, done.stderr
    checks = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["endpoints-reachable"]["result"] == "fail" and checks["integrity-schools"]["result"] == "skip"
    assert "/v1/schools" in checks["integrity-schools"]["reasons"][0]
    for name in ("records-schema", "paging-complete", "paging-stable-order", "paging-past-end", "vocabulary"):
        assert checks[name]["result"] == "pass" and checks[name]["notJudged"][0].startswith("/v1/schools ("), name
        assert f"PASS  {name}" in text.stdout
    assert "~ not judged: /v1/schools (could not be read: GET /v1/schools page 1: 500" in text.stdout
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == set(checks) and cases["endpoints-reachable"].find("failure") is not None
    assert "request: GET /api/v1/schools?pageNo=1&pageSize=100" in (
        cases["endpoints-reachable"].findtext("failure") or ""
    )
    page = html.read_text(encoding="utf-8")
    assert all(f'id="check-{name}"' in page for name in checks) and "The contract is broken" in page


def test_an_html_500_server_is_exit_2_with_what_it_said() -> None:
    app = Flask("broken")
    app.add_url_rule(
        "/<path:anything>",
        "all",
        lambda anything: ("<html><body>Internal error</body></html>", 500),
        methods=["GET", "POST"],
    )
    with LiveServer(app) as server:
        done = mock_esd("verify", "--url", server.base_url, "--client-id", "a", "--client-secret", "b")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no token" in done.stderr and "500" in done.stderr and "<html>" not in done.stderr  # free text: not quoted
    assert "(40 bytes of text/html, not JSON; not quoted)" in done.stderr


@pytest.mark.parametrize("where", ["root", "extra-v1", "no-scheme"])
def test_a_wrong_base_url_is_exit_2_with_the_hint(served: Served, where: str) -> None:
    url = {
        "root": served.base_url.removesuffix("/api"),
        "extra-v1": served.base_url + "/v1",
        "no-scheme": served.base_url.removeprefix("http://"),
    }[where]
    done = mock_esd("verify", "--url", url, "--client-id", served.custom[0], "--client-secret", served.custom[1])
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "is the base URL the one that ends in /api?" in done.stderr
    # The status as a word of its own: the port in the URL may hold the digits 404 too.
    said_404 = re.search(r"(?<![\d:])404(?!\d)", done.stderr.replace(url, "URL")) is not None
    assert said_404 == (where != "no-scheme")


def test_a_pre_registered_student_without_a_date_warns_exit_0_and_fails_only_when_strict(tmp_path: Path) -> None:
    import requests

    from tests.e2e.conftest import serving

    with serving("--students", "200", "--seed", "5") as (server, _):
        students = requests.get(
            f"{server.base_url}/v1/students", params={"studentStatus": "Pre-Registered"}, headers=server.bearer(),
            timeout=10,
        ).json()["students"]  # fmt: skip
        person = students[0]["id"]
        root = server.base_url.removesuffix("/api")
        patched = requests.patch(f"{root}/_mock/students/{person}", json={"enrollmentDate": None}, timeout=10)
        assert patched.status_code == 200, patched.text
        args = [
            "verify",
            "--url",
            server.base_url,
            "--client-id",
            server.custom[0],
            "--client-secret",
            server.custom[1],
        ]
        text = mock_esd(*args)
        junit = tmp_path / "c.xml"
        as_json = mock_esd(*args, "--json", "--junit", str(junit))
        strict = mock_esd(*args, "--strict")
    assert text.returncode == 0, text.stdout
    assert "WARN  pre-registered-dates" in text.stdout and f"record {person}" in text.stdout
    assert "1 warned, 0 failed" in text.stdout
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and report["verdict"] == "warn" and len(report["warnings"]) == 1
    assert ET.parse(junit).getroot().get("failures") == "0"
    assert strict.returncode == 1 and "WARN  pre-registered-dates" in strict.stdout
