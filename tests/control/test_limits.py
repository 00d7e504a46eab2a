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


def _app(spec: DistrictSpec = TINY, **limits: int) -> Flask:
    return create_app(AppConfig(spec=spec, limits=Limits(**limits)))


def test_the_default_limits_are_documented_on_the_limits_page() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text(encoding="utf-8")
    for name, default in vars(Limits()).items():
        assert f"`{name}`" in page, f"docs/limits.md's table lacks {name}"
        assert f"{default:,}" in page or f"{default // 1024 // 1024} MiB" in page or f"{default // 1024} KiB" in page


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
    http = _app(DistrictSpec(seed=7, students=40, schools=4), max_students=50, max_schools=4).test_client()
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
    assert_problem(http.post("/_mock/scenario", data=text, headers=YAML), 400, "max_yaml_nodes=10000000")


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
    http = _app(DistrictSpec(seed=7, students=2, schools=2), max_students=3, max_schools=3).test_client()
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


# ----- issue 26: every limit on every path ------------------------------------------------------------------


def test_a_body_of_200000_bad_records_is_a_small_400_listing_the_first_problems() -> None:
    """The probe's body: 600 KB of `{}` answered a 34.9 MB 400 after 11.5 s; the check now stops at the limit."""
    http = _app().test_client()
    response = http.post("/_mock/contacts", json={"students": [{}] * 200_000})
    assert_problem(response, 400, "and more: `errors` lists the first 100, the limit max_reported_errors=100")
    body = response.get_json()
    assert len(body["errors"]) == 100 and body["moreErrors"] is True
    assert len(response.data) < 20_000, "a bounded body, not one problem per record"
    assert body["errors"][0] == {"path": "id", "message": "required"} or body["errors"][0]["path"].startswith(
        "students"
    )


def test_the_reported_errors_limit_is_a_setting_and_a_body_under_it_lists_every_problem() -> None:
    few = _app(max_reported_errors=5).test_client().post("/_mock/contacts", json={"students": [{}] * 50})
    assert_problem(few, 400, "max_reported_errors=5")
    assert len(few.get_json()["errors"]) == 5 and few.get_json()["moreErrors"] is True
    whole = _app().test_client().post("/_mock/contacts", json={"students": [{}] * 2})
    assert_problem(whole, 400)
    assert "moreErrors" not in whole.get_json() and "max_reported_errors" not in whole.get_json()["detail"]
    assert len(whole.get_json()["errors"]) == 6  # three missing fields of each of the two links


def test_a_scenario_and_a_fault_rule_stop_at_the_limit_too() -> None:
    http = _app(max_reported_errors=7).test_client()
    scenario = http.post("/_mock/scenario", json={"students": [{"id": n, "colour": 1} for n in range(1, 1000)]})
    assert_problem(scenario, 400, "max_reported_errors=7")
    assert len(scenario.get_json()["errors"]) == 7
    rule = http.post("/_mock/faults", json={f"field{n}": n for n in range(1000)})
    assert_problem(rule, 400, "max_reported_errors=7")
    assert len(rule.get_json()["errors"]) == 7


def test_a_field_longer_than_the_limit_is_refused_naming_it_without_quoting_it() -> None:
    """The probe stored a 31 MB firstName and served it back; any string of a record is bounded now."""
    http = _app().test_client()
    before = http.get("/_mock/scenario").json
    name = "Q" * 31_000_000
    response = http.post("/_mock/students", json={"firstName": name})
    assert_problem(
        response, 400, "firstName: a string of 31000000 characters, longer than the limit max_field_chars=1000"
    )
    assert b"QQ" not in response.data and len(response.data) < 2_000
    address = http.post("/_mock/scenario?merge=true", json={"students": [{"id": 5, "address": "Q" * 1001}]})
    assert_problem(address, 400, "students.0.address: a string of 1001 characters")
    contact = http.post("/_mock/contacts", json={"lastName": "Q" * 5000, "students": []})
    assert_problem(contact, 400, "lastName: a string of 5000 characters")
    assert http.get("/_mock/scenario").json == before
    assert http.post("/_mock/students", json={"firstName": "Q" * 1000}).status_code == 201, "the limit itself is fine"
    assert (
        _app(max_field_chars=10).test_client().post("/_mock/applications", json={"firstName": "Q" * 11}).status_code
        == 400
    )


@pytest.mark.parametrize("path", ["/_mock/reset", "/_mock/tenants"])
@pytest.mark.parametrize("today", ["9999-12-31", "0001-01-01", "0999-12-31", "9999-01-01"])
def test_a_today_out_of_the_generator_s_range_is_a_400_naming_it_not_a_500(path: str, today: str) -> None:
    http = _app().test_client()
    response = http.post(path, json={"today": today})
    assert_problem(
        response, 400, f"today: {today} is out of range: a district's today is from 1000-01-01 to 9998-12-31"
    )
    assert response.get_json()["errors"] == [{"path": "today", "message": response.get_json()["errors"][0]["message"]}]


@pytest.mark.parametrize("today", ["1000-01-01", "9998-12-31"])
def test_the_edges_of_today_s_range_make_a_district_with_real_dates(today: str) -> None:
    http = _app().test_client()
    assert http.post("/_mock/reset", json={"today": today, "students": 60}).status_code == 200
    person = http.post("/_mock/applications", json={"firstName": "Ada"}).get_json()  # a change: lastModified moves on
    scenario = http.get("/_mock/scenario").get_json()
    dates = [s[k] for s in scenario["students"] for k in ("dateOfBirth", "enrollmentDate", "lastModified") if s[k]]
    assert all(len(d.split("-")[0]) == 4 for d in dates), "every derived date keeps a four-digit year"
    assert person["lastModified"].startswith(today[:4])


def test_a_scenario_s_today_out_of_range_is_a_400_naming_it() -> None:
    http = _app().test_client()
    for body in ({"today": "9999-12-31"}, {"today": "0001-01-01", "base": {"students": 3}}):
        assert_problem(http.post("/_mock/scenario", json=body), 400, "today: ")
        assert_problem(http.post("/_mock/tenants", json={"scenario": body}), 400, "is out of range")


def test_tenants_are_bounded_by_count_and_by_students_across_them() -> None:
    """The probe's POST /_mock/tenants {"students": 1000000} succeeded again and again until out of memory."""
    http = _app(max_tenants=3, max_total_students=100).test_client()  # the default tenant has 40
    assert http.post("/_mock/tenants", json={"name": "a", "students": 30}).status_code == 201
    refused = http.post("/_mock/tenants", json={"name": "b", "students": 31})
    assert_problem(
        refused, 400, "this district's 31 and the other tenants' 70 make 101, above the limit max_total_students=100"
    )
    assert http.post("/_mock/tenants", json={"name": "b", "students": 30}).status_code == 201
    assert_problem(http.post("/_mock/tenants", json={"name": "c", "students": 0}), 400, "max_tenants=3")
    assert [t["tenant"] for t in http.get("/_mock/tenants").get_json()] == ["a", "b", "default"]
    # every other path to a district's size counts the same total
    assert_problem(http.post("/_mock/reset?tenant=a", json={"students": 31}), 400, "max_total_students=100")
    assert http.post("/_mock/reset?tenant=a", json={"students": 29}).status_code == 200
    assert http.post("/_mock/applications?tenant=a", json={}).status_code == 201
    assert_problem(http.post("/_mock/applications?tenant=a", json={}), 400, "max_total_students=100")
    assert_problem(http.post("/_mock/students?tenant=b", json={}), 400, "max_total_students=100")
    people = [{"id": 9000 + n, "studentStatus": "Pre-enrolled"} for n in range(5)]
    assert_problem(
        http.post("/_mock/scenario?merge=true&tenant=b", json={"students": people}), 400, "max_total_students"
    )
    assert_problem(http.post("/_mock/scenario?tenant=b", json={"base": {"students": 31}}), 400, "max_total_students")
    assert http.delete("/_mock/tenants/b").status_code == 204
    assert http.post("/_mock/tenants", json={"name": "c", "students": 30}).status_code == 201, "room again"


def _alias_bomb(items: int = 1000, copies: int = 4000) -> str:
    """The probe's 20 KB scenario: one list of `items` empty records, shared by `copies` contacts."""
    return f"x: &S [{', '.join(['{}'] * items)}]\ny: &C {{students: *S}}\ncontacts: [{', '.join(['*C'] * copies)}]\n"


def test_sixty_kilobytes_of_aliases_meaning_twelve_million_nodes_are_refused_before_they_are_built() -> None:
    text = _alias_bomb(copies=12_000)
    assert len(text) < 61_000
    response = _app().test_client().post("/_mock/scenario", data=text, headers=YAML)
    assert_problem(response, 400, "expands (aliases followed) to more than the limit max_yaml_nodes=10000000")
    small = _app(max_yaml_nodes=1_000_000).test_client().post("/_mock/scenario", data=_alias_bomb(), headers=YAML)
    assert_problem(small, 400, "expands (aliases followed) to more than the limit max_yaml_nodes=1000000")


def test_a_document_within_the_node_limit_is_still_bounded_downstream() -> None:
    """Within the default 10,000,000 nodes, the probe's 20 KB meaning 4,000,000 is read shared and checked to the
    error limit: a small 400."""
    response = _app().test_client().post("/_mock/scenario", data=_alias_bomb(), headers=YAML)
    assert_problem(response, 400, "max_reported_errors=100")
    assert len(response.get_json()["errors"]) == 100


def test_written_yaml_nodes_are_counted_as_they_are_read() -> None:
    text = "contacts: [" + ", ".join(["{}"] * 1000) + "]\n"
    assert_problem(_app(max_yaml_nodes=500).test_client().post("/_mock/scenario", data=text, headers=YAML), 400,
                   "has more nodes than the limit max_yaml_nodes=500")  # fmt: skip
    as_json = _app(max_yaml_nodes=500).test_client().post("/_mock/scenario", json={"contacts": [{}] * 1000})
    assert_problem(as_json, 400, "contacts.0.id: required"), "JSON is read as JSON, bounded by max_body_bytes"


def test_the_change_log_of_workers_stops_growing_across_resets_and_tenants(tmp_path: Path) -> None:
    """The --workers change log kept every change ever made; a reset or a removal now drops what it makes moot."""
    config = AppConfig(spec=TINY, shared_state=str(tmp_path / "c.db"), signing_key=b"k" * 32)
    first, second = create_app(config), create_app(config)  # two workers' apps
    http, log = first.test_client(), first.extensions[EXTENSION].log
    sizes = []
    for round_ in range(30):
        for n in range(5):
            assert http.post("/_mock/applications", json={"firstName": f"Ada{n}"}).status_code == 201
        assert http.post("/_mock/tenants", json={"name": "churn", "students": 3}).status_code == 201
        assert http.post("/_mock/applications?tenant=churn", json={}).status_code == 201
        assert http.delete("/_mock/tenants/churn").status_code == 204
        assert http.post("/_mock/reset", json={"seed": round_ % 3}).status_code == 200
        sizes.append(log.connection().execute("SELECT count(*) FROM ops").fetchone()[0])
    assert max(sizes[5:]) == min(sizes[5:]) == sizes[0] <= 3, sizes
    assert (tmp_path / "c.db").stat().st_size < 200_000
    # a worker that read none of it replays what is left and holds the same districts
    other = second.test_client()
    assert other.get("/_mock/scenario").get_json() == http.get("/_mock/scenario").get_json()
    assert [t["tenant"] for t in other.get("/_mock/tenants").get_json()] == ["default"]


def test_a_worker_that_is_behind_still_replays_a_compacted_log_to_the_same_districts(tmp_path: Path) -> None:
    config = AppConfig(spec=TINY, shared_state=str(tmp_path / "c.db"), signing_key=b"k" * 32)
    first, second = create_app(config).test_client(), create_app(config).test_client()
    assert first.post("/_mock/tenants", json={"name": "t", "students": 5}).status_code == 201
    assert second.get("/_mock/tenants").status_code == 200  # the second worker holds t, as it was
    assert first.post("/_mock/applications?tenant=t", json={"firstName": "Grace"}).status_code == 201
    assert first.delete("/_mock/tenants/t").status_code == 204  # the application and t's addition are dropped
    assert first.post("/_mock/tenants", json={"name": "t", "students": 7}).status_code == 201  # ... and the removal
    assert first.post("/_mock/applications?tenant=t", json={"firstName": "Ada"}).status_code == 201
    assert second.get("/_mock/scenario?tenant=t").get_json() == first.get("/_mock/scenario?tenant=t").get_json()
    third = create_app(config).test_client()  # a worker started late (gunicorn restarts one) replays from the start
    assert third.get("/_mock/scenario?tenant=t").get_json() == first.get("/_mock/scenario?tenant=t").get_json()


def test_a_drift_inserts_no_more_students_than_the_limits_leave_room_for(caplog: pytest.LogCaptureFixture) -> None:
    """A drift firing on every page added up to 10,000 students a request, whatever max_students said."""
    http = _app(max_students=45).test_client()
    rule = {"endpoint": "/v1/students", "kind": "drift", "params": {"insert": 4}}
    assert http.post("/_mock/faults", json=rule).status_code == 201
    headers = {"Authorization": f"Bearer {token_for(http, CUSTOM)}"}
    for _ in range(3):
        assert http.get("/api/v1/students", headers=headers).status_code == 200
    assert len(http.get("/_mock/scenario").json["students"]) == 45  # type: ignore[index]
    assert "the drift inserts 1 students, not 4: max_students=45" in caplog.text
