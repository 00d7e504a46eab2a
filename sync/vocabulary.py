"""Operoo's words: status options, group names, permissions; and how eSD statuses map onto them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from mock_esd_contracts.vocabulary import Status


class Option(StrEnum):
    """Operoo's per-school options, which are also its student statuses (note "Pre-Enrolled", eSD's "Pre-enrolled")."""

    ENROLLED = "Enrolled"
    PRE_ENROLLED = "Pre-Enrolled"
    FUTURE = "Future"


OPTIONS: Final = tuple(Option)

# The eSD studentStatus each building option takes (R3).
ESD_STATUS_OF: Final = {
    Option.ENROLLED: Status.ENROLLED, Option.PRE_ENROLLED: Status.PRE_ENROLLED, Option.FUTURE: Status.PRE_REGISTERED,
}  # fmt: skip
OPTION_OF_ESD_STATUS: Final = {status: option for option, status in ESD_STATUS_OF.items()}

ALL_DISTRICT_STUDENTS: Final = "All District Students"
DISTRICT_STATUS_GROUP: Final[Mapping[str, str]] = {  # by Operoo status (an Option)
    Option.ENROLLED: "All District Enrolled Students",
    Option.PRE_ENROLLED: "All District Pre-Enrolled Students",
    Option.FUTURE: "All District Future Students",
}
ALL_STUDENTS: Final = "All Students"
BUILDING_STATUS_GROUP: Final[Mapping[str, str]] = {
    Option.ENROLLED: "All Enrolled Students",
    Option.PRE_ENROLLED: "All Pre-Enrolled Students",
    Option.FUTURE: "All Future Students",
}

VIEW_AND_UPDATE: Final = "View and Update"
NO_PERMISSION: Final = "No Permission"

TEMPORARY_ID_PREFIX: Final = "student-operoo-"


def temporary_id(person_id: int) -> str:
    """R2: the Operoo ID of a custom-path student."""
    return f"{TEMPORARY_ID_PREFIX}{person_id}"
