"""docs/architecture.md cannot drift from the code: every file it names exists, and every import-linter
contract is named on it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_path_the_page_names_exists() -> None:
    named = set(re.findall(r"`((?:mock_esd|sync|contracts|workbench|tests|docs)/[\w/.<>-]*)`", PAGE))
    assert len(named) > 40, "the page names the files each change touches"
    missing = sorted(p for p in named if "<" not in p and not (ROOT / p).exists())
    assert missing == [], f"docs/architecture.md names files that do not exist: {missing}"


def test_every_import_contract_is_on_the_page() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
        "contracts"
    ]
    assert {c["id"] for c in contracts} == set(re.findall(r"^\| `([\w-]+)` \|", PAGE, re.MULTILINE))
