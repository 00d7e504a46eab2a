"""Hypothesis strategies for Operoo settings, for users' own property tests (districts: `mock_esd.strategies`).

from mock_esd_sync.strategies import settings, settings_dicts
@given(settings_dicts(valid=None))
def test_my_settings_screen(raw): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mock_esd_contracts.extras import require

require("testing", "mock_esd_sync.strategies")  # Hypothesis: one line naming the extra, not "No module named"

from hypothesis import strategies as st  # noqa: E402

from mock_esd_contracts import vocabulary as esd  # noqa: E402
from mock_esd_sync import vocabulary as o  # noqa: E402
from mock_esd_sync.errors import SettingsError  # noqa: E402
from mock_esd_sync.settings import Settings, parse_settings  # noqa: E402

# The school ids `mock_esd.strategies.districts()` draws from (a test keeps the two the same).
SCHOOL_IDS: tuple[str, ...] = ("0101", "0102", "0201", "0900")


def is_valid(raw: dict[str, Any]) -> bool:
    """Whether the sync's own checks (R4) accept these raw settings."""
    try:
        parse_settings(raw)
    except SettingsError:
        return False
    return True


def contact_settings() -> st.SearchStrategy[dict[str, Any]]:
    """R9's [contacts] table: the defaults, a priority source with each max_priority, or some relationships."""
    return st.one_of(
        st.just({}),
        st.integers(1, 3).map(lambda n: {"permission_source": "priority", "max_priority": n}),
        st.lists(st.sampled_from(esd.RELATIONSHIPS[:5]), unique=True, max_size=3).map(
            lambda rels: {"relationships": rels}
        ),
    )


@st.composite
def settings_dicts(
    draw: st.DrawFn, school_ids: Sequence[str] = SCHOOL_IDS, valid: bool | None = True
) -> dict[str, Any]:
    """Raw settings (as parsed from TOML); `valid` True, False or None (either)."""
    chosen = draw(st.lists(st.sampled_from(list(school_ids)), unique=True)) if school_ids else []
    schools: dict[str, list[str]] = {
        s: draw(st.lists(st.sampled_from(o.OPTIONS), unique=True, max_size=3)) for s in chosen
    }
    raw: dict[str, Any] = {
        "custom_endpoints": draw(st.booleans()),
        "schools": schools,
        "contacts": draw(contact_settings()),
    }
    if valid is not None and is_valid(raw) != valid:
        if valid:
            raw["custom_endpoints"] = True
        else:
            raw["custom_endpoints"] = False
            schools[draw(st.sampled_from(list(school_ids)))] = [o.Option.ENROLLED, o.Option.PRE_ENROLLED]
    return raw


def settings(school_ids: Sequence[str] = SCHOOL_IDS) -> st.SearchStrategy[Settings]:
    """Valid Settings objects."""
    return settings_dicts(school_ids, valid=True).map(parse_settings)
