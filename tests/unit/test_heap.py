"""A serving process freezes its heap, and again after each change, so the collector's full passes never walk
the district (0.3 s at 100,000 students, in whatever request triggered one). Run in a child process: freezing
the test process would change every later test's collector."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, json
    from mock_esd import heap
    from mock_esd.server.app import create_app
    from mock_esd.state.config import AppConfig
    from mock_esd.district.generator import DistrictSpec

    app = create_app(AppConfig(spec=DistrictSpec(seed=3, students=300)))
    http = app.test_client()
    tracked = lambda: {id(o) for o in gc.get_objects()}  # the objects a full pass walks (not the frozen)
    district = app.extensions["mock_esd"].registry.store("default").all_students()
    before_freeze = id(district[0]) in tracked()
    heap.freeze()
    frozen = gc.get_freeze_count()
    made = http.post("/_mock/students", json={"firstName": "Ada"}).get_json()
    store = app.extensions["mock_esd"].registry.store("default")
    new = next(s for s in store.all_students() if s["id"] == made["id"])
    print(json.dumps({
        "walked_before_freeze": before_freeze,
        "district_walked_after_freeze": id(store.all_students()[0]) in tracked(),
        "new_record_walked": id(new) in tracked(),
        "frozen_grew": gc.get_freeze_count() > frozen,
    }))
    """
)

UNFROZEN = textwrap.dedent(
    """
    import gc, json
    from mock_esd.server.app import create_app
    from mock_esd.state.config import AppConfig
    from mock_esd.district.generator import DistrictSpec

    app = create_app(AppConfig(spec=DistrictSpec(seed=3, students=300)))
    app.test_client().post("/_mock/students", json={"firstName": "Ada"})
    print(json.dumps({"frozen": gc.get_freeze_count()}))
    """
)


def _run(code: str) -> dict[str, object]:
    import json

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_served_district_and_each_change_to_it_are_frozen_out_of_the_collectors_walks() -> None:
    seen = _run(CHILD)
    assert seen == {
        "walked_before_freeze": True,
        "district_walked_after_freeze": False,
        "new_record_walked": False,
        "frozen_grew": True,
    }


def test_a_process_that_never_froze_is_left_alone() -> None:
    assert _run(UNFROZEN) == {"frozen": 0}
