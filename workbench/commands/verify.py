"""`mock-esd verify`: one command that says whether a server keeps the contract, and what breaks."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from mock_esd_contracts import verifier
from mock_esd_contracts.checks import CHECKS
from mock_esd_contracts.connection import Connection, open_session
from mock_esd_contracts.errors import CannotRun, ContractError
from mock_esd_contracts.html_report import Run, write_html
from mock_esd_contracts.probe import Target
from mock_esd_contracts.verifier import Result, failed, json_report, junit_report, text_report
from mock_esd_workbench.cli_support import (
    EXIT_FAILED,
    connection_options,
    fail,
    interrupt_exit,
    interrupted_by,
    log_options,
    max_response_option,
    one_line_errors,
    sigterm_interrupts,
)
from mock_esd_workbench.terminal import Progress


@click.command()
@click.option("--url", envvar="ESD_URL", required=True, help="Base URL of the server, e.g. https://host/api")
@click.option("--client-id", envvar="ESD_CLIENT_ID", required=True, help="A client with the custom endpoints")
@click.option("--client-secret", envvar="ESD_CLIENT_SECRET", required=True)
@click.option("--client-id-standard", help="A client without the custom endpoints: checks they answer 403.")
@click.option("--client-secret-standard")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Also write a JUnit XML report here.")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False),
    help="Also write a report to send on here: one HTML page, every check with its reasons and evidence.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--max-pages", type=click.IntRange(min=1), help="Read only the first N pages of each listing.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--strict", is_flag=True, help="Warnings (data the sync skips or treats specially) fail too.")
@connection_options
@max_response_option
@log_options
@one_line_errors(ContractError)
def verify(
    url: str, client_id: str, client_secret: str, client_id_standard: str | None, client_secret_standard: str | None,
    junit_path: str | None, html_path: str | None, as_json: bool, max_pages: int | None, page_size: int,
    strict: bool, connection: Connection, max_response_bytes: int,
) -> None:  # fmt: skip
    """Check an eSD-compatible server against the contract (exit 0 all pass or warn, 1 a check failed, 2 cannot run).

    A server that cannot be judged (unreachable, refused, TLS, timeout, no token) is one line on stderr and
    exit 2; --junit, --html and --json are still written, saying why. Ctrl+C or SIGTERM stops it with one line,
    exit 130 or 143 (128 + the signal), the reports written with the checks done so far.
    """
    if (client_id_standard is None) != (client_secret_standard is None):
        raise click.UsageError("give both --client-id-standard and --client-secret-standard, or neither")
    for option, path in (("--junit", junit_path), ("--html", html_path)):
        if path and not Path(path).absolute().parent.is_dir():
            fail(f"{option} {path!r}: directory {str(Path(path).absolute().parent)!r} does not exist")
    target = Target(
        url, client_id, client_secret, client_id_standard, client_secret_standard, max_pages, page_size,
        max_response_bytes,
    )  # fmt: skip
    run = Run(target, strict, started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    done: list[Result] = []
    try:
        with sigterm_interrupts(), Progress() as progress, open_session(connection) as session:
            # a bar on a terminal; elsewhere a line
            try:
                verifier.verify(
                    target, session, connection=connection, on_result=done.append,
                    on_check=lambda name, n, total: progress.step("checking", n - 1, total, name),
                )  # fmt: skip
            except CannotRun as exc:
                _write_reports(done, Run(target, strict, run.started, stopped=str(exc)), junit_path, html_path, as_json)
                raise
            progress.step("checking", len(done), len(done), "done")
    except KeyboardInterrupt as exc:
        line = f"{interrupted_by(exc)} after {len(done)} of {len(CHECKS)} checks; the server was not judged"
        _write_reports(done, Run(target, strict, run.started, stopped=line), junit_path, html_path, as_json)
        fail(line, interrupt_exit(exc))
    _write_reports(done, run, junit_path, html_path)
    click.echo(json.dumps(json_report(done, target, strict), indent=2) if as_json else text_report(done, target))
    if failed(done, strict):
        sys.exit(EXIT_FAILED)


def _write_reports(
    results: list[Result], run: Run, junit_path: str | None, html_path: str | None, as_json: bool = False
) -> None:
    """The --junit and --html files; for a run that stopped (`run.stopped`), the --json report on stdout too."""
    if junit_path:
        Path(junit_path).write_bytes(junit_report(results, run.strict, stopped=run.stopped))
    if html_path:
        write_html(html_path, results, run)
    if as_json and run.stopped:
        click.echo(json.dumps(json_report(results, run.target, run.strict, stopped=run.stopped), indent=2))
