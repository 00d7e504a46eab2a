"""Run Schemathesis (a tool nobody here wrote) against a server with the project's OpenAPI document.

    python -m workbench.second_opinion                      # against a mock started here
    python -m workbench.second_opinion --url URL --client-id ID --client-secret S [-- schemathesis args]

Fetches an OAuth token first, then runs `schemathesis run contracts/openapi.json --url URL` with it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import requests

from mock_esd.app import create_app
from mock_esd.context import AppConfig
from mock_esd.generator import DistrictSpec
from mock_esd.server import LiveServer
from mock_esd.tenants import DEFAULT_TENANT, default_clients


def schemathesis_command(base_url: str, token: str, extra: list[str]) -> list[str]:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if exe is None:
        raise SystemExit("schemathesis is not installed: pip install schemathesis (or run `tox -e schemathesis`)")
    spec = str(resources.files("contracts").joinpath("openapi.json"))
    return [exe, "run", spec, "--url", base_url, "--header", f"Authorization: Bearer {token}", *extra]


def fetch_token(base_url: str, client_id: str, secret: str) -> str:
    response = requests.post(
        f"{base_url}/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=30
    )
    if response.status_code != 200:
        raise SystemExit(f"no token from {base_url}: {response.status_code} {response.text[:200]}")
    return str(response.json()["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.url:
        if not (args.client_id and args.client_secret):
            parser.error("--url needs --client-id and --client-secret")
        return subprocess.call(
            schemathesis_command(args.url, fetch_token(args.url, args.client_id, args.client_secret), extra)
        )
    custom, _ = default_clients(DEFAULT_TENANT)
    with LiveServer(create_app(AppConfig(spec=DistrictSpec(students=500)))) as server:
        token = fetch_token(server.base_url, custom.client_id, custom.secret)
        return subprocess.call(schemathesis_command(server.base_url, token, extra))


if __name__ == "__main__":
    sys.exit(main())
