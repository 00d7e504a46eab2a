"""The browser view (`/guru/`): server-rendered pages of a district, like eSD's own "Guru".

Thin: each page parses its query, asks `mock_esd.district.browse` for plain data and renders a template. Pages read;
the buttons that clear faults and the journal are forms posting here, answered on loopback only and
only when the control API is on, with the page's CSRF token (`mock_esd.server.guard`). Errors stay problem+json, as everywhere on this server.

Asked from another machine, the pages hide personal data (names, dates of birth, emails, addresses,
phones: `vocabulary.PERSONAL_FIELDS`) unless the server was told to show it (`serve --show-personal-data`),
and no page may be framed by another site (its buttons cannot be clickjacked).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from mock_esd.district import browse
from mock_esd.district.generator import Record
from mock_esd.district.tenants import DEFAULT_TENANT
from mock_esd.errors import BadRequest, NotFound
from mock_esd.http.request import current, from_loopback, requested_store, requested_tenant
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.schema import shown

guru = Blueprint("guru", __name__)
JOURNAL_ROWS = 200
HIDDEN = "(hidden)"  # a personal value, beyond loopback


@cache
def _csp(style: str) -> str:
    """The pages' Content-Security-Policy: their one inline stylesheet (by its hash), forms to this server, no frames."""
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


GURU_PREFIX = "/guru"


def no_framing(response: Response) -> Response:
    """No other site may frame a page (clickjacking its buttons), nor the pages load anything from elsewhere.

    Installed on the app, not the blueprint: the view's 404s (no such page) and redirects (`/guru`) come from
    routing, before any blueprint is chosen, and are answers under `/guru/` all the same.
    """
    if request.path != GURU_PREFIX and not request.path.startswith(GURU_PREFIX + "/"):
        return response
    style = current_app.jinja_env.get_template("style.css").render()
    response.headers["Content-Security-Policy"] = _csp(style)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def personal_data_shown() -> bool:
    """True when this request may see personal values: it comes from this machine, or the server was told to."""
    return from_loopback() or current().config.show_personal_data


def _masked(record: Record) -> Record:
    """`record` with each personal value (a name, date of birth, email, address, phone) replaced by HIDDEN."""
    return {k: HIDDEN if k in v.PERSONAL_FIELDS and val is not None else val for k, val in record.items()}


@guru.before_request
def known_query() -> None:
    """Every page but the student list (which checks its filters itself) takes `?tenant=` and nothing else."""
    if request.url_rule is None or request.endpoint == "guru.students":
        return
    unknown = sorted(set(request.args) - {"tenant"})
    if unknown:
        raise BadRequest(
            f"{request.path} takes no query parameter {', '.join(shown(n) for n in unknown)}; it takes tenant"
        )


def _here() -> dict[str, Any]:
    """Query parameters that keep a link in the same district (none for the default one)."""
    tenant = requested_tenant()
    return {} if tenant == DEFAULT_TENANT else {"tenant": tenant}


def _render(template: str, **context: Any) -> str:
    return render_template(
        template,
        tenant=requested_tenant(),
        tenants=current().registry.tenants(),
        here=_here(),
        control=current().config.control,
        personal_hidden=not personal_data_shown(),
        **context,
    )


@guru.get("/")
def overview() -> str:
    store = requested_store()
    return _render(
        "overview.html", overview=browse.overview(store), statuses=v.STUDENT_STATUSES,
        clients=current().registry.clients(requested_tenant()), api=request.host_url + "api",
        no_school=browse.NO_SCHOOL, show_secrets=from_loopback(),  # a secret is for this machine's eyes only
    )  # fmt: skip


@guru.get("/students")
def students() -> str:
    store = requested_store()
    query = browse.StudentQuery.from_args(request.args, store.school_ids())
    shown_ = personal_data_shown()  # hidden values are not searched either: a match would tell them
    found = browse.find_students(store, query, personal=shown_)
    if not shown_:
        found = dataclasses.replace(found, students=[_masked(s) for s in found.students])
    return _render(
        "students.html", query=query, found=found, statuses=v.STUDENT_STATUSES,
        schools=store.schools().records, no_school=browse.NO_SCHOOL,
        page_url=lambda n: url_for("guru.students", **{**query.link(page=n), **_here()}),
    )  # fmt: skip


@guru.get("/students/<int:person_id>")
def student(person_id: int) -> str:
    detail = browse.student_detail(requested_store(), person_id, current().config.paths_for)
    if not personal_data_shown():
        detail = dataclasses.replace(
            detail,
            record=_masked(detail.record),
            contacts=[dataclasses.replace(c, contact=_masked(c.contact)) for c in detail.contacts],
        )
    return _render("student.html", detail=detail)


@guru.get("/activity")
def activity() -> str:
    state = current()
    entries = state.journal.entries({})
    return _render(
        "activity.html", entries=entries[::-1][:JOURNAL_ROWS], total=len(entries), rules=state.faults.rules()
    )


@guru.post("/faults/clear")
def clear_faults() -> Response:
    _allowed_to_change()
    current().faults.clear()
    return _back_to_activity()


@guru.post("/faults/<int:rule_id>/delete")
def delete_fault(rule_id: int) -> Response:
    _allowed_to_change()
    if not current().faults.remove(rule_id):
        raise NotFound(f"no fault rule {rule_id}")
    return _back_to_activity()


@guru.post("/journal/clear")
def clear_journal() -> Response:
    _allowed_to_change()
    current().journal.clear()
    return _back_to_activity()


def _allowed_to_change() -> None:
    """The same bar as the control API: on, and asked from this machine."""
    if not (current().config.control and from_loopback()):
        raise NotFound("changing faults and the journal needs the control API, on loopback")


def _back_to_activity() -> Response:
    """Post/redirect/get: reloading the page does not post again."""
    args: dict[str, Any] = dict(request.args)
    return redirect(url_for("guru.activity", **args), code=303)  # type: ignore[return-value]


@guru.app_template_filter("utc")
def utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
