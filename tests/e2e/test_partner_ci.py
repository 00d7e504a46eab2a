"""The CI recipes in docs/ci/ run as their CI would run them: the verify step's own script, with the
secrets as environment variables, against a mock on 127.0.0.1 (the install step is the README's, done)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
from mock_esd.server.app import create_app
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig
from tests.conftest import Clock

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CUSTOM, STANDARD = default_clients(DEFAULT_TENANT)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(create_app(AppConfig(spec=DistrictSpec(seed=5, students=120), clock=Clock()))) as live:
        yield live


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A checkout where the install step has run: `.venv/bin/mock-esd` is this one."""
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "mock-esd").symlink_to(Path(sys.executable).parent / "mock-esd")
    return tmp_path


def secrets(server: LiveServer, standard: bool) -> dict[str, str]:
    given = {"ESD_URL": server.base_url, "ESD_CLIENT_ID": CUSTOM.client_id, "ESD_CLIENT_SECRET": CUSTOM.secret}
    if standard:
        given |= {"ESD_CLIENT_ID_STANDARD": STANDARD.client_id, "ESD_CLIENT_SECRET_STANDARD": STANDARD.secret}
    return given


def github_expression(value: str, contexts: dict[str, dict[str, str]]) -> str:
    """`${{ secrets.X }}` and `${{ env.X }}` as GitHub fills them (an unset secret is empty)."""
    return re.sub(r"\$\{\{\s*(\w+)\.(\w+)\s*\}\}", lambda m: contexts[m.group(1)].get(m.group(2), ""), str(value))


def run_github_step(workdir: Path, given: dict[str, str]) -> subprocess.CompletedProcess[str]:
    workflow: dict[str, Any] = yaml.safe_load((ROOT / "docs/ci/verify.yml").read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("name") == "mock-esd verify"]
    env = {k: str(v) for k, v in job["env"].items()}
    env |= {k: github_expression(v, {"secrets": given, "env": env}) for k, v in step["env"].items()}
    shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]  # GitHub's `bash` shell
    return subprocess.run(shell, cwd=workdir, env=_base_env() | env, capture_output=True, text=True, timeout=300)


def run_gitlab_job(workdir: Path, given: dict[str, str]) -> subprocess.CompletedProcess[str]:
    job = yaml.safe_load((ROOT / "docs/ci/gitlab-verify.yml").read_text(encoding="utf-8"))["esd-contract"]
    script = [line for line in job["script"] if "MOCK_ESD_REQUIREMENT" not in line]  # the install lines, done
    script = "\n".join(line for line in script if not line.startswith(("python -m venv", ".venv/bin/pip")))
    return subprocess.run(
        ["sh", "-e", "-c", script], cwd=workdir, env=_base_env() | given, capture_output=True, text=True, timeout=300
    )


def _base_env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def cases(report: Path) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in ET.parse(report).getroot().iter("testcase")}


@pytest.mark.parametrize("standard", [True, False], ids=["both-clients", "custom-client-only"])
def test_the_github_verify_step_passes_against_the_mock_and_writes_the_report(
    server: LiveServer, workdir: Path, standard: bool
) -> None:
    done = run_github_step(workdir, secrets(server, standard))
    assert done.returncode == 0, done.stdout + done.stderr
    checks = cases(workdir / "esd-contract.xml")
    assert len(checks) >= 17
    assert (checks["custom-forbidden"].find("skipped") is None) == standard  # the optional secrets are used


def test_the_github_verify_step_fails_the_job_when_a_check_fails(server: LiveServer, workdir: Path) -> None:
    given = secrets(server, standard=True) | {"ESD_CLIENT_ID_STANDARD": CUSTOM.client_id,
                                               "ESD_CLIENT_SECRET_STANDARD": CUSTOM.secret}  # fmt: skip
    done = run_github_step(workdir, given)  # "standard" client that may read the custom endpoints
    assert done.returncode == 1, done.stdout + done.stderr
    assert cases(workdir / "esd-contract.xml")["custom-forbidden"].find("failure") is not None


@pytest.mark.parametrize("standard", [True, False], ids=["both-clients", "custom-client-only"])
def test_the_gitlab_job_passes_against_the_mock_and_writes_the_report(
    server: LiveServer, workdir: Path, standard: bool
) -> None:
    done = run_gitlab_job(workdir, secrets(server, standard))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mock-esd, version" in done.stdout
    checks = cases(workdir / "esd-contract.xml")
    assert (checks["custom-forbidden"].find("skipped") is None) == standard


def test_the_github_verify_step_keeps_a_report_saying_why_the_server_could_not_be_judged(workdir: Path) -> None:
    from tests.e2e.servers import nothing_listening

    with nothing_listening() as url:
        done = run_github_step(workdir, {"ESD_URL": url, "ESD_CLIENT_ID": "a", "ESD_CLIENT_SECRET": "b"})
    assert done.returncode == 2, done.stdout + done.stderr
    failure = cases(workdir / "esd-contract.xml")["could-not-run"].find("failure")
    assert failure is not None and (failure.text or "").endswith("connection refused: is a server listening there?")
