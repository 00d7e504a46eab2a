"""The Python API says what it takes: every public method of what a test is handed has a docstring, and the
QA overview's table of `ControlClient` methods (docs/qa/index.md) lists each one, with an example that names it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from mock_esd import ControlClient, Districts, EsdDistrict, mock_district

QA_PAGE = Path(__file__).parents[2] / "docs" / "qa" / "index.md"


def public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    }


@pytest.mark.parametrize("cls", [ControlClient, mock_district, Districts, EsdDistrict])
def test_every_public_method_says_what_it_takes_and_gives(cls: type) -> None:
    assert inspect.getdoc(cls), f"{cls.__name__} has no docstring"
    undocumented = [name for name, member in public_methods(cls).items() if not inspect.getdoc(member)]
    assert undocumented == [], f"{cls.__name__}: no docstring on {undocumented}"


def test_the_qa_page_s_table_lists_every_control_client_method_with_its_example() -> None:
    rows = dict(re.findall(r"^ *\| `(\w+)` \| `([^`]*esd\.control\.[^`]*)`", QA_PAGE.read_text(encoding="utf-8"), re.M))
    assert set(rows) == set(public_methods(ControlClient))
    for name, example in rows.items():
        assert f".{name}(" in example, f"docs/qa/index.md's example of {name} does not call it: {example}"
