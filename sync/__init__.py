"""The Operoo side of the integration: read eSD, apply rules R1-R11, keep the state in SQLite."""

from mock_esd_sync.client import EsdClient, RetryPolicy
from mock_esd_sync.errors import (
    AuthError,
    BusyError,
    FetchError,
    IdentityConflict,
    RecordError,
    SettingsError,
    StateError,
    SyncError,
    TooLargeError,
    UnreachableError,
    UrlError,
    WriteError,
)  # fmt: skip
from mock_esd_sync.explanation import explain
from mock_esd_sync.export import export_schema, export_state
from mock_esd_sync.html_report import render_report, write_report
from mock_esd_sync.plan import Plan, compute_plan
from mock_esd_sync.records import RawSnapshot, Snapshot
from mock_esd_sync.rules import Desired, compute_desired
from mock_esd_sync.run import Report, run_sync
from mock_esd_sync.settings import Settings, load_settings, parse_settings
from mock_esd_sync.state import State
from mock_esd_sync.store import apply_plan, connect, load_state

__all__ = [
    "AuthError", "BusyError", "Desired", "EsdClient", "FetchError", "IdentityConflict", "Plan", "RawSnapshot",
    "RecordError", "Report", "RetryPolicy", "Settings", "SettingsError", "Snapshot", "State", "StateError", "SyncError",
    "TooLargeError", "UnreachableError", "UrlError", "WriteError", "apply_plan", "compute_desired", "compute_plan", "connect",
    "explain", "export_schema", "export_state",
    "load_settings", "load_state", "parse_settings", "render_report", "run_sync", "write_report",
]  # fmt: skip
