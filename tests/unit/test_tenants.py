"""Which clients a district has: both by default, or those a scenario (a recording) names."""

from __future__ import annotations

from typing import Any

from mock_esd.district import store
from mock_esd.district.tenants import Registry
from mock_esd.state.changelog import build_store, replay


def test_a_scenario_s_clients_are_the_tenant_s_clients_also_in_another_worker() -> None:
    """A recording read with one client serves one; a district made anew has both; a worker replaying agrees."""
    heard: list[tuple[str, str, list[Any]]] = []
    registry, worker = Registry(listener=lambda *change: heard.append(change)), Registry()
    recipes: list[dict[str, Any]] = [
        {"scenario": {"clients": ["standard"]}},
        {"scenario": {"clients": ["custom"]}},
        {"scenario": {}},
    ]
    kinds = []
    registry.add_tenant("t", changelog_store(recipes[0]), recipes[0])
    kinds.append(sorted(c.kind for c in registry.clients("t")))
    for recipe in recipes[1:]:
        registry.replace_store("t", changelog_store(recipe), recipe)
        kinds.append(sorted(c.kind for c in registry.clients("t")))
    assert kinds == [["standard"], ["custom"], ["custom", "standard"]]
    for tenant, op, args in heard[:2]:
        replay(worker, tenant, op, args)
    assert worker.clients("t") == [c for c in registry.clients() if c.kind == "custom"]


def changelog_store(recipe: dict[str, Any]) -> store.DistrictStore:
    return build_store(recipe)
