"""`mock-esd export`: the Operoo state of a database as JSON, sorted for stable diffs."""

from __future__ import annotations

import click

from mock_esd_sync.errors import SyncError
from mock_esd_sync.export import export_state
from mock_esd_sync.store import open_existing
from mock_esd_workbench.cli_support import log_options, one_line_errors, print_json


@click.command()
@click.option("--db", default="operoo.db", show_default=True, type=click.Path(dir_okay=False))
@log_options
@one_line_errors(SyncError)
def export(db: str) -> None:
    """Print the Operoo state as JSON, sorted for stable diffs."""
    conn = open_existing(db)
    try:
        print_json(export_state(conn))
    finally:
        conn.close()
