"""`mock-esd proxy`: stand between a client and an eSD server, check every answer against the contract, and
optionally record what passed as a scenario (`mock_esd_workbench.proxy_app` is the proxy itself)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from mock_esd_contracts.errors import ContractError
from mock_esd_workbench.cli_support import (
    EXIT_FAILED,
    esd_error,
    fail,
    log_options,
    max_response_option,
    needs_extra,
    one_line_errors,
    recording_error,
    stop_on_sigterm,
    warn,
)
from mock_esd_workbench.commands.record import (
    check_out_path,
    check_scrub_options,
    finish,
    scrub_options,
)


@click.command()
@click.option("--upstream", required=True, help="Base URL of the eSD server to forward to, e.g. https://host/api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True, help="0 picks a free port.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="At exit, write the checks as JUnit XML.")
@click.option(
    "--allowed-host", "allowed_hosts", multiple=True,
    help="Also answer requests naming this host (repeatable): a name for a proxy beyond loopback. Others get 421.",
)  # fmt: skip
@click.option(
    "--record", "record_path", type=click.Path(dir_okay=False), help="At exit, write what passed as a scenario."
)
@scrub_options
@max_response_option
@needs_extra("server")
@log_options
@one_line_errors(ContractError, recording_error, esd_error)
def proxy(
    upstream: str, host: str, port: int, junit_path: str | None, allowed_hosts: tuple[str, ...],
    record_path: str | None, scrub: bool, scrub_key: str | None, scrub_school_names: bool, today: dt.datetime | None,
    max_response_bytes: int,
) -> None:  # fmt: skip
    """Forward every request to --upstream unchanged, checking each answer against the contract.

    Each violation is printed as it happens; GET /_mock/violations lists them; Ctrl+C (or SIGTERM)
    prints a summary and writes --junit and --record. Exit 1 if any answer broke the contract.
    """
    from mock_esd_workbench.proxy_app import ProxyConfig, serve_proxy
    from mock_esd_workbench.recording import RecordingError

    path = check_out_path(record_path, "--record") if record_path else None
    if (scrub or scrub_key is not None or scrub_school_names or today is not None) and path is None:
        fail("--scrub, --scrub-key, --scrub-school-names and --today go with --record")
    check_scrub_options(scrub, scrub_key, scrub_school_names)
    if junit_path and not Path(junit_path).absolute().parent.is_dir():
        fail(f"--junit {junit_path!r}: directory {str(Path(junit_path).absolute().parent)!r} does not exist")
    stop_on_sigterm()
    config = ProxyConfig(
        upstream=upstream, host=host, port=port, record=path is not None, allowed_hosts=allowed_hosts,
        max_response_bytes=max_response_bytes,
    )  # fmt: skip
    journal = serve_proxy(config, on_violation=lambda line: click.echo(line), on_ready=lambda line: click.echo(line))
    click.echo(journal.summary())
    if junit_path:
        Path(junit_path).write_bytes(journal.junit())
    if path is not None:
        if journal.over_recording_limit:
            warn(
                f"--record kept listing pages up to max_recorded_bytes ({config.max_recorded_bytes} bytes) and no more"
            )
        day = today.date() if today else dt.datetime.now(dt.UTC).date()
        try:
            recording = journal.recording(day, "Recorded with mock-esd proxy" + ("" if scrub else f" from {upstream}"))
        except RecordingError as exc:
            fail(str(exc), EXIT_FAILED)
        finish(recording, path, scrub, scrub_key, scrub_school_names)
    if journal.violations():
        sys.exit(EXIT_FAILED)
