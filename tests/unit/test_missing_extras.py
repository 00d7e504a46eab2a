"""A name used from an extra that is not installed fails in one line naming the extra, and nothing else does.

The extra is made missing by answering `mock_esd_contracts.extras.missing` as an install without it would
(tests/e2e/test_wheel.py proves the same from real installs); the modules are imported afresh.
"""

from __future__ import annotations

import importlib
import re
import sys

import pytest

import mock_esd
from mock_esd_contracts import extras
from mock_esd_contracts.extras import MissingExtra


@pytest.fixture
def without_testing(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if installed without the `testing` extra: responses and Hypothesis missing."""
    monkeypatch.setattr(extras, "missing", lambda extra: ("responses", "hypothesis") if extra == "testing" else ())


def said(feature: str) -> str:
    return re.escape(f"{feature} needs the 'testing' extra: pip install 'mock-esd[testing]' (missing: responses")


@pytest.mark.parametrize(
    ("module", "feature"),
    [
        ("mock_esd.strategies", "mock_esd.strategies"),
        ("mock_esd_sync.strategies", "mock_esd_sync.strategies"),
        ("mock_esd.server.inprocess", "in-process routing (mock_esd.routed, an in-process mock district)"),
    ],
)
def test_a_module_of_the_testing_extra_says_so_when_imported(
    without_testing: None, monkeypatch: pytest.MonkeyPatch, module: str, feature: str
) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)  # imported afresh; the one the suite uses comes back after
    with pytest.raises(MissingExtra, match=said(feature)):
        importlib.import_module(module)


def test_the_routed_name_says_which_extra(without_testing: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "mock_esd.server.inprocess", raising=False)
    monkeypatch.delitem(vars(mock_esd), "routed", raising=False)  # not the name cached by an earlier use
    with pytest.raises(MissingExtra, match=said("in-process routing (mock_esd.routed, an in-process mock district)")):
        mock_esd.routed  # noqa: B018


def test_an_in_process_mock_district_says_so_when_made_and_a_live_one_does_not(without_testing: None) -> None:
    with pytest.raises(
        MissingExtra, match=said("an in-process mock_district (live=True needs only the 'server' extra)")
    ):
        mock_esd.mock_district(students=5)
    assert mock_esd.mock_district(students=5, live=True).live


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    assert not hasattr(mock_esd, "something_missing")
    with pytest.raises(AttributeError, match="module 'mock_esd' has no attribute 'something_missing'"):
        mock_esd.something_missing  # type: ignore[attr-defined]  # noqa: B018
    assert hasattr(mock_esd, "mock_district")
