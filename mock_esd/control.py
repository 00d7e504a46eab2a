"""The test-control API under `/_mock/`: shape districts, inject faults, read the request journal.

Loopback only; `mock-esd serve --no-control` leaves it out entirely (404). Acts on the tenant named
by `?tenant=` (default: the default tenant).
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from typing import Any

import yaml
from flask import Blueprint, Response, g, request

from contracts import vocabulary as v
from mock_esd import builders, changelog, scenario
from mock_esd.context import current, from_loopback, json_response, requested_store, requested_tenant
from mock_esd.errors import BadRequest, Conflict, NotFound
from mock_esd.generator import DistrictSpec, Record
from mock_esd.store import DistrictStore

control = Blueprint("mock_control", __name__)


@control.before_request
def loopback_only() -> None:
    if not from_loopback():
        raise NotFound("the control API answers on loopback only")


@control.before_request
def exclusive() -> None:
    """A control request changes districts alone: across threads and worker processes."""
    g.changing = ExitStack()
    g.changing.enter_context(current().changing())


@control.teardown_request
def release(_: BaseException | None) -> None:
    if "changing" in g:
        g.changing.close()


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.data:
        raise BadRequest("the body must be JSON")
    if body is not None and not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body or {}


def _spec(body: dict[str, Any], base: DistrictSpec) -> DistrictSpec:
    unknown = sorted(set(body) - {"seed", "students", "schools", "today", "name", "scenario"})
    if unknown:
        raise BadRequest(f"unknown field {', '.join(unknown)}; use seed, students, schools, today")
    try:
        today = dt.date.fromisoformat(body["today"]) if "today" in body else base.today
        spec = DistrictSpec(
            int(body.get("seed", base.seed)),
            int(body.get("students", base.students)),
            int(body.get("schools", base.schools)),
            today,
        )
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"bad district size or date: {exc}") from None
    current().config.limits.check_district(spec.students, spec.schools)
    return spec


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
    spec = _spec(_body(), requested_store().spec)
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
    body = _body()
    registry = current().registry
    name = str(body.get("name") or f"t{len(registry.tenants()) + 1}")
    while "name" not in body and name in registry.tenants():
        name += "x"
    if "scenario" in body:
        recipe = {"scenario": body["scenario"]}
    else:
        recipe = changelog.spec_recipe(_spec(body, DistrictSpec(seed=current().config.spec.seed)))
    clients = registry.add_tenant(name, changelog.build_store(recipe, limits=current().config.limits), recipe)
    return json_response({"tenant": name, "clients": [c.as_json() for c in clients]}, 201)


@control.delete("/tenants/<name>")
def delete_tenant(name: str) -> Response:
    current().registry.remove_tenant(name)
    return Response(status=204)


@control.post("/scenario")
def load_scenario() -> Response:
    """Replace the tenant's district with a scenario (YAML or JSON body); `?merge=true` adds to it instead."""
    recipe = {
        "scenario": scenario.parse_text(request.get_data(as_text=True), "the request body", current().config.limits),
        "merge": request.args.get("merge") == "true",
    }
    built = changelog.build_store(recipe, requested_store(), current().config.limits)
    current().registry.replace_store(requested_tenant(), built, recipe)
    store = requested_store()
    return json_response(
        {"tenant": requested_tenant(), "schools": len(store.schools().records), "students": len(store.all_students())}
    )


@control.get("/scenario")
def export_scenario() -> Response:
    data = scenario.export(requested_store())
    if request.args.get("format") == "yaml":
        return Response(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), mimetype="application/yaml")
    return json_response(data)


# ----- records -------------------------------------------------------------------------------------------


def _validated(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    scenario.check_record(kind, record)
    return record


@control.post("/schools")
def put_school() -> Response:
    body = _validated("schools", _body())
    record = builders.school(body["id"], body.get("name"), body.get("schoolType", v.ELEMENTARY))
    return json_response(requested_store().put_school(record), 201)


@control.delete("/schools/<school_id>")
def delete_school(school_id: str) -> Response:
    requested_store().delete_school(school_id)
    return Response(status=204)


@control.post("/students")
def create_student() -> Response:
    store = requested_store()
    body = {"id": store.next_person_id(), **_body()}
    accepted = body.pop("recentlyAccepted", None)
    _validated("students", body)
    if any(s["id"] == body["id"] for s in store.all_students()):
        raise Conflict(f"student {body['id']} exists; PATCH /_mock/students/{body['id']} changes it")
    record = {**builders.student(body["id"], status=body.get("studentStatus", v.ENROLLED)), **body}
    return json_response(store.put_student(record, accepted), 201)


@control.get("/students/<int:person_id>")
def get_student(person_id: int) -> Response:
    store = requested_store()
    return json_response({**store.get_person(person_id), "recentlyAccepted": person_id in store.recently_accepted()})


@control.patch("/students/<int:person_id>")
def patch_student(person_id: int) -> Response:
    store = requested_store()
    body = _body()
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
    store = requested_store()
    body = _body()
    unknown = sorted(set(body) - {"firstName", "lastName", "schoolId", "grade"})
    if unknown:
        raise BadRequest(
            f"unknown field {', '.join(unknown)}; an application takes firstName, lastName, schoolId, grade"
        )
    record = builders.student(store.next_person_id(), status=v.PRE_ENROLLED, enrolled_id=None)
    record.update({k: body[k] for k in ("firstName", "lastName", "schoolId", "grade") if k in body})
    return json_response(store.put_student(_validated("students", record)), 201)


@control.post("/students/<int:person_id>/accept")
def accept(person_id: int) -> Response:
    """The district accepts an application into a school with a new enrolledId (Pre-enrolled in a holding school)."""
    store = requested_store()
    body = _body()
    person = store.get_person(person_id)
    school_id = body.get("schoolId", person["schoolId"])
    schools = {s["id"]: s for s in store.schools().records}
    if school_id not in schools:
        raise BadRequest(f"accept needs a known schoolId, got {school_id!r}")
    status = body.get("studentStatus", v.PRE_ENROLLED if schools[school_id]["isHoldingSchool"] else v.ENROLLED)
    record = {
        **person,
        "enrolledId": body.get("enrolledId") or store.next_enrolled_id(),
        "schoolId": school_id,
        "studentStatus": status,
    }
    return json_response(store.put_student(_validated("students", record), recently_accepted=True))


@control.post("/students/<int:person_id>/move")
def move(person_id: int) -> Response:
    store = requested_store()
    school_id = _body().get("schoolId")
    if school_id not in store.school_ids():
        raise BadRequest(f"move needs a known schoolId, got {school_id!r}")
    return json_response(store.put_student({**store.get_person(person_id), "schoolId": school_id}))


@control.post("/students/<int:person_id>/withdraw")
def withdraw(person_id: int) -> Response:
    store = requested_store()
    return json_response(
        store.put_student({**store.get_person(person_id), "studentStatus": v.WITHDRAWN}, recently_accepted=False)
    )


@control.post("/contacts")
def put_contact() -> Response:
    store = requested_store()
    body = {"id": store.next_contact_id(), **_body()}
    _validated("contacts", body)
    links = [(x["studentId"], x["relationship"], x["priority"]) for x in body["students"]]
    record: Record = builders.contact(
        body["id"], links, **{k: val for k, val in body.items() if k not in ("id", "students")}
    )
    for built, raw in zip(record["students"], body["students"], strict=True):
        built.update(raw)
    return json_response(store.put_contact(record), 201)


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
    return json_response(current().faults.add(_body()).as_json(), 201)


@control.delete("/faults")
def clear_faults() -> Response:
    current().faults.clear()
    return Response(status=204)


@control.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int) -> Response:
    if not current().faults.remove(rule_id):
        raise NotFound(f"no fault rule {rule_id}")
    return Response(status=204)


@control.get("/requests")
def journal() -> Response:
    return json_response([e.as_json() for e in current().journal.entries(request.args)])


@control.delete("/requests")
def clear_journal() -> Response:
    current().journal.clear(request.args.get("tenant"))
    return Response(status=204)
