"""The settings file the demo writes (by tomli-w) is one `mock-esd sync --settings` reads back unchanged."""

from __future__ import annotations

from pathlib import Path

from mock_esd_sync import vocabulary as o
from mock_esd_sync.settings import ContactSettings, Settings, load_settings
from mock_esd_workbench.sync_commands import write_settings


def test_written_settings_read_back_the_same_even_with_quotes_in_a_school_id(tmp_path: Path) -> None:
    settings = Settings(
        custom_endpoints=True,
        schools={"0101": frozenset({o.Option.ENROLLED, o.Option.FUTURE}), 'St "Mary\'s"': frozenset({o.Option.FUTURE})},
        contacts=ContactSettings(relationships=frozenset({"Aunt", "Mother"}), max_priority=3),
        max_archive_share=0.25,
    )
    path = tmp_path / "operoo.settings.toml"
    write_settings(path, settings)
    assert load_settings(path) == settings
