"""A `mock-esd serve` process shared by the e2e tests of a module, on a free 127.0.0.1 port."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests


@dataclass(frozen=True)
class Served:
    base_url: str
    custom: tuple[str, str]
    standard: tuple[str, str] | None  # None: a scenario whose district has no standard client

    def bearer(self) -> dict[str, str]:
        """Authorization headers for the custom client."""
        client_id, secret = self.custom
        body = requests.post(
            f"{self.base_url}/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=30,
        ).json()
        return {"Authorization": f"Bearer {body['access_token']}"}


def mock_esd(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "mock_esd", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@contextmanager
def serving(*args: str) -> Iterator[tuple[Served, str]]:
    """`mock-esd serve --port 0 ARGS` in the background: where it listens, who may call, what it printed."""
    # stderr (a line per request) goes nowhere: a pipe nobody reads fills after some 500 requests, and then
    # the server's every worker waits to write its log line, answering no one.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_esd", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        head = ""
        while not head.splitlines()[-1:] or not head.splitlines()[-1].startswith("Serving"):
            line = proc.stdout.readline()
            if not line:
                break
            head += line
        base = re.search(r"eSD base URL: (\S+)", head)
        clients = re.findall(r"--client-id (\S+) --client-secret (\S+)", head)
        assert base and len(clients) in (1, 2), head
        yield Served(base.group(1), clients[0], clients[1] if len(clients) == 2 else None), head
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving("--students", "400", "--seed", "11") as (server, _):
        yield server
