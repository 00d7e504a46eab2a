"""`mock-esd verify` as a partner runs it, against real sockets."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from flask import Flask

from mock_esd.server import LiveServer
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


def test_a_closed_port_is_exit_2_in_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        done = mock_esd("verify", "--url", f"http://127.0.0.1:{port}/api", "--client-id", "a", "--client-secret", "b")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "connection refused: is a server listening there?" in done.stderr


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
    assert "no token" in done.stderr and "500" in done.stderr and "<html>" in done.stderr


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
    assert ("404" in done.stderr) == (where != "no-scheme")


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
