"""The rules document users read says what the registry says, and the commands point to it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mock_esd_sync.rulebook import RULES
from tests.layout import FOLDERS

ROOT = Path(__file__).resolve().parents[2]


def documented_rules() -> list[tuple[str, str, str]]:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    return re.findall(r"^## (R\d+) (.+)\n\n> (.+)$", text, re.MULTILINE)


def test_docs_rules_md_states_every_rule_as_the_registry_does() -> None:
    assert documented_rules() == [(r.id, r.name, r.statement) for r in RULES]


def test_the_registry_numbers_its_rules_r1_to_r11_in_order() -> None:
    assert [r.id for r in RULES] == [f"R{n}" for n in range(1, 12)]
    assert all(str(r) == r.id for r in RULES)


def test_mock_esd_rules_prints_the_registry_and_help_points_to_it() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "mock_esd", "rules"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert printed == [f"{r.id} {r.name}: {r.statement}" for r in RULES]
    helped = subprocess.run(
        [sys.executable, "-m", "mock_esd", "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "mock-esd rules" in helped and "docs/rules.md" in helped


def test_the_readme_links_the_rules_and_cites_no_document_users_lack() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/rules.md)" in readme
    shipped = [readme, *(p.read_text(encoding="utf-8") for folder in FOLDERS.values() for p in folder.rglob("*.py"))]
    assert not [text[:60] for text in shipped if "SPEC section" in text]
