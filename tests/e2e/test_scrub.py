"""`mock-esd record --scrub`: no personal value leaves, and what the sync rules read is kept exactly."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_esd.server.live import LiveServer
from mock_esd_contracts.vocabulary import RELATIONSHIPS
from mock_esd_workbench.proxy_app import Journal, ProxyConfig, create_proxy_app
from mock_esd_workbench.scrub import Scrubber
from tests.contract.independent_esd import CUSTOM, District, district, independent_server
from tests.e2e.roundtrip import MOCK_CUSTOM, cli, mock_serving, record, sync_export, token
from tests.e2e.test_record import INDEPENDENT_SETTINGS

pytestmark = pytest.mark.e2e

MOCK = (MOCK_CUSTOM.client_id, MOCK_CUSTOM.secret)
TODAY = "2026-09-15"
KEPT_STUDENT = ("id", "enrolledId", "studentStatus", "schoolId", "enrollmentDate", "lastModified", "recentlyAccepted")


def marked(data: District) -> tuple[District, list[str]]:
    """Every personal value (names, emails, phones, addresses, free-text grade and gender, school names)
    a marker; a contact shares its first student's last name, as a family does."""
    markers: list[str] = []

    def mark(kind: str, ident: Any) -> str:
        markers.append(f"QZ{kind}{ident}XQ")
        return markers[-1]

    family: dict[int, str] = {}
    for path in ("/v1/students", "/v1/operoo/students"):
        for r in data.listings[path]:
            family[r["id"]] = mark("LAST", r["id"])
            r.update(firstName=mark("FIRST", r["id"]), middleName=mark("MIDDLE", r["id"]), lastName=family[r["id"]],
                     email=f"{mark('MAIL', r['id'])}@example.org", address=mark("ADDRESS", r["id"]),
                     gender=mark("GENDER", r["id"]), grade=mark("GRADE", r["id"]))  # fmt: skip
    for path in ("/v1/contacts", "/v1/operoo/contacts"):
        for c in data.listings[path]:
            c.update(firstName=mark("CFIRST", c["id"]), lastName=family[c["students"][0]["studentId"]],
                     email=mark("CMAIL", c["id"]), mobilePhone=mark("MOBILE", c["id"]), homePhone=mark("HOME", c["id"]))  # fmt: skip
    for s in data.listings["/v1/schools"]:
        s["name"] = mark("SCHOOL", s["id"])
    return data, sorted(set(markers))


@pytest.fixture
def source() -> Iterator[tuple[str, list[str]]]:
    data, markers = marked(district())
    with independent_server(data) as base_url:
        yield base_url, markers


def scrubbed(base_url: str, out: Path, *extra: str) -> dict[str, Any]:
    done = record(base_url, CUSTOM, out, "--scrub", *extra)
    assert done.exit_code == 0, done.stderr
    assert "(scrubbed)" in done.stdout
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_no_marker_nor_its_lower_case_is_in_the_scrubbed_file(source: tuple[str, list[str]], tmp_path: Path) -> None:
    base_url, markers = source
    out = tmp_path / "scrubbed.json"
    scrubbed(base_url, out, "--scrub-key", "k1", "--scrub-school-names")
    text = out.read_text()
    leaked = [m for m in markers if m in text or m.lower() in text]
    assert not leaked and len(markers) > 300
    assert "QZ" not in text and "qz" not in text


def test_the_sync_of_a_scrubbed_replay_gives_the_same_groups_statuses_and_permissions(
    source: tuple[str, list[str]], tmp_path: Path
) -> None:
    base_url, _ = source
    out = tmp_path / "scrubbed.yaml"
    done = record(base_url, CUSTOM, out, "--scrub", "--scrub-key", "k1")
    assert done.exit_code == 0, done.stderr
    with mock_serving(out) as replay:
        assert sync_export(replay, MOCK, INDEPENDENT_SETTINGS, tmp_path / "replay") == sync_export(
            base_url, CUSTOM, INDEPENDENT_SETTINGS, tmp_path / "source"
        )


def test_what_the_rules_read_is_kept_and_dates_of_birth_keep_their_order(
    source: tuple[str, list[str]], tmp_path: Path
) -> None:
    base_url, _ = source
    plain = record(base_url, CUSTOM, tmp_path / "plain.json")
    assert plain.exit_code == 0
    before = json.loads((tmp_path / "plain.json").read_text())
    after = scrubbed(base_url, tmp_path / "scrubbed.json", "--scrub-key", "k1")
    assert [s["name"] for s in after["schools"]] == [s["name"] for s in before["schools"]], "kept without the flag"
    today = dt.date.fromisoformat(TODAY)
    for was, now in zip(before["students"], after["students"], strict=True):
        assert {k: was.get(k) for k in KEPT_STUDENT} == {k: now.get(k) for k in KEPT_STUDENT}
        assert now["firstName"] != was["firstName"] and now["lastName"] != was["lastName"]
        born, moved = dt.date.fromisoformat(was["dateOfBirth"]), dt.date.fromisoformat(now["dateOfBirth"])
        assert born != moved and (moved < today) == (born < today)
        if was["enrollmentDate"]:
            assert (moved < dt.date.fromisoformat(was["enrollmentDate"])) == (
                born < dt.date.fromisoformat(was["enrollmentDate"])
            )
    for was, now in zip(before["contacts"], after["contacts"], strict=True):
        assert (was["id"], was["doNotContact"]) == (now["id"], now["doNotContact"])
        for link, scrubbed_link in zip(was["students"], now["students"], strict=True):  # all kept but free text
            listed = link["relationship"] in RELATIONSHIPS
            assert {**link, "relationship": None} == {**scrubbed_link, "relationship": None}
            assert (scrubbed_link["relationship"] == link["relationship"]) == listed
            assert scrubbed_link["relationship"] in RELATIONSHIPS or not listed
    assert [c.get("doNotContact") for c in after["operooContacts"]] == [
        c.get("doNotContact") for c in before["operooContacts"]
    ]
    students = {s["id"]: s for s in after["students"]}
    for c in after["contacts"]:
        assert c["lastName"] == students[c["students"][0]["studentId"]]["lastName"], "one family, one replacement"


def test_the_same_key_gives_the_same_bytes_and_a_random_key_is_printed_once(
    source: tuple[str, list[str]], tmp_path: Path
) -> None:
    base_url, _ = source
    first = record(base_url, CUSTOM, tmp_path / "a.json", "--scrub")
    assert first.exit_code == 0
    key_lines = [line for line in first.stderr.splitlines() if "scrub key" in line]
    assert len(key_lines) == 1
    key = key_lines[0].rsplit(" ", 1)[1]
    again = record(base_url, CUSTOM, tmp_path / "b.json", "--scrub", "--scrub-key", key)
    assert again.exit_code == 0 and "scrub key" not in again.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    other = scrubbed(base_url, tmp_path / "c.json", "--scrub-key", key + "x")
    names = {s["firstName"] for s in json.loads((tmp_path / "a.json").read_text())["students"]}
    assert names != {s["firstName"] for s in other["students"]}


def test_a_date_of_birth_between_close_reference_dates_still_moves() -> None:
    """References a few days either side (bad data: born after the district's today) leave a smaller shift."""
    scrubber = Scrubber("k", False)
    for born, around in (("2026-12-10", ["2026-12-08", "2026-12-13"]), ("2026-01-02", ["2026-01-01", "2026-01-04"])):
        moved = scrubber.date_of_birth(born, around)
        assert moved != born, (born, around)
        assert all((moved < r) == (born < r) and (moved > r) == (born > r) for r in around)
    assert scrubber.date_of_birth("2026-01-02", ["2026-01-01", "2026-01-03"]) == "2026-01-02", "the only date left"


# ----- what nobody knew to scrub, and what the tools print ----------------------------------------------------


def test_a_relationship_outside_the_list_is_replaced_and_said(tmp_path: Path) -> None:
    """eSD's relationships are kept (R9 reads them); anything else is free text ("Grandma Woodard") and was kept
    word for word beside a contact scrubbed to another name, without a word said."""
    data = district()
    links = [link for c in data.listings["/v1/contacts"] for link in c["students"]]
    for link in links[::3]:
        link["relationship"] = "PIIREL Grandma Woodard"
    with independent_server(data) as base_url:
        done = record(base_url, CUSTOM, tmp_path / "d.json", "--scrub", "--scrub-key", "k1")
        assert done.exit_code == 0, done.stderr
        text = (tmp_path / "d.json").read_text()
        assert "PIIREL" not in text and "Woodard" not in text
        replaced = len(links[::3]) + 1  # and the district's own "Neighbour"
        assert f"relationship {replaced}" in done.stderr and "outside eSD's lists" in done.stderr
        kept = [link["relationship"] for c in json.loads(text)["contacts"] for link in c["students"]]
        assert sum(r not in RELATIONSHIPS for r in kept) == replaced  # still outside the list: no permission gained
        with mock_serving(tmp_path / "d.json") as replay:  # the same permissions (R9), the same groups
            assert sync_export(replay, MOCK, INDEPENDENT_SETTINGS, tmp_path / "r") == sync_export(
                base_url, CUSTOM, INDEPENDENT_SETTINGS, tmp_path / "s"
            )


def test_a_value_scrub_cannot_vouch_for_is_refused_naming_the_field(tmp_path: Path) -> None:
    data = district()
    student = data.listings["/v1/students"][4]
    student["lastModified"] = "PIIMOD Laura Woodard"  # kept as it came by --scrub, so it must be what it says
    with independent_server(data) as base_url:
        done = record(base_url, CUSTOM, tmp_path / "d.json", "--scrub", "--scrub-key", "k1")
    assert done.exit_code == 1 and not (tmp_path / "d.json").exists()
    assert f"student {student['id']}: lastModified is not a date-time (a string)" in done.stderr
    assert "PIIMOD" not in done.stderr


MARKERS = ("PIIOBJ", "PIIDOB", "Laura")


def test_no_personal_value_is_printed_by_any_command(tmp_path: Path) -> None:
    """A first name sent as an object and a date of birth that is no date: every error, violation, report and
    log names the record, the field and the type, and never the value (--scrub or not)."""
    data = district()
    data.listings["/v1/students"][1]["firstName"] = {"given": "PIIOBJ-Laura"}
    data.listings["/v1/operoo/students"][0]["dateOfBirth"] = "PIIDOB-Laura-1990"
    outputs: dict[str, str] = {}
    with independent_server(data) as base_url:
        credentials = ["--url", base_url, "--client-id", CUSTOM[0], "--client-secret", CUSTOM[1]]
        (tmp_path / "settings.toml").write_text(INDEPENDENT_SETTINGS)
        for name, args in {
            "sync": ["sync", *credentials, "--settings", str(tmp_path / "settings.toml"), "--db", str(tmp_path / "o.db"),
                     "--report", str(tmp_path / "r.html")],
            "sync --json": ["sync", *credentials, "--settings", str(tmp_path / "settings.toml"),
                            "--db", str(tmp_path / "o.db"), "--json"],
            "verify": ["verify", *credentials, "--junit", str(tmp_path / "v.xml")],
            "verify --json": ["verify", *credentials, "--json"],
            "record --scrub": ["record", *credentials, "--out", str(tmp_path / "d.json"), "--scrub"],
        }.items():  # fmt: skip
            done = cli(*args)
            assert done.exit_code == 1, (name, done.stderr)
            outputs[name] = done.stdout + done.stderr
        data.listings["/v1/students"][1]["firstName"] = "Fine"
        done = record(base_url, CUSTOM, tmp_path / "d.json", "--scrub")
        assert done.exit_code == 1 and "dateOfBirth" in done.stderr
        outputs["record --scrub, a date of birth no date"] = done.stdout + done.stderr
        data.listings["/v1/students"][1]["firstName"] = {"given": "PIIOBJ-Laura"}
        outputs.update(_proxied(base_url))
    for written in ("r.html", "v.xml", "o.db"):
        outputs[written] = (tmp_path / written).read_bytes().decode(errors="replace")
    assert "firstName" in outputs["sync"] and "object" in outputs["sync"], outputs["sync"]
    assert "firstName: expected string, got object" in outputs["verify --json"]
    leaks = {name: [m for m in MARKERS if m in text] for name, text in outputs.items()}
    assert not any(leaks.values()), leaks


def _proxied(base_url: str) -> dict[str, str]:
    """What the proxy printed, served and wrote about the same answers."""
    config = ProxyConfig(upstream=base_url, port=0)
    journal, printed = Journal(config), []
    with LiveServer(create_proxy_app(config, journal, printed.append)) as server:
        proxy = server.root_url + config.prefix
        headers = {"Authorization": f"Bearer {token(proxy, CUSTOM)}"}
        for path in ("/v1/students", "/v1/operoo/students"):
            assert requests.get(proxy + path, headers=headers, timeout=30).status_code == 200
        pages = {
            path: requests.get(server.root_url + path, timeout=30).text for path in ("/_mock/violations", "/_mock/")
        }
    assert any("firstName" in line for line in printed), printed
    return {"proxy VIOLATION lines": "\n".join(printed), "proxy junit": journal.junit().decode(), **pages}
