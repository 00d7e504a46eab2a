"""Scrub a recorded scenario: every personal value replaced, everything the sync rules read kept.

Each value is replaced by a Faker value of its class (first name, last name, email, phone, address,
free text, ...) drawn from a Faker seeded with HMAC-SHA256(key, class and original value): the same
original gets the same replacement on every endpoint and in every recording scrubbed with that key,
and without the key the replacement says nothing about the original.

Kept exactly: ids, enrolledIds, statuses, school ids (and school names unless `school_names`),
enrollment dates, grades, genders and relationships from eSD's lists, priorities, livesWith,
hasCustody, doNotContact, lastModified, and which values are null. Dates of birth move by up to
`DOB_SHIFT_DAYS`, on the same side of the enrollment date and the district's today as before.

Nothing else is kept: a grade or gender outside eSD's lists is free text, replaced by one of the list;
a relationship outside it is free text too ("Grandma Woodard"), replaced by a keyed word outside the
list, so that it still grants no permission (R9) and still fails `verify`'s vocabulary check. Each
such replacement is counted (`Scrubber.replaced`) for the command to say. A value the scrubber cannot
vouch for (a personal field that is not text, a lastModified that is not a date-time) is refused with
ScrubError, naming the record and the field, never the value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from faker import Faker

from mock_esd_contracts import vocabulary as esd
from mock_esd_contracts.errors import type_name

DOB_SHIFT_DAYS: Final = 180  # a date of birth moves by 1..180 days, keyed like every other value
KEY_BYTES: Final = 16  # a random --scrub-key: 16 bytes, printed as 32 hex digits
LOCALE: Final = "en_US"

Record = dict[str, Any]


class ScrubError(ValueError):
    """A value --scrub cannot make safe; names the record and the field (never the value). Nothing is written."""


def random_key() -> str:
    """A fresh scrub key (hex), for a recording made without `--scrub-key`."""
    return secrets.token_hex(KEY_BYTES)


class Scrubber:
    """Keyed, deterministic replacements for each class of personal value."""

    def __init__(self, key: str, school_names: bool = False) -> None:
        if not key:
            raise ValueError("the scrub key is empty; give --scrub-key a value or leave it out for a random one")
        self._key = key.encode()
        self._school_names = school_names
        self._faker = Faker(LOCALE)
        self._memo: dict[tuple[str, str], Any] = {}
        self.replaced: Counter[str] = Counter()  # field -> values outside eSD's lists replaced (free text)

    def _fake(self, kind: str, original: str, make: Callable[[Faker], Any]) -> Any:
        """`make`'s value from a Faker seeded by HMAC(key, kind and original): the same original, the same value."""
        memo = (kind, original)
        if memo not in self._memo:
            digest = hmac.new(self._key, f"{kind}\0{original}".encode(), hashlib.sha256).digest()
            self._faker.seed_instance(int.from_bytes(digest[:8], "big"))
            self._memo[memo] = make(self._faker)
        return self._memo[memo]

    def _text(self, kind: str, value: Any, make: Callable[[Faker], Any]) -> Any:
        """A replacement for a string (null stays null, empty stays empty); other types are not personal text."""
        if not isinstance(value, str) or not value:
            return value
        return self._fake(kind, value, make)

    # ----- value classes ----------------------------------------------------------------------------

    def first_name(self, value: Any) -> Any:
        return self._text("first_name", value, lambda f: f.first_name())

    def last_name(self, value: Any) -> Any:
        return self._text("last_name", value, lambda f: f.last_name())

    def email(self, value: Any) -> Any:
        return self._text("email", value, lambda f: f"{f.user_name()}{f.random_int(1, 9999)}@example.org")

    def phone(self, value: Any) -> Any:
        return self._text("phone", value, lambda f: f.numerify("555-###-####"))

    def address(self, value: Any) -> Any:
        return self._text("address", value, lambda f: f.address().replace("\n", ", "))

    def free_text(self, value: Any) -> Any:
        return self._text("free_text", value, lambda f: f.sentence(nb_words=3).rstrip("."))

    def vocabulary(self, value: Any, allowed: tuple[str, ...], field: str = "") -> Any:
        """A value of eSD's list stays; anything else is free text, replaced by one of the list."""
        if value is None or value in allowed:
            return value
        self.replaced[field] += 1
        return self._text("vocabulary", str(value), lambda f: f.random_element(allowed))

    def relationship(self, value: Any) -> Any:
        """A relationship of eSD's list stays (R9 reads it); any other is free text, replaced by a keyed word that
        is not in the list either: it grants no permission and fails the vocabulary check, as the original did."""
        if value in esd.RELATIONSHIPS:
            return value
        self.replaced["relationship"] += 1
        return self._fake("relationship", str(value), _unlisted)

    def school_name(self, value: Any, school_type: str) -> Any:
        if not self._school_names:
            return value
        return self._text("school_name", value, lambda f: f"{f.city()} {school_type} School")

    def date_of_birth(self, value: Any, after_all: list[str]) -> Any:
        """A date moved by a keyed 1..DOB_SHIFT_DAYS days, keeping its order with each date of `after_all`."""
        if not isinstance(value, str):
            return value
        try:
            born = dt.date.fromisoformat(value)
        except ValueError:
            return self.free_text(value)
        days = self._fake("date_of_birth", value, lambda f: f.random_int(1, DOB_SHIFT_DAYS))
        references = [dt.date.fromisoformat(d) for d in after_all]
        for shift in range(days, 0, -1):  # the keyed shift, or the largest smaller one that keeps the order
            for moved in (born + dt.timedelta(days=shift), born - dt.timedelta(days=shift)):
                if all((moved < r) == (born < r) and (moved > r) == (born > r) for r in references):
                    return moved.isoformat()
        # No other date keeps the order: born on a kept reference date, or the one day between two of them
        # (kept dates a day apart). Either way the dates kept already tell it; nothing more is revealed.
        return value

    # ----- records ------------------------------------------------------------------------------------

    def student(self, record: Record, today: str) -> Record:
        _check_text(record, "student", _STUDENT_TEXT)
        out = dict(record)
        for name, scrub in (("firstName", self.first_name), ("middleName", self.first_name), ("lastName", self.last_name),
                            ("email", self.email), ("address", self.address)):  # fmt: skip
            if name in out:
                out[name] = scrub(out[name])
        if "dateOfBirth" in out:
            enrolled = [d for d in (record.get("enrollmentDate"), today) if isinstance(d, str) and _is_date(d)]
            out["dateOfBirth"] = self.date_of_birth(record["dateOfBirth"], enrolled)
        if "grade" in out:
            out["grade"] = self.vocabulary(out["grade"], esd.GRADES, "grade")
        if "gender" in out:
            out["gender"] = self.vocabulary(out["gender"], esd.GENDERS, "gender")
        return out

    def contact_fields(self, record: Record) -> Record:
        _check_text(record, "contact", _CONTACT_TEXT)
        out = dict(record)
        if isinstance(out.get("students"), list):
            out["students"] = [
                {**link, "relationship": self.relationship(link["relationship"])} if "relationship" in link else link
                for link in out["students"]
            ]
        for name, scrub in (("firstName", self.first_name), ("lastName", self.last_name), ("email", self.email),
                            ("mobilePhone", self.phone), ("homePhone", self.phone)):  # fmt: skip
            if name in out:
                out[name] = scrub(out[name])
        return out

    def scenario(self, scenario: dict[str, Any]) -> dict[str, Any]:
        """The scenario with every personal value replaced (a new dict; the given one is not changed)."""
        today = scenario.get("today", "")
        out = {k: v for k, v in scenario.items() if k not in ("name", "description")}
        out["name"] = "recorded district (scrubbed)"
        out["description"] = "Recorded with mock-esd record --scrub: every personal value is a keyed Faker value."
        out["schools"] = [
            {**s, "name": self.school_name(s["name"], s.get("schoolType", ""))} if "name" in s else dict(s)
            for s in scenario.get("schools", [])
        ]
        out["students"] = [self.student(s, today) for s in scenario.get("students", [])]
        out["contacts"] = [self.contact_fields(c) for c in scenario.get("contacts", [])]
        if "operooContacts" in scenario:
            out["operooContacts"] = [self.contact_fields(c) for c in scenario["operooContacts"]]
        return out


_STUDENT_TEXT: Final = ("firstName", "middleName", "lastName", "email", "address", "dateOfBirth", "grade", "gender")
_CONTACT_TEXT: Final = ("firstName", "lastName", "email", "mobilePhone", "homePhone")


def _check_text(record: Record, kind: str, fields: tuple[str, ...]) -> None:
    """Refuse what cannot be scrubbed: a personal field that is not text, a lastModified that is not a date-time."""
    for name in fields:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise ScrubError(
                f"{kind} {record.get('id')}: {name} is {_a(type_name(value))}, not text: --scrub cannot replace it, "
                "so nothing was written"
            )
    stamp = record.get("lastModified")
    if stamp is not None and not (isinstance(stamp, str) and _is_datetime(stamp)):
        raise ScrubError(
            f"{kind} {record.get('id')}: lastModified is not a date-time ({_a(type_name(stamp))}): --scrub keeps "
            "it as it came, so it could carry personal text; nothing was written"
        )


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _unlisted(faker: Faker) -> str:
    """A word for a relationship that is not one of eSD's (drawn again, by the same seeded Faker, until it is not)."""
    while (word := faker.word().capitalize()) in esd.RELATIONSHIPS:
        pass
    return word


def _is_datetime(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
