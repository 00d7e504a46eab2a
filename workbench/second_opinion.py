"""Run Schemathesis (a tool nobody here wrote) against a server with the project's OpenAPI document.

    python -m mock_esd_workbench.second_opinion                      # against a mock started here
    python -m mock_esd_workbench.second_opinion --url URL --client-id ID --client-secret S [-- schemathesis args]

Fetches an OAuth token first, then runs `schemathesis run contracts/openapi.json --url URL` with it.
Schemathesis comes with the `second-opinion` extra: pip install -e '.[second-opinion]'.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import click
import requests

from mock_esd_workbench.cli_support import EXIT_USAGE, fail, log_options

INSTALL_HINT = "pip install -e '.[second-opinion]' (or run `tox -e schemathesis`)"


def schemathesis_command(base_url: str, token: str, extra: list[str]) -> list[str]:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if exe is None:
        fail(f"schemathesis is not installed: {INSTALL_HINT}", EXIT_USAGE)
    spec = str(resources.files("mock_esd_contracts").joinpath("openapi.json"))
    return [exe, "run", spec, "--url", base_url, "--header", f"Authorization: Bearer {token}", *extra]


def fetch_token(base_url: str, client_id: str, secret: str) -> str:
    try:
        response = requests.post(
            f"{base_url}/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=30
        )
    except requests.RequestException as exc:
        fail(f"no token from {base_url}: {type(exc).__name__}")
    if response.status_code != 200:
        fail(f"no token from {base_url}: {response.status_code} {response.text[:200]!r}")
    return str(response.json()["access_token"])


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True},
    epilog="Anything after the options (or after --) goes to `schemathesis run` as it is, e.g. --max-examples 100.",
)
@click.option("--url", envvar="ESD_URL", show_envvar=True, help="Base URL of the server; none: a mock started here.")
@click.option("--client-id", envvar="ESD_CLIENT_ID", show_envvar=True)
@click.option("--client-secret", envvar="ESD_CLIENT_SECRET", show_envvar=True)
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@log_options
def main(url: str | None, client_id: str | None, client_secret: str | None, extra: tuple[str, ...]) -> None:
    """Schemathesis against a server (or a mock started here), with the project's OpenAPI document."""
    args = [a for a in extra if a != "--"]
    if url:
        if not (client_id and client_secret):
            raise click.UsageError("--url needs --client-id and --client-secret")
        sys.exit(subprocess.call(schemathesis_command(url, fetch_token(url, client_id, client_secret), args)))
    from mock_esd.district.generator import DistrictSpec
    from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
    from mock_esd.server.app import create_app
    from mock_esd.server.live import LiveServer
    from mock_esd.state.config import AppConfig

    custom, _ = default_clients(DEFAULT_TENANT)
    with LiveServer(create_app(AppConfig(spec=DistrictSpec(students=500)))) as server:
        token = fetch_token(server.base_url, custom.client_id, custom.secret)
        code = subprocess.call(schemathesis_command(server.base_url, token, args))
    sys.exit(code)


if __name__ == "__main__":
    main()
