"""`mock-esd sync`: read an eSD server, apply the rules R1-R11, keep the state in SQLite; a thin command over the
sync core (`mock_esd_sync.run`). `execute_sync` is the demo's way in too."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
import tomli_w

from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES
from mock_esd_contracts.connection import DEFAULT_CONNECTION, Connection, open_session
from mock_esd_sync.client import EsdClient, Fetch, RetryPolicy
from mock_esd_sync.errors import BusyError, FetchError, SyncError, TooLargeError, WriteError
from mock_esd_sync.export import group_sizes
from mock_esd_sync.html_report import report_size_bound, report_temp, reserve_report, write_report
from mock_esd_sync.plan import Plan
from mock_esd_sync.report import plan_listing
from mock_esd_sync.run import Outcome, Report, read_schools, run_sync, utc_now, write_json
from mock_esd_sync.settings import Settings, load_settings
from mock_esd_sync.store import (
    building_names,
    check_directory_writable,
    check_writable,
    connect,
    latest_run,
    mark_interrupted,
    sync_lock,
)  # fmt: skip
from mock_esd_workbench.cli_support import (
    EXIT_FAILED,
    connection_options,
    error,
    fail,
    interrupt_exit,
    interrupt_signal,
    interrupted_by,
    log_options,
    max_response_option,
    one_line_errors,
    sigterm_interrupts,
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
    (a wrong URL or wrong credentials create no file), then eSD's schools against the settings (R4: a
    school eSD does not list creates no file either), then the lock and the database's writability.
    The lock is held for the whole run; runs a killed process left `running` are marked interrupted.
    Room for the report is made before the apply: a disk too full for it stops the sync before it changes
    anything. Interrupted (Ctrl+C, SIGTERM), it raises `SyncInterrupted`, saying whether the sync had applied.
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
        schools = read_schools(client, settings)
        with sync_lock(db):
            try:
                return _locked_sync(
                    client, settings, db, dry_run, allow_mass_removal, progress, full, html_report, schools
                )
            finally:
                if html_report:
                    report_temp(html_report).unlink(missing_ok=True)  # the room made for a report never written


class SyncInterrupted(KeyboardInterrupt):
    """A sync stopped by Ctrl+C or SIGTERM (`signal`), and the run it applied first, if it had (`applied_run`)."""

    def __init__(self, interrupt: KeyboardInterrupt, applied_run: int | None) -> None:
        super().__init__(str(interrupt))
        self.signal, self.applied_run = interrupt_signal(interrupt), applied_run

    def line(self) -> str:
        """The one line a user reads."""
        by = interrupted_by(self)
        if self.applied_run is None:
            return f"{by}; nothing was changed"
        return f"{by} after the sync applied (run {self.applied_run}): the database holds the new state"


def _locked_sync(
    client: EsdClient, settings: Settings, db: str, dry_run: bool, allow_mass_removal: bool,
    progress: Progress | None, full: bool, html_report: str | None, schools: Fetch | FetchError,
) -> tuple[Report, dict[str, str], list[tuple[str, str | None, int]]]:  # fmt: skip
    conn = connect(db)
    try:
        check_writable(conn, db)
        for run_id, started in mark_interrupted(conn, utc_now()):
            warn(f"run {run_id} (started {started}) never finished, its process was stopped; marked interrupted")
        before = latest_run(conn)
        try:
            report = run_sync(
                client, settings, conn, dry_run=dry_run, allow_mass_removal=allow_mass_removal, full=full,
                on_apply=lambda plan: _before_apply(plan, conn, progress, html_report), schools=schools,
            )  # fmt: skip
            names = building_names(conn)
            if html_report:
                write_report(html_report, report, conn)
            return report, names, group_sizes(conn)
        except KeyboardInterrupt as exc:
            raise SyncInterrupted(exc, _applied_since(conn, before)) from None
    finally:
        conn.close()


def _before_apply(plan: Plan, conn: sqlite3.Connection, progress: Progress | None, html_report: str | None) -> None:
    """Make room for the report (StateError, and nothing applied, if there is none), then say the apply begins."""
    if html_report:
        reserve_report(html_report, report_size_bound(plan, conn))
    if progress:
        progress.say("applying")


def _applied_since(conn: sqlite3.Connection, before: tuple[int, str] | None) -> int | None:
    """The run applied since `before` was the last one, if any (the database, not the report, says so:
    an interrupt may come between the commit and the report)."""
    if conn.in_transaction:  # stopped inside the apply: what it wrote is not committed
        conn.execute("ROLLBACK")
    latest = latest_run(conn)
    if latest is None or (before is not None and latest[0] == before[0]) or latest[1] != Outcome.APPLIED:
        return None
    return latest[0]


@click.command()
@click.option("--url", envvar="ESD_URL", required=True, help="eSD base URL, e.g. https://guru.eschooldata.com/api")
@click.option("--client-id", envvar="ESD_CLIENT_ID", required=True)
@click.option("--client-secret", envvar="ESD_CLIENT_SECRET", required=True)
@click.option(
    "--settings",
    "settings_path",
    required=True,
    type=click.Path(),  # not dir_okay=False: a directory is refused in one line with the others (load_settings)
    help="Settings TOML (docs/developers/sync.md; the rules it drives: `mock-esd rules`).",
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
# An answer too large aborts the sync (R11); a database that cannot be written (a full disk) fails it: exit 1.
@one_line_errors(SyncError, failed=(BusyError, TooLargeError, WriteError))
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
    """Sync students and contacts from an eSD server into the Operoo state database.

    Ctrl+C or SIGTERM stops it with one line saying whether it had applied, exit 130 or 143 (128 + the signal).
    """
    settings = load_settings(settings_path)
    report: Report | None = None
    try:
        with sigterm_interrupts():
            with Progress(live=None if not as_json else False, interval=progress_every) as progress:
                report, names, sizes = execute_sync(
                    url, client_id, client_secret, settings, db,
                    dry_run=dry_run, allow_mass_removal=allow_mass_removal, progress=progress, full=full,
                    html_report=html_report, connection=connection, max_response_bytes=max_response_bytes,
                )  # fmt: skip
            _say(report, names, sizes, as_json, dry_run, progress)
    except KeyboardInterrupt as exc:
        if not isinstance(exc, SyncInterrupted):  # before the database was opened, or after the sync ended
            exc = SyncInterrupted(exc, report.run_id if report and report.status == Outcome.APPLIED else None)
        fail(exc.line(), interrupt_exit(exc))
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _say(
    report: Report, names: dict[str, str], sizes: list[tuple[str, str | None, int]], as_json: bool, dry_run: bool,
    progress: Progress,
) -> None:  # fmt: skip
    """What a sync prints when it ends: why it did not apply on stderr first (with --json too, where a script or a
    person looks for why), then the report (JSON, or the plan, the changes and the groups) on stdout."""
    for reason in report.errors:
        error(reason)
    if as_json:
        write_json(report, sys.stdout.buffer)
        sys.stdout.flush()
        return
    if report.ok:
        progress.say("done")
    if (report.plan and not report.ok) or dry_run:
        click.echo(plan_listing(report.plan) if report.plan else "")
    click.echo(change_table(report, with_errors=False))
    if report.status == Outcome.APPLIED:
        click.echo(group_table(sizes, names))


def settings_file_text(settings: Settings) -> str:
    """Settings as the TOML a user would write (for the demo's settings file): `load_settings` reads it back."""
    return tomli_w.dumps(settings.as_json())


def write_settings(path: Path, settings: Settings) -> None:
    path.write_text(settings_file_text(settings), encoding="utf-8")
