"""`mock-esd verify --html FILE`: the verdicts as one self-contained page a partner can send on.

Every check with its verdict, its reasons, the parts it could not judge and the evidence of its first
reasons (the request, the status, the record or body quoted with nothing personal in it); no script, no
network, no file beside it. It wears the house stylesheet that the sync's report and the mock's browser
view share (`templates/style.css`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final

from jinja2 import Environment, PackageLoader, select_autoescape

from mock_esd_contracts.checks import Check
from mock_esd_contracts.evidence import MAX_EVIDENCE, MAX_QUOTE_CHARS, REDACTION_NOTE
from mock_esd_contracts.probe import Target
from mock_esd_contracts.verifier import FAIL, PASS, SKIP, WARN, Result, failed, not_run, summary, verdict

LISTED_REASONS: Final = 100  # reasons a check lists on the page; `--json` lists them all
TAGS: Final = {PASS: "ok", WARN: "warn", FAIL: "bad", SKIP: "no"}
_env = Environment(loader=PackageLoader("mock_esd_contracts"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class Run:
    """What the page says of the run besides its results: where, when, how, and why it stopped if it did."""

    target: Target
    strict: bool = False
    started: str | None = None  # e.g. 2025-03-01T09:30:00Z, as the command line read its clock
    stopped: str | None = None  # the one line of a run that could not judge the server


def render_html(results: list[Result], run: Run) -> str:
    """The report page as HTML text; the same results and run give the same bytes."""
    unreached: list[Check] = not_run(results) if run.stopped else []
    return _env.get_template("verify_report.html").render(
        results=results,
        run=run,
        verdict=FAIL if run.stopped else verdict(results, run.strict),
        failed=bool(run.stopped) or failed(results, run.strict),
        summary=summary(results),
        not_run=unreached,
        tags=TAGS,
        listed=LISTED_REASONS,
        quoted=MAX_EVIDENCE,
        quote_chars=MAX_QUOTE_CHARS,
        redaction=REDACTION_NOTE,
        version=_version(),
    )


def write_html(path: str | Path, results: list[Result], run: Run) -> None:
    """Write the page atomically: a stopped run never leaves half a page behind."""
    target = Path(path)
    page = render_html(results, run)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _version() -> str:
    try:
        return metadata.version("mock-esd")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"
