"""The settings file the demo writes (by tomli-w) is one `mock-esd sync --settings` reads back unchanged; a file that
is no settings file (nested 5,000 deep, /dev/zero, a directory, unreadable) is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mock_esd_sync import vocabulary as o
from mock_esd_sync.settings import MAX_SETTINGS_BYTES, ContactSettings, Settings, load_settings
from mock_esd_workbench.cli import main
from mock_esd_workbench.commands.sync import write_settings
from tests.hostile import report, run_capped


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


# ----- what is not a settings file: one line and exit 2, never a traceback --------------------------------


NOT_SETTINGS = {
    "nested 5,000 deep": ("a = " + "[" * 5000 + "]" * 5000, "nests arrays or tables too deeply"),
    "inline tables 5,000 deep": ("a = " + "{b = " * 5000 + "1" + "}" * 5000, "nests arrays or tables too deeply"),
    "not UTF-8": ("\udcff", "is not valid TOML: not UTF-8 text"),
    "over the size limit": ("# " + "x" * MAX_SETTINGS_BYTES, f"is larger than {MAX_SETTINGS_BYTES} bytes"),
}


def _sync(settings: str, tmp_path: Path) -> Result:
    return CliRunner().invoke(
        main,
        ["sync", "--url", "http://127.0.0.1:9/api", "--client-id", "a", "--client-secret", "b",
         "--settings", settings, "--db", str(tmp_path / "o.db")],
    )  # fmt: skip


@pytest.mark.parametrize("case", sorted(NOT_SETTINGS))
def test_a_file_that_is_no_settings_file_is_one_line(case: str, tmp_path: Path) -> None:
    text, words = NOT_SETTINGS[case]
    path = tmp_path / "settings.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    done = _sync(str(path), tmp_path)
    assert done.exit_code == 2 and isinstance(done.exception, SystemExit), done.exception
    assert done.stderr.startswith(f"mock-esd: error: settings file {path} {words}"), done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "o.db").exists()


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("/dev/zero", f"is larger than {MAX_SETTINGS_BYTES} bytes"),  # read whole before: until memory ran out
        ("/proc/self/mem", "cannot be read: Input/output error"),  # unreadable even to root
        ("{tmp}", "is a directory; give the TOML file in it"),
        ("{tmp}/nowhere.toml", "does not exist"),
    ],
)
def test_a_path_that_is_no_settings_file_is_one_line(where: str, words: str, tmp_path: Path) -> None:
    path = where.format(tmp=tmp_path)
    done = _sync(path, tmp_path)
    assert done.exit_code == 2, done.stderr
    assert done.stderr.startswith(f"mock-esd: error: settings file {path} {words}"), done.stderr
    assert done.stderr.count("\n") == 1


def test_dev_zero_is_read_no_further_than_the_limit_under_a_memory_cap(tmp_path: Path) -> None:
    run = run_capped("sync", "--url", "http://127.0.0.1:9/api", "--client-id", "a", "--client-secret", "b",
                     "--settings", "/dev/zero", "--db", str(tmp_path / "o.db"), timeout=60)  # fmt: skip
    report("sync --settings /dev/zero", run)
    assert run.returncode == 2 and run.stderr.startswith("mock-esd: error: settings file /dev/zero is larger"), run
    assert run.peak_mb < 300, run
