"""The commands the CLI prints for the user to paste name `mock-esd` as the user can run it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mock_esd_workbench.cli_support import invocation


@pytest.fixture
def venv_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / ".venv" / "bin" / "mock-esd"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    return script


def test_a_virtualenv_not_on_path_is_named_by_its_path(venv_script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invocation() == ".venv/bin/mock-esd"


def test_an_activated_virtualenv_is_the_bare_name(venv_script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{venv_script.parent}:/usr/bin")
    assert invocation() == "mock-esd"


def test_python_dash_m_is_named_with_its_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "argv", ["/somewhere/mock_esd/__main__.py"])
    monkeypatch.chdir(tmp_path)
    assert invocation() == f"{Path(sys.executable).absolute()} -m mock_esd"
