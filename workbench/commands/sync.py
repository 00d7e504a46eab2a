"""`mock-esd sync`: read an eSD server, apply the rules R1-R11, keep the state in SQLite; a thin command over the
sync core (`mock_esd_sync.run`). `execute_sync` is the demo's way in too."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import tomli_w

from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES
from mock_esd_contracts.connection import DEFAULT_CONNECTION, Connection, open_session
from mock_esd_sync.client import EsdClient, RetryPolicy
from mock_esd_sync.errors import BusyError, SyncError, TooLargeError
from mock_esd_sync.export import group_sizes
from mock_esd_sync.html_report import write_report
from mock_esd_sync.report import plan_listing
from mock_esd_sync.run import Outcome, Report, run_sync, utc_now, write_json
from mock_esd_sync.settings import Settings, load_settings
from mock_esd_sync.store import (
    building_names,
    check_directory_writable,
    check_writable,
    connect,
    mark_interrupted,
    sync_lock,
)  # fmt: skip
from mock_esd_workbench.cli_support import (
    EXIT_FAILED,
    connection_options,
    error,
    log_options,
    max_response_option,
    one_line_errors,
    warn,
)
from mock_esd_workbench.terminal import DEFAULT_INTERVAL, Progress, change_table, group_table


def execute_sync(
    url: str, client_id: str, client_secret: str, settings: Settings, db: str, *,
    dry_run: bool = False, allow_mass_removal: bool = False, progress: Progress | None = None, full: bool = False,
    html_report: str | None = None, connection: Connection = DEFAULT_CONNECTION,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> tuple[Report, dict[str, str], list[tuple[str, str | None, int]]]:  # fmt: skip
    """Run one sync; returns the report, school names and the group sizes afterwards (and writes `html_report`).

    The server is reached as `connection` says (a CA bundle, or no certificate check; the timeout).

    Every check that needs no data comes first: the directories of --db and --report, then the token
    (a wrong URL or wrong credentials create no file), then the lock and the database's writability.
    The lock is held for the whole run; runs a killed process left `running` are marked interrupted.
    """
    check_directory_writable(db, "--db")
    if html_report:
        check_directory_writable(html_report, "--report")
    with open_session(connection) as session:
        retry = RetryPolicy(timeout=connection.timeout)
        client = EsdClient(
            session, url, client_id, client_secret, retry=retry, progress=progress,
            max_response_bytes=max_response_bytes,
        )  # fmt: skip
        client.authenticate()
        with sync_lock(db):
            return _locked_sync(client, settings, db, dry_run, allow_mass_removal, progress, full, html_report)


def _locked_sync(
    client: EsdClient, settings: Settings, db: str, dry_run: bool, allow_mass_removal: bool,
    progress: Progress | None, full: bool, html_report: str | None,
) -> tuple[Report, dict[str, str], list[tuple[str, str | None, int]]]:  # fmt: skip
    conn = connect(db)
    try:
        check_writable(conn, db)
        for run_id, started in mark_interrupted(conn, utc_now()):
            warn(f"run {run_id} (started {started}) never finished, its process was stopped; marked interrupted")
        report = run_sync(
            client, settings, conn, dry_run=dry_run, allow_mass_removal=allow_mass_removal, full=full,
            on_apply=(lambda: progress.say("applying")) if progress else None,
        )  # fmt: skip
        names = building_names(conn)
        if html_report:
            write_report(html_report, report, conn)
        return report, names, group_sizes(conn)
    finally:
        conn.close()


@click.command()
@click.option("--url", envvar="ESD_URL", required=True, help="eSD base URL, e.g. https://guru.eschooldata.com/api")
@click.option("--client-id", envvar="ESD_CLIENT_ID", required=True)
@click.option("--client-secret", envvar="ESD_CLIENT_SECRET", required=True)
@click.option(
    "--settings",
    "settings_path",
    required=True,
    type=click.Path(),  # not dir_okay=False: a directory is refused in one line with the others (load_settings)
    help='Settings TOML (the README\'s "Sync"; the rules it drives: `mock-esd rules`).',
)
@click.option("--db", default="operoo.db", show_default=True, type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print only the sync report, as JSON.")
@click.option(
    "--allow-mass-removal", is_flag=True, allow_from_autoenv=False,  # a guard lifted per run, never by a forgotten variable
    help="Apply even if more than max_archive_share would be archived (no environment variable: say it each time).",
)  # fmt: skip
@click.option(
    "--full",
    is_flag=True,
    help="Decide every student and contact again, even those whose eSD records did not change since the last "
    "applied sync (by default only the changed ones are), and plan even if eSD answered exactly as then.",
)
@click.option(
    "--report",
    "html_report",
    type=click.Path(dir_okay=False),
    help="Also write an HTML report of the run to this file.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0.01),
    default=DEFAULT_INTERVAL,
    show_default=True,
    help="When stderr is not a terminal, write a progress line this often (seconds).",
)
@connection_options
@max_response_option
@log_options
@one_line_errors(SyncError, failed=(BusyError, TooLargeError))  # an answer too large aborts the sync (R11)
def sync(
    url: str,
    client_id: str,
    client_secret: str,
    settings_path: str,
    db: str,
    dry_run: bool,
    as_json: bool,
    allow_mass_removal: bool,
    full: bool,
    html_report: str | None,
    progress_every: float,
    connection: Connection,
    max_response_bytes: int,
) -> None:
    """Sync students and contacts from an eSD server into the Operoo state database."""
    settings = load_settings(settings_path)
    with Progress(live=None if not as_json else False, interval=progress_every) as progress:
        report, names, sizes = execute_sync(
            url, client_id, client_secret, settings, db,
            dry_run=dry_run, allow_mass_removal=allow_mass_removal, progress=progress, full=full,
            html_report=html_report, connection=connection, max_response_bytes=max_response_bytes,
        )  # fmt: skip
    if as_json:
        write_json(report, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        if report.ok:
            progress.say("done")
        for reason in report.errors:  # first, where a script or a person looks for why
            error(reason)
        if (report.plan and not report.ok) or dry_run:
            click.echo(plan_listing(report.plan) if report.plan else "")
        click.echo(change_table(report, with_errors=False))
        if report.status == Outcome.APPLIED:
            click.echo(group_table(sizes, names))
    if not report.ok:
        sys.exit(EXIT_FAILED)


def settings_file_text(settings: Settings) -> str:
    """Settings as the TOML a user would write (for the demo's settings file): `load_settings` reads it back."""
    return tomli_w.dumps(settings.as_json())


def write_settings(path: Path, settings: Settings) -> None:
    path.write_text(settings_file_text(settings), encoding="utf-8")
