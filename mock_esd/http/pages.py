"""The browser view (`/guru/`): server-rendered pages of a district, like eSD's own "Guru".

Thin: each page parses its query, asks `mock_esd.district.browse` for plain data and renders a template. Pages read;
the buttons that clear faults and the journal are forms posting here, answered on loopback only and
only when the control API is on, with the page's CSRF token (`mock_esd.server.guard`). Errors stay problem+json, as everywhere on this server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from mock_esd.district import browse
from mock_esd.district.tenants import DEFAULT_TENANT
from mock_esd.errors import BadRequest, NotFound
from mock_esd.http.request import current, from_loopback, requested_store, requested_tenant
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.schema import shown

guru = Blueprint("guru", __name__)
JOURNAL_ROWS = 200


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
    return _render(
        "students.html", query=query, found=browse.find_students(store, query), statuses=v.STUDENT_STATUSES,
        schools=store.schools().records, no_school=browse.NO_SCHOOL,
        page_url=lambda n: url_for("guru.students", **{**query.link(page=n), **_here()}),
    )  # fmt: skip


@guru.get("/students/<int:person_id>")
def student(person_id: int) -> str:
    return _render(
        "student.html", detail=browse.student_detail(requested_store(), person_id, current().config.paths_for)
    )


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
