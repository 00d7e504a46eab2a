"""What a generated district is when nothing is said: plain constants, importing nothing.

`mock-esd serve --help` shows them without loading the generator (and Faker with it).
"""

from __future__ import annotations

import datetime as dt

DEFAULT_TODAY = dt.date(2026, 9, 1)
DEFAULT_SEED = 1
DEFAULT_STUDENTS = 2000
DEFAULT_SCHOOLS = 6
