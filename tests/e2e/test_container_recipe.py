"""compose.yaml's sync run, its script run as the container runs it but on this machine (no Docker here):
against a mock on 127.0.0.1, with the shipped settings, twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_esd.district.generator import DistrictSpec
from mock_esd.server.app import create_app
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig
from tests.conftest import Clock

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """The compose file's district, smaller: seed 1 has the six schools the shipped settings name."""
    with LiveServer(create_app(AppConfig(spec=DistrictSpec(seed=1, students=300), clock=Clock()))) as live:
        yield live


def compose_sync(server: LiveServer, data: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the image's PATH: the venv first
        "HOME": str(data),
        "MOCK_ESD_ROOT": server.root_url,
        "DATA": str(data),
        "SETTINGS": str(ROOT / "docs/compose/settings.toml"),
    }
    script = str(ROOT / "docs/compose/sync.sh")
    return subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=300, check=False)


def export(data: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mock_esd", "export", "--db", str(data / "operoo.db")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_compose_sync_run_syncs_the_mock_and_writes_its_report(server: LiveServer, tmp_path: Path) -> None:
    first = compose_sync(server, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "All Pre-Enrolled Students" in (tmp_path / "operoo.report.html").read_text(encoding="utf-8")
    synced = export(tmp_path)
    assert synced["students"], synced
    again = compose_sync(server, tmp_path)  # `docker compose run --rm sync`: nothing changed, nothing to do
    assert again.returncode == 0, again.stdout + again.stderr
    assert export(tmp_path) == synced
