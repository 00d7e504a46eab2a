"""Run the contract checks against a server and report: text, JSON, JUnit XML."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests

from mock_esd_contracts.checks import CHECKS, Check, Skip
from mock_esd_contracts.errors import CannotRun
from mock_esd_contracts.probe import Probe, Target


class Verdict(StrEnum):
    """A check's result: passed, a data finding (warning), the contract broken, or not run."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


PASS, WARN, FAIL, SKIP = Verdict.PASS, Verdict.WARN, Verdict.FAIL, Verdict.SKIP
SHOWN_REASONS = 5


@dataclass
class Result:
    name: str
    description: str
    status: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "description": self.description, "result": self.status, "reasons": self.reasons}


def verify(
    target: Target, session: requests.Session | None = None, checks: list[Check] | None = None,
    on_check: Callable[[str, int, int], None] | None = None,
) -> list[Result]:  # fmt: skip
    """Every check's result; CannotRun if the server cannot be reached or gives no token.

    `on_check(name, n, total)` is told before check n of total runs (the command line's progress).
    """
    own = session is None
    session = session or requests.Session()
    try:
        probe = Probe(session, target)
        probe.token()  # fail fast, before judging anything
        chosen = checks or CHECKS
        results = []
        for n, check in enumerate(chosen, 1):
            if on_check:
                on_check(check.name, n, len(chosen))
            results.append(_run(check, probe))
        return results
    finally:
        if own:
            session.close()


def _run(check: Check, probe: Probe) -> Result:
    start = time.perf_counter()
    try:
        reasons = check.run(probe)
        status = (WARN if check.warning else FAIL) if reasons else PASS
    except Skip as skip:
        reasons, status = [str(skip)], SKIP
    except CannotRun:
        raise
    return Result(check.name, check.description, status, reasons, time.perf_counter() - start)


def failed(results: list[Result], strict: bool = False) -> bool:
    """A check failed (or, if `strict`, warned)."""
    return any(r.status == FAIL or (strict and r.status == WARN) for r in results)


def verdict(results: list[Result], strict: bool = False) -> str:
    """`fail`, `warn` (the contract holds; some data the sync skips or treats specially) or `pass`."""
    if failed(results, strict):
        return FAIL
    return WARN if any(r.status == WARN for r in results) else PASS


def text_report(results: list[Result], target: Target) -> str:
    lines = [f"mock-esd verify {target.base_url}"]
    width = max(len(r.name) for r in results)
    for r in results:
        lines.append(f"  {r.status.upper():4}  {r.name:{width}}  {r.description}")
        for reason in r.reasons[:SHOWN_REASONS]:
            lines.append(f"          - {reason}")
        if len(r.reasons) > SHOWN_REASONS:
            lines.append(f"          ... and {len(r.reasons) - SHOWN_REASONS} more (--json lists them all)")
    counts = {s: sum(r.status == s for r in results) for s in (PASS, WARN, FAIL, SKIP)}
    lines.append(f"{counts[PASS]} passed, {counts[WARN]} warned, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines)


def json_report(results: list[Result], target: Target, strict: bool = False) -> dict[str, Any]:
    return {
        "url": target.base_url,
        "passed": not failed(results, strict),
        "verdict": verdict(results, strict),
        "strict": strict,
        "checks": [r.as_json() for r in results],
        "warnings": [f"{r.name}: {reason}" for r in results if r.status == WARN for reason in r.reasons],
    }


def junit_report(results: list[Result], strict: bool = False) -> bytes:
    """JUnit XML: one testcase per check, a failure element listing its reasons; a warning is the case's
    `<system-out>` and a `verdict` property (a failure under `strict`)."""
    failing = {r.name for r in results if failed([r], strict)}
    suite = ET.Element(
        "testsuite", name="mock-esd verify", tests=str(len(results)),
        failures=str(len(failing)), skipped=str(sum(r.status == SKIP for r in results)),
    )  # fmt: skip
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="contract", name=r.name, time=f"{r.seconds:.3f}")
        if r.status == WARN:
            properties = ET.SubElement(case, "properties")
            ET.SubElement(properties, "property", name="verdict", value=WARN)
        if r.name in failing:
            ET.SubElement(case, "failure", message=r.reasons[0][:200]).text = "\n".join(r.reasons)
        elif r.status == WARN:
            ET.SubElement(case, "system-out").text = "warning: " + "\nwarning: ".join(r.reasons)
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", message=r.reasons[0][:200])
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))
