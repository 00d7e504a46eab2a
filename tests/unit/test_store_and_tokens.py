"""Two caches on the serving path: a view's page bytes, and a token's checked signature. Both must be invisible."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from mock_esd import store
from mock_esd.errors import Unauthorized
from mock_esd.store import View
from mock_esd.tenants import TokenVerifier, default_clients, issue_token

KEY = b"k" * 32
CLIENT, _ = default_clients("default")


def records(n: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"n{i}", "tags": [i, "x"]} for i in range(n)]


def test_a_view_serves_the_same_bytes_before_and_after_every_record_is_encoded() -> None:
    data = records(250)
    view = View(data)
    want = [orjson.dumps(r) for r in data]
    assert view.encoded(10, 20) == want[10:20]
    for start in range(0, 250, 100):
        assert view.encoded(start, start + 100) == want[start : start + 100]
    assert view.encoded(240, 300) == want[240:], "a page past the end is cut, fully encoded or not"
    assert view.encoded(5, 7) == want[5:7]


class _SlowJson:
    """orjson whose dumps yields to other threads, so two threads do encode the same record at once."""

    @staticmethod
    def dumps(value: object) -> bytes:
        time.sleep(0.0001)
        return orjson.dumps(value)


def test_threads_encoding_the_same_records_never_leave_a_hole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "orjson", _SlowJson)
    for _ in range(5):
        data = records(400)
        view = View(data)
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(lambda n, v=view: v.encoded((n % 4) * 100, (n % 4) * 100 + 100), range(64)))
        assert all(None not in page for page in pages)
        assert b",".join(view.encoded(0, 400)) == b",".join(orjson.dumps(r) for r in data)


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
