"""What the record/scrub/proxy proofs compare: listings, verify verdicts and sync exports of two servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner, Result

from mock_esd.district import scenario
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.tenants import DEFAULT_TENANT, default_clients
from mock_esd.server.app import create_app
from mock_esd.server.live import LiveServer
from mock_esd.state.config import AppConfig
from mock_esd_contracts.probe import Target
from mock_esd_contracts.verifier import verify
from mock_esd_workbench.cli import main

PATHS = ("/v1/schools", "/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts")
KEYS = {"/v1/schools": "schools", "/v1/students": "students", "/v1/contacts": "contacts",
        "/v1/operoo/students": "students", "/v1/operoo/contacts": "contacts"}  # fmt: skip
MOCK_CUSTOM, MOCK_STANDARD = default_clients(DEFAULT_TENANT)
Client = tuple[str, str]


def cli(*args: str) -> Result:
    """`mock-esd ARGS` in this process (stderr apart)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def token(base_url: str, client: Client) -> str:
    response = requests.post(
        f"{base_url}/v1/auth/token", data={"grant_type": "client_credentials"}, auth=client, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def listings(base_url: str, client: Client, page_size: int = 37) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    """Every endpoint: its totalCount and its records by id (walked here, not by the code under test)."""
    headers = {"Authorization": f"Bearer {token(base_url, client)}"}
    out = {}
    for path in PATHS:
        records, page_no, pages, total = [], 1, 1, 0
        while page_no <= pages:
            body = requests.get(
                base_url + path, params={"pageNo": page_no, "pageSize": page_size}, headers=headers, timeout=30
            ).json()
            records += body[KEYS[path]]
            pages, total = body["pagingInfo"]["pageCount"], body["pagingInfo"]["totalCount"]
            page_no += 1
        out[path] = (total, sorted(records, key=lambda r: r["id"]))
    return out


def verdicts(base_url: str, custom: Client, standard: Client) -> dict[str, str]:
    """Each verify check's verdict (pass, warn, fail, skip)."""
    results = verify(Target(base_url, *custom, *standard))
    return {r.name: r.status for r in results}


def sync_export(base_url: str, client: Client, settings: str, where: Path) -> dict[str, Any]:
    """`mock-esd sync` into a fresh database, then `mock-esd export` of it."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "settings.toml").write_text(settings)
    db = str(where / "operoo.db")
    done = cli("sync", "--url", base_url, "--client-id", client[0], "--client-secret", client[1],
               "--settings", str(where / "settings.toml"), "--db", db, "--json")  # fmt: skip
    assert done.exit_code == 0, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["status"] == "applied"
    exported = cli("export", "--db", db)
    assert exported.exit_code == 0, exported.stderr
    return json.loads(exported.stdout)  # type: ignore[no-any-return]


@contextmanager
def mock_serving(path: str | Path | None = None, spec: DistrictSpec | None = None) -> Iterator[str]:
    """The mock on a free 127.0.0.1 port: a generated district, or a scenario file loaded as `serve --scenario` does."""
    app = create_app(AppConfig(spec=spec or DistrictSpec(students=0)))
    if path is not None:
        recipe = scenario.read_file(path)
        app.extensions["mock_esd"].registry.replace_store(
            DEFAULT_TENANT, scenario.build_store(recipe), {"scenario": recipe}
        )
    with LiveServer(app) as server:
        yield server.base_url


def record(base_url: str, custom: Client, out: Path, *extra: str) -> Result:
    return cli("record", "--url", base_url, "--client-id", custom[0], "--client-secret", custom[1],
               "--out", str(out), "--today", "2026-09-15", *extra)  # fmt: skip
