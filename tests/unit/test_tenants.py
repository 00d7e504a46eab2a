"""Tenants: which clients a district has (both by default, or those a scenario names), and what may name one."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from mock_esd.district import store
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.store import DistrictStore
from mock_esd.district.tenants import Registry, tenant_name_from, tenant_name_problem
from mock_esd.state.changelog import build_store, replay
from mock_esd.testing import Districts


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


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "a b", "x" * 101, "déjà", "qa\n"])
def test_a_name_that_is_not_path_safe_names_no_tenant(name: str) -> None:
    """One rule for every way a tenant is made (`POST /_mock/tenants`, `Districts.live`, a registry)."""
    problem = tenant_name_problem(name)
    assert problem is not None and problem.startswith("a tenant's name is 1 to 100 letters, digits, _ . or -")
    with pytest.raises(ValueError, match=r"not \. or \.\."):
        Registry().add_tenant(name, DistrictStore(DistrictSpec(students=1)))


@pytest.mark.parametrize("name", ["default", "qa-1", "t.2", ".hidden", "a..b", "x" * 100])
def test_a_path_safe_name_is_taken(name: str) -> None:
    assert tenant_name_problem(name) is None
    Registry().add_tenant(name, DistrictStore(DistrictSpec(students=1)))


@pytest.mark.parametrize("name", ["..", "."])
def test_a_tenant_named_dot_dot_cannot_be_made_over_http(http: FlaskClient, name: str) -> None:
    """`..` could be made and then not deleted: `DELETE /_mock/tenants/..` is `DELETE /_mock/` to any client."""
    answer = http.post("/_mock/tenants", json={"name": name})
    assert answer.status_code == 400 and answer.json["errors"][0]["path"] == "name"
    assert http.get("/_mock/tenants").json[0]["tenant"] == "default" and len(http.get("/_mock/tenants").json) == 1


def test_a_live_district_s_name_follows_the_same_rule() -> None:
    with Districts(DistrictSpec(students=1)) as districts:
        with pytest.raises(ValueError, match="a tenant's name is"), districts.live(DistrictSpec(students=1), "a/b"):
            pass  # pragma: no cover (never entered)
        with districts.live(DistrictSpec(students=1), "qa") as esd:
            assert esd.tenant == "qa"


@pytest.mark.parametrize("name", ["a/b", "qa\n", "..", "a\x00b"])
def test_over_http_the_400_says_the_rule_once(http: FlaskClient, name: str) -> None:
    """The schema's pattern would let `qa\\n` through (its `$` matches before a final newline); the rule does not."""
    answer = http.post("/_mock/tenants", json={"name": name})
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"
    (problem,) = answer.json["errors"]
    assert problem["path"] == "name" and problem["message"].startswith("a tenant's name is 1 to 100 letters")


@pytest.mark.parametrize(("node", "name"), [("tests/a.py::test_x[a/b]", "tests_a.py__test_x_a_b_"), ("..", "t..")])
def test_a_test_s_node_id_makes_a_path_safe_tenant_name(node: str, name: str) -> None:
    assert tenant_name_from(node) == name and tenant_name_problem(name) is None
