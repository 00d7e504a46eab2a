"""Two caches on the serving path: a view's page bytes, and a token's checked signature. Both must be invisible."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from mock_esd.district import encoding, store
from mock_esd.district.generator import DistrictSpec
from mock_esd.district.listings import Listing
from mock_esd.district.tenants import TokenVerifier, default_clients, issue_token
from mock_esd.errors import Unauthorized

KEY = b"k" * 32
CLIENT, _ = default_clients("default")


def records(n: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"n{i}", "tags": [i, "x"]} for i in range(n)]


def _joined(data: list[dict[str, object]]) -> bytes:
    """What a page's records must read: each record's own JSON, comma-separated."""
    return b",".join(orjson.dumps(r) for r in data)


def test_a_page_is_the_records_own_json_whatever_its_bounds() -> None:
    data = [*records(250), {"id": 250, "name": 'quote " comma , bracket ] brace }', "tags": [{"nested": "x"}]}]
    view = Listing(data)
    for start, stop in [(10, 20), (0, 100), (100, 200), (200, 300), (250, 251), (5, 7), (0, 251), (0, 1)]:
        assert bytes(view.page(start, stop)) == _joined(data[start:stop]), (start, stop)
    assert bytes(view.page(251, 300)) == b"", "a page past the end is empty"
    assert bytes(Listing([]).page(0, 100)) == b""


def test_a_view_holds_its_json_once_not_an_object_per_record() -> None:
    data = records(1000)
    view = Listing(data)
    assert not view.encoded and view.nbytes == 8 * len(data)  # nothing encoded before the first page
    view.page(0, 1)
    assert view.encoded
    # its JSON, where each record starts, its one segment (start, end, piece, first) and its list of records
    assert view.nbytes == len(orjson.dumps(data)) + 8 * (len(data) + 1) + 8 * 4 + 8 * len(data)


class _ChangedBetweenPasses:
    """orjson whose first encoding of the whole list sees record 0 before a change replaced its name."""

    whole_lists = 0

    @staticmethod
    def dumps(value: object) -> bytes:
        if isinstance(value, list) and not _ChangedBetweenPasses.whole_lists:
            _ChangedBetweenPasses.whole_lists += 1
            return orjson.dumps([{**value[0], "name": "before the change"}, *value[1:]])
        return orjson.dumps(value)


def test_a_record_changed_while_its_view_is_encoded_still_gives_whole_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoding, "orjson", _ChangedBetweenPasses)
    data = records(3000)
    view = Listing(data)
    assert bytes(view.page(0, 3000)) == _joined(data)
    assert bytes(view.page(1500, 1600)) == _joined(data[1500:1600])


class _SlowJson:
    """orjson whose dumps yields to other threads, so two threads do ask for the same view at once."""

    calls = 0

    @staticmethod
    def dumps(value: object) -> bytes:
        if isinstance(value, list):
            _SlowJson.calls += 1
        time.sleep(0.0001)
        return orjson.dumps(value)


def test_threads_asking_for_pages_at_once_get_the_right_bytes_from_one_encoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(encoding, "orjson", _SlowJson)
    for _ in range(5):
        _SlowJson.calls = 0
        data = records(400)
        view = Listing(data)
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(lambda n, v=view: bytes(v.page((n % 4) * 100, (n % 4) * 100 + 100)), range(64)))
        assert pages == [_joined(data[(n % 4) * 100 : (n % 4) * 100 + 100]) for n in range(64)]
        assert _SlowJson.calls == 1, "the view was encoded once, not once per thread"


def test_a_verified_token_still_expires() -> None:
    verify = TokenVerifier(KEY)
    token = issue_token(CLIENT, KEY, now=1000, ttl=60)
    assert verify(token, 1000) == CLIENT.client_id
    assert verify(token, 1059) == CLIENT.client_id
    with pytest.raises(Unauthorized, match="expired"):
        verify(token, 1060)


def test_a_token_signed_with_another_key_or_altered_is_refused_every_time() -> None:
    verify = TokenVerifier(KEY)
    forged = issue_token(CLIENT, b"x" * 32, now=1000, ttl=60)
    for _ in range(2):
        with pytest.raises(Unauthorized, match="invalid"):
            verify(forged, 1000)
    with pytest.raises(Unauthorized, match="invalid"):
        verify(issue_token(CLIENT, KEY, now=1000, ttl=60)[:-2] + "AA", 1000)


def test_the_cache_is_bounded() -> None:
    verify = TokenVerifier(KEY, limit=3)
    tokens = [issue_token(CLIENT, KEY, now=1000 + n, ttl=60) for n in range(10)]
    assert [verify(t, 1000) for t in tokens] == [CLIENT.client_id] * 10
    assert len(verify._claims) <= 3


@pytest.mark.parametrize("junk", ["", "x", "a.b", "Zm9v.YmFy.YmF6", "[1,2].sig"])
def test_what_is_not_a_token_is_refused_as_invalid(junk: str) -> None:
    with pytest.raises(Unauthorized, match="invalid access token"):
        TokenVerifier(KEY)(junk, 1000)


def test_warming_a_district_encodes_its_five_listings_before_any_request() -> None:
    district = store.DistrictStore(DistrictSpec(seed=3, students=60))
    listings = (
        district.schools,
        district.students,
        district.contacts,
        district.operoo_students,
        district.operoo_contacts,
    )
    assert not any(listing().encoded for listing in listings)
    district.warm()
    assert all(listing().encoded for listing in listings)
