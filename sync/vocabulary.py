"""Operoo's words: status options, group names, permissions; and how eSD statuses map onto them."""

from __future__ import annotations

from typing import Final

from contracts import vocabulary as esd

ENROLLED: Final = "Enrolled"
PRE_ENROLLED: Final = "Pre-Enrolled"
FUTURE: Final = "Future"
OPTIONS: Final = (ENROLLED, PRE_ENROLLED, FUTURE)

# The eSD studentStatus each building option takes (R3).
ESD_STATUS_OF: Final = {ENROLLED: esd.ENROLLED, PRE_ENROLLED: esd.PRE_ENROLLED, FUTURE: esd.PRE_REGISTERED}
OPTION_OF_ESD_STATUS: Final = {status: option for option, status in ESD_STATUS_OF.items()}

ALL_DISTRICT_STUDENTS: Final = "All District Students"
DISTRICT_STATUS_GROUP: Final = {
    ENROLLED: "All District Enrolled Students",
    PRE_ENROLLED: "All District Pre-Enrolled Students",
    FUTURE: "All District Future Students",
}
ALL_STUDENTS: Final = "All Students"
BUILDING_STATUS_GROUP: Final = {
    ENROLLED: "All Enrolled Students",
    PRE_ENROLLED: "All Pre-Enrolled Students",
    FUTURE: "All Future Students",
}

VIEW_AND_UPDATE: Final = "View and Update"
NO_PERMISSION: Final = "No Permission"

TEMPORARY_ID_PREFIX: Final = "student-operoo-"


def temporary_id(person_id: int) -> str:
    """R2: the Operoo ID of a custom-path student."""
    return f"{TEMPORARY_ID_PREFIX}{person_id}"
