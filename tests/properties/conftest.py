"""Applies the mutation named by MOCK_ESD_MUTATION (see mutations.py) for the whole session."""

from __future__ import annotations

import os

import pytest

from tests.properties.mutations import MUTATIONS


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get("MOCK_ESD_MUTATION")
    if name:
        MUTATIONS[name](pytest.MonkeyPatch())
