"""`mock-esd explain`: why a student is or is not synced, rule by rule, replayed from a database."""

from __future__ import annotations

import click

from mock_esd_sync.errors import SyncError
from mock_esd_sync.explanation import explain as explain_student
from mock_esd_sync.store import open_existing
from mock_esd_workbench.cli_support import log_options, one_line_errors


@click.command()
@click.option("--db", default="operoo.db", show_default=True, type=click.Path(dir_okay=False))
@click.argument("ident")
@log_options
@one_line_errors(SyncError)
def explain(db: str, ident: str) -> None:
    """Say why a student (Operoo ID, eSD enrolledId or person id) is or is not synced, rule by rule."""
    conn = open_existing(db)
    try:
        click.echo("\n".join(explain_student(conn, ident)))
    finally:
        conn.close()
