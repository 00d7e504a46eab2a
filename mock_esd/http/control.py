"""The test-control API under `/_mock/`: shape districts, inject faults, read the request journal.

Loopback only; `mock-esd serve --no-control` leaves it out entirely (404). Acts on the tenant named
by `?tenant=` (default: the default tenant).
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from typing import Any

import orjson
import yaml
from flask import Blueprint, Response, g, request

from mock_esd.district import builders, scenario
from mock_esd.district.generator import DistrictSpec, today_problem
from mock_esd.district.store import DistrictStore
from mock_esd.district.tenants import tenant_name_problem
from mock_esd.errors import BadRequest, Conflict, Invalid, NotFound
from mock_esd.http.request import current, from_loopback, json_response, requested_store, requested_tenant
from mock_esd.qa import drift, faults, served
from mock_esd.qa.journal import FILTERS
from mock_esd.state import changelog
from mock_esd_contracts import vocabulary as v
from mock_esd_contracts.schema import body_problems, depth_problem, duplicate_keys, shown

control = Blueprint("mock_control", __name__)
ORJSON_DEPTH = 1024  # orjson refuses a body nested deeper than this, whatever max_body_depth says
TENANT = ("tenant",)
# The query parameters each endpoint reads (by view name); any other is refused by `known_query`.
QUERY: dict[str, tuple[str, ...]] = {
    "reset": TENANT, "load_scenario": (*TENANT, "merge"), "export_scenario": (*TENANT, "format"),
    "put_school": TENANT, "delete_school": TENANT, "create_student": TENANT, "get_student": TENANT,
    "patch_student": TENANT, "delete_student": TENANT, "submit_application": TENANT, "accept": TENANT,
    "move": TENANT, "withdraw": TENANT, "put_contact": TENANT, "delete_contact": TENANT,
    "clear_faults": ("revert",), "delete_fault": ("revert",), "journal": FILTERS, "clear_journal": TENANT,
}  # fmt: skip


@control.before_request
def loopback_only() -> None:
    if not from_loopback():
        raise NotFound("the control API answers on loopback only")


@control.before_request
def known_query() -> None:
    """A query parameter an endpoint does not read is a 400 naming it: never silently ignored."""
    if request.url_rule is None:  # no such endpoint: its 404 says so
        return
    takes = QUERY.get((request.endpoint or "").rpartition(".")[2], ())
    unknown = sorted(set(request.args) - set(takes))
    if unknown:
        raise BadRequest(
            f"{request.method} {request.path} takes no query parameter {', '.join(shown(n) for n in unknown)}; "
            + (f"it takes {', '.join(takes)}" if takes else "it takes none")
            + (
                " (a fault rule names its tenant in its body)"
                if "tenant" in unknown and "fault" in request.path
                else ""
            )
        )
    repeated = sorted(n for n in set(request.args) if len(request.args.getlist(n)) > 1)
    if repeated:
        raise BadRequest(f"query parameter {', '.join(repeated)} given more than once")


@control.before_request
def exclusive() -> None:
    """A control request changes districts alone: across threads and worker processes."""
    g.changing = ExitStack()
    g.changing.enter_context(current().changing())


@control.teardown_request
def release(_: BaseException | None) -> None:
    if "changing" in g:
        g.changing.close()


def _json() -> Any:
    """The request's JSON body (None when empty), parsed with a nesting limit rather than recursion."""
    data = request.get_data()
    if not data.strip():
        return None
    if not request.is_json:
        raise BadRequest("the body must be JSON (Content-Type: application/json)")
    limits = current().config.limits
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own cap: the lower of it and ours is the limit
            if limits.max_body_depth < ORJSON_DEPTH:
                raise BadRequest(
                    f"the body is nested deeper than the limit max_body_depth={limits.max_body_depth}"
                ) from None
            raise BadRequest(f"the body is nested deeper than the JSON parser reads ({ORJSON_DEPTH} levels)") from None
        raise BadRequest(f"the body is not JSON: {str(exc)[:200]}") from None
    too_deep = depth_problem(body, limits.max_body_depth)
    if too_deep:
        raise BadRequest(f"the body is {too_deep['message']}")
    twice = duplicate_keys(data, limits.max_reported_errors)  # after the depth check: this parser recurses
    if twice:
        raise Invalid("body", twice, twice.more, limits.max_reported_errors)
    return body


def _checked(schema: str, body: Any, *extra: dict[str, str]) -> dict[str, Any]:
    """`body` if it follows `$defs/<schema>` of contracts/control.schema.json; else one 400 naming its problems
    (the first `max_reported_errors` of them: the check stops there)."""
    limits = current().config.limits
    found = body_problems(schema, body, limits.max_body_depth, limits.max_reported_errors, limits.max_field_chars)
    said = {p["path"] for p in extra}  # a field an extra check explains is told once, in its words
    problems = [*(p for p in found if p["path"] not in said), *extra]
    if problems:
        raise Invalid(
            f"{schema} body", sorted(problems, key=lambda p: p["path"]), found.more, limits.max_reported_errors
        )
    return body  # type: ignore[no-any-return]


def _body(schema: str) -> dict[str, Any]:
    """The JSON object body, checked against its schema (no body is `{}`)."""
    raw = _json()
    return _checked(schema, {} if raw is None else raw)


def _spec(schema: str, body: dict[str, Any], base: DistrictSpec) -> DistrictSpec:
    """A district spec from a checked reset or tenant body; fields left out keep `base`'s."""
    today = dt.date.fromisoformat(body["today"]) if "today" in body else base.today
    problem = today_problem(today)
    if problem:
        raise Invalid(f"{schema} body", [{"path": "today", "message": problem}])
    spec = DistrictSpec(
        body.get("seed", base.seed), body.get("students", base.students), body.get("schools", base.schools), today
    )
    current().config.limits.check_district(spec.students, spec.schools)
    return spec


def _students_beside(tenant: str | None) -> int:
    """Persons of every district but `tenant`'s: what `max_total_students` counts a new or replaced district with."""
    registry = current().registry
    return sum(len(registry.store(t).all_students()) for t in registry.tenants() if t != tenant)


# ----- tenants and districts ------------------------------------------------------------------------


@control.get("/")
def index() -> Response:
    state = current()
    return json_response({
        "tenants": {t: [c.as_json() for c in state.registry.clients(t)] for t in state.registry.tenants()},
        "faults": len(state.faults.rules()),
        "journal": len(state.journal.entries({})),
    })  # fmt: skip


@control.post("/reset")
def reset() -> Response:
    """Regenerate the tenant's district, optionally with another seed or size; faults stay."""
    spec = _spec("reset", _body("reset"), requested_store().spec)
    current().config.limits.check_total(_students_beside(requested_tenant()), spec.students)
    current().registry.replace_store(requested_tenant(), DistrictStore(spec), changelog.spec_recipe(spec))
    return json_response(
        {"tenant": requested_tenant(), "seed": spec.seed, "students": spec.students, "schools": spec.schools}
    )


@control.get("/tenants")
def tenants() -> Response:
    registry = current().registry
    return json_response(
        [{"tenant": t, "clients": [c.as_json() for c in registry.clients(t)]} for t in registry.tenants()]
    )


@control.post("/tenants")
def create_tenant() -> Response:
    """A new district and its two clients, isolated from every other tenant."""
    raw = _json()
    name = raw.get("name") if isinstance(raw, dict) else None
    problem = tenant_name_problem(name) if isinstance(name, str) else None
    body = _checked("tenant", {} if raw is None else raw, *([{"path": "name", "message": problem}] if problem else []))
    registry, limits = current().registry, current().config.limits
    limits.check_tenants(len(registry.tenants()) + 1)
    name = str(body.get("name") or f"t{len(registry.tenants()) + 1}")
    while "name" not in body and name in registry.tenants():
        name += "x"
    if "scenario" in body:
        recipe = {"scenario": body["scenario"]}
    else:
        recipe = changelog.spec_recipe(_spec("tenant", body, DistrictSpec(seed=current().config.spec.seed)))
    built = changelog.build_store(recipe, limits=limits, beside=_students_beside(None))
    clients = registry.add_tenant(name, built, recipe)
    return json_response({"tenant": name, "clients": [c.as_json() for c in clients]}, 201)


@control.delete("/tenants/<name>")
def delete_tenant(name: str) -> Response:
    current().registry.remove_tenant(name)
    return Response(status=204)


@control.post("/scenario")
def load_scenario() -> Response:
    """Replace the tenant's district with a scenario (YAML or JSON body); `?merge=true` adds to it instead.

    A scenario (not a merge) is parsed and built once per server: loaded again, its text gets a fork."""
    limits, beside, source = current().config.limits, _students_beside(requested_tenant()), "the request body"
    if _flag("merge"):
        recipe = {"scenario": scenario.parse_text(request.get_data(as_text=True), source, limits), "merge": True}
        built = changelog.build_store(recipe, requested_store(), limits, beside=beside)
    else:
        recipe, built = changelog.scenario_recipe(request.get_data(), source, current().scenarios, limits, beside)
    current().registry.replace_store(requested_tenant(), built, recipe)
    store = requested_store()
    return json_response(
        {"tenant": requested_tenant(), "schools": len(store.schools().records), "students": len(store.all_students())}
    )


@control.get("/scenario")
def export_scenario() -> Response:
    data = scenario.export(requested_store())
    form = request.args.get("format", "json")
    if form not in ("json", "yaml"):
        raise BadRequest(f"format must be json or yaml, got {shown(form)}")
    if form == "yaml":
        plain = orjson.loads(orjson.dumps(data))  # enum values (SchoolType, ...) as the strings JSON shows
        return Response(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True), mimetype="application/yaml")
    return json_response(data)


# ----- records -------------------------------------------------------------------------------------------


def _validated(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    scenario.check_record(kind, record, current().config.limits)
    return record


def _room_for(store: DistrictStore, students: int = 0, schools: int = 0) -> None:
    """A record added one at a time counts against the same district limits as a generated district."""
    limits, present = current().config.limits, len(store.all_students())
    limits.check_district(present + students, len(store.school_ids()) + schools)
    if students:
        limits.check_total(_students_beside(requested_tenant()), present + students)


@control.post("/schools")
def put_school() -> Response:
    body = _body("school")
    _room_for(requested_store(), schools=int(body["id"] not in requested_store().school_ids()))
    record = builders.school(body["id"], body.get("name"), body.get("schoolType", v.SchoolType.ELEMENTARY))
    return json_response(requested_store().put_school(record), 201)


@control.delete("/schools/<school_id>")
def delete_school(school_id: str) -> Response:
    requested_store().delete_school(school_id)
    return Response(status=204)


@control.post("/students")
def create_student() -> Response:
    store = requested_store()
    raw = _json()
    body = _checked("student", {"id": store.next_person_id(), **raw} if isinstance(raw, dict) else raw or {})
    accepted = body.pop("recentlyAccepted", None)
    _room_for(store, students=1)
    if any(s["id"] == body["id"] for s in store.all_students()):
        raise Conflict(f"student {body['id']} exists; PATCH /_mock/students/{body['id']} changes it")
    record = {**builders.student(body["id"], status=body.get("studentStatus", v.Status.ENROLLED)), **body}
    return json_response(store.put_student(record, accepted), 201)


@control.get("/students/<int:person_id>")
def get_student(person_id: int) -> Response:
    store = requested_store()
    return json_response({**store.get_person(person_id), "recentlyAccepted": person_id in store.recently_accepted()})


@control.patch("/students/<int:person_id>")
def patch_student(person_id: int) -> Response:
    store = requested_store()
    raw = _json()
    wrong_id = isinstance(raw, dict) and raw.get("id", person_id) != person_id
    body = _checked(
        "student",
        {**raw, "id": person_id} if isinstance(raw, dict) else raw or {},
        *([{"path": "id", "message": f"the id is the one in the URL ({person_id}); leave it out"}] if wrong_id else []),
    )
    accepted = body.pop("recentlyAccepted", None)
    merged = {**store.get_person(person_id), **body, "id": person_id}
    _validated("students", merged)
    return json_response(store.put_student(merged, accepted))


@control.delete("/students/<int:person_id>")
def delete_student(person_id: int) -> Response:
    requested_store().delete_student(person_id)
    return Response(status=204)


@control.post("/applications")
def submit_application() -> Response:
    """A parent applies online: a new person without enrolledId, Pre-enrolled, usually without a school."""
    body = _body("application")
    _room_for(requested_store(), students=1)
    return json_response(requested_store().submit_application(**body), 201)


@control.post("/students/<int:person_id>/accept")
def accept(person_id: int) -> Response:
    """The district accepts an application into a school with a new enrolledId (Pre-enrolled in a holding school)."""
    body = _body("accept")
    store = requested_store()
    return json_response(
        store.accept(person_id, body.get("schoolId"), body.get("enrolledId"), body.get("studentStatus"))
    )


@control.post("/students/<int:person_id>/move")
def move(person_id: int) -> Response:
    return json_response(requested_store().move(person_id, _body("move")["schoolId"]))


@control.post("/students/<int:person_id>/withdraw")
def withdraw(person_id: int) -> Response:
    _body("withdraw")
    return json_response(requested_store().withdraw(person_id))


@control.post("/contacts")
def put_contact() -> Response:
    store = requested_store()
    raw = _json()
    body = _checked("contact", {"id": store.next_contact_id(), **raw} if isinstance(raw, dict) else raw or {})
    return json_response(store.put_contact(builders.contact_from(body)), 201)


@control.delete("/contacts/<int:contact_id>")
def delete_contact(contact_id: int) -> Response:
    requested_store().delete_contact(contact_id)
    return Response(status=204)


# ----- faults and journal -------------------------------------------------------------------------------


@control.get("/faults")
def list_faults() -> Response:
    return json_response([r.as_json() for r in current().faults.rules()])


@control.post("/faults")
def add_fault() -> Response:
    raw = _json()
    body = {} if raw is None else raw
    limits = current().config.limits
    registry = current().registry
    clients = {t: [c.client_id for c in registry.clients(t)] for t in registry.tenants()}
    problems = faults.rule_problems(
        body, registry.tenants(), limits.max_body_depth, limits.max_reported_errors, clients
    )
    if problems:
        raise Invalid("fault rule", problems, problems.more, limits.max_reported_errors)
    return json_response(current().faults.add(body).as_json(), 201)


@control.delete("/faults")
def clear_faults() -> Response:
    """Remove every rule; `?revert=true` also undoes what they changed (drift) and says what it undid."""
    revert = _flag("revert")
    removed = current().faults.clear()
    if not revert:
        return Response(status=204)
    return json_response([_reverted(rule) for rule in reversed(removed)])  # newest changes first


@control.post("/faults/<int:rule_id>/revert")
def revert_fault(rule_id: int) -> Response:
    """Remove a rule and undo what it changed in districts (the students a drift inserted or removed)."""
    rule = current().faults.take(rule_id)
    if rule is None:
        raise NotFound(f"no fault rule {rule_id}")
    return json_response(_reverted(rule))


def _reverted(rule: faults.FaultRule) -> dict[str, Any]:
    return {"id": rule.rule_id, "kind": rule.kind, **drift.revert(current().registry, rule.changes)}


def _flag(name: str) -> bool:
    value = request.args.get(name, "false")
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false, got {shown(value)}")
    return value == "true"


@control.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int) -> Response:
    """Remove a rule; what it changed (a drift's students) stays unless `?revert=true`, as `POST .../revert`."""
    if _flag("revert"):
        return revert_fault(rule_id)
    if not current().faults.remove(rule_id):
        raise NotFound(f"no fault rule {rule_id}")
    return Response(status=204)


@control.get("/requests")
def journal() -> Response:
    """The tenant's journal, filtered; a filter no request could match is a 400 naming it, not an empty list."""
    registry = current().registry
    clients = [c.client_id for c in registry.clients()]
    problems = served.criteria_problems(request.args, registry.tenants(), clients)
    if problems:
        raise Invalid("journal filter", problems)
    return json_response([e.as_json() for e in current().journal.entries(request.args)])


@control.delete("/requests")
def clear_journal() -> Response:
    current().journal.clear(request.args.get("tenant"))
    return Response(status=204)
