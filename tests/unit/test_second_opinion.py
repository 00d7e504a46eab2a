"""`python -m mock_esd_workbench.second_opinion`: its options, what it hands Schemathesis, and its errors in one line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mock_esd_workbench import second_opinion

TARGET = ["--url", "http://127.0.0.1:9/api", "--client-id", "ID", "--client-secret", "S"]


def test_url_without_credentials_is_a_usage_error() -> None:
    done = CliRunner().invoke(second_opinion.main, ["--url", "http://127.0.0.1:9/api"])
    assert done.exit_code == 2 and "--url needs --client-id and --client-secret" in done.output


def test_arguments_after_the_options_go_to_schemathesis_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(second_opinion, "fetch_token", lambda url, client_id, secret: f"token-for-{client_id}")
    monkeypatch.setattr(second_opinion.shutil, "which", lambda name, path=None: "/opt/bin/schemathesis")
    monkeypatch.setattr(second_opinion.subprocess, "call", lambda argv: ran.append(argv) or 3)
    done = CliRunner().invoke(second_opinion.main, [*TARGET, "--", "--max-examples", "5", "-v"])
    assert done.exit_code == 3, done.output  # Schemathesis's own exit code
    [argv] = ran
    assert argv[:2] == ["/opt/bin/schemathesis", "run"] and argv[2].endswith("openapi.json")
    assert argv[3:] == [
        "--url",
        TARGET[1],
        "--header",
        "Authorization: Bearer token-for-ID",
        "--max-examples",
        "5",
        "-v",
    ]


def test_without_schemathesis_it_says_how_to_install_it_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(second_opinion, "fetch_token", lambda url, client_id, secret: "t")
    monkeypatch.setattr(second_opinion.shutil, "which", lambda name, path=None: None)
    done = CliRunner().invoke(second_opinion.main, TARGET)
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == [
        f"mock-esd: error: schemathesis is not installed: {second_opinion.INSTALL_HINT}"
    ]
    assert "pip install -e '.[second-opinion]'" in done.output  # the extra's own name, hyphenated as pip takes it


def test_a_server_that_cannot_be_reached_is_one_line() -> None:
    done = CliRunner().invoke(second_opinion.main, TARGET)
    assert done.exit_code == 2 and done.output.startswith("mock-esd: error: no token from http://127.0.0.1:9/api")
    assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1
