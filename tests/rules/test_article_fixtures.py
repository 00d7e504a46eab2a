"""Replay every worked example shipped in fixtures/article: scenario, settings, expected groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_esd.district import scenario
from mock_esd_sync.settings import load_settings
from tests.world import STANDARD, World

CASES = sorted(p for p in (Path(__file__).parents[2] / "fixtures" / "article").iterdir() if p.is_dir())


def test_there_are_the_article_s_four_examples() -> None:
    assert len(CASES) == 4


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_example_gives_its_expected_groups(case: Path, tmp_path: Path) -> None:
    store = scenario.build_store(scenario.read_file(case / "scenario.yaml"))
    world = World(store.snapshot(), tmp_path / "operoo.db")
    steps = [case / "settings.toml"] + ([case / "then.settings.toml"] if (case / "then.settings.toml").exists() else [])
    for step in steps:
        settings = load_settings(step)
        report = world.sync(settings, **({} if settings.custom_endpoints else {"client": STANDARD}))
        assert report.status == "applied", report.errors
    assert world.export()["groups"] == json.loads((case / "expected-groups.json").read_text())
