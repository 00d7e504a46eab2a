"""eSD's list endpoints, written once: the path, the key its records come under, the contract's record schema,
whether only a client with the Operoo custom endpoints may read it, and the filters it takes beyond paging.

Everything else derives from this table: the mock's routes (`mock_esd.http.api`), the sync's reader and
parsers (`mock_esd_sync.records`, `shapes`), the verifier's walks (`probe`, `checks`) and `mock-esd record`.
A new listing is a row here plus its code where it is served and read; `tests/contract/test_openapi.py`
holds the table to `openapi.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mock_esd_contracts import vocabulary as esd


@dataclass(frozen=True)
class Endpoint:
    """One list endpoint of the eSD API."""

    path: str  # under the base URL: "/v1/students"
    key: str  # the records come under it: {"students": [...], "pagingInfo": {...}}
    component: str  # the OpenAPI schema of one record: "Student"
    custom: bool  # an Operoo custom endpoint: a 403 for a client without them
    filters: tuple[str, ...] = ()  # query parameters beyond pageNo and pageSize


SCHOOLS: Final = Endpoint("/v1/schools", esd.SCHOOLS_KEY, "School", False)
STUDENTS: Final = Endpoint("/v1/students", esd.STUDENTS_KEY, "Student", False, ("schoolId", "studentStatus"))
CONTACTS: Final = Endpoint("/v1/contacts", esd.CONTACTS_KEY, "Contact", False, ("studentId",))
OPEROO_STUDENTS: Final = Endpoint("/v1/operoo/students", esd.STUDENTS_KEY, "Student", True)
OPEROO_CONTACTS: Final = Endpoint("/v1/operoo/contacts", esd.CONTACTS_KEY, "Contact", True, ("studentId",))

# In the order a sync and the verifier read them: the standard ones first.
ENDPOINTS: Final = (SCHOOLS, STUDENTS, CONTACTS, OPEROO_STUDENTS, OPEROO_CONTACTS)
BY_PATH: Final = {endpoint.path: endpoint for endpoint in ENDPOINTS}


def readable(custom_endpoints: bool) -> tuple[Endpoint, ...]:
    """The listings a client reads: all of them with the custom endpoints enabled, else the standard ones."""
    return tuple(e for e in ENDPOINTS if custom_endpoints or not e.custom)
