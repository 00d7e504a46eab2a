"""`mock-esd record`: a district recorded from the mock, and from a server that is not the mock, serves back
the same records, the same verify verdicts and the same synced Operoo state; what cannot be recorded
whole or faithfully is refused with nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_esd.district.generator import DistrictSpec
from mock_esd_sync import EsdClient, compute_desired, parse_settings
from tests.contract.independent_esd import CUSTOM, STANDARD, District, district, independent_server
from tests.e2e.conftest import serving
from tests.e2e.roundtrip import MOCK_CUSTOM, MOCK_STANDARD, listings, mock_serving, record, sync_export, verdicts
from tests.e2e.test_sync_cli import SETTINGS as MOCK_SETTINGS  # the settings the sync's own e2e tests use

pytestmark = pytest.mark.e2e

INDEPENDENT_SETTINGS = """
custom_endpoints = true

[schools]
"S1" = ["Enrolled", "Future"]
"S2" = ["Enrolled", "Pre-Enrolled"]
"H9" = ["Pre-Enrolled"]
"""
MOCK = (MOCK_CUSTOM.client_id, MOCK_CUSTOM.secret)
MOCK_STD = (MOCK_STANDARD.client_id, MOCK_STANDARD.secret)


@pytest.fixture(scope="module")
def mock_source() -> Iterator[str]:
    with mock_serving(spec=DistrictSpec(seed=23, students=150)) as base_url:
        yield base_url


@pytest.fixture
def independent() -> Iterator[str]:
    with independent_server(district()) as base_url:
        yield base_url


def test_a_recording_of_the_mock_serves_the_same_records_verdicts_and_sync(mock_source: str, tmp_path: Path) -> None:
    out = tmp_path / "district.yaml"
    done = record(mock_source, MOCK, out, "--client-id-standard", MOCK_STD[0], "--client-secret-standard", MOCK_STD[1])
    assert done.exit_code == 0, done.stderr
    assert "recorded 5 endpoints" in done.stdout and "bytes read" in done.stdout
    assert "id: '0900'" in out.read_text(), "a school id any YAML reader keeps as text"
    with mock_serving(out) as replay:
        assert listings(replay, MOCK) == listings(mock_source, MOCK)
        assert verdicts(replay, MOCK, MOCK_STD) == verdicts(mock_source, MOCK, MOCK_STD)
        assert sync_export(replay, MOCK, MOCK_SETTINGS, tmp_path / "replay") == sync_export(
            mock_source, MOCK, MOCK_SETTINGS, tmp_path / "source"
        )


def test_a_recording_of_an_independent_server_serves_the_same(independent: str, tmp_path: Path) -> None:
    out = tmp_path / "district.yaml"
    done = record(
        independent, CUSTOM, out, "--client-id-standard", STANDARD[0], "--client-secret-standard", STANDARD[1]
    )
    assert done.exit_code == 0, done.stderr
    scenario_text = out.read_text()
    assert "operooContacts" in scenario_text, "the contact the custom listing shows otherwise is kept as such"
    with mock_serving(out) as replay:
        source = listings(independent, CUSTOM)
        assert listings(replay, MOCK) == source
        judged = verdicts(independent, CUSTOM, STANDARD)
        assert judged["vocabulary"] == "fail" and judged["pre-registered-dates"] == "warn"
        assert verdicts(replay, MOCK, MOCK_STD) == judged
        assert sync_export(replay, MOCK, INDEPENDENT_SETTINGS, tmp_path / "replay") == sync_export(
            independent, CUSTOM, INDEPENDENT_SETTINGS, tmp_path / "source"
        )


def test_serve_scenario_serves_a_recording(independent: str, tmp_path: Path) -> None:
    """The file is what `mock-esd serve --scenario` reads, as a user runs it."""
    out = tmp_path / "district.yaml"
    assert record(independent, CUSTOM, out).exit_code == 0
    with serving("--scenario", str(out)) as (served, head):
        assert listings(served.base_url, served.custom) == listings(independent, CUSTOM)
        assert served.standard is None and "custom endpoints OFF" not in head, "read with one client: serves one"
        token = requests.post(f"{served.base_url}/v1/auth/token", auth=MOCK_STD, timeout=30,
                              data={"grant_type": "client_credentials"})  # fmt: skip
        assert token.status_code == 401, "the standard client the recording never saw does not exist"


def test_a_recording_says_which_clients_it_read_with(independent: str, tmp_path: Path) -> None:
    only, both = tmp_path / "custom.json", tmp_path / "both.json"
    assert record(independent, CUSTOM, only).exit_code == 0
    assert record(independent, CUSTOM, both, "--client-id-standard", STANDARD[0],
                  "--client-secret-standard", STANDARD[1]).exit_code == 0  # fmt: skip
    assert json.loads(only.read_text())["clients"] == ["custom"]
    assert json.loads(both.read_text())["clients"] == ["custom", "standard"]
    with serving("--scenario", str(both)) as (served, _):
        assert served.standard is not None
        token = requests.post(f"{served.base_url}/v1/auth/token", auth=served.standard, timeout=30,
                              data={"grant_type": "client_credentials"})  # fmt: skip
        assert token.status_code == 200, token.text


def test_record_retries_as_the_sync_does(tmp_path: Path) -> None:
    """A 503 and a 429 on the way (the mock's fault rules) are retried, a line each, as the sync says them; the
    recording is whole."""
    with mock_serving(spec=DistrictSpec(seed=2, students=60)) as source:
        root = source.removesuffix("/api")
        for rule in ({"endpoint": "/v1/students", "kind": "status", "mode": "nth", "n": 1, "params": {"status": 503}},
                     {"endpoint": "/v1/operoo/*", "kind": "rate_limit", "mode": "nth", "n": 1, "params": {"retry_after": 0}}):  # fmt: skip
            assert requests.post(f"{root}/_mock/faults", json=rule, timeout=30).status_code == 201
        out = tmp_path / "district.json"
        done = record(source, MOCK, out)
        assert done.exit_code == 0
        retries = [line for line in done.stderr.splitlines() if "retrying" in line]
        assert retries == [
            "mock-esd: retrying GET /v1/students page 1 after 503 (attempt 2 of 5)",
            "mock-esd: retrying GET /v1/operoo/students page 1 after 429 rate limited, waiting 0 s (attempt 2 of 5)",
        ], done.stderr
        fired = [r["fired"] for r in requests.get(f"{root}/_mock/faults", timeout=30).json()]
        assert fired == [1, 1]
        requests.delete(f"{root}/_mock/faults", timeout=30)
        with mock_serving(out) as replay:
            assert listings(replay, MOCK) == listings(source, MOCK)


def test_a_recording_is_the_same_bytes_each_time(independent: str, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert record(independent, CUSTOM, first).exit_code == 0
    assert record(independent, CUSTOM, second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def one_error_last(stderr: str) -> None:
    """One error line, the last; before it only progress lines (a line per stage: stderr is not a terminal here)."""
    lines = stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("mock-esd: error:")] == lines[-1:], stderr
    assert "Traceback" not in stderr


def _refused(base_url: str, tmp_path: Path, text: str) -> None:
    out = tmp_path / "district.json"
    done = record(base_url, CUSTOM, out)
    assert done.exit_code == 1 and text in done.stderr, (done.stdout, done.stderr)
    one_error_last(done.stderr)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_incomplete_listing_writes_nothing(tmp_path: Path) -> None:
    data = district()
    data.broken.add("total")  # totalCount says one more record than the pages hold
    with independent_server(data) as base_url:
        _refused(base_url, tmp_path, "totalCount")


def test_what_the_format_cannot_hold_is_refused_naming_the_record(tmp_path: Path) -> None:
    data = district()
    stray = dict(data.listings["/v1/students"][0], id=999, enrolledId="29999999")
    data.listings["/v1/operoo/students"].append(stray)  # an enrolledId on the custom listing only
    with independent_server(data) as base_url:
        _refused(base_url, tmp_path, "/v1/students record 999: only in the replay")


def test_a_standard_client_shown_other_records_is_refused(tmp_path: Path) -> None:
    data = district()
    data.hidden_from_standard.add(data.listings["/v1/students"][0]["id"])
    with independent_server(data) as base_url:
        out = tmp_path / "district.json"
        done = record(
            base_url, CUSTOM, out, "--client-id-standard", STANDARD[0], "--client-secret-standard", STANDARD[1]
        )
        assert done.exit_code == 1 and "the standard client reads other records than the custom one" in done.stderr
        assert (
            f"/v1/students record {data.listings['/v1/students'][0]['id']}: missing from the standard client"
            in done.stderr
        )
        assert not out.exists()


def test_a_refusal_names_a_personal_field_without_its_value(tmp_path: Path) -> None:
    data = district()
    operoo = data.listings["/v1/operoo/students"]
    both = next(i for i, r in enumerate(operoo) if r["enrolledId"] is not None)
    operoo[both] = {**operoo[both], "firstName": "Secretname"}  # the two listings disagree on a name
    with independent_server(data) as base_url:
        _refused(
            base_url, tmp_path, f"/v1/operoo/students record {operoo[both]['id']}: firstName differs in the replay"
        )
        assert "Secretname" not in record(base_url, CUSTOM, tmp_path / "d.json").stderr


def test_fields_beyond_the_contract_are_named_not_recorded(tmp_path: Path) -> None:
    data: District = district()
    data.listings["/v1/students"] = [{**r, "homeroom": "12B"} for r in data.listings["/v1/students"]]
    with independent_server(data) as base_url:
        out = tmp_path / "district.json"
        done = record(base_url, CUSTOM, out)
        assert done.exit_code == 0, done.stderr
        assert "/v1/students: not recorded (not in the contract): homeroom" in done.stderr
        assert "homeroom" not in out.read_text()
        assert json.loads(out.read_text())["students"]


def test_bad_arguments_are_one_line_and_write_nothing(independent: str, tmp_path: Path) -> None:
    for extra, text in (
        ((), "--out '{out}' must end in .json, .yaml or .yml"),
        (("--scrub-key", "k"), "--scrub-key and --scrub-school-names go with --scrub"),
        (("--scrub", "--scrub-key", ""), "--scrub-key is empty; give a key or leave the option out for a random one"),
        (("--client-id-standard", "x"), "give both --client-id-standard and --client-secret-standard, or neither"),
    ):
        out = tmp_path / ("district.txt" if not extra else "d.json")
        done = record(independent, CUSTOM, out, *extra)
        assert done.exit_code == 2 and done.stderr == f"mock-esd: error: {text.format(out=out)}\n", done.stderr
    done = record(independent, ("independent-custom", "wrong"), tmp_path / "d.json")
    assert done.exit_code == 2 and "401" in done.stderr
    one_error_last(done.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def committed_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A scrubbed recording (made before any test routes `requests` in-process) and the district-wide
    group a sync computes from the source itself."""
    out = tmp_path_factory.mktemp("districts") / "d42.yaml"
    with independent_server(district()) as base_url, requests.Session() as session:
        assert record(base_url, CUSTOM, out, "--scrub").exit_code == 0
        client = EsdClient(session, base_url, *CUSTOM)
        groups = compute_desired(client.fetch_snapshot(True), parse_settings({"custom_endpoints": True})).groups
    return out, set(groups[("All District Students", None)])


def test_the_readme_regression_workflow(committed_recording: tuple[Path, set[str]], esd_inprocess: Any) -> None:
    """docs/qa/recording.md's regression test, as written there, on a scrubbed recording."""
    path, expected = committed_recording
    esd_inprocess.control.load_scenario(path.read_text())
    client = EsdClient(
        requests.Session(), esd_inprocess.base_url, esd_inprocess.custom.client_id, esd_inprocess.custom.client_secret
    )
    groups = compute_desired(client.fetch_snapshot(True), parse_settings({"custom_endpoints": True})).groups
    assert set(groups[("All District Students", None)]) == expected and expected
