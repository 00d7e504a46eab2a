"""A scenario loaded again is parsed and built once: `POST /_mock/scenario` of a text the server has built
gives the tenant a fork of that district, isolated from every other load, within `max_cached_scenarios` and
`max_students`; a test suite's districts (`mock_district`, the fixtures) share what their servers built.

What a user would notice if it broke: a recorded 2,000-student scenario took 4.7 s to load in every test;
or, worse, a test saw what an earlier test changed in a district loaded from the same text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from mock_esd import Districts, mock_district
from mock_esd.district import scenario
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.scenario_cache import ScenarioCache
from mock_esd.district.store import DistrictStore
from mock_esd.limits import DEFAULT_LIMITS, Limits
from mock_esd.server.app import create_app
from mock_esd.state.config import AppConfig
from tests.api.test_errors import assert_problem

YAML = {"Content-Type": "application/yaml"}
TEXT = scenario.encode_file(
    orjson.loads(orjson.dumps(scenario.export(DistrictStore(DistrictSpec(seed=3, students=30, schools=3))))), ".yaml"
)


def other_text(n: int) -> bytes:
    return f"schools: [{{id: '0101'}}]\nstudents: [{{id: {n}, studentStatus: Pre-enrolled}}]\n".encode()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources of every scenario text parsed from here on."""
    seen: list[str] = []
    real = scenario.parse_text

    def counted(text: str, source: str = "scenario", limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
        seen.append(source)
        return real(text, source, limits)

    monkeypatch.setattr(scenario, "parse_text", counted)
    return seen


def client(**limits: int) -> FlaskClient:
    return create_app(AppConfig(spec=DistrictSpec(seed=1, students=20), limits=Limits(**limits))).test_client()


def test_a_scenario_loaded_again_is_a_fresh_fork_not_parsed_again(parses: list[str]) -> None:
    http = client()
    assert http.post("/_mock/scenario", data=TEXT, headers=YAML).json == {
        "tenant": "default",
        "schools": 3,
        "students": 30,
    }
    pristine = http.get("/_mock/scenario").json
    person = pristine["students"][0]["id"]
    assert http.post(f"/_mock/students/{person}/withdraw").status_code == 200
    assert http.get("/_mock/scenario").json != pristine
    assert http.post("/_mock/scenario", data=TEXT, headers=YAML).status_code == 200
    assert http.get("/_mock/scenario").json == pristine, "the change of the first load is not in the second"
    assert parses == ["the request body"], "parsed and built once"


def test_a_merge_and_a_broken_scenario_are_never_kept(parses: list[str]) -> None:
    http = client()
    for _ in range(2):
        assert http.post("/_mock/scenario?merge=true", data=other_text(900), headers=YAML).status_code == 200
        assert_problem(http.post("/_mock/scenario", data=b"students: [{id: x}]", headers=YAML), 400, "students.0.id")
    assert len(parses) == 4


def test_the_server_keeps_the_latest_scenarios_within_its_limits(parses: list[str]) -> None:
    http = client(max_cached_scenarios=2)
    for n in (1, 2, 3, 1, 3):  # 1 is forgotten when 3 comes; 3 is kept
        assert http.post("/_mock/scenario", data=other_text(n), headers=YAML).status_code == 200
    assert len(parses) == 4
    parses.clear()
    http = client(max_students=45)  # what it keeps holds at most max_students persons: one 30-student district
    for text in (TEXT, TEXT.replace(b"seed", b"seed"), other_text(5), TEXT):
        assert http.post("/_mock/scenario", data=text, headers=YAML).status_code == 200
    assert len(parses) == 2, "the 30-student and the 1-student districts fit together"
    parses.clear()
    http = client(max_students=40, max_cached_scenarios=8)
    bigger = TEXT.replace(b"today:", b"name: twin\ntoday:")  # another text of 30 students
    for text in (TEXT, bigger, TEXT):
        assert http.post("/_mock/scenario", data=text, headers=YAML).status_code == 200
    assert len(parses) == 3, "two 30-student districts are more than max_students=40: the first went"


def test_a_kept_scenario_is_still_counted_against_the_other_districts() -> None:
    http = client(max_total_students=60)
    assert http.post("/_mock/scenario", data=TEXT, headers=YAML).status_code == 200  # 30 students, kept
    assert http.post("/_mock/reset", json={"students": 0}).status_code == 200
    assert http.post("/_mock/tenants", json={"name": "b", "students": 31}).status_code == 201
    assert_problem(http.post("/_mock/scenario", data=TEXT, headers=YAML), 400, "max_total_students=60")


def test_a_scenario_is_kept_per_text_and_per_limits() -> None:
    cache, built = ScenarioCache(4, 1_000), []
    store = DistrictStore(DistrictSpec(seed=1, students=5))

    def build() -> tuple[dict[str, Any], DistrictStore]:
        built.append(1)
        return {}, store

    for text, limits in [(b"a", Limits()), (b"a", Limits()), (b"b", Limits()), (b"a", Limits(max_field_chars=9))]:
        _, fork = cache.load(text, limits, build)
        assert fork is not store and fork.all_students() == store.all_students()
    assert len(built) == 3 and len(cache) == 3


def test_each_test_s_district_loads_a_scenario_its_suite_loaded_before_as_a_fork(
    parses: list[str], tmp_path: Path
) -> None:
    """In-process districts renew their app for each use; what its control API built stays for the next."""
    text, exports = TEXT.decode(), []
    (tmp_path / "d.yaml").write_text(text)
    with Districts() as districts:
        for use in range(5):
            file = {"scenario": tmp_path / "d.yaml"} if use >= 3 else {}
            with mock_district(districts=districts, **file) as esd:
                if not file:
                    assert esd.control.load_scenario(text)["students"] == 30
                exports.append(esd.control.export_scenario())
                esd.control.withdraw(exports[-1]["students"][0]["id"])  # seen by no later use
    assert all(export == exports[0] for export in exports)
    assert parses == ["the request body"], "one parse: the marker's file is the same text"


def test_a_file_that_is_not_utf8_is_refused_even_when_a_body_of_its_bytes_was_loaded(tmp_path: Path) -> None:
    """A body is decoded leniently, a file must be UTF-8: the district a body's bytes built is never handed to a
    file of the same bytes, which is refused as not UTF-8 text."""
    bad = TEXT.replace(b"schools:", b"# \xff\nschools:", 1)
    districts = Districts(DistrictSpec(seed=1, students=5))
    with districts.inprocess(DistrictSpec(seed=1, students=5)) as esd:
        esd.control.call("POST", "/scenario", data=bad, headers=YAML)  # as a body: read leniently, built, kept
    path = tmp_path / "bad.yaml"
    path.write_bytes(bad)
    with pytest.raises(ValueError, match="UTF-8"), mock_district(scenario=path, districts=districts):
        pass
