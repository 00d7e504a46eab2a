"""What a generated district is when nothing is said: plain constants, importing nothing (but datetime).

`mock-esd serve --help` shows them without loading the generator (and Faker with it).
"""

from __future__ import annotations

import datetime as dt

DEFAULT_TODAY = dt.date(2026, 9, 1)
DEFAULT_SEED = 1
DEFAULT_STUDENTS = 2000
DEFAULT_SCHOOLS = 6
TEST_STUDENTS = 200  # a test's district (the fixtures, mock_district): every path the rules take, made in milliseconds

# What a test may say of its district (the esd_district marker, mock_district), and the type of each.
SPEC_FIELDS: dict[str, type] = {"seed": int, "students": int, "schools": int, "today": dt.date}
UNFIRED_FAULTS = ("ignore", "fail")  # what a test district's end does about a fault rule armed for it that never fired
