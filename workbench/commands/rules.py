"""`mock-esd rules`: the sync rules R1-R11, one line each (the text of docs/rules.md)."""

from __future__ import annotations

import click

from mock_esd_sync.rulebook import RULES
from mock_esd_workbench.cli_support import log_options


@click.command()
@log_options
def rules() -> None:
    """Print the sync rules R1-R11, one line each (the same text as docs/rules.md)."""
    for rule in RULES:
        click.echo(f"{rule.id} {rule.name}: {rule.statement}")
