"""`mock-esd verify`: one command that says whether a server keeps the contract, and what breaks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mock_esd_contracts.errors import ContractError
from mock_esd_contracts.probe import Target
from mock_esd_contracts.verifier import failed, json_report, junit_report, text_report, verify
from mock_esd_workbench.cli_support import EXIT_FAILED, log_options, max_response_option, one_line_errors
from mock_esd_workbench.terminal import Progress


@click.command()
@click.option("--url", envvar="ESD_URL", required=True, help="Base URL of the server, e.g. https://host/api")
@click.option("--client-id", envvar="ESD_CLIENT_ID", required=True, help="A client with the custom endpoints")
@click.option("--client-secret", envvar="ESD_CLIENT_SECRET", required=True)
@click.option("--client-id-standard", help="A client without the custom endpoints: checks they answer 403.")
@click.option("--client-secret-standard")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Also write a JUnit XML report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--max-pages", type=click.IntRange(min=1), help="Read only the first N pages of each listing.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--strict", is_flag=True, help="Warnings (data the sync skips or treats specially) fail too.")
@max_response_option
@log_options
@one_line_errors(ContractError)
def verify_command(
    url: str, client_id: str, client_secret: str, client_id_standard: str | None, client_secret_standard: str | None,
    junit_path: str | None, as_json: bool, max_pages: int | None, page_size: int, strict: bool,
    max_response_bytes: int,
) -> None:  # fmt: skip
    """Check an eSD-compatible server against the contract (exit 0 all pass or warn, 1 a check failed, 2 cannot run)."""
    if (client_id_standard is None) != (client_secret_standard is None):
        raise click.UsageError("give both --client-id-standard and --client-secret-standard, or neither")
    target = Target(
        url, client_id, client_secret, client_id_standard, client_secret_standard, max_pages, page_size,
        max_response_bytes,
    )  # fmt: skip
    with Progress() as progress:  # a bar on a terminal; elsewhere a line when done, and the check that stalls
        results = verify(target, on_check=lambda name, n, total: progress.step("checking", n - 1, total, name))
        progress.step("checking", len(results), len(results), "done")
    if junit_path:
        Path(junit_path).write_bytes(junit_report(results, strict))
    click.echo(json.dumps(json_report(results, target, strict), indent=2) if as_json else text_report(results, target))
    if failed(results, strict):
        sys.exit(EXIT_FAILED)


verify_command.name = "verify"
