"""The walls between the parts hold: import-linter's contracts pass, and fail on a new crossing or cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.layout import FOLDERS

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(
        [*command, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the four packages under their import names, and pyproject.toml, to plant crossings in."""
    root = tmp_path_factory.mktemp("layers")
    for package, folder in FOLDERS.items():
        shutil.copytree(folder, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root)
    return root


def test_the_layers_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "crossing"),
    [
        ("mock_esd_sync/rules.py", "import mock_esd.store"),  # the sync reaching into the mock
        ("mock_esd/browse.py", "import mock_esd_sync.rules"),  # the mock reaching into the sync
        ("mock_esd_contracts/probe.py", "import mock_esd.app"),  # the contract above the bottom
        ("mock_esd/store.py", "import mock_esd_workbench.cli"),  # a part importing the composition layer
    ],
)
def test_a_new_crossing_breaks_the_contract(checkout: Path, module: str, crossing: str) -> None:
    path = checkout / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{crossing}  # planted by the test\n", encoding="utf-8")
    try:
        result = lint_imports(checkout)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "2 kept, 1 broken" in result.stdout
    planted = module.removesuffix(".py").replace("/", ".")
    assert planted in result.stdout


@pytest.mark.parametrize(
    ("module", "crossing"),
    [
        ("mock_esd_sync/rules.py", "import mock_esd_sync.reader"),  # the rules reading eSD's packed pages
        ("mock_esd_sync/rules.py", "import mock_esd_sync.client"),  # the rules reaching HTTP
        ("mock_esd_sync/plan.py", "import mock_esd_sync.mirror"),  # the plan carrying the store's payload again
        ("mock_esd_sync/state.py", "import mock_esd_sync.client"),  # indirectly: rules and plan both import state
    ],
)
def test_the_sync_rules_or_plan_reaching_io_breaks_the_contract(checkout: Path, module: str, crossing: str) -> None:
    path = checkout / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{crossing}  # planted by the test\n", encoding="utf-8")
    try:
        result = lint_imports(checkout)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stdout.split())
    assert "the sync's rules and plan reach no I/O: not the reader, the mirror, the client or the store BROKEN" in said
    assert "2 kept, 1 broken" in said, "only this contract: the crossing makes no cycle and crosses no part"
    assert module.removesuffix(".py").replace("/", ".") in said
    assert crossing.removeprefix("import ") in said


def test_a_circular_import_inside_a_part_breaks_the_contract(checkout: Path) -> None:
    path = checkout / "mock_esd_sync" / "records.py"  # records is below rules; rules imports records
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\nimport mock_esd_sync.rules  # planted by the test\n", encoding="utf-8")
    try:
        result = lint_imports(checkout)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no circular imports between the modules of a part BROKEN" in " ".join(result.stdout.split())
