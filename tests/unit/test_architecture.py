"""The walls between the parts hold: import-linter's contracts pass, and fail on a new crossing or cycle.
And no module or class of the packages grows past its size (a long one is two things living together)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
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


CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
}


def verdicts(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each contract's verdict by id, KEPT or BROKEN, as lint-imports printed it (its lines wrap)."""
    text = " ".join(result.stdout.split())
    found = {}
    for contract_id, name in CONTRACTS.items():
        match = re.search(re.escape(" ".join(name.split())) + r" (KEPT|BROKEN)", text)
        assert match is not None, f"no verdict for {name!r} in: {result.stdout}{result.stderr}"
        found[contract_id] = match.group(1)
    return found


def planted(checkout: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """lint-imports on the checkout with `line` added to `module`, which is put back afterwards."""
    path = checkout / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{line}  # planted by the test\n", encoding="utf-8")
    try:
        return lint_imports(checkout)
    finally:
        path.write_text(original, encoding="utf-8")


def test_every_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(verdicts(result).values()) == {"KEPT"}
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "crossing", "broken"),
    [
        ("mock_esd_sync/rules.py", "import mock_esd.district.store", {"layers"}),  # the sync reaching into the mock
        ("mock_esd/district/browse.py", "import mock_esd_sync.rules", {"layers"}),  # the mock reaching into the sync
        ("mock_esd_contracts/probe.py", "import mock_esd.server.app", {"layers"}),  # the contract above the bottom
        ("mock_esd/district/store.py", "import mock_esd_workbench.cli", {"layers"}),  # a part importing the top
        ("mock_esd/district/store.py", "import mock_esd.http.api", {"mock-rooms"}),  # the district reaching into HTTP
        ("mock_esd/qa/faults.py", "import mock_esd.state.mock_state", {"mock-rooms"}),  # a QA tool above its room
        ("mock_esd/errors.py", "import mock_esd.limits", {"mock-rooms"}),  # the foundation importing upward
    ],
)
def test_a_new_crossing_breaks_its_contract(checkout: Path, module: str, crossing: str, broken: set[str]) -> None:
    result = planted(checkout, module, crossing)
    assert result.returncode == 1, result.stdout + result.stderr
    found = verdicts(result)
    found.pop("no-cycles")  # an import upward usually closes a cycle too
    assert found == {c: "BROKEN" if c in broken else "KEPT" for c in found}  # the other walls still stand
    assert module.removesuffix(".py").replace("/", ".") in result.stdout  # the report names the importer


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
    result = planted(checkout, module, crossing)
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stdout.split())
    assert verdicts(result) == {c: "BROKEN" if c == "sync-pure-core" else "KEPT" for c in CONTRACTS}, (
        "only this contract: the crossing makes no cycle and crosses no part"
    )
    assert module.removesuffix(".py").replace("/", ".") in said
    assert crossing.removeprefix("import ") in said


def test_a_circular_import_inside_a_part_breaks_the_contract(checkout: Path) -> None:
    result = planted(checkout, "mock_esd_sync/records.py", "import mock_esd_sync.rules")  # rules imports records
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result)["no-cycles"] == "BROKEN"


# ----- sizes: a long module or class is a sign that two things live in it (STYLE.md "Size and comments") -----

MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 400


def oversized(path: Path, name: str) -> list[str]:
    """What is too long in one module (named `name` in the report): the module itself, and each class, nested ones too."""
    source = path.read_text(encoding="utf-8")
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES} a module)")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.ClassDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_CLASS_LINES:
                found.append(
                    f"{name}:{node.lineno} class {node.name}: {length} lines (at most {MAX_CLASS_LINES} a class)"
                )
    return found


def test_no_module_or_class_in_the_packages_is_too_long() -> None:
    modules = [
        (path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        for folder in FOLDERS.values()
        for path in sorted(folder.rglob("*.py"))
        if "__pycache__" not in path.parts
    ]
    assert len(modules) > 50, "the four packages' modules were not found"
    too_long = [problem for path, name in modules for problem in oversized(path, name)]
    assert not too_long, "too long, split it:\n" + "\n".join(too_long)


def test_a_module_or_class_over_the_limit_is_named(tmp_path: Path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_CLASS_LINES))  # a class of one line more than allowed
    module = tmp_path / "long.py"
    module.write_text(
        f"class Outer:\n    class Inner:\n    {body.replace(chr(10), chr(10) + '    ')}\n", encoding="utf-8"
    )
    assert [p.split(": ", 1)[0] for p in oversized(module, "long.py")] == [
        "long.py:1 class Outer",
        "long.py:2 class Inner",
    ]
    module.write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    assert oversized(module, "long.py") == [
        f"long.py: {MAX_MODULE_LINES + 1} lines (at most {MAX_MODULE_LINES} a module)"
    ]
    module.write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    assert oversized(module, "long.py") == []
