"""Teeth: each deliberate mutation of the sync (mutations.py) must make its catcher fail with a falsifying
example, in the default test command.

Each mutation is one test (pytest shows each as it ends). It is planted in this process (and undone after),
and its catcher, a property of test_properties.py or the stateful machine, must fail twice: on its explicit
`@example`s alone (the districts every run tries), and under TEETH, a bounded derandomized search without
the explicit examples (so the strategies themselves find an exposing district) and without shrinking (the
costly part; the unshrunk example is still reported). For a shrunk example, run the whole suite under one
mutation:
`MOCK_ESD_MUTATION=kept_student_never_updated HYPOTHESIS_PROFILE=teeth python -m pytest -x
tests/properties/test_properties.py tests/properties/test_stateful.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import HypothesisException
from hypothesis.stateful import run_state_machine_as_test

from tests.properties import test_properties as p
from tests.properties.mutations import MUTATIONS
from tests.properties.test_stateful import SyncMachine

# How many examples the search may try before a mutation counts as not caught (it needs far fewer: each
# catcher's strategy draws the exposing districts often; see --hypothesis-show-statistics).
TEETH_MAX_EXAMPLES = 200
TEETH = settings(
    max_examples=TEETH_MAX_EXAMPLES,
    phases=[Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    stateful_step_count=25,
)

EXPLICIT = settings(TEETH, phases=[Phase.explicit])


def stateful() -> None:
    run_state_machine_as_test(SyncMachine, settings=TEETH)


# The catcher of each mutation: the test meant to catch it (others may catch it too).
CATCHER: dict[str, Callable[..., Any]] = {
    "custom_students_not_in_all_district": p.test_every_synced_student_is_in_all_district_students_and_one_status_group,
    "temporary_id_from_the_wrong_field": p.test_temporary_ids_exactly_for_custom_path_students,
    "pre_registered_without_future": p.test_r3_pre_registered_students_sync_exactly_where_future_is_selected,
    "deselected_school_keeps_its_groups": p.test_a_sync_from_any_earlier_state_stores_what_the_model_asks_for,
    "promotion_creates_a_new_record": stateful,
    "aborted_read_archives_students": stateful,
    "r4_not_checked": p.test_r4_rejects_exactly_the_invalid_settings,
    "custom_path_needs_a_school": p.test_the_sync_s_students_contacts_and_groups_equal_the_model_s,
    "kept_student_never_updated": p.test_a_sync_from_any_earlier_state_stores_what_the_model_asks_for,
    "short_last_page_unnoticed": stateful,
    "do_not_contact_from_the_first_listing": p.test_the_sync_s_students_contacts_and_groups_equal_the_model_s,
    "hold_at_exactly_the_share": p.test_r11_holds_a_sync_exactly_when_it_would_archive_ten_or_more_and_more_than_max_archive_share,
    "hold_needs_more_than_ten": p.test_r11_holds_a_sync_exactly_when_it_would_archive_ten_or_more_and_more_than_max_archive_share,
    "custom_student_in_any_selected_school": p.test_the_sync_s_students_contacts_and_groups_equal_the_model_s,
    "archived_student_never_restored": p.test_settings_changed_and_changed_back_restore_every_record,
    "priority_boundary_excluded": p.test_the_sync_s_students_contacts_and_groups_equal_the_model_s,
    "contact_without_synced_students_kept": p.test_the_sync_s_students_contacts_and_groups_equal_the_model_s,
    "identity_conflict_unchecked": p.test_an_enrolled_id_given_to_another_person_aborts_the_sync_naming_both,
    "digest_ignores_settings": p.test_settings_changed_and_changed_back_restore_every_record,
}  # fmt: skip


def test_every_mutation_has_a_catcher() -> None:
    assert set(CATCHER) == set(MUTATIONS)


def caught(mutation: str, catcher: Callable[..., Any], how: str) -> str:
    """The falsifying example `catcher` reports under `mutation`, which must make it fail."""
    with pytest.raises((Exception, pytest.fail.Exception)) as failure:  # whatever breaks, on a reported example
        catcher()
    assert not isinstance(failure.value, HypothesisException), f"{mutation}: not caught by {how}: {failure.value!r}"
    notes = "\n".join(getattr(failure.value, "__notes__", []))
    assert "Failing" in notes or "Falsifying" in notes, f"{mutation}: failed without an example: {failure.value!r}"
    return notes


@pytest.mark.slow
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_property_suite_catches(mutation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caught by the catcher's explicit @examples (what every run tries), and by the search alone."""
    catcher = CATCHER[mutation]
    MUTATIONS[mutation](monkeypatch)
    if catcher is not stateful:  # a state machine has no explicit examples
        # The documented way is @settings on the test, which would change it for good; monkeypatch restores it.
        monkeypatch.setattr(catcher, "_hypothesis_internal_use_settings", EXPLICIT)
        caught(mutation, catcher, "its explicit examples")
        monkeypatch.setattr(catcher, "_hypothesis_internal_use_settings", TEETH)
    notes = caught(mutation, catcher, f"a search of {TEETH_MAX_EXAMPLES} examples")
    print(f"{mutation}: caught by {getattr(catcher, '__name__', catcher)}\n{notes[:3000]}")
