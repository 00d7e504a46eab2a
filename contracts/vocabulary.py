"""The eSD API's own words: status values, school types, relationships and resource keys.

Every other module refers to these constants; the literal strings appear here once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Status(StrEnum):
    """eSD's `studentStatus` values (note "Pre-enrolled": Operoo's option is spelt "Pre-Enrolled")."""

    ENROLLED = "Enrolled"
    PRE_ENROLLED = "Pre-enrolled"
    PRE_REGISTERED = "Pre-Registered"
    WITHDRAWN = "Withdrawn"
    GRADUATED = "Graduated"
    DENIED = "Denied"


STUDENT_STATUSES: Final = tuple(Status)


class SchoolType(StrEnum):
    """eSD's `schoolType` values."""

    ELEMENTARY = "Elementary"
    MIDDLE = "Middle"
    HIGH = "High"
    HOLDING = "Holding"


SCHOOL_TYPES: Final = tuple(SchoolType)

RELATIONSHIPS: Final = (
    "Mother",
    "Father",
    "Guardian",
    "Grandparent",
    "Stepparent",
    "Aunt",
    "Uncle",
    "Sibling",
    "Emergency Contact",
    "Other",
)

# Fields whose values are a person's: never quoted in a message or a report (named by record, field and type
# instead), and replaced by `mock-esd record --scrub`. The free-text fields (grade and gender outside eSD's
# lists, a relationship outside RELATIONSHIPS) may hold one too.
PERSONAL_FIELDS: Final = frozenset({
    "firstName", "middleName", "lastName", "email", "address", "dateOfBirth", "mobilePhone", "homePhone",
})  # fmt: skip

GRADES: Final = ("PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
GENDERS: Final = ("F", "M", "X")
# The words a free-text field may be quoted with; any other value of it is named by its type.
KNOWN_WORDS: Final = {"grade": GRADES, "gender": GENDERS, "relationship": RELATIONSHIPS}
FREE_TEXT_FIELDS: Final = frozenset(KNOWN_WORDS)

SCHOOLS_KEY: Final = "schools"
STUDENTS_KEY: Final = "students"
CONTACTS_KEY: Final = "contacts"
PAGING_KEY: Final = "pagingInfo"

TOKEN_PATH: Final = "/v1/auth/token"
BASE_URL_HINT: Final = "is the base URL the one that ends in /api? (e.g. https://guru.eschooldata.com/api)"

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000

ENROLLED_ID_DIGITS: Final = 8
