"""Run the contract checks against a server and report: text, JSON, JUnit XML."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests

from mock_esd_contracts.checks import CHECKS, Check, Finding, Skip, Unjudged
from mock_esd_contracts.connection import DEFAULT_CONNECTION, Connection, open_session
from mock_esd_contracts.evidence import MAX_EVIDENCE, Evidence, quote
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
    """A check's verdict, its reasons, the parts it could not judge, and the evidence of its first reasons.

    `evidence[i]` is where `reasons[i]` was seen (None: nothing to show), for the first MAX_EVIDENCE reasons.
    """

    name: str
    description: str
    status: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    not_judged: list[str] = field(default_factory=list)
    evidence: list[Evidence | None] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """One check as `mock-esd verify --json` lists it: its verdict, every reason, what it could not judge, evidence."""
        return {
            "check": self.name, "description": self.description, "result": self.status, "reasons": self.reasons,
            "notJudged": self.not_judged,
            "evidence": [{"reason": r, **e.as_json()} for r, e in zip(self.reasons, self.evidence, strict=False) if e is not None],
        }  # fmt: skip


def verify(
    target: Target, session: requests.Session | None = None, checks: list[Check] | None = None,
    on_check: Callable[[str, int, int], None] | None = None, *, connection: Connection = DEFAULT_CONNECTION,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:  # fmt: skip
    """Every check's result; CannotRun if the server cannot be reached or gives no token.

    `on_check(name, n, total)` is told before check n of total runs (the command line's progress), and
    `on_result` each result as it is known (so a run that stops with CannotRun can still report those).
    Without a `session`, one is opened as `connection` says (its CA bundle or none, its timeout).
    """
    own = session is None
    session = session or open_session(connection)
    try:
        probe = Probe(session, target, connection.timeout)
        probe.token()  # fail fast, before judging anything
        chosen = checks or CHECKS
        results = []
        for n, check in enumerate(chosen, 1):
            if on_check:
                on_check(check.name, n, len(chosen))
            results.append(_run(check, probe))
            if on_result:
                on_result(results[-1])
        return results
    finally:
        if own:
            session.close()


def _run(check: Check, probe: Probe) -> Result:
    """One check's result; its evidence quoted with the client secrets and access tokens scrubbed."""
    start = time.perf_counter()
    try:
        outcomes = check.run(probe)
    except Skip as skip:
        return Result(check.name, check.description, SKIP, [str(skip)], time.perf_counter() - start)
    findings = [o if isinstance(o, Finding) else Finding(o) for o in outcomes if not isinstance(o, Unjudged)]
    status = (WARN if check.warning else FAIL) if findings else PASS
    return Result(
        check.name, check.description, status, [f.reason for f in findings], time.perf_counter() - start,
        not_judged=[o.what for o in outcomes if isinstance(o, Unjudged)],
        evidence=[quote(f.source, probe.secrets()) if f.source else None for f in findings[:MAX_EVIDENCE]],
    )  # fmt: skip


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
        lines += [f"          ~ not judged: {part}" for part in r.not_judged]
    lines.append(summary(results))
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    """`12 passed, 1 warned, 2 failed, 3 skipped`."""
    counts = {s: sum(r.status == s for r in results) for s in (PASS, WARN, FAIL, SKIP)}
    return f"{counts[PASS]} passed, {counts[WARN]} warned, {counts[FAIL]} failed, {counts[SKIP]} skipped"


STOPPED_CASE = "could-not-run"  # the JUnit test case of a run that stopped: the server could not be judged
NOT_RUN = "not run: the verifier stopped (see could-not-run)"  # why a check a stopped run never reached is skipped


def json_report(
    results: list[Result], target: Target, strict: bool = False, stopped: str | None = None
) -> dict[str, Any]:
    """What `verify --json` prints: the verdict and every check. A run that `stopped` (the server could not be
    judged) fails, with a failed `could-not-run` check saying why first and the checks it never reached skipped,
    as in JUnit."""
    checks = [r.as_json() for r in results]
    if stopped:
        unreached = [Result(c.name, c.description, SKIP, [NOT_RUN]).as_json() for c in not_run(results)]
        checks = [Result(STOPPED_CASE, "the server can be judged", FAIL, [stopped]).as_json(), *checks, *unreached]
    return {
        "url": target.base_url,
        "passed": not stopped and not failed(results, strict),
        "verdict": FAIL if stopped else verdict(results, strict),
        "strict": strict,
        "stopped": stopped,
        "checks": checks,
        "warnings": [f"{r.name}: {reason}" for r in results if r.status == WARN for reason in r.reasons],
    }


def not_run(results: list[Result]) -> list[Check]:
    """The checks a run that stopped never reached."""
    done = {r.name for r in results}
    return [c for c in CHECKS if c.name not in done]


def junit_report(results: list[Result], strict: bool = False, stopped: str | None = None) -> bytes:
    """JUnit XML: one testcase per check, a failure element listing its reasons and the evidence of the first; a
    warning is the case's `<system-out>` and a `verdict` property (a failure under `strict`). A run that
    `stopped` (the server could not be judged) adds a failed `could-not-run` case saying why, and lists the
    checks it never reached as skipped."""
    failing = {r.name for r in results if failed([r], strict)}
    unreached = not_run(results) if stopped else []
    suite = ET.Element(
        "testsuite", name="mock-esd verify", tests=str(len(results) + len(unreached) + bool(stopped)),
        failures=str(len(failing) + bool(stopped)),
        skipped=str(sum(r.status == SKIP for r in results) + len(unreached)),
    )  # fmt: skip
    if stopped:
        case = ET.SubElement(suite, "testcase", classname="contract", name=STOPPED_CASE, time="0.000")
        ET.SubElement(case, "failure", message=stopped[:200]).text = stopped
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="contract", name=r.name, time=f"{r.seconds:.3f}")
        if r.status == WARN:
            properties = ET.SubElement(case, "properties")
            ET.SubElement(properties, "property", name="verdict", value=WARN)
        unjudged = [f"not judged: {part}" for part in r.not_judged]
        if r.name in failing:
            ET.SubElement(case, "failure", message=r.reasons[0][:200]).text = "\n".join(_with_evidence(r) + unjudged)
        elif r.status == WARN:
            ET.SubElement(case, "system-out").text = "\n".join(
                ["warning: " + line if not line.startswith(" ") else line for line in _with_evidence(r)] + unjudged
            )
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", message=r.reasons[0][:200])
        elif unjudged:
            ET.SubElement(case, "system-out").text = "\n".join(unjudged)
    for check in unreached:
        case = ET.SubElement(suite, "testcase", classname="contract", name=check.name, time="0.000")
        ET.SubElement(case, "skipped", message=NOT_RUN)
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))


def _with_evidence(r: Result) -> list[str]:
    """Each reason, the first ones followed by their evidence (request, status, quote)."""
    lines = []
    for i, reason in enumerate(r.reasons):
        lines.append(reason)
        evidence = r.evidence[i] if i < len(r.evidence) else None
        if evidence is not None:
            lines += evidence.lines()
    return lines
