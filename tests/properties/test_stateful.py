"""A stateful test: the district lives on (applications, acceptances, moves, withdrawals, deletions,
renames, contacts flagged doNotContact), settings change (a school's options cleared, custom endpoints
toggled, R9's permission source), faults strike (5xx, a short last page), and after every step the
Operoo database must hold exactly what the independent model says, every field of every student and
contact, archived ones too (R7); temporary IDs and records stay stable (R2, R8), and an aborted sync
must have changed nothing (R11).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import requests
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mock_esd.district import builders
from mock_esd.district.store import DistrictStore
from mock_esd.district.tenants import DEFAULT_TENANT, Registry
from mock_esd.qa.client import ControlClient
from mock_esd.server.app import create_app
from mock_esd.server.inprocess import DEFAULT_BASE_URL, routed
from mock_esd.state.config import AppConfig
from mock_esd_sync.client import EsdClient, RetryPolicy
from mock_esd_sync.errors import SettingsError
from mock_esd_sync.run import run_sync
from mock_esd_sync.settings import parse_settings
from mock_esd_sync.store import connect, snapshot_tables
from mock_esd_sync.strategies import contact_settings
from tests.conftest import CUSTOM
from tests.properties.model import (
    ContactRow,
    StudentRow,
    after_sync,
    contacts,
    model,
    r4_valid,
    stored_contacts,
    stored_students,
    students,
)

SCHOOLS = ["0101", "0201", "0900"]
OPTIONS = st.lists(st.sampled_from(["Enrolled", "Pre-Enrolled", "Future"]), unique=True, max_size=3)
LISTS = ["/v1/schools", "/v1/students", "/v1/contacts", "/v1/operoo/students", "/v1/operoo/contacts"]


def start_district() -> Any:
    return builders.district(
        [
            builders.school("0101"),
            builders.school("0201", school_type="Middle"),
            builders.school("0900", "Document School", "Holding"),
        ],
        [
            builders.student(1, enrolled_id="10000001", school_id="0101"),
            builders.student(2, enrolled_id="10000002", status="Pre-enrolled", school_id="0900"),
            builders.student(3, enrolled_id="10000003", status="Pre-Registered", school_id="0201"),
            builders.student(4, status="Pre-enrolled"),
            builders.student(5, status="Pre-enrolled", school_id="0101"),
            builders.student(6, status="Denied"),
        ],
        [
            builders.contact(1, [(1, "Mother", 1), (4, "Mother", 1)]),
            builders.contact(2, [(2, "Father", 2)]),
            builders.contact(3, [(5, "Aunt", 3), (3, "Aunt", 2)]),
        ],
    )


_app: tuple[Any, Registry] | None = None


def machine_app() -> tuple[Any, Registry]:
    """One mock app per process, each example putting its own district in place: building an app costs
    about as much as a small sync."""
    global _app
    if _app is None:
        registry = Registry()
        registry.add_tenant(DEFAULT_TENANT, DistrictStore(district=start_district()))
        _app = create_app(AppConfig(sleep=lambda _: None), registry), registry
    return _app


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        app, registry = machine_app()
        self.store = DistrictStore(district=start_district())
        registry.replace_store(DEFAULT_TENANT, self.store)
        self.routing = routed(app)
        self.routing.__enter__()
        self.session = requests.Session()
        self.control = ControlClient(self.session, DEFAULT_BASE_URL.removesuffix("/api"))
        self.control.clear_faults()  # none left by an example that failed with faults armed
        self.tmp = tempfile.TemporaryDirectory()
        self.conn = connect(Path(self.tmp.name) / "operoo.db")
        self.raw: dict[str, Any] = {
            "custom_endpoints": True,
            "schools": {"0101": ["Enrolled", "Pre-Enrolled"], "0900": ["Pre-Enrolled"]},
        }
        self.faults: list[tuple[str, str]] = []  # (endpoint, kind) of the rules armed until the next sync
        self.expected: tuple[dict[int, StudentRow], dict[int, ContactRow]] = ({}, {})  # the model's database
        self.temporary: dict[int, str] = {}  # person -> temporary ID last seen, while on the custom path
        self.records: dict[int, int] = {}  # person -> record id: one Operoo record per person, for life

    def teardown(self) -> None:
        self.conn.close()
        self.session.close()
        self.routing.__exit__(None, None, None)
        self.tmp.cleanup()

    @initialize()
    def first_sync(self) -> None:
        """Every run starts synced, so that its first steps already change a synced district."""
        self.sync()

    # ----- eSD changes ------------------------------------------------------------------------------

    def persons(self, **match: Any) -> list[dict[str, Any]]:
        return [p for p in self.store.all_students() if all(p.get(k) == v for k, v in match.items())]

    @rule(school=st.one_of(st.none(), st.sampled_from(SCHOOLS)))
    def submit(self, school: str | None) -> None:
        self.control.submit_application(**({"schoolId": school} if school else {}))

    @precondition(lambda self: self.persons(enrolledId=None))
    @rule(data=st.data(), school=st.sampled_from(SCHOOLS))
    def accept(self, data: st.DataObject, school: str) -> None:
        person = data.draw(st.sampled_from(self.persons(enrolledId=None)))
        self.control.accept(person["id"], school)

    @precondition(lambda self: self.persons())
    @rule(data=st.data(), school=st.sampled_from(SCHOOLS))
    def move(self, data: st.DataObject, school: str) -> None:
        self.control.move(data.draw(st.sampled_from(self.persons()))["id"], school)

    @precondition(lambda self: self.persons())
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self.control.withdraw(data.draw(st.sampled_from(self.persons()))["id"])

    @precondition(lambda self: self.persons())
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self.control.delete_student(data.draw(st.sampled_from(self.persons()))["id"])

    @precondition(lambda self: self.persons())
    @rule(data=st.data(), name=st.sampled_from(["Ann", "Bea", "Zoë"]))
    def rename(self, data: st.DataObject, name: str) -> None:
        self.control.patch_student(data.draw(st.sampled_from(self.persons()))["id"], firstName=name)

    @precondition(lambda self: self.store.all_contacts())
    @rule(data=st.data())
    def flag_do_not_contact(self, data: st.DataObject) -> None:
        """doNotContact set or cleared on a contact (both listings show it)."""
        contact = data.draw(st.sampled_from(self.store.all_contacts()))
        if contact["students"]:
            self.control.put_contact(**{**contact, "doNotContact": not contact["doNotContact"]})

    # ----- Operoo settings and faults -------------------------------------------------------------

    @rule(school=st.sampled_from(SCHOOLS), options=OPTIONS)
    def select(self, school: str, options: list[str]) -> None:
        """Includes [] ("three white crosses") and, with custom endpoints off, invalid combinations."""
        self.raw = {**self.raw, "schools": {**self.raw["schools"], school: options}}

    @rule()
    def toggle_custom_endpoints(self) -> None:
        self.raw = {**self.raw, "custom_endpoints": not self.raw["custom_endpoints"]}

    @rule(contacts=contact_settings())
    def choose_permission_source(self, contacts: dict[str, Any]) -> None:
        self.raw = {**self.raw, "contacts": contacts}

    @rule(endpoint=st.sampled_from(LISTS), kind=st.sampled_from(["status", "short_last_page"]))
    def sync_under_a_fault(self, endpoint: str, kind: str) -> None:
        """A fault armed, then a sync at once (a fault left for later is mostly never met by a sync)."""
        self.control.add_fault(endpoint, kind, params={"status": 503} if kind == "status" else {})
        self.faults.append((endpoint, kind))
        self.sync()

    def bites(self, endpoint: str, kind: str) -> bool:
        """Whether a fault rule on `endpoint` spoils what the next sync reads (R11: it must abort)."""
        if endpoint.startswith("/v1/operoo") and not self.raw["custom_endpoints"]:
            return False  # not read
        if kind == "status":
            return True
        listing = {
            "/v1/schools": self.store.schools, "/v1/students": self.store.students,
            "/v1/contacts": self.store.contacts, "/v1/operoo/students": self.store.operoo_students,
            "/v1/operoo/contacts": self.store.operoo_contacts,
        }[endpoint]()  # fmt: skip
        return bool(listing.records)  # an empty listing has no record to lose

    # ----- the sync and what must hold after it ---------------------------------------------------

    def esd(self) -> EsdClient:
        return EsdClient(self.session, DEFAULT_BASE_URL, CUSTOM.client_id, CUSTOM.secret, page_size=100,
                         retry=RetryPolicy(attempts=2), sleep=lambda _: None)  # fmt: skip

    @rule()
    def sync(self) -> None:
        before = snapshot_tables(self.conn)
        esd = self.esd()
        if not r4_valid(self.raw):
            try:
                parse_settings(self.raw)
            except SettingsError:
                return  # the faults stay armed for the next sync
            raise AssertionError(f"R4: invalid settings accepted: {self.raw}")
        bites = any(self.bites(endpoint, kind) for endpoint, kind in self.faults)
        report = run_sync(esd, parse_settings(self.raw), self.conn, allow_mass_removal=True)
        self.faults = []
        self.control.clear_faults()
        if bites:
            assert report.status == "aborted", "R11: a sync that could not read every page must abort"
            assert snapshot_tables(self.conn) == before, "R11: an aborted sync changed the state"
            return
        assert report.status == "applied", report.errors
        district = copy.deepcopy(self.store.snapshot())
        self.expected = after_sync(self.expected, (students(district, self.raw), contacts(district, self.raw)))
        self.check_state()

    def check_state(self) -> None:
        district = copy.deepcopy(self.store.snapshot())
        ids, groups = model(district, self.raw)
        rows = self.conn.execute("SELECT person_id, operoo_id, record_id, archived FROM students").fetchall()
        active = {pid: oid for pid, oid, _, archived in rows if not archived}
        assert active == ids, "the synced students differ from the model's"
        stored = {(n, s or None): set() for n, s in self.conn.execute("SELECT name, school_id FROM groups_")}
        for name, school, oid in self.conn.execute(
            "SELECT g.name, g.school_id, s.operoo_id FROM memberships JOIN groups_ g USING (group_id) JOIN students s USING (record_id)"
        ):
            stored[(name, school or None)].add(oid)
        assert stored == groups, "the groups differ from the model's"
        for pid, oid in ids.items():
            if oid.startswith("student-operoo-"):
                assert self.temporary.setdefault(pid, oid) == oid, "R2: a temporary ID changed"

    @invariant()
    def every_field_of_every_student_and_contact_is_the_model_s(self) -> None:
        got_students, want_students = stored_students(self.conn), self.expected[0]
        for pid in sorted(got_students.keys() | want_students.keys()):
            assert got_students.get(pid) == want_students.get(pid), f"person {pid}: stored, then the model's"
        got_contacts, want_contacts = stored_contacts(self.conn), self.expected[1]
        for cid in sorted(got_contacts.keys() | want_contacts.keys()):
            assert got_contacts.get(cid) == want_contacts.get(cid), f"contact {cid}: stored, then the model's"

    @invariant()
    def one_record_per_person_for_life(self) -> None:
        rows = dict(self.conn.execute("SELECT person_id, record_id FROM students").fetchall())
        for pid, record in self.records.items():
            assert pid in rows, f"R7: person {pid}'s Operoo record was deleted, not archived"
            assert rows[pid] == record, f"R8: person {pid} has a new Operoo record instead of a re-key"
        self.records.update(rows)


SyncMachine.TestCase.settings = hypothesis_settings(stateful_step_count=25)
TestSyncMachine = SyncMachine.TestCase
