"""How `verify`, `sync` and `record` meet a server they cannot talk to, and a partner's HTTPS server with a
certificate from a private CA (--ca-bundle, --insecure), as a user runs them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import trustme
from markupsafe import escape

from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
from mock_esd_contracts.checks import CHECKS
from tests.e2e.conftest import mock_esd
from tests.e2e.servers import Https, https_mock, nothing_listening, resetting, silent

pytestmark = pytest.mark.e2e

CUSTOM, STANDARD = default_clients(DEFAULT_TENANT)
CREDENTIALS = ("--client-id", CUSTOM.client_id, "--client-secret", CUSTOM.secret)
SETTINGS = 'custom_endpoints = true\n\n[schools]\n"0101" = ["Enrolled"]\n'
ERROR = re.compile(r"mock-esd: error: [^\n]+\n")


def one_line(stderr: str, *words: str) -> str:
    """The one error line (no traceback, nothing else), holding each of `words`."""
    assert ERROR.fullmatch(stderr), stderr
    assert all(w in stderr for w in words), stderr
    return stderr.removeprefix("mock-esd: error: ").strip()


# ----- a server that cannot be judged: one line, exit 2, and the reports say why -------------------------

KINDS: dict[str, tuple[Callable[[], AbstractContextManager[str]], str]] = {
    "nothing-listening": (nothing_listening, "connection refused: is a server listening there?"),
    "reset": (resetting, "the server closed the connection without answering"),
    "timeout": (silent, "no answer within 0.5 s (--timeout): the server accepted but did not answer"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_server_that_cannot_be_reached_is_one_line_exit_2_and_a_failed_junit_case(kind: str, tmp_path: Path) -> None:
    server, words = KINDS[kind]
    junit, html = tmp_path / "contract.xml", tmp_path / "contract.html"
    with server() as url:
        done = mock_esd(
            "verify", "--url", url, *CREDENTIALS, "--timeout", "0.5", "--junit", str(junit), "--html", str(html)
        )
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done.stderr, f"POST {url}/v1/auth/token: {words}")
    assert_stopped_reports(junit, html, line)


def test_an_untrusted_certificate_is_one_line_exit_2_and_a_failed_junit_case(tmp_path: Path) -> None:
    junit, html = tmp_path / "contract.xml", tmp_path / "contract.html"
    with https_mock(tmp_path) as server:
        done = mock_esd("verify", "--url", server.base_url, *CREDENTIALS, "--junit", str(junit), "--html", str(html))
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done.stderr, "TLS: the server's certificate is not trusted", "--ca-bundle")
    assert_stopped_reports(junit, html, line)


def assert_stopped_reports(junit: Path, html: Path, line: str) -> None:
    """CI shows why: a failed `could-not-run` case with the error line, every check skipped as not run."""
    suite = ET.parse(junit).getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["could-not-run"].find("failure")
    assert failure is not None and failure.text == line
    assert set(cases) == {c.name for c in CHECKS} | {"could-not-run"}
    assert suite.get("failures") == "1" and suite.get("skipped") == str(len(CHECKS))
    page = " ".join(html.read_text(encoding="utf-8").split())
    assert f"The server could not be judged: {escape(line)}" in page


# ----- --ca-bundle and --insecure on verify, sync and record ------------------------------------------------


def command(name: str, url: str, tmp_path: Path) -> list[str]:
    """The command line of `name` against `url`, with what it needs beside the URL and credentials."""
    if name == "verify":
        return ["verify", "--url", url, *CREDENTIALS, "--max-pages", "1"]
    if name == "sync":
        settings = tmp_path / "settings.toml"
        settings.write_text(SETTINGS, encoding="utf-8")
        return ["sync", "--url", url, *CREDENTIALS, "--settings", str(settings), "--db", str(tmp_path / "o.db")]
    return ["record", "--url", url, *CREDENTIALS, "--out", str(tmp_path / "district.json")]


COMMANDS = ("verify", "sync", "record")


def succeeded(name: str, done: object, tmp_path: Path) -> None:
    assert getattr(done, "returncode", None) == 0, getattr(done, "stderr", "")
    if name == "sync":
        assert (tmp_path / "o.db").exists()
    if name == "record":
        assert (tmp_path / "district.json").exists()


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Https]:
    with https_mock(tmp_path_factory.mktemp("tls")) as server:
        yield server


@pytest.mark.parametrize("name", COMMANDS)
def test_ca_bundle_trusts_a_private_ca_and_without_it_the_certificate_is_one_line_exit_2(
    name: str, https: Https, tmp_path: Path
) -> None:
    trusted = mock_esd(*command(name, https.base_url, tmp_path), "--ca-bundle", str(https.ca_bundle))
    succeeded(name, trusted, tmp_path)
    (tmp_path / "o.db").unlink(missing_ok=True)
    untrusted = mock_esd(*command(name, https.base_url, tmp_path))
    assert untrusted.returncode == 2
    line = one_line(untrusted.stderr, "TLS: the server's certificate is not trusted", "--ca-bundle FILE")
    assert "gave up" not in line  # a certificate is not tried again: it is as untrusted the next time
    assert not (tmp_path / "o.db").exists()


@pytest.mark.parametrize("name", COMMANDS)
def test_the_ca_bundle_comes_from_esd_ca_bundle_too(name: str, https: Https, tmp_path: Path) -> None:
    env = {**os.environ, "ESD_CA_BUNDLE": str(https.ca_bundle)}
    succeeded(name, mock_esd(*command(name, https.base_url, tmp_path), env=env), tmp_path)


def test_insecure_skips_the_check_and_says_so_once(https: Https, tmp_path: Path) -> None:
    done = mock_esd(*command("sync", https.base_url, tmp_path), "--insecure", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "mock-esd: warning: --insecure: the server's TLS certificate is not checked, so anyone on the way can read "
        "and change what is sent (the client secret too)\n"
    )


def test_what_is_given_wins_over_requests_own_variables(https: Https, tmp_path: Path) -> None:
    """REQUESTS_CA_BUNDLE (left set by another tool, say) must not undo --insecure or replace --ca-bundle."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(other), "CURL_CA_BUNDLE": str(other)}
    assert mock_esd(*command("sync", https.base_url, tmp_path), "--insecure", env=env).returncode == 0
    given = mock_esd(*command("sync", https.base_url, tmp_path), "--ca-bundle", str(https.ca_bundle), env=env)
    assert given.returncode == 0, given.stderr


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize(
    ("bundle", "words"),
    [
        ("missing.pem", "no such file"),
        ("not-a-certificate.pem", "holds no PEM certificate"),
        (".", "is a directory"),
    ],
)
def test_a_bad_ca_bundle_is_a_one_line_usage_error_before_anything_is_sent(
    name: str, bundle: str, words: str, tmp_path: Path
) -> None:
    (tmp_path / "not-a-certificate.pem").write_text("hello, I am no certificate\n", encoding="utf-8")
    path = str(tmp_path / bundle)
    with nothing_listening() as url:  # were anything sent, the error would be about the connection
        done = mock_esd(*command(name, url, tmp_path), "--ca-bundle", path)
    assert done.returncode == 2 and done.stdout == ""
    one_line(done.stderr, f"--ca-bundle {path!r}: {words}")


def test_ca_bundle_and_insecure_together_are_a_usage_error(https: Https, tmp_path: Path) -> None:
    done = mock_esd(*command("sync", https.base_url, tmp_path), "--insecure", "--ca-bundle", str(https.ca_bundle))
    assert done.returncode == 2
    one_line(done.stderr, "give --ca-bundle or --insecure, not both")
