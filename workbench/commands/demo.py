"""`mock-esd demo`: the main job in one command, for a developer's first minute with the project."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import click

from mock_esd_contracts import vocabulary as esd
from mock_esd_sync import vocabulary as o
from mock_esd_sync.errors import SyncError
from mock_esd_sync.settings import Settings
from mock_esd_workbench.cli_support import (
    EXIT_FAILED,
    error,
    fail,
    invocation,
    log_options,
    needs_extra,
    one_line_errors,
)
from mock_esd_workbench.commands.sync import execute_sync, write_settings
from mock_esd_workbench.terminal import Progress, change_table, group_table


def demo_settings(schools: list[dict[str, object]]) -> Settings:
    """Custom endpoints on; every regular school with Enrolled and Future; the holding school with Pre-Enrolled."""
    options = {
        str(s["id"]): frozenset({o.Option.PRE_ENROLLED})
        if s["isHoldingSchool"]
        else frozenset({o.Option.ENROLLED, o.Option.FUTURE})
        for s in schools
    }
    return Settings(custom_endpoints=True, schools=options)


def run_report_path(db: str, run_id: int | None) -> Path | None:
    """Where the demo keeps the report of run `run_id` (`operoo.run-3.report.html` beside `operoo.db`)."""
    return None if run_id is None else Path(db).with_suffix(f".run-{run_id}.report.html")


def run_demo(db: str, seed: int, students: int, keep_serving: bool) -> bool:
    """Serve a district, sync it into `db`, print what happened and what to try next."""
    from mock_esd.district.generator import DistrictSpec
    from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
    from mock_esd.server.app import create_app  # here, not above: `mock-esd --help` must not import the server
    from mock_esd.server.live import LiveServer
    from mock_esd.state.config import AppConfig
    from mock_esd_workbench.browser import with_rule_paths

    with Progress() as progress:
        progress.say(f"generating a district of {students} students (seed {seed})")
        app = create_app(with_rule_paths(AppConfig(spec=DistrictSpec(seed=seed, students=students))))
        store = app.extensions["mock_esd"].registry.store(DEFAULT_TENANT)
        settings = demo_settings(store.schools().records)
        settings_path = Path(db).with_suffix(".settings.toml")
        report_path = Path(db).with_suffix(".report.html")
        progress.say(f"writing the sync settings to {settings_path}")
        write_settings(settings_path, settings)
    custom, _ = default_clients(DEFAULT_TENANT)
    with LiveServer(app) as server:
        click.echo(f"mock eSD serving {students} students (seed {seed}) at {server.base_url}")
        click.echo(f"syncing with custom endpoints on, settings in {settings_path}, into {db}")
        with Progress() as progress:
            report, names, sizes = execute_sync(
                server.base_url, custom.client_id, custom.secret, settings, db, progress=progress,
                html_report=str(report_path),
            )  # fmt: skip
            kept = run_report_path(db, report.run_id)
            if kept is not None:  # the next run rewrites report_path; each run's own copy stays
                progress.say(f"keeping this run's report as {kept}")
                shutil.copyfile(report_path, kept)
        for reason in report.errors:  # on stderr first, as `mock-esd sync` says them
            error(reason)
        click.echo(change_table(report, with_errors=False))
        if report.ok:
            click.echo(group_table(sizes, names))
        applicants = (s for s in store.operoo_students().records if s["enrolledId"] is None)
        sample = next(
            (f"student-operoo-{s['id']}" for s in applicants if s["studentStatus"] == esd.Status.PRE_ENROLLED), None
        )
        sample = sample or next(
            (str(s["enrolledId"]) for s in store.students().records), "1"
        )  # no applicant: an eSD ID
        me, q = invocation(), shlex.quote
        serving = keep_serving and report.ok  # the mock stays where it is: the hints name its port, not :8080
        hints = [
            (f"open {report_path} in a browser", "this sync's report: groups, changes, find a student"),
            *([(f"open {kept} in a browser", "the same, kept when the demo runs again")] if kept else []),
            (f"{me} export --db {q(db)}", "the Operoo state as JSON"),
            (f"{me} explain --db {q(db)} {sample}", "why a student is (or is not) synced"),
        ]
        if not serving:  # serving, the sync below reaches this very server
            hints.append(
                (f"{me} serve --seed {seed} --students {students}", "serve it on :8080 (browser view: /guru/), then")
            )
        url = server.base_url if serving else "http://127.0.0.1:8080/api"
        width = max(len(command) for command, _ in hints)
        click.echo("\nNext:\n" + "".join(f"  {command.ljust(width)}   # {why}\n" for command, why in hints), nl=False)
        click.echo(
            f"  {me} sync --url {url} --client-id {custom.client_id} \\\n"
            f"      --client-secret {custom.secret} --settings {q(str(settings_path))} --db {q(db)}"
        )
        if serving:
            click.echo(
                f"\nStill serving at {server.base_url}; browse the district at {server.root_url}/guru/; Ctrl+C stops."
            )
            try:
                server.wait()
            except KeyboardInterrupt:
                click.echo("stopped")
    return report.ok


@click.command()
@click.option("--db", default="operoo.db", show_default=True, type=click.Path(dir_okay=False))
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--students", type=click.IntRange(min=0), default=2000, show_default=True)
@click.option("--serve", "keep_serving", is_flag=True, help="Keep the mock running after the sync, until Ctrl+C.")
@needs_extra("server")
@log_options
@one_line_errors(SyncError)
def demo(db: str, seed: int, students: int, keep_serving: bool) -> None:
    """Start the mock on a free port, sync its district into a SQLite file, print the groups."""
    if not run_demo(db, seed, students, keep_serving):
        fail("the demo sync did not apply; see above", EXIT_FAILED)
