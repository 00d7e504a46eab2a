"""Run the contract checks against a server and report: text, JSON, JUnit XML."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import requests

from contracts.checks import CHECKS, Check, Skip
from contracts.errors import CannotRun
from contracts.probe import Probe, Target

PASS, FAIL, SKIP = "pass", "fail", "skip"
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


def verify(target: Target, session: requests.Session | None = None, checks: list[Check] | None = None) -> list[Result]:
    """Every check's result; CannotRun if the server cannot be reached or gives no token."""
    own = session is None
    session = session or requests.Session()
    try:
        probe = Probe(session, target)
        probe.token()  # fail fast, before judging anything
        return [_run(check, probe) for check in checks or CHECKS]
    finally:
        if own:
            session.close()


def _run(check: Check, probe: Probe) -> Result:
    start = time.perf_counter()
    try:
        reasons = check.run(probe)
        status = FAIL if reasons else PASS
    except Skip as skip:
        reasons, status = [str(skip)], SKIP
    except CannotRun:
        raise
    return Result(check.name, check.description, status, reasons, time.perf_counter() - start)


def failed(results: list[Result]) -> bool:
    return any(r.status == FAIL for r in results)


def text_report(results: list[Result], target: Target) -> str:
    lines = [f"mock-esd verify {target.base_url}"]
    width = max(len(r.name) for r in results)
    for r in results:
        lines.append(f"  {r.status.upper():4}  {r.name:{width}}  {r.description}")
        for reason in r.reasons[:SHOWN_REASONS]:
            lines.append(f"          - {reason}")
        if len(r.reasons) > SHOWN_REASONS:
            lines.append(f"          ... and {len(r.reasons) - SHOWN_REASONS} more (--json lists them all)")
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
    lines.append(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines)


def json_report(results: list[Result], target: Target) -> dict[str, Any]:
    return {"url": target.base_url, "passed": not failed(results), "checks": [r.as_json() for r in results]}


def junit_report(results: list[Result]) -> bytes:
    """JUnit XML: one testcase per check, a failure element listing its reasons."""
    suite = ET.Element(
        "testsuite", name="mock-esd verify", tests=str(len(results)),
        failures=str(sum(r.status == FAIL for r in results)), skipped=str(sum(r.status == SKIP for r in results)),
    )  # fmt: skip
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="contract", name=r.name, time=f"{r.seconds:.3f}")
        if r.status == FAIL:
            ET.SubElement(case, "failure", message=r.reasons[0][:200]).text = "\n".join(r.reasons)
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", message=r.reasons[0][:200])
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))
