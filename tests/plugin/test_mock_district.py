"""`mock_esd.mock_district` outside pytest's fixtures: a context manager, a decorator, start/stop; in-process and live."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import unittest
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

import mock_esd
from mock_esd import EsdDistrict, mock_district
from mock_esd.testing import Districts

FIXTURES_PAGE = Path(__file__).parents[2] / "docs" / "qa" / "fixtures.md"


def token(esd: EsdDistrict, custom: bool = True) -> str:
    client = esd.custom if custom else esd.standard
    answer = requests.post(
        f"{esd.base_url}/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": client.client_secret},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def students(esd: EsdDistrict, custom: bool = True) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token(esd, custom)}"}
    answer = requests.get(f"{esd.base_url}/v1/students", params={"pageSize": 1000}, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["students"])


def test_in_process_a_block_is_a_district_of_its_own() -> None:
    with mock_district(students=40, seed=3) as esd:
        assert esd.base_url == "http://esd.invalid/api"
        before = students(esd)
        assert before and {s["studentStatus"] for s in before} >= {"Enrolled"}
        withdrawn = next(s for s in before if s["studentStatus"] == "Enrolled")
        esd.control.withdraw(withdrawn["id"])
        assert next(s for s in students(esd) if s["id"] == withdrawn["id"])["studentStatus"] == "Withdrawn"
        assert len(esd.control.assert_requests(2, path="/v1/students")) == 2
    with mock_district(students=40, seed=3) as again:  # the same spec, none of the change of before
        assert students(again) == before
    with pytest.raises(requests.ConnectionError):  # no longer routed: esd.invalid does not resolve
        requests.get(f"{esd.base_url}/v1/schools", timeout=5)


def test_the_same_spec_gives_the_same_bytes_and_another_seed_other_ones() -> None:
    with mock_district(students=25, seed=8) as a:
        first = students(a)
    with mock_district(students=25, seed=8) as b:
        assert students(b) == first
    with mock_district(students=25, seed=9) as c:
        assert students(c) != first


def test_the_standard_client_is_refused_the_custom_endpoints() -> None:
    with mock_district(students=10) as esd:
        answer = requests.get(
            f"{esd.base_url}/v1/operoo/students",
            headers={"Authorization": f"Bearer {token(esd, custom=False)}"},
            timeout=10,
        )
        assert answer.status_code == 403


def test_blocks_may_nest_each_on_a_host_of_its_own() -> None:
    with mock_district(students=20, seed=1) as outer, mock_district(students=20, seed=1) as inner:
        assert outer.base_url != inner.base_url
        before = students(outer)
        assert students(inner) == before  # the same spec
        inner.control.withdraw(before[0]["id"])
        assert students(outer) == before  # what the inner block changed the outer district does not show
        assert students(inner)[0]["studentStatus"] == "Withdrawn"


def test_live_a_server_of_its_own_that_stops_with_the_block() -> None:
    with mock_district(live=True, students=15, today=dt.date(2027, 3, 1)) as esd:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", esd.base_url)
        assert len(students(esd)) > 0
        assert esd.control.export_scenario()["today"] == "2027-03-01"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{esd.base_url}/v1/schools", timeout=5)


def test_live_districts_of_one_districts_share_its_server_as_tenants() -> None:
    with Districts() as districts:
        with mock_district(live=True, districts=districts, students=12) as a:
            with mock_district(live=True, districts=districts, students=12) as b:
                assert a.base_url == b.base_url and a.tenant != b.tenant
                before = students(b)
                a.control.withdraw(before[0]["id"])
                assert students(b) == before
                assert students(a)[0]["studentStatus"] == "Withdrawn"
            a_token = token(a)
        with pytest.raises(AssertionError):  # the block's tenant is gone with it: its client is unknown
            token(a)
        root = districts.server().root_url
        assert requests.get(f"{root}/openapi.json", timeout=5).status_code == 200  # the server stays for more
        assert a_token
    with pytest.raises(requests.ConnectionError):  # closing the districts stops it
        requests.get(f"{root}/openapi.json", timeout=5)


def test_as_a_decorator_each_call_gets_a_fresh_district_last() -> None:
    seen: list[tuple[str, int]] = []

    @mock_district(students=18)
    def check(label: str, esd: EsdDistrict) -> int:
        listed = students(esd)
        esd.control.delete_student(listed[0]["id"])
        seen.append((label, len(listed)))
        return len(students(esd))

    assert check("first") == check("second")  # the deletion of the first call is not seen by the second
    assert [label for label, _ in seen] == ["first", "second"]
    assert seen[0][1] == seen[1][1]
    assert check.__name__ == "check"


def test_as_a_class_decorator_each_test_method_gets_one() -> None:
    @mock_district(students=9)
    class Case(unittest.TestCase):
        def test_reads(self, esd: EsdDistrict) -> None:
            assert students(esd)

        def helper(self) -> str:  # not a test: left alone
            return "untouched"

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)
    assert result.testsRun == 1 and result.wasSuccessful(), result.errors + result.failures
    assert Case("test_reads").helper() == "untouched"


def test_start_and_stop_for_set_up_and_notebooks() -> None:
    district = mock_district(students=5)
    esd = district.start()
    with pytest.raises(RuntimeError, match="already started"):
        district.start()
    assert students(esd) is not None
    district.stop()
    district.stop()  # twice: nothing more
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{esd.base_url}/v1/schools", timeout=5)


@pytest.mark.parametrize(
    ("fields", "error", "said"),
    [
        ({"size": 7}, TypeError, "takes only seed, students, schools, today; got size"),
        ({"students": "7"}, TypeError, "students must be a whole number, got str"),
        ({"seed": True}, TypeError, "seed must be a whole number, got bool"),
        ({"today": dt.datetime(2027, 1, 1)}, TypeError, "today must be a datetime.date, got datetime"),
        ({"students": -1}, ValueError, "students must be >= 0"),
        ({"schools": 1}, ValueError, "schools must be >= 2"),
    ],
)
def test_what_it_cannot_take_is_refused_at_once_naming_it(
    fields: dict[str, Any], error: type[Exception], said: str
) -> None:
    with pytest.raises(error, match=re.escape(said)):
        mock_district(**fields)


def test_it_decorates_functions_and_test_cases_only() -> None:
    with pytest.raises(TypeError, match=r"unittest\.TestCase"):
        mock_district()(int)  # a class that is not a TestCase
    with pytest.raises(TypeError, match="decorates functions"):
        mock_district()(42)


def test_the_package_exports_it() -> None:
    assert mock_esd.mock_district is mock_district and mock_esd.EsdDistrict is EsdDistrict


def test_the_documented_unittest_example_runs() -> None:
    """docs/qa/fixtures.md's unittest example, run as a user would paste it into a test module."""
    block = re.search(
        r"```python\n(# test_district_unittest\.py\n.*?)```", FIXTURES_PAGE.read_text(encoding="utf-8"), re.DOTALL
    )
    assert block is not None, "the unittest example of docs/qa/fixtures.md (`# test_district_unittest.py`) is gone"
    namespace: dict[str, Any] = {"__name__": "test_district_unittest"}
    exec(compile(block.group(1), "docs/qa/fixtures.md", "exec"), namespace)
    cases = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, unittest.TestCase)]
    assert cases
    result = unittest.TestResult()
    for case in cases:
        unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
    assert result.testsRun >= 2 and result.wasSuccessful(), result.errors + result.failures


def test_a_tests_own_responses_mock_around_it_still_answers_its_calls() -> None:
    """Calls to other hosts pass through the district's routing to whatever sends them: here the test's own mock."""
    import responses

    with responses.RequestsMock() as theirs, mock_district(students=5) as esd:
        theirs.add(responses.GET, "https://api.other.example/ping", json={"pong": True})
        assert requests.get("https://api.other.example/ping", timeout=5).json() == {"pong": True}
        assert students(esd)


def test_without_parentheses_it_decorates_with_the_defaults() -> None:
    @mock_district
    def count(esd: EsdDistrict) -> int:
        return len(students(esd))

    assert count() == len(students_of_a_default_district())
    with pytest.raises(TypeError, match=r"options by name: @mock_district\(students=5\)"):
        mock_district(count, students=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"options go by name"):
        mock_district(200)  # type: ignore[arg-type]


def students_of_a_default_district() -> list[dict[str, Any]]:
    with mock_district() as esd:
        return students(esd)


def test_a_generator_keeps_its_district_until_it_is_exhausted() -> None:
    @mock_district(students=6)
    def pages(esd: EsdDistrict) -> Iterator[int]:
        for _ in range(2):
            yield len(students(esd))  # the second, after the caller's pause, still reaches the district

    walk = pages()
    assert next(walk) == next(walk) > 0
    assert list(walk) == []


def test_a_coroutine_keeps_its_district_until_it_returns() -> None:
    @mock_district(students=6)
    async def count(esd: EsdDistrict) -> int:
        await asyncio.sleep(0)
        return len(students(esd))

    # In a thread of its own: a session's browser (Playwright's sync API) keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(asyncio.run, count()).result() > 0


def test_an_async_generator_is_refused_at_decoration_saying_why() -> None:
    async def pages(esd: EsdDistrict) -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match=r"async generator function .*pages: nothing says when its district may end"):
        mock_district()(pages)


def test_a_function_without_a_parameter_for_it_is_refused_at_decoration() -> None:
    def nothing() -> None:
        pass

    with pytest.raises(TypeError, match="nothing takes no parameter for the district"):
        mock_district()(nothing)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"live": "no"}, "mock_district's live must be True or False, got str"),
        ({"live": 1}, "mock_district's live must be True or False, got int"),
        ({"districts": {}}, "mock_district's districts must be a mock_esd.Districts, got dict"),
        ({"unfired_faults": True}, "mock_district's unfired_faults must be a str, got bool"),
    ],
)
def test_an_option_of_the_wrong_type_is_refused_naming_it(options: dict[str, Any], said: str) -> None:
    with pytest.raises(TypeError, match=re.escape(said)):
        mock_district(**options)


def test_inherited_test_methods_get_a_district_too() -> None:
    class Base(unittest.TestCase):
        def test_inherited(self, esd: EsdDistrict) -> None:
            assert students(esd)

    @mock_district(students=9)
    class Case(Base):
        def test_own(self, esd: EsdDistrict) -> None:
            assert students(esd)

    @mock_district(students=9)
    class Again(Case):  # decorated twice over: each method still gets one district
        pass

    for case in (Case, Again):
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
        assert result.testsRun == 2 and result.wasSuccessful(), result.errors + result.failures
    assert not hasattr(Base.test_inherited, "__mock_district__")  # the base class is left as it was


def test_a_test_case_method_without_a_parameter_for_the_district_is_refused_at_decoration() -> None:
    """`def test_a(self)` has no place for the district: said when the class is decorated, naming the method,
    not as "multiple values for argument 'self'" once a district was generated for it; nothing is wrapped."""

    class Case(unittest.TestCase):
        def test_with(self, esd: EsdDistrict) -> None:
            assert students(esd)

        def test_without(self) -> None:
            pass

    with pytest.raises(TypeError, match=r"Case\.test_without takes no parameter for the district after self"):
        mock_district(students=3)(Case)
    assert not hasattr(Case.test_with, "__mock_district__"), "an error changes nothing"


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda: mock_district(students=10**7), "students 10000000 is above the limit max_students=1000000"),
        (lambda: mock_district(schools=10**5), "schools 100000 is above the limit max_schools=1000"),
        (lambda: Districts(mock_esd.testing.district_spec(students=10**7)), "above the limit max_students=1000000"),
        (
            lambda: Districts().inprocess(mock_esd.testing.district_spec(students=10**7)).__enter__(),
            "above the limit max_students=1000000",
        ),
        (
            lambda: mock_district(students=11, districts=Districts(limits=mock_esd.Limits(max_students=10))),
            "students 11 is above the limit max_students=10",
        ),
    ],
    ids=["mock_district", "schools", "Districts", "inprocess", "own-limits"],
)
def test_a_district_above_the_limits_is_refused_before_it_is_generated(make: Any, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{said}") + r".*\(a setting of mock_esd\.Limits\)"):
        make()


def test_live_districts_together_keep_to_the_servers_total_and_tenants() -> None:
    spec = mock_esd.testing.district_spec
    limits = mock_esd.Limits(max_total_students=25, max_tenants=3)
    with Districts(spec(students=10), limits) as districts, mock_district(live=True, districts=districts, students=12):
        with pytest.raises(ValueError, match=r"make 34, above the limit max_total_students=25 \(a setting"):
            districts.live(spec(students=12)).__enter__()  # 10 + 12 + 12 of 25
        with (
            mock_district(live=True, districts=districts, students=0),
            pytest.raises(ValueError, match=r"4 would be above the limit max_tenants=3"),
        ):
            districts.live(spec(students=0)).__enter__()


@pytest.mark.parametrize("method", ["inprocess", "live", "fork"])
def test_districts_take_a_spec_not_a_mapping_of_options(method: str) -> None:
    def use(districts: Districts) -> None:
        made = getattr(districts, method)({"students": 5})
        if method != "fork":  # the others are context managers: refused when entered
            made.__enter__()

    with (
        Districts() as districts,
        pytest.raises(TypeError, match=rf"Districts.{method} takes a DistrictSpec .*got dict"),
    ):
        use(districts)
