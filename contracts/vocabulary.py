"""The eSD API's own words: status values, school types, relationships and resource keys.

Every other module refers to these constants; the literal strings appear here once.
"""

from __future__ import annotations

from typing import Final

ENROLLED: Final = "Enrolled"
PRE_ENROLLED: Final = "Pre-enrolled"
PRE_REGISTERED: Final = "Pre-Registered"
WITHDRAWN: Final = "Withdrawn"
GRADUATED: Final = "Graduated"
DENIED: Final = "Denied"

STUDENT_STATUSES: Final = (ENROLLED, PRE_ENROLLED, PRE_REGISTERED, WITHDRAWN, GRADUATED, DENIED)

ELEMENTARY: Final = "Elementary"
MIDDLE: Final = "Middle"
HIGH: Final = "High"
HOLDING: Final = "Holding"
SCHOOL_TYPES: Final = (ELEMENTARY, MIDDLE, HIGH, HOLDING)

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

GRADES: Final = ("PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
GENDERS: Final = ("F", "M", "X")

SCHOOLS_KEY: Final = "schools"
STUDENTS_KEY: Final = "students"
CONTACTS_KEY: Final = "contacts"
PAGING_KEY: Final = "pagingInfo"

TOKEN_PATH: Final = "/v1/auth/token"
BASE_URL_HINT: Final = "is the base URL the one that ends in /api? (e.g. https://guru.eschooldata.com/api)"

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000

ENROLLED_ID_DIGITS: Final = 8
