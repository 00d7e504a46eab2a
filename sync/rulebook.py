"""The sync rules R1-R11: one identifier and one line each, the single source every other place cites.

Trace lines, `explain`, the HTML report, warnings and `docs/rules.md` name a rule through this registry
(`f"{R3}: ..."` prints "R3: ..."); a test holds `docs/rules.md` to it, word for word.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A sync rule: its identifier (what traces print), a short name and its one-line statement."""

    id: str
    name: str
    statement: str

    def __str__(self) -> str:
        return self.id


R1 = Rule(
    "R1", "Custom path",
    "With custom endpoints on, a student of /v1/operoo/students syncs when its enrolledId is null and its "
    "studentStatus is Pre-enrolled, with or without a school.",
)  # fmt: skip
R2 = Rule(
    "R2", "Temporary ID",
    "A custom-path student's Operoo ID is student-operoo-{person id}, stable across syncs; no other student has one.",
)  # fmt: skip
R3 = Rule(
    "R3", "Building path",
    "For each selected school and option, students of /v1/students at that school sync by status (Enrolled: "
    "Enrolled, Pre-Enrolled: Pre-enrolled, Future: Pre-Registered with an enrollmentDate), with their enrolledId "
    "as Operoo ID.",
)  # fmt: skip
R4 = Rule(
    "R4", "Settings validation",
    "Without custom endpoints a school may not select both Enrolled and Pre-Enrolled, and every selected school "
    "must be known to eSD; invalid settings change nothing.",
)  # fmt: skip
R5 = Rule(
    "R5", "District groups",
    "Every synced student is in All District Students and in exactly one district status group.",
)  # fmt: skip
R6 = Rule(
    "R6", "Building groups",
    "A student is in its selected school's All Students and status group (a custom-path student only where its "
    "school selects Pre-Enrolled); groups exist only for selected schools and options.",
)  # fmt: skip
R7 = Rule(
    "R7", "Removal",
    "A student that matches no path any more is archived, never deleted, and restored as the same record if it "
    "matches again.",
)  # fmt: skip
R8 = Rule(
    "R8", "Promotion",
    "An accepted applicant that now syncs by the building path is re-keyed from its temporary ID to its eSD ID: "
    "the same Operoo record.",
)  # fmt: skip
R9 = Rule(
    "R9", "Contacts",
    "A contact syncs with each synced student it is linked to unless doNotContact; each link's permission comes "
    "from the relationship or the priority, as configured.",
)  # fmt: skip
R10 = Rule("R10", "Idempotence", "A second sync with no change in eSD changes nothing.")
R11 = Rule(
    "R11", "Safety",
    "A sync that cannot read every listing completely and consistently changes nothing; one that would archive "
    "more than max_archive_share of the synced students (at least 10) is held; applying is one transaction.",
)  # fmt: skip

RULES: tuple[Rule, ...] = (R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11)

# The two ways R7 archives a student; the plan's change reason and `explain` print the same words.
ARCHIVED_GONE = f"{R7}: no longer in eSD's listings -> archived, not deleted; restored if it comes back"
ARCHIVED_UNREAD = (
    f"{R7}: custom endpoints are off, so /v1/operoo/students, the only listing of a student without an enrolledId, "
    "was not read -> archived, not deleted; restored if it matches again"
)
ARCHIVED_UNMATCHED = (
    f"{R7}: no longer matches any sync path (status, school or settings changed) -> archived, not deleted; "
    "restored if it matches again"
)
