"""Mock server costs: generate a 100,000-student district; serve one 1,000-record page.

Prints medians and ratios measured in this one run:
    page over HTTP vs the bare orjson serialization of the same records (floor),
    page over HTTP vs a minimal Flask route returning pre-built bytes (HTTP floor).
Run: python benchmarks/bench_server.py [--students N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
import requests
from flask import Flask, Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Row, median_time, print_table
from mock_esd.app import create_app
from mock_esd.context import AppConfig
from mock_esd.generator import DistrictSpec, generate_district
from mock_esd.server import LiveServer
from mock_esd.tenants import DEFAULT_TENANT, default_clients


def floor_app(body: bytes) -> Flask:
    app = Flask("floor")
    app.add_url_rule("/page", "page", lambda: Response(body, mimetype="application/json"))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    spec = DistrictSpec(students=args.students)
    rows = [
        Row(
            f"generate district ({args.students} students)",
            median_time(lambda: generate_district(spec), 3, 0),
            target="target < 3 s",
        )
    ]

    app = create_app(AppConfig(spec=spec))
    custom, _ = default_clients(DEFAULT_TENANT)
    with LiveServer(app) as server, requests.Session() as session:
        token = session.post(
            f"{server.base_url}/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(custom.client_id, custom.secret),
        ).json()
        session.headers["Authorization"] = f"Bearer {token['access_token']}"
        url = f"{server.base_url}/v1/students?pageNo=7&pageSize=1000"
        records = session.get(url).json()["students"]
        rows.append(
            Row(
                "serialize 1,000 records with orjson (floor)",
                median_time(lambda: orjson.dumps({"students": records}), args.repeat),
            )
        )
        with LiveServer(floor_app(orjson.dumps({"students": records}))) as floor:
            floor_url = f"{floor.root_url}/page"
            rows.append(
                Row(
                    "bare Flask route, pre-built bytes (HTTP floor)",
                    median_time(lambda: session.get(floor_url).content, args.repeat),
                )
            )
        rows.append(
            Row(
                "mock: one 1,000-record page over HTTP",
                median_time(lambda: session.get(url).content, args.repeat),
                "bare Flask route, pre-built bytes (HTTP floor)",
                "target < 1.5x; < 25 ms",
            )
        )
        cold = create_app(AppConfig(spec=DistrictSpec(students=args.students)))
        client = cold.test_client()
        token = client.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": custom.client_id, "client_secret": custom.secret},
        ).json
        headers = {"Authorization": f"Bearer {token['access_token']}"}  # type: ignore[index]
        warm = "/api/v1/students?pageNo=7&pageSize=1000"
        rows.append(
            Row(
                "mock: 1,000-record page in-process (WSGI, no socket)",
                median_time(lambda: client.get(warm, headers=headers), args.repeat),
                "serialize 1,000 records with orjson (floor)",
                "(issue 2: < 2x)",
            )
        )
        rows.append(
            Row(
                "mock: first (cold) page, in-process",
                median_time(lambda: client.get("/api/v1/students?pageNo=3&pageSize=1000", headers=headers), 1, 0),
            )
        )
    print_table(rows)


if __name__ == "__main__":
    main()
