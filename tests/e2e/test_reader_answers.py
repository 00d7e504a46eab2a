"""How the readers (`verify`, `sync`, `record`) meet a hostile server: an answer trickled a byte at a time, an
unusable --timeout, a signal while they wait, and an error body that echoes the secret, names a person, or
nests too deep. Each runs as a user runs it, against a server on 127.0.0.1 sending exactly the bytes given."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from mock_esd_contracts.checks import CHECKS
from tests.e2e.test_answer_limits import command
from tests.hostile import TOKEN, TOKEN_BODY, Hostile, Sent, hostile_server, report, run_capped

pytestmark = pytest.mark.e2e

READERS = ["sync", "verify", "record"]
SECRET = "s3cr3t/Of+The Client&"  # what `command` does not give; a form encodes it as "s3cr3t%2FOf%2BThe+Client%26"


def reader(name: str, base_url: str, tmp_path: Path, *extra: str) -> list[str]:
    """`command`, with SECRET as the client secret."""
    args = command(name, base_url, tmp_path, *extra)
    args[args.index("--client-secret") + 1] = SECRET
    return args


def error_line(stderr: str) -> str:
    """The one line a command printed (no traceback, nothing else), without its prefix."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mock-esd: error: "), stderr
    return lines[0].removeprefix("mock-esd: error: ")


# ----- --timeout bounds each answer whole ---------------------------------------------------------------------

TRICKLED = Sent(body=TOKEN_BODY + b" " * 4000, trickle=0.2)  # about 14 minutes whole, a byte every 0.2 s


@pytest.mark.parametrize("name", READERS)
def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_timeout(name: str, tmp_path: Path) -> None:
    """A socket timeout bounds each read only: before, a byte every 0.2 s held each command for the whole answer."""
    with hostile_server({"POST /api/v1/auth/token": TRICKLED}) as server:
        run = run_capped(*reader(name, server.base_url, tmp_path, "-q", "--timeout", "1"), timeout=90)
    report(f"{name} against an answer trickled a byte every 0.2 s, --timeout 1", run)
    assert run.returncode == 2, run  # no answer, after the sync's and record's retries too
    assert "no answer within 1 s (--timeout)" in error_line(run.stderr), run
    assert run.seconds < 30, run  # sync and record try 5 times: 5 s, the backoff, and the start-up


def test_verify_reports_a_listing_that_does_not_come_whole_in_time_and_goes_on(tmp_path: Path) -> None:
    routes = {"POST /api/v1/auth/token": TOKEN, "GET /api/v1/schools": Sent(body=b"{}" * 2000, trickle=0.2)}
    with hostile_server(routes) as server:
        run = run_capped(*reader("verify", server.base_url, tmp_path, "-q", "--json", "--timeout", "1"), timeout=120)
    assert run.returncode == 1 and run.stderr == "", run  # judged: a check failed
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert (
        "GET /v1/schools page 1: no answer within 1 s (--timeout): the server accepted but did not answer"
        in (checks["endpoints-reachable"]["reasons"])
    )
    assert checks["paging-bad-params"]["result"] == "fail"  # later checks still ran (and judged the 404s)
    assert run.seconds < 60, run


# ----- an unusable --timeout is a usage error ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", "1e9"])
@pytest.mark.parametrize("name", READERS)
def test_a_timeout_that_is_no_number_of_seconds_is_a_usage_error(name: str, value: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_esd", *reader(name, "http://127.0.0.1:9/api", tmp_path, f"--timeout={value}")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert error.startswith("Error: Invalid value for '--timeout'"), done.stderr


# ----- a signal while a reader waits: one line, 128 + the signal ------------------------------------------


def waiting(name: str, server: Hostile, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    """`mock-esd NAME` started, once it waits on the server's first answer (trickled, 14 minutes long)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", *reader(name, server.base_url, tmp_path, "-q", *extra)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not server.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.received, "the command never asked"
    return proc


@pytest.mark.parametrize(("sig", "code", "by"), [("SIGTERM", 143, "SIGTERM"), ("SIGINT", 130, "Ctrl+C")])
def test_a_signal_stops_verify_with_one_line_and_the_reports_saying_so(
    sig: str, code: int, by: str, tmp_path: Path
) -> None:
    junit = tmp_path / "contract.xml"
    with hostile_server({"POST /api/v1/auth/token": TRICKLED}) as server:
        proc = waiting("verify", server, tmp_path, "--json", "--junit", str(junit))
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert error_line(err) == f"interrupted by {by} after 0 of {len(CHECKS)} checks; the server was not judged"
    report_ = json.loads(out)
    assert report_["verdict"] == "fail" and report_["stopped"] == error_line(err)
    assert "could-not-run" in junit.read_text(encoding="utf-8")


@pytest.mark.parametrize(("sig", "code", "by"), [("SIGTERM", 143, "SIGTERM"), ("SIGINT", 130, "Ctrl+C")])
def test_a_signal_stops_record_with_one_line_saying_nothing_was_written(
    sig: str, code: int, by: str, tmp_path: Path
) -> None:
    with hostile_server({"POST /api/v1/auth/token": TRICKLED}) as server:
        proc = waiting("record", server, tmp_path)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert error_line(err) == f"interrupted by {by}; nothing was written to {tmp_path / 'd.json'}"
    assert not (tmp_path / "d.json").exists()


# ----- what a server says is quoted short, never its secret echoed, never too deep ------------------------


def problem(status: int, title: str, detail: str = "") -> Sent:
    body = {"type": "about:blank", "title": title, "status": status, **({"detail": detail} if detail else {})}
    return Sent(status, {"Content-Type": "application/problem+json"}, json.dumps(body).encode())


ECHOES = {  # the ways the secret travelled in the token request, echoed back in a problem's title
    "as sent": SECRET,
    "form-encoded": quote_plus(SECRET),
    "in HTTP Basic": base64.b64encode(f"c:{SECRET}".encode()).decode(),
}


@pytest.mark.parametrize("echo", list(ECHOES))
@pytest.mark.parametrize("name", READERS)
def test_a_secret_echoed_in_an_error_is_never_repeated(name: str, echo: str, tmp_path: Path) -> None:
    routes = {"POST /api/v1/auth/token": problem(401, f"invalid client: {ECHOES[echo]}")}
    with hostile_server(routes) as server:
        run = run_capped(*reader(name, server.base_url, tmp_path, "-q"), timeout=60)
    line = error_line(run.stderr)
    assert run.returncode == 2, run
    assert SECRET not in line and ECHOES[echo] not in line and "invalid client: <secret>" in line, line


def test_verify_never_repeats_a_secret_a_listing_echoes_in_a_finding_or_its_evidence(tmp_path: Path) -> None:
    routes = {"POST /api/v1/auth/token": TOKEN, "GET /api/v1/schools": problem(500, f"no school for {SECRET}")}
    with hostile_server(routes) as server:
        run = run_capped(*reader("verify", server.base_url, tmp_path, "-q", "--json"), timeout=60)
    assert run.returncode == 1 and SECRET not in run.stdout, run
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert "GET /v1/schools page 1: 500 no school for <secret>" in checks["endpoints-reachable"]["reasons"]


PERSONAL = "Ada Lovelace, born 2010-02-03"


def as_json(name: str) -> list[str]:
    """`--json` for the commands that have it (verify's findings, read from its report)."""
    return ["--json"] if name == "verify" else []


@pytest.mark.parametrize("name", READERS)
def test_a_problem_detail_or_an_html_page_is_said_by_its_size_never_quoted(name: str, tmp_path: Path) -> None:
    """A detail, or a proxy's error page, may name the student the server choked on: only its size is said."""
    detail = f"{PERSONAL} has no school\n" * 500
    page = f"<html><body><h1>500</h1><p>{PERSONAL} {'x' * 5000}\nline two</p></body></html>".encode()
    routes = {
        "POST /api/v1/auth/token": TOKEN,
        "GET /api/v1/schools": problem(400, "Bad Request", detail),
        "GET /api/v1/students": Sent(400, {"Content-Type": "text/html"}, page),
    }
    with hostile_server(routes) as server:
        run = run_capped(*reader(name, server.base_url, tmp_path, "-q", *as_json(name)), timeout=60)
    said = run.stderr + run.stdout
    assert PERSONAL not in said and "Traceback" not in said, run
    if name == "verify":  # each is a finding, one short line
        reasons = [r for c in json.loads(run.stdout)["checks"] for r in c["reasons"]]
        assert f"GET /v1/schools page 1: 400 Bad Request (detail of {len(detail):,} characters, not quoted)" in reasons
        assert f"GET /v1/students page 1: 400 ({len(page):,} bytes of text/html, not JSON; not quoted)" in reasons
        assert all(len(r) < 1000 and "\n" not in r for r in reasons)  # a skip names each listing it lacked
    else:  # the first one stops the read
        assert error_line(run.stderr).endswith(f"400: Bad Request (detail of {len(detail):,} characters, not quoted)")


DEEP = (  # a school as the contract has it, but for a field nested 900 deep (orjson reads up to 1,024)
    b'{"schools": [{"id": "0101", "name": "A", "schoolType": "High", "isHoldingSchool": false, "extra": '
    + b"[" * 900
    + b"]" * 900
    + b'}], "pagingInfo": {"pageNo": 1, "pageSize": 100, "pageCount": 1, "totalCount": 1}}'
)
DEEPER = b"[" * 200_000 + b"]" * 200_000  # past any parser's own limit


@pytest.mark.parametrize("where", ["a record", "the token answer"])
@pytest.mark.parametrize("name", READERS)
def test_json_nested_too_deep_is_one_line_never_a_recursion_error(name: str, where: str, tmp_path: Path) -> None:
    if where == "the token answer":
        routes = {"POST /api/v1/auth/token": Sent(body=DEEPER)}
    else:
        routes = {"POST /api/v1/auth/token": TOKEN, "GET /api/v1/schools": Sent(body=DEEP)}
    with hostile_server(routes) as server:
        run = run_capped(*reader(name, server.base_url, tmp_path, "-q", *as_json(name)), timeout=90)
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr + run.stdout, run
    if name == "verify" and where == "a record":  # a finding: the page is not usable JSON
        reasons = [r for c in json.loads(run.stdout)["checks"] for r in c["reasons"]]
        assert any("/v1/schools page 1: 200 without a 'schools' list" in r and "nested deeper" in r for r in reasons)
        assert run.returncode == 1, run
    elif where == "a record":  # the page is no JSON the sync reads: retried, then aborted
        assert run.returncode == 1, run
        assert "GET /v1/schools" in error_line(run.stderr) and "JSON nested deeper than 64 levels" in run.stderr
    else:  # no token: verify cannot run (2); sync and record give up after their retries
        assert run.returncode in (1, 2), run
        assert "no token" in error_line(run.stderr) or "access_token" in run.stderr, run


# ----- verify goes on past what it could not read, and --json says when it could not run ----------------


def test_verify_reports_a_redirect_loop_as_a_finding_and_goes_on(tmp_path: Path) -> None:
    loop = Sent(302, {"Location": "/api/v1/schools", "Content-Type": "text/plain"})
    with hostile_server({"POST /api/v1/auth/token": TOKEN, "GET /api/v1/schools": loop}) as server:
        run = run_capped(*reader("verify", server.base_url, tmp_path, "-q", "--json"), timeout=60)
    assert run.returncode == 1 and run.stderr == "", run
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert (
        "GET /v1/schools page 1: redirected more than 30 times (a redirect loop?)"
        in (checks["endpoints-reachable"]["reasons"])
    )
    assert "GET /v1/schools: redirected more than 30 times (a redirect loop?)" in checks["auth-required"]["reasons"]
    assert len(checks) == len(CHECKS) and checks["paging-bad-params"]["result"] == "fail"  # the 404s, judged


def test_verify_json_says_the_server_could_not_be_judged_when_it_cannot_run(tmp_path: Path) -> None:
    with socket.socket() as bound:  # bound, never listening: refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}/api"
        run = run_capped(*reader("verify", url, tmp_path, "-q", "--json"), timeout=60)
    assert run.returncode == 2, run
    line = error_line(run.stderr)
    report_ = json.loads(run.stdout)
    assert report_["verdict"] == "fail" and report_["passed"] is False and report_["stopped"] == line
    results = {c["check"]: c["result"] for c in report_["checks"]}
    assert results == {"could-not-run": "fail", **{c.name: "skip" for c in CHECKS}}
