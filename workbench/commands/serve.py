"""`mock-esd serve`: a generated district (or a scenario file) on a port, until Ctrl+C or SIGTERM.

`district_options` and `describe_clients` are the demo's too.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from mock_esd.district import defaults
from mock_esd_workbench.cli_support import (
    ENVVAR_PREFIX,
    F,
    esd_error,
    interrupts_in_one_line,
    log_options,
    needs_extra,
    one_line_errors,
    stop_on_sigterm,
)

if TYPE_CHECKING:  # imported where used: `mock-esd --help` must not import the server (Flask, Faker, gunicorn)
    from flask import Flask

    from mock_esd.district.generator import DistrictSpec
    from mock_esd.district.tenants import Client
    from mock_esd.state.mock_state import MockState


def district_options(command: F) -> F:
    """--seed, --students, --schools, --today: what determines a generated district."""
    command = click.option(
        "--today",
        type=click.DateTime(["%Y-%m-%d"]),
        show_default=True,
        default=defaults.DEFAULT_TODAY.isoformat(),
        help="The district's reference date; every generated date derives from it.",
    )(command)
    command = click.option(
        "--schools", type=click.IntRange(min=2), default=defaults.DEFAULT_SCHOOLS, show_default=True
    )(command)
    command = click.option(
        "--students", type=click.IntRange(min=0), default=defaults.DEFAULT_STUDENTS, show_default=True
    )(command)
    return click.option("--seed", type=int, default=defaults.DEFAULT_SEED, show_default=True)(command)


def spec_from(seed: int, students: int, schools: int, today: dt.datetime) -> DistrictSpec:
    from mock_esd.district.generator import DistrictSpec

    return DistrictSpec(seed=seed, students=students, schools=schools, today=today.date())


def describe_clients(base_url: str, clients: list[Client]) -> str:
    """The lines `serve` and `demo` print: where the API is and who may call it."""
    lines = [f"eSD base URL: {base_url}"]
    for client in clients:
        kind = "custom endpoints ON " if client.custom_endpoints else "custom endpoints OFF"
        lines.append(
            f"  client ({kind}, tenant {client.tenant}): --client-id {client.client_id} --client-secret {client.secret}"
        )
    return "\n".join(lines)


@click.command(context_settings={"auto_envvar_prefix": ENVVAR_PREFIX})  # MOCK_ESD_PORT, not MOCK_ESD_SERVE_PORT
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port.")
@district_options
@click.option(
    "--scenario", "scenario_path", type=click.Path(dir_okay=False), help="Load a scenario file (YAML or JSON)."
)
@click.option("--no-control", is_flag=True, help="Turn off the /_mock test-control API.")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Serve with gunicorn and N worker processes sharing one district."
)
@click.option("--secret-key", help="Derive client secrets from this key (default: random when --host is not loopback).")
@click.option(
    "--allowed-host", "allowed_hosts", multiple=True,
    help="Also answer requests naming this host (repeatable): a name for a server beyond loopback. Others get 421.",
)  # fmt: skip
@click.option(
    "--show-personal-data", is_flag=True,
    help="Show students' and contacts' names, dates of birth, emails, addresses and phones in /guru/ to every "
    "machine that can reach this server (without it, only to requests from this machine).",
)  # fmt: skip
@needs_extra("server")
@log_options
@one_line_errors(esd_error)
@interrupts_in_one_line("the server had not started")  # once it serves, an interrupt ends in "stopped", exit 0
def serve(
    host: str, port: int, seed: int, students: int, schools: int, today: dt.datetime, scenario_path: str | None,
    no_control: bool, workers: int | None, secret_key: str | None, allowed_hosts: tuple[str, ...],
    show_personal_data: bool,
) -> None:  # fmt: skip
    """Serve a generated district (or a scenario) until interrupted (Ctrl+C or SIGTERM: exit 0, "stopped").

    Each request is logged at info on stderr (-q: none), without colour codes when stderr is not a terminal.
    Interrupted before it serves (while a large district is generated, say): one line, exit 130 or 143.
    """
    import dataclasses
    import tempfile
    from pathlib import Path

    from mock_esd.server.app import create_app
    from mock_esd.state.config import AppConfig
    from mock_esd_workbench.browser import with_rule_paths

    stop_on_sigterm()  # the temporary directory's cleanup runs too; gunicorn's master sets its own handlers
    config = AppConfig(
        spec=spec_from(seed, students, schools, today),
        control=not no_control,
        bind_host=host,
        secret_key=secret_key,
        allowed_hosts=allowed_hosts,
        show_personal_data=show_personal_data,
    )
    if not workers:  # one process needs no shared state, so no temporary directory
        _serve(create_app(with_rule_paths(config)), host, port, scenario_path, None)
        return
    with tempfile.TemporaryDirectory(prefix="mock-esd-") as shared:
        config = dataclasses.replace(config, shared_state=str(Path(shared) / "changes.db"))
        _serve(create_app(with_rule_paths(config)), host, port, scenario_path, workers)


def _serve(app: Flask, host: str, port: int, scenario_path: str | None, workers: int | None) -> None:
    from mock_esd import heap
    from mock_esd.server.live import LiveServer
    from mock_esd.server.workers import serve_with_workers

    state = app.extensions["mock_esd"]
    if scenario_path:
        _load_scenario(state, scenario_path)
    if not workers:  # gunicorn's master freezes after encoding the listings, before it forks
        heap.freeze()
    server = LiveServer(app, host, port, log_requests=True)
    click.echo(describe_clients(server.base_url, state.registry.clients()))
    click.echo(f'  try: curl -s -d grant_type=client_credentials -u "ID:SECRET" {server.base_url}/v1/auth/token')
    click.echo(f"Browse the district: {server.root_url}/guru/")
    try:  # from here on, a SIGTERM or Ctrl+C (even before the loop starts) ends in "stopped"
        click.echo(f"Serving{f' with {workers} gunicorn workers' if workers else ''}; Ctrl+C stops.")
        sys.stdout.flush()
        if workers:
            serve_with_workers(app, server.socket, workers)
        else:
            server.serve_forever()
    except KeyboardInterrupt:  # werkzeug's loop swallows it and returns; gunicorn's master returns too
        pass
    finally:
        server.stop()
    click.echo("stopped")


def _load_scenario(state: MockState, path: str) -> None:
    """The default tenant's district from a scenario file, read within the server's limits (`max_scenario_bytes`,
    nodes, depth, fields) as a /_mock/scenario body is. Its data goes once built (a function of its own: of a
    100,000-student file's data only the records the district took outlive the call)."""
    from mock_esd.district import scenario
    from mock_esd.district.tenants import DEFAULT_TENANT
    from mock_esd.errors import BadRequest, EsdError
    from mock_esd.state import changelog

    recipe = {"scenario": scenario.read_file(path, state.config.limits)}
    try:
        built = changelog.build_store(recipe, limits=state.config.limits)
    except EsdError as exc:  # a schema problem or a limit: say which file
        raise BadRequest(f"{path}: {exc.detail}") from None
    state.registry.replace_store(DEFAULT_TENANT, built, recipe)
