"""A scenario builds the district it built before its fast paths: a record given whole is what the builders
make of it, every page of every listing is the same bytes, and export -> load -> export gives the same file.

The careful path is the one the fast paths replaced: each record through `mock_esd.district.builders`,
the scenario through jsonschema. A district that differed would serve a recording other records than it
recorded (issue 25: recorded districts as fast as generated ones, and the same).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mock_esd.district import builders, scenario, scenario_check
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.store import DistrictStore
from mock_esd.errors import BadRequest
from mock_esd.limits import Limits
from mock_esd_contracts.schema import body_problems

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = sorted((ROOT / "fixtures" / "article").glob("*/scenario.yaml"))
STORE = DistrictStore(DistrictSpec(seed=9, students=60, schools=4))
EXPORTED: dict[str, Any] = orjson.loads(orjson.dumps(scenario.export(STORE)))


def careful_student(given: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    record = {k: v for k, v in given.items() if k != "recentlyAccepted"}
    default = builders.student(record["id"], status=record.get("studentStatus", "Enrolled"))
    return {**(prior if prior is not None else default), **record}


def items(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """A record as its fields in order, links too: what its JSON bytes are made of."""
    return [(k, [list(x.items()) for x in v] if k == "students" else v) for k, v in record.items()]


def shuffled(record: dict[str, Any], seed: int, drop: int) -> dict[str, Any]:
    keys = [k for k in record if k != "id"]
    random.Random(seed).shuffle(keys)
    return {"id": record["id"], **{k: record[k] for k in keys[drop:]}}


@example(index=0, seed=0, drop=0, accepted=None, prior="reordered")  # whole, in order, over a prior in another
@given(
    index=st.integers(0, len(EXPORTED["students"]) - 1),
    seed=st.integers(0, 3),
    drop=st.sampled_from([0, 0, 1, 5]),
    accepted=st.sampled_from([None, True, False]),
    prior=st.sampled_from(["none", "same", "other", "reordered"]),
)
def test_a_student_given_is_the_record_the_builders_make_of_it(
    index: int, seed: int, drop: int, accepted: bool | None, prior: str
) -> None:
    record = EXPORTED["students"][index]
    given = dict(record) if seed == 0 and drop == 0 else shuffled(record, seed, drop)
    if accepted is not None:
        given["recentlyAccepted"] = accepted
    other = EXPORTED["students"][(index + 1) % len(EXPORTED["students"])]
    before = {
        "none": None, "same": dict(record), "other": {**other, "id": record["id"]},
        "reordered": dict(reversed(record.items())),
    }[prior]  # fmt: skip
    assert items(scenario._student(given, before)) == items(careful_student(given, before))


@example(index=0, seed=0, drop=0, links_reversed=True)  # the contact whole and in order, its links not
@given(
    index=st.integers(0, len(EXPORTED["contacts"]) - 1),
    seed=st.integers(0, 3),
    drop=st.sampled_from([0, 1, 3]),
    links_reversed=st.booleans(),
)
def test_a_contact_given_is_the_record_the_builders_make_of_it(
    index: int, seed: int, drop: int, links_reversed: bool
) -> None:
    record = EXPORTED["contacts"][index]
    given = dict(record) if seed == 0 and drop == 0 else shuffled(record, seed, drop)
    links = record["students"]
    given["students"] = [dict(reversed(x.items())) for x in links] if links_reversed else links
    assert items(scenario._contact(given)) == items(builders.contact_from(given))


def pages(store: DistrictStore) -> list[bytes]:
    out = []
    for listing in (
        store.schools(),
        store.students(),
        store.contacts(),
        store.operoo_students(),
        store.operoo_contacts(),
    ):
        for size in (1, 7, 100):
            out += [bytes(listing.page(n, n + size)) for n in range(0, max(len(listing.records), 1), size)]
    return out


def careful(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build as before the fast paths: every record through the builders, the whole scenario through jsonschema."""
    monkeypatch.setattr(scenario, "_student", careful_student)
    monkeypatch.setattr(scenario, "_contact", builders.contact_from)
    monkeypatch.setattr(scenario_check, "problems", lambda s, *limits: body_problems("scenario", s, *limits))


EXPORTED_FILES = {".json": scenario.encode_file(EXPORTED, ".json"), ".yaml": scenario.encode_file(EXPORTED, ".yaml")}


@pytest.mark.parametrize("path", [*ARTICLE, *EXPORTED_FILES], ids=lambda p: getattr(p, "parent", Path(p)).name or p)
def test_every_page_is_the_bytes_the_careful_path_builds(
    path: Path | str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if isinstance(path, str):
        (tmp_path / f"d{path}").write_bytes(EXPORTED_FILES[path])
        path = tmp_path / f"d{path}"
    fast = pages(scenario.build_store(scenario.read_file(path)))
    careful(monkeypatch)
    assert fast == pages(scenario.build_store(scenario.read_file(path)))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_export_load_export_is_byte_identical(suffix: str, tmp_path: Path) -> None:
    store = DistrictStore(DistrictSpec(seed=4, students=80, schools=3))
    applicant = next(s for s in store.all_students() if s["enrolledId"] is None)
    school = next(s for s in store.schools().records if not s["isHoldingSchool"])["id"]
    store.accept(applicant["id"], school)  # a recently accepted student: kept beside the records
    first = scenario.encode_file(orjson.loads(orjson.dumps(scenario.export(store))), suffix)
    (tmp_path / f"d{suffix}").write_bytes(first)
    again = scenario.build_store(scenario.read_file(tmp_path / f"d{suffix}"))
    assert scenario.encode_file(orjson.loads(orjson.dumps(scenario.export(again))), suffix) == first
    assert pages(again) == pages(store)


def test_a_scenario_file_is_read_no_further_than_max_scenario_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(scenario.encode_file(EXPORTED, ".json"))
    with pytest.raises(BadRequest, match=f"scenario {path} is larger than the limit max_scenario_bytes=1000$"):
        scenario.read_file(path, Limits(max_scenario_bytes=1000))
    assert scenario.read_file(path, Limits(max_scenario_bytes=path.stat().st_size, max_body_bytes=10))
