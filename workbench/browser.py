"""The wiring that lends the sync's rule replay to the mock's browser view.

The mock's student page shows "which sync paths can take this person" from a callable it is handed
(`AppConfig.paths_for`); the mock itself knows nothing of the sync. This module is that callable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mock_esd.district.browse import PathRow
from mock_esd.district.generator import Record
from mock_esd.state.config import AppConfig
from mock_esd_sync.records import Person, parse_student
from mock_esd_sync.rulebook import R1, R3
from mock_esd_sync.rules import BUILDING, possible_paths

TITLES = {BUILDING: f"building ({R3})"}
CUSTOM_TITLE = f"custom endpoints ({R1})"


def rule_paths(record: Record, on_standard: bool, on_operoo: bool) -> Sequence[PathRow]:
    """Each sync path replayed for one eSD person, as rows of the browser view's panel."""
    if not (on_standard or on_operoo):
        return []
    person = Person(
        record["id"],
        parse_student(record, "/v1/students") if on_standard else None,
        parse_student(record, "/v1/operoo/students") if on_operoo else None,
    )
    return [
        PathRow(
            TITLES.get(check.path, CUSTOM_TITLE),
            check.condition,
            f"synced as {check.decision.operoo_id} ({check.decision.status})" if check.decision else None,
            check.trace,
        )
        for check in possible_paths(person)
    ]


def with_rule_paths(config: AppConfig) -> AppConfig:
    """The same configuration, its browser view showing the sync's rule paths."""
    return dataclasses.replace(config, paths_for=rule_paths)
