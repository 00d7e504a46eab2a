"""Seeded district generator: the same (seed, size, today) gives the same records, byte for byte.

Faker is slow per call (30-200 µs), so it is asked once per seed for pools of names, streets and
cities (kept for the next district of that seed); a `random.Random(seed)` then combines pool values
per record. Nothing reads the clock: every date derives from `DistrictSpec.today`, and each date's
text is made once per district (so records share it: a million students hold a few thousand dates).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from faker import Faker

from mock_esd.district.defaults import DEFAULT_SCHOOLS, DEFAULT_SEED, DEFAULT_STUDENTS, DEFAULT_TODAY
from mock_esd.errors import BadRequest
from mock_esd_contracts import vocabulary as v

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

T = TypeVar("T")

Record = dict[str, Any]

HOLDING_SCHOOL_ID = "0900"
HOLDING_SCHOOL_NAME = "Document School"

# Share of each category in a district; counts are allocated exactly, so every category is
# present once the district has a handful of students.
CATEGORY_SHARES: dict[str, float] = {
    "enrolled": 0.79,
    "holding": 0.04,  # Pre-enrolled, accepted into the holding school, has an enrolledId
    "application": 0.05,  # no enrolledId yet; mostly Pre-enrolled, some Denied / Withdrawn
    "accepted": 0.01,  # accepted recently: has an enrolledId, still on /v1/operoo/students
    "future": 0.05,  # Pre-Registered with a future enrollmentDate
    "withdrawn": 0.03,
    "graduated": 0.03,
}

_GRADE_RANGES: dict[str, tuple[str, ...]] = {
    v.SchoolType.ELEMENTARY: v.GRADES[1:7],  # K-5
    v.SchoolType.MIDDLE: v.GRADES[7:10],  # 6-8
    v.SchoolType.HIGH: v.GRADES[10:],  # 9-12
    v.SchoolType.HOLDING: v.GRADES[:7],  # applicants are mostly young
}
_REGULAR_TYPE_CYCLE = (
    v.SchoolType.ELEMENTARY,
    v.SchoolType.MIDDLE,
    v.SchoolType.HIGH,
    v.SchoolType.ELEMENTARY,
    v.SchoolType.ELEMENTARY,
    v.SchoolType.MIDDLE,
    v.SchoolType.HIGH,
)
_TYPE_PREFIX = {v.SchoolType.ELEMENTARY: "01", v.SchoolType.MIDDLE: "02", v.SchoolType.HIGH: "03"}
_TYPE_SUFFIX = {
    v.SchoolType.ELEMENTARY: "Elementary School",
    v.SchoolType.MIDDLE: "Middle School",
    v.SchoolType.HIGH: "High School",
}
_FAMILY_SIZES = (1, 1, 1, 1, 1, 2, 2, 2, 3, 4)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_SECONDS_PER_YEAR = 365 * 24 * 3600
# The reference dates a district can have: the dates it derives (birth dates 17 years before, enrolments 200
# days after, lastModified a second per change after) stay real dates written with four-digit years.
EARLIEST_TODAY, LATEST_TODAY = dt.date(1000, 1, 1), dt.date(9998, 12, 31)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class DistrictSpec:
    """Everything that determines a district."""

    seed: int = DEFAULT_SEED
    students: int = DEFAULT_STUDENTS
    schools: int = DEFAULT_SCHOOLS
    today: dt.date = DEFAULT_TODAY

    def __post_init__(self) -> None:
        problem = today_problem(self.today)
        if problem:
            raise BadRequest(f"today: {problem}")
        if self.students < 0:
            raise ValueError(f"students must be >= 0, got {self.students}")
        if self.schools < 2:
            raise ValueError(f"schools must be >= 2 (one regular and the holding school), got {self.schools}")


def today_problem(today: dt.date) -> str | None:
    """Why `today` cannot be a district's reference date (outside EARLIEST_TODAY..LATEST_TODAY), or None."""
    if EARLIEST_TODAY <= today <= LATEST_TODAY:
        return None
    return (
        f"{today.isoformat()} is out of range: a district's today is from {EARLIEST_TODAY.isoformat()} to "
        f"{LATEST_TODAY.isoformat()} (every date it derives, birth dates to lastModified, must be a real date)"
    )


@dataclass
class District:
    """Plain records of one district, in the API's shapes, plus what the API does not show."""

    schools: list[Record]
    students: list[Record]
    contacts: list[Record]
    recently_accepted: set[int] = field(default_factory=set)
    # Contact fields /v1/operoo/contacts shows differently from /v1/contacts (a recorded server may differ)
    operoo_contact_fields: dict[int, Record] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pools:
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    states: tuple[str, ...]


@functools.lru_cache(maxsize=32)
def _pools(seed: int) -> _Pools:
    """Draw pools of realistic values from a per-instance seeded Faker (never the global seed)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return _Pools(
        female=_unique(fake.first_name_female for _ in range(300)),
        male=_unique(fake.first_name_male for _ in range(300)),
        last=_unique(fake.last_name for _ in range(600)),
        streets=_unique(fake.street_name for _ in range(200)),
        cities=_unique(fake.city for _ in range(80)),
        states=_unique(fake.state_abbr for _ in range(10)),
    )


def _unique(calls: Iterator[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(call()) for call in calls))


def generate_district(spec: DistrictSpec) -> District:
    """Generate the district that `spec` determines."""
    pools = _pools(spec.seed)
    rng = _Random(spec.seed)
    schools = _schools(spec, pools, rng)
    builder = _Builder(spec, pools, rng, schools)
    builder.build()
    return District(schools, builder.students, builder.contacts, builder.recently_accepted)


class _Random(random.Random):
    """`random.Random` drawing the same numbers with fewer Python calls per draw (the generator's hot path).

    `choice` and `randint` do what CPython's own do, inlined: `_randbelow(n)` takes `n.bit_length()` bits
    from `getrandbits` until the value is below `n`. A seed gives the same district as with `random.Random`.
    """

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        n = len(seq)
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return seq[r]

    def randint(self, a: int, b: int) -> int:
        n = b - a + 1
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return a + r

    def weighted(self, population: Sequence[Any], cum_weights: Sequence[float]) -> Any:
        """`choices(population, cum_weights=cum_weights)[0]`, without building a list per call."""
        return population[bisect(cum_weights, self.random() * (cum_weights[-1] + 0.0), 0, len(population) - 1)]


_STATUS_OF_APPLICATION = (v.Status.PRE_ENROLLED, v.Status.DENIED, v.Status.WITHDRAWN)
_STATUS_OF_APPLICATION_CUM = (7, 9, 10)  # weights 7, 2, 1


def _schools(spec: DistrictSpec, pools: _Pools, rng: random.Random) -> list[Record]:
    counters = dict.fromkeys(_TYPE_PREFIX, 0)
    towns = rng.sample(pools.cities, k=min(len(pools.cities), spec.schools))
    schools: list[Record] = []
    for i in range(spec.schools - 1):
        kind = _REGULAR_TYPE_CYCLE[i % len(_REGULAR_TYPE_CYCLE)]
        counters[kind] += 1
        town = towns[i % len(towns)]
        schools.append(_school(f"{_TYPE_PREFIX[kind]}{counters[kind]:02d}", f"{town} {_TYPE_SUFFIX[kind]}", kind))
    schools.append(_school(HOLDING_SCHOOL_ID, HOLDING_SCHOOL_NAME, v.SchoolType.HOLDING))
    schools.sort(key=lambda s: s["id"])
    return schools


def _school(school_id: str, name: str, kind: str) -> Record:
    return {"id": school_id, "name": name, "schoolType": kind, "isHoldingSchool": kind == v.SchoolType.HOLDING}


def category_plan(count: int, rng: random.Random) -> list[str]:
    """Exactly allocated, shuffled categories: each present once `count` allows it."""
    names = list(CATEGORY_SHARES)
    counts = {name: int(CATEGORY_SHARES[name] * count) for name in names}
    if count >= len(names):
        for name in names:
            counts[name] = max(counts[name], 1)
    counts["enrolled"] += count - sum(counts.values())
    plan = [name for name in names for _ in range(counts[name])]
    rng.shuffle(plan)
    return plan


class _Builder:
    """Builds families (siblings share contacts) until the district has its students."""

    def __init__(self, spec: DistrictSpec, pools: _Pools, rng: _Random, schools: list[Record]) -> None:
        self.spec, self.pools, self.rng = spec, pools, rng
        self.regular = [s for s in schools if not s["isHoldingSchool"]]
        self.holding = next(s for s in schools if s["isHoldingSchool"])
        self.high = [s for s in schools if s["schoolType"] == v.SchoolType.HIGH] or self.regular
        self.regular_cum = list(itertools.accumulate(len(_GRADE_RANGES[s["schoolType"]]) for s in self.regular))
        self.dates: dict[int, str] = {}  # ordinal -> ISO text, shared by every record with that date
        self.categories = category_plan(spec.students, rng)
        self.enrolled_ids = iter(rng.sample(range(10_000_000, 100_000_000), k=spec.students))
        self.today_ordinal = spec.today.toordinal()
        self.today_epoch = int(
            dt.datetime(spec.today.year, spec.today.month, spec.today.day, tzinfo=dt.UTC).timestamp()
        )
        self.students: list[Record] = []
        self.contacts: list[Record] = []
        self.recently_accepted: set[int] = set()

    def build(self) -> None:
        while len(self.students) < self.spec.students:
            size = min(self.rng.choice(_FAMILY_SIZES), self.spec.students - len(self.students))
            self._family(size)

    def _family(self, size: int) -> None:
        rng, pools = self.rng, self.pools
        last = rng.choice(pools.last)
        address = f"{rng.randint(1, 9999)} {rng.choice(pools.streets)}, {rng.choice(pools.cities)}, " + (
            f"{rng.choice(pools.states)} {rng.randint(10000, 99999)}"
        )
        children = [self._student(last, address) for _ in range(size)]
        roles = rng.choice(
            (("Mother",), ("Mother", "Father"), ("Father",), ("Guardian",), ("Mother", "Father", "Grandparent"))
        )
        if rng.random() < 0.1:
            roles = (*roles, rng.choice(v.RELATIONSHIPS[3:]))
        for priority, role in enumerate(roles[:3], start=1):
            self._contact(role, priority, last, address, children)

    def _student(self, last: str, address: str) -> Record:
        rng, pools = self.rng, self.pools
        person_id = len(self.students) + 1
        category = self.categories[person_id - 1]
        school, status, enrolled = self._placement(category)
        grade = rng.choice(_GRADE_RANGES[school["schoolType"]] if school else _GRADE_RANGES[v.SchoolType.HOLDING])
        gender = rng.choice(("F", "F", "M", "M", "X")) if rng.random() < 0.98 else "X"
        first = rng.choice(
            pools.female if gender == "F" else pools.male if gender == "M" else pools.female + pools.male
        )
        middle = rng.choice(pools.female if gender == "F" else pools.male) if rng.random() < 0.7 else None
        enrolled_id = f"{next(self.enrolled_ids):08d}" if enrolled else None
        if category == "accepted":
            self.recently_accepted.add(person_id)
        record: Record = {
            "id": person_id,
            "enrolledId": enrolled_id,
            "studentStatus": status,
            "schoolId": school["id"] if school else None,
            "enrollmentDate": self._enrollment_date(category),
            "grade": grade,
            "firstName": first,
            "middleName": middle,
            "lastName": last,
            "dateOfBirth": self._date_of_birth(grade),
            "gender": gender,
            "email": f"{first}.{last}{person_id}@{rng.choice(_EMAIL_DOMAINS)}".lower().replace(" ", ""),
            "address": address,
            "lastModified": self._timestamp(rng.randrange(_SECONDS_PER_YEAR)),
        }
        self.students.append(record)
        return record

    def _placement(self, category: str) -> tuple[Record | None, str, bool]:
        """(school, studentStatus, has enrolledId) for a category."""
        rng = self.rng
        regular = rng.weighted(self.regular, self.regular_cum)
        holding = self.holding
        if category == "holding":
            return holding, v.Status.PRE_ENROLLED, True
        if category == "application":
            status = rng.weighted(_STATUS_OF_APPLICATION, _STATUS_OF_APPLICATION_CUM)
            school = None if rng.random() < 0.85 else rng.choice((regular, holding))
            return school, status, False
        if category == "accepted":
            return (regular, v.Status.ENROLLED, True) if rng.random() < 0.5 else (holding, v.Status.PRE_ENROLLED, True)
        if category == "graduated":
            return rng.choice(self.high), v.Status.GRADUATED, True
        by_category = {"future": v.Status.PRE_REGISTERED, "withdrawn": v.Status.WITHDRAWN}
        return regular, by_category.get(category, v.Status.ENROLLED), True

    def _enrollment_date(self, category: str) -> str | None:
        if category == "application":
            return None
        if category == "future":
            return self._date(self.today_ordinal + self.rng.randint(1, 200))
        return self._date(self.today_ordinal - self.rng.randint(1, 2500))

    def _date_of_birth(self, grade: str) -> str:
        age = v.GRADES.index(grade) + 4  # PK at 4, K at 5, ...
        return self._date(self.today_ordinal - age * 365 - self.rng.randint(0, 364))

    def _date(self, ordinal: int) -> str:
        text = self.dates.get(ordinal)
        if text is None:
            text = self.dates[ordinal] = dt.date.fromordinal(ordinal).isoformat()
        return text

    def _timestamp(self, seconds_before_today: int) -> str:
        """The UTC time that many seconds before today, as `%Y-%m-%dT%H:%M:%SZ` (its date text shared)."""
        day, second = divmod(self.today_epoch - seconds_before_today, 86_400)
        return f"{self._date(_EPOCH_ORDINAL + day)}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"

    def _contact(self, role: str, priority: int, last: str, address: str, children: list[Record]) -> None:
        rng, pools = self.rng, self.pools
        contact_id = len(self.contacts) + 1
        first = rng.choice(
            pools.male
            if role in ("Father", "Uncle")
            else pools.female
            if role in ("Mother", "Aunt")
            else pools.female + pools.male
        )
        lives_with = role in ("Mother", "Father", "Guardian") and rng.random() < 0.9
        self.contacts.append(
            {
                "id": contact_id,
                "firstName": first,
                "lastName": last if rng.random() < 0.85 else rng.choice(pools.last),
                "email": f"{first}.{last}.c{contact_id}@{rng.choice(_EMAIL_DOMAINS)}".lower().replace(" ", ""),
                "mobilePhone": f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "homePhone": f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}" if rng.random() < 0.4 else None,
                "doNotContact": rng.random() < 0.03,
                "students": [
                    {
                        "studentId": child["id"],
                        "relationship": role,
                        "priority": priority,
                        "livesWith": lives_with,
                        "hasCustody": lives_with or role == "Guardian",
                    }
                    for child in children
                ],
            }
        )
