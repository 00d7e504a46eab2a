"""Size limits (issue 13 §3): each a named setting, refused with a 4xx that names it, never an exhausted server.

The limits are set small here: a test of a limit must not need gigabytes.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.store import DistrictStore, StudentFilter
from mock_esd.limits import Limits
from mock_esd.server.app import create_app
from mock_esd.state.changelog import ChangeLog, SharedJournal
from mock_esd.state.config import AppConfig
from mock_esd.state.mock_state import EXTENSION
from tests.api.test_errors import assert_problem
from tests.conftest import CUSTOM, SMALL, token_for

YAML = {"Content-Type": "application/yaml"}
TINY = DistrictSpec(seed=7, students=40)


def _app(**limits: int) -> Flask:
    return create_app(AppConfig(spec=TINY, limits=Limits(**limits)))


def test_the_default_limits_are_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name, default in vars(Limits()).items():
        assert f"`{name}`" in readme, f"README's Limits table lacks {name}"
        assert (
            f"{default:,}" in readme or f"{default // 1024 // 1024} MiB" in readme or f"{default // 1024} KiB" in readme
        )


@pytest.mark.parametrize(
    ("path", "body", "limit"),
    [
        ("/_mock/reset", {"students": 100_000_000_000}, "max_students=1000000"),
        ("/_mock/reset", {"schools": 100_000_000_000}, "max_schools=1000"),
        ("/_mock/tenants", {"name": "big", "students": 100_000_000_000}, "max_students=1000000"),
        ("/_mock/tenants", {"name": "big", "scenario": {"base": {"schools": 100_000_000_000}}}, "max_schools=1000"),
        ("/_mock/scenario", {"base": {"schools": 100_000_000_000}}, "max_schools=1000"),
        ("/_mock/scenario", {"base": {"students": 100_000_000_000, "schools": 3}}, "max_students=1000000"),
    ],
)
def test_a_huge_district_is_a_400_naming_the_limit_not_an_out_of_memory(
    http: FlaskClient, path: str, body: dict[str, object], limit: str
) -> None:
    assert_problem(http.post(path, json=body), 400, limit)
    assert http.get("/_mock/tenants").json is not None and "big" not in str(http.get("/_mock/tenants").json)


def test_the_district_limits_are_settings() -> None:
    http = _app(max_students=50, max_schools=4).test_client()
    assert_problem(
        http.post("/_mock/reset", json={"students": 51}), 400, "students 51 is above the limit max_students=50"
    )
    assert_problem(http.post("/_mock/reset", json={"schools": 5}), 400, "max_schools=4")
    assert http.post("/_mock/reset", json={"students": 50, "schools": 4}).status_code == 200


def test_a_scenario_listing_more_students_than_allowed_is_refused_and_changes_nothing() -> None:
    http = _app(max_students=45).test_client()
    before = http.get("/_mock/scenario").json
    people = "".join(f"  - {{id: {n}, studentStatus: Pre-enrolled}}\n" for n in range(1000, 1010))
    response = http.post("/_mock/scenario?merge=true", data=f"students:\n{people}", headers=YAML)
    assert_problem(response, 400, "students 50 is above the limit max_students=45")
    assert http.get("/_mock/scenario").json == before


def _laughs(levels: int = 9) -> str:
    """The classic: each level nine aliases of the one before; 10^8 leaves in a few hundred bytes."""
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in itertools.pairwise("abcdefghijkl"[:levels]):
        text += f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    return text


def test_a_billion_laughs_yaml_is_refused_by_its_expanded_size(http: FlaskClient) -> None:
    text = _laughs()
    assert len(text) < 500
    assert_problem(http.post("/_mock/scenario", data=text, headers=YAML), 400, "max_yaml_nodes=1000000")


def test_the_alias_expansion_limit_is_a_setting_and_aliases_are_otherwise_fine() -> None:
    shared = "x-contact: &mother {relationship: Mother, priority: 1}\n"
    text = (
        shared
        + "students: [{id: 1, studentStatus: Pre-enrolled}]\ncontacts:\n  - {id: 1, students: [{studentId: 1, <<: *mother}]}\n"
    )
    http = _app().test_client()
    response = http.post("/_mock/scenario", data=text, headers=YAML)
    assert response.status_code == 400 and "x-contact: unknown field" in response.json["detail"]  # type: ignore[index]
    good = "schools: [{id: '0101'}]\nstudents: [&s {id: 1, studentStatus: Pre-enrolled}]\n"
    assert http.post("/_mock/scenario", data=good, headers=YAML).status_code == 200
    assert_problem(
        _app(max_yaml_nodes=10).test_client().post("/_mock/scenario", data=_laughs(2), headers=YAML),
        400,
        "max_yaml_nodes=10",
    )


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("a: " + "[" * 1000 + "]" * 1000, "max_body_depth=32"),
        ("a: &a [1, *a]", "recursive document"),
        ("a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 300)), "max_body_depth=32"),
    ],
)
def test_deep_or_recursive_yaml_is_a_400_not_a_recursion_error(http: FlaskClient, text: str, detail: str) -> None:
    assert_problem(http.post("/_mock/scenario", data=text, headers=YAML), 400, detail)


@pytest.mark.parametrize("text", ["a: " + "[" * 40 + "]" * 40, "a: &a [1, *a]", "a: 2026-02-30"])
def test_a_bad_scenario_s_detail_names_the_body_once(http: FlaskClient, text: str) -> None:
    detail = http.post("/_mock/scenario", data=text, headers=YAML).json["detail"]  # type: ignore[index]
    assert detail.startswith("the request body") and detail.count("the request body") == 1, detail


def test_the_view_cache_keeps_only_the_latest_views() -> None:
    store = DistrictStore(SMALL)
    store.set_cache_limit(16)
    expected = len(store.students(StudentFilter("0101")).records)
    for n in range(200):
        assert store.students(StudentFilter(f"no-such-school-{n}")).records == []
    assert store.cached_views() <= 16
    assert len(store.students(StudentFilter("0101")).records) == expected > 0  # rebuilt, the same


def test_distinct_filter_values_do_not_grow_the_apps_view_cache() -> None:
    app = _app(max_cached_views=12)
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    for n in range(100):
        assert http.get(f"/api/v1/students?schoolId=x{n}", headers=headers).status_code == 200
        assert http.get(f"/api/v1/contacts?studentId={n + 1}", headers=headers).status_code == 200
    assert app.extensions[EXTENSION].registry.store("default").cached_views() <= 12


def test_the_view_cache_keeps_under_its_byte_limit() -> None:
    store = DistrictStore(SMALL)
    schools = sorted(store.school_ids())
    one_school = store.students(StudentFilter(schools[0]))
    one_school.page(0, 1)
    limit = one_school.nbytes * 3  # room for about three schools' listings, not for all of them
    store.set_cache_limit(256, max_bytes=limit)
    for school in schools * 2:
        for status in (None, "Enrolled"):
            store.students(StudentFilter(school, status)).page(0, 10)
            assert store.cached_bytes() <= limit
    assert store.cached_views() < 2 * len(schools)  # some were let go to stay under the limit


def test_a_fork_that_changed_still_keeps_the_cache_it_shared_under_the_byte_limit() -> None:
    """Views a fork built live in the cache it shared with its twin; encoded later, they trim that cache."""
    pristine = DistrictStore(SMALL)
    schools = sorted(pristine.school_ids())
    probe = pristine.students(StudentFilter(schools[0]))
    probe.page(0, 1)
    limit = probe.nbytes * 3
    pristine.set_cache_limit(256, max_bytes=limit)
    fork = pristine.fork()
    built = [fork.students(StudentFilter(school, "Enrolled")) for school in schools]  # cached, not yet encoded
    fork.delete_student(fork.students().records[0]["id"])  # the fork owns a new cache from here on
    for view in built:
        view.page(0, 10)
        assert pristine.cached_bytes() <= limit


def test_a_view_larger_than_the_byte_limit_is_still_served_whole() -> None:
    app = _app(max_cached_view_bytes=1)
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    store = app.extensions[EXTENSION].registry.store("default")
    expected = [s["id"] for s in store.students().records]
    got = []
    for page in range(1, 5):
        body = http.get(f"/api/v1/students?pageNo={page}&pageSize=10", headers=headers).json
        assert body is not None
        got += [s["id"] for s in body["students"]]
    assert got == expected
    assert store.cached_views() == 1, "only the latest view stays when one alone is over the limit"


def test_the_journal_keeps_the_latest_entries() -> None:
    http = _app(max_journal_entries=5).test_client()
    headers = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    for n in range(1, 11):
        http.get(f"/api/v1/students?pageNo={n}", headers=headers)
    entries = http.get("/_mock/requests").json
    assert entries is not None and [e["query"] for e in entries] == [f"pageNo={n}" for n in range(6, 11)]


def test_the_shared_journal_of_workers_keeps_the_latest_entries(tmp_path: Path) -> None:
    journal = SharedJournal(ChangeLog(tmp_path / "changes.db"), limit=3)
    for n in range(10):
        journal.record(float(n), "GET", "/api/v1/schools", f"pageNo={n + 1}", None, None, 200)
    assert [e.query for e in journal.entries({})] == ["pageNo=8", "pageNo=9", "pageNo=10"]
    journal.clear()
    journal.record(0.0, "GET", "/api/v1/schools", "", None, None, 200)
    assert len(journal.entries({})) == 1


def test_the_shared_journal_stays_bounded_though_nobody_reads_it(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path / "changes.db")
    journal = SharedJournal(log, limit=5, flush_bytes=1000)
    for n in range(300):
        journal.record(float(n), "GET", "/api/v1/schools", f"pageNo={n}", None, None, 200)
        stored = log.connection().execute("SELECT count(*) FROM journal").fetchone()[0]
        assert stored <= 5, "the table keeps the latest `limit` rows"
        [own] = tmp_path.glob("changes.journal-*")
        assert own.stat().st_size < 1000, "the worker's file is emptied into the table when it reaches flush_bytes"
    assert [e.query for e in journal.entries({})] == [f"pageNo={n}" for n in range(295, 300)]


def test_the_shared_journal_reads_every_worker_s_file_in_time_order(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path / "changes.db")
    first, second = SharedJournal(log), SharedJournal(log)  # two workers: a file each
    first.record(1.0, "GET", "/v1/schools", "a", None, None, 200)
    second.record(2.0, "GET", "/v1/schools", "b", None, None, 200)
    first.record(3.0, "GET", "/v1/schools", "c", None, None, 200)
    assert [e.query for e in second.entries({})] == ["a", "b", "c"]
    second.record(4.0, "GET", "/v1/schools", "d", None, None, 200)
    entries = first.entries({})
    assert [(e.seq, e.query) for e in entries] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")], "each line once, seq kept"
    first.clear()
    first.record(5.0, "GET", "/v1/schools", "e", None, None, 200)
    assert [e.query for e in second.entries({})] == ["e"], "a clear takes what was recorded before it, in every file"


def test_a_half_written_line_waits_and_an_ended_worker_s_file_goes_once_read(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path / "changes.db")
    journal = SharedJournal(log)
    journal.record(1.0, "GET", "/v1/schools", "mine", None, None, 200)
    ended = tmp_path / "changes.journal-999999999-0000"  # no such process (pid above the kernel's maximum)
    ended.write_bytes(b'[0.5,"GET","/v1/students","theirs",null,null,200]\n[0.6,"GET"')
    assert [e.query for e in journal.entries({})] == ["theirs", "mine"]
    assert not ended.exists(), "read to its last whole line, an ended worker's file is removed"
    assert len(journal.entries({})) == 2


def test_two_processes_sharing_a_change_log_see_each_others_changes_and_faults(tmp_path: Path) -> None:
    config = AppConfig(spec=TINY, shared_state=str(tmp_path / "c.db"), signing_key=b"k" * 32)
    first, second = create_app(config).test_client(), create_app(config).test_client()  # two workers' apps
    headers = {"Authorization": f"Bearer {token_for(first, CUSTOM)}"}
    assert second.get("/api/v1/schools", headers=headers).status_code == 200
    rule = first.post("/_mock/faults", json={"endpoint": "/v1/schools", "kind": "status", "params": {"status": 503}})
    assert rule.status_code == 201 and rule.json is not None
    assert second.get("/api/v1/schools", headers=headers).status_code == 503, "added on one, fired on the other"
    assert first.delete(f"/_mock/faults/{rule.json['id']}").status_code == 204
    assert second.get("/api/v1/schools", headers=headers).status_code == 200, "and removed on one, on both"
    before = second.get("/api/v1/operoo/students?pageSize=1000", headers=headers).json
    assert first.post("/_mock/applications", json={"firstName": "Ada"}).status_code == 201
    after = second.get("/api/v1/operoo/students?pageSize=1000", headers=headers).json
    assert before is not None and after is not None
    assert [s["firstName"] for s in after["students"]] == [s["firstName"] for s in before["students"]] + ["Ada"]


def test_the_shared_journal_limit_is_the_apps_setting(tmp_path: Path) -> None:
    config = AppConfig(spec=TINY, shared_state=str(tmp_path / "c.db"), limits=Limits(max_journal_entries=4))
    http = create_app(config).test_client()
    for _ in range(9):
        http.get("/api/v1/schools")
    assert len(http.get("/_mock/requests").json) == 4  # type: ignore[arg-type]


def test_records_added_one_at_a_time_count_against_the_district_limits() -> None:
    http = _app(max_students=3, max_schools=3).test_client()
    assert http.post("/_mock/reset", json={"students": 2, "schools": 2}).status_code == 200
    assert http.post("/_mock/applications", json={"firstName": "Ada"}).status_code == 201  # the third student
    before = http.get("/_mock/scenario").json
    assert_problem(http.post("/_mock/applications", json={}), 400, "max_students=3")
    assert_problem(http.post("/_mock/students", json={"enrolledId": None}), 400, "max_students=3")
    assert http.post("/_mock/schools", json={"id": "0950", "name": "Third"}).status_code == 201
    assert_problem(http.post("/_mock/schools", json={"id": "0951", "name": "Fourth"}), 400, "max_schools=3")
    assert http.post("/_mock/schools", json={"id": "0950", "name": "Third, renamed"}).status_code == 201
    after = http.get("/_mock/scenario").json
    assert len(after["students"]) == len(before["students"]) == 3  # type: ignore[index]


def _nested(levels: int) -> dict[str, object]:
    body: dict[str, object] = {"x": 1}
    for _ in range(levels - 1):
        body = {"x": body}
    return body


@pytest.mark.parametrize("path", ["/_mock/faults", "/_mock/scenario", "/_mock/students"])
def test_one_depth_limit_for_every_body_and_it_is_a_setting(path: str) -> None:
    """max_body_depth bounds JSON control bodies and scenarios alike; raised, the body reaches its schema check."""
    deep = _nested(40)
    assert_problem(_app().test_client().post(path, json=deep), 400, "max_body_depth=32")
    deeper = "[" * 2000 + "]" * 2000  # past the JSON parser's own cap too
    refused = _app().test_client().post(path, data=deeper, content_type="application/json")
    assert_problem(refused, 400, "max_body_depth=32")
    raised = _app(max_body_depth=50).test_client().post(path, json=deep)
    assert raised.status_code == 400 and "max_body_depth" not in raised.get_json()["detail"]


def test_a_scenario_just_past_the_depth_limit_names_it() -> None:
    text = "a: " + "[" * 32 + "]" * 32
    assert_problem(_app().test_client().post("/_mock/scenario", data=text, headers=YAML), 400, "max_body_depth=32")
    shallow = _app(max_body_depth=40).test_client().post("/_mock/scenario", data=text, headers=YAML)
    assert shallow.status_code == 400 and "max_body_depth" not in shallow.get_json()["detail"]
