"""-v/-q/--log-level: the level each combination means, and a command leaves logging as it found it."""

from __future__ import annotations

import logging

import click
import pytest
from click.testing import CliRunner

from mock_esd_workbench.cli_support import chatty, log_level, log_options


@pytest.mark.parametrize(
    ("verbose", "quiet", "named", "level"),
    [
        (0, 0, None, logging.INFO),
        (1, 0, None, logging.DEBUG),
        (3, 0, None, logging.DEBUG),
        (0, 1, None, logging.WARNING),
        (0, 2, None, logging.ERROR),
        (0, 9, None, logging.CRITICAL),
        (2, 0, "error", logging.ERROR),  # --log-level wins over -v and -q
        (0, 0, "DEBUG", logging.DEBUG),
    ],
)
def test_verbosity_means_a_level(verbose: int, quiet: int, named: str | None, level: int) -> None:
    assert log_level(verbose, quiet, named) == level


def test_a_command_logs_at_its_level_to_stderr_and_restores_logging_after() -> None:
    @click.command()
    @log_options
    def talk() -> None:
        click.echo(f"chatty={chatty()}")
        logging.getLogger("mock_esd.test").info("an info line")
        logging.getLogger("mock_esd.test").warning("a \x1b[31mred\x1b[0m warning")

    root = logging.getLogger()
    before = root.level, list(root.handlers)
    loud = CliRunner().invoke(talk, [])
    assert "chatty=True" in loud.stdout
    assert loud.stderr.splitlines() == ["INFO mock_esd.test: an info line", "WARNING mock_esd.test: a red warning"]
    quiet = CliRunner().invoke(talk, ["-qq"])
    assert "chatty=False" in quiet.stdout and quiet.stderr == ""
    assert (root.level, list(root.handlers)) == before
