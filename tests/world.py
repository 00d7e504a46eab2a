"""A hand-built eSD district behind the in-process mock, and an Operoo database synced from it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from mock_esd.district.generator import District, Record
from mock_esd.district.store import DistrictStore
from mock_esd.district.tenants import DEFAULT_TENANT, Client, Registry, default_clients
from mock_esd.server.app import create_app
from mock_esd.server.inprocess import DEFAULT_BASE_URL, Tamper, routed
from mock_esd_sync.client import EsdClient, Progress, RetryPolicy
from mock_esd_sync.export import export_state
from mock_esd_sync.run import Report, run_sync
from mock_esd_sync.settings import Settings, parse_settings
from mock_esd_sync.store import connect, snapshot_tables

CUSTOM, STANDARD = default_clients(DEFAULT_TENANT)
Groups = dict[str | tuple[str, str], set[str]]  # district groups by name, building groups by (name, school)


def settings(custom: bool = False, schools: dict[str, list[str]] | None = None, **extra: Any) -> Settings:
    return parse_settings({"custom_endpoints": custom, "schools": schools or {}, **extra})


_shared: tuple[Flask, Registry] | None = None


def shared_app() -> tuple[Flask, Registry]:
    """One mock app per process for Worlds that ask for it: building an app costs more than a small sync."""
    global _shared
    if _shared is None:
        registry = Registry()
        registry.add_tenant(DEFAULT_TENANT, DistrictStore(district=District([], [], [])))
        _shared = create_app(registry=registry), registry
    return _shared


class World:
    """One district (tenant) and one Operoo database; `sync` runs the real client, plan and apply.

    With `shared=True` the World serves its district from the process's one app (`shared_app`), putting
    its store in place at each sync: for property tests that make a World per example and use no faults.
    """

    def __init__(self, district: District, db: Path, *, shared: bool = False) -> None:
        self.store = DistrictStore(district=district)
        self.registry: Registry | None = None
        if shared:
            self.app, self.registry = shared_app()
        else:
            registry = Registry()
            registry.add_tenant(DEFAULT_TENANT, self.store)
            self.app = create_app(registry=registry)
        self.db = db
        self.sleeps: list[float] = []
        self.requests: list[str] = []

    def sync(
        self, s: Settings, *, client: Client = CUSTOM, page_size: int = 5, tamper: Tamper | None = None,
        progress: Progress | None = None, **kw: Any,
    ) -> Report:  # fmt: skip
        def record(request: requests.PreparedRequest, reply: Any) -> Any:
            self.requests.append(f"{request.method} {request.path_url}")
            return tamper(request, reply) if tamper else reply

        if self.registry is not None:
            self.registry.replace_store(DEFAULT_TENANT, self.store)
        conn = connect(self.db)
        try:
            with routed(self.app, tamper=record), requests.Session() as session:
                esd = EsdClient(
                    session, DEFAULT_BASE_URL, client.client_id, client.secret, page_size=page_size,
                    retry=RetryPolicy(attempts=4), sleep=self.sleeps.append, progress=progress,
                )  # fmt: skip
                return run_sync(esd, s, conn, now=lambda: "2026-09-01T00:00:00Z", **kw)
        finally:
            conn.close()

    def conn(self) -> sqlite3.Connection:
        return connect(self.db)

    def export(self) -> dict[str, Any]:
        conn = self.conn()
        try:
            return export_state(conn)
        finally:
            conn.close()

    def tables(self) -> dict[str, Any]:
        conn = self.conn()
        try:
            return snapshot_tables(conn)
        finally:
            conn.close()

    def groups(self) -> Groups:
        return {
            g["name"] if g["schoolId"] is None else (g["name"], g["schoolId"]): set(g["members"])
            for g in self.export()["groups"]
        }

    def record_ids(self) -> dict[str, int]:
        conn = self.conn()
        try:
            return dict(conn.execute("SELECT operoo_id, record_id FROM students").fetchall())
        finally:
            conn.close()

    def active(self) -> set[str]:
        return {s["operooId"] for s in self.export()["students"] if not s["archived"]}

    def archived(self) -> set[str]:
        return {s["operooId"] for s in self.export()["students"] if s["archived"]}

    def put(self, record: Record) -> None:
        self.store.put_student(record)
