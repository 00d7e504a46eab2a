"""The README's "Install" section names exactly the extras pyproject.toml declares: each a user installs has
its row (what it brings, its measured size), and this repository's own are named as such."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.installs import PYPROJECT, REPO_EXTRAS, USER_EXTRAS

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"\| `pip install (?:mock-esd|'mock-esd\[(?P<extra>[^\]]+)\]')` \| [^|]+ \| \d+ MB \| \d+ \|")


def install_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Install\n" in readme, "README.md has no Install section"
    return readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]


def test_the_install_table_has_a_row_for_the_base_and_each_user_extra() -> None:
    rows = [line for line in install_section().splitlines() if line.startswith("| `pip install")]
    matches = [ROW.fullmatch(row) for row in rows]
    assert all(matches), [row for row, match in zip(rows, matches, strict=True) if not match]
    assert [m["extra"] for m in matches if m] == [None, *USER_EXTRAS]


def test_the_repository_s_own_extras_are_named_as_such() -> None:
    declared = set(PYPROJECT["project"]["optional-dependencies"])
    own = re.search(r"This repository's own extras are ([^.]+)\.", install_section())
    assert own is not None
    named = re.findall(r"`([a-z-]+)`", re.sub(r"\([^)]*\)", "", own[1]))  # not the extras they bring, in brackets
    assert set(named) == declared & REPO_EXTRAS
