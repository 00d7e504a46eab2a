"""The incremental re-sync proven: on every step of the stateful machine, the plan made by deciding again
only the persons and contacts whose eSD records changed equals the plan made by deciding everyone (`--full`).

The sibling machine adds the changes that alter records without moving anyone (renames) and the
contact edits (links, doNotContact, deletion) that a partial plan must follow through to the persons.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from mock_esd.server.inprocess import DEFAULT_BASE_URL
from mock_esd_sync.client import EsdClient, RetryPolicy
from mock_esd_sync.errors import IdentityConflict
from mock_esd_sync.mirror import MirrorChanges
from mock_esd_sync.plan import Plan
from mock_esd_sync.reader import ReadRecords, RecordReader
from mock_esd_sync.run import make_plan
from mock_esd_sync.settings import parse_settings
from mock_esd_sync.store import last_pages
from tests.conftest import CUSTOM
from tests.properties.model import r4_valid
from tests.properties.test_stateful import SyncMachine

RELATIONSHIPS = st.sampled_from(["Mother", "Father", "Guardian", "Aunt"])


def outcome(plan: Callable[[], tuple[Plan, MirrorChanges]]) -> tuple[Plan, MirrorChanges] | str:
    """The plan with the mirror's rows, or the identity conflict that stops it (both ways must stop alike)."""
    try:
        return plan()
    except IdentityConflict as exc:
        return str(exc)


class IncrementalMachine(SyncMachine):
    def __init__(self) -> None:
        super().__init__()
        self.raw = {**self.raw, "schools": {**self.raw["schools"], "0101": ["Enrolled", "Future"]}}  # R3 warns

    @precondition(lambda self: self.persons())
    @rule(data=st.data(), name=st.sampled_from(["Ana", "Bo"]))
    def rename(self, data: st.DataObject, name: str) -> None:
        self.control.patch_student(data.draw(st.sampled_from(self.persons()))["id"], lastName=name)

    @precondition(lambda self: [p for p in self.persons() if p["enrolledId"]])
    @rule(data=st.data(), dated=st.booleans())
    def pre_register(self, data: st.DataObject, dated: bool) -> None:
        """Pre-Registered with or without an enrollmentDate: R3 skips the undated with a data warning."""
        person = data.draw(st.sampled_from([p for p in self.persons() if p["enrolledId"]]))
        date = "2026-09-01" if dated else None
        self.control.patch_student(person["id"], studentStatus="Pre-Registered", enrollmentDate=date)

    @precondition(lambda self: self.persons())
    @rule(data=st.data(), status=st.sampled_from(["Enrolled", "Pre-enrolled", "Withdrawn", "Denied"]))
    def change_status(self, data: st.DataObject, status: str) -> None:
        """A person starts or stops syncing (made, archived, restored) while its contacts' records stay as they
        are: a partial plan must still decide those contacts again."""
        self.control.patch_student(data.draw(st.sampled_from(self.persons()))["id"], studentStatus=status)

    @precondition(lambda self: self.persons())
    @rule(
        data=st.data(),
        contact_id=st.integers(1, 4),
        relationship=RELATIONSHIPS,
        priority=st.integers(1, 3),
        do_not_contact=st.booleans(),
    )
    def put_contact(
        self, data: st.DataObject, contact_id: int, relationship: str, priority: int, do_not_contact: bool
    ) -> None:
        ids = [p["id"] for p in self.persons()]
        linked = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=3))
        links = [{"studentId": pid, "relationship": relationship, "priority": priority} for pid in linked]
        self.control.put_contact(id=contact_id, students=links, doNotContact=do_not_contact)

    @precondition(lambda self: self.store.all_contacts())
    @rule(data=st.data())
    def delete_contact(self, data: st.DataObject) -> None:
        self.control.delete_contact(data.draw(st.sampled_from(self.store.all_contacts()))["id"])

    def esd(self) -> EsdClient:
        """Two records a page: a listing spans pages, some as they were and some not."""
        return EsdClient(self.session, DEFAULT_BASE_URL, CUSTOM.client_id, CUSTOM.secret, page_size=2,
                         retry=RetryPolicy(attempts=2), sleep=lambda _: None)  # fmt: skip

    def read(self, custom_endpoints: bool, parse: bool) -> ReadRecords:
        """eSD's records as a sync reads them (`run._run_sync`): each parsed at once as it arrives (a whole
        plan), or, from the first page of each listing that is not as at the last applied sync, read as it
        arrives and parsed only when looked up; a listing none of whose pages changed waits unread."""
        reader = RecordReader(custom_endpoints, parse)
        raw = self.esd().fetch_raw(custom_endpoints, () if parse else last_pages(self.conn), reader.read)
        reader.read_pages(raw.pages, raw.listing_pages)
        return reader.records()

    @invariant()
    def the_incremental_plan_equals_the_full_plan(self) -> None:
        """Checked after every step, not only at syncs: each step's changes since the last sync are a case."""
        if not r4_valid(self.raw) or self.faults:
            return  # no plan: the settings are refused, or the fetch fails
        settings = parse_settings(self.raw)
        whole = outcome(lambda: make_plan(self.read(settings.custom_endpoints, True), settings, self.conn, full=True))
        partial = outcome(lambda: make_plan(self.read(settings.custom_endpoints, False), settings, self.conn))
        assert partial == whole, "the incremental plan differs from the full plan"


IncrementalMachine.TestCase.settings = hypothesis_settings(stateful_step_count=30)
TestIncrementalMachine = IncrementalMachine.TestCase
