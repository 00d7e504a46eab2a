"""How the readers (`verify`, `sync`, `record`) meet a server that trickles its answer a byte at a time, and an
unusable --timeout. Each runs as a user runs it, against a server on 127.0.0.1 sending exactly the bytes given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_answer_limits import command
from tests.hostile import TOKEN_BODY, Sent, hostile_server, report, run_capped

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
