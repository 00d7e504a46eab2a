"""The eSD API routes: parse the request, ask the district store, encode the answer. Nothing else."""

from __future__ import annotations

from flask import Blueprint, Response, request

from contracts import vocabulary as v
from mock_esd import hooks, params
from mock_esd.context import current, json_response, require_client
from mock_esd.errors import BadRequest, Forbidden
from mock_esd.store import DistrictStore, StudentFilter, View, encode_page

api = Blueprint("esd_api", __name__)


@api.before_request
def authenticate() -> None:
    """Every route but the token endpoint needs a valid bearer token, checked before anything else."""
    if request.endpoint != "esd_api.token":
        require_client()


api.before_request(hooks.faults_before)
api.after_request(hooks.faults_after)
api.after_request(hooks.journal_after)


@api.post("/v1/auth/token")
def token() -> Response:
    form = request.form
    if form.get("grant_type") != "client_credentials":
        raise BadRequest(f"grant_type must be client_credentials, got {form.get('grant_type')!r}")
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username or "", auth.password or ""
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    return json_response(current().issue(client_id, secret))


@api.get("/v1/schools")
def schools() -> Response:
    params.check_known(request.args, params.PAGING_PARAMS)
    return _page(v.SCHOOLS_KEY, _store().schools())


@api.get("/v1/students")
def students() -> Response:
    params.check_known(request.args, (*params.PAGING_PARAMS, "schoolId", "studentStatus"))
    flt = StudentFilter(request.args.get("schoolId"), request.args.get("studentStatus"))
    return _page(v.STUDENTS_KEY, _store().students(flt))


@api.get("/v1/students/<enrolled_id>")
def student(enrolled_id: str) -> Response:
    params.check_known(request.args, ())
    return json_response(_store().student(enrolled_id))


@api.get("/v1/contacts")
def contacts() -> Response:
    params.check_known(request.args, (*params.PAGING_PARAMS, "studentId"))
    return _page(
        v.CONTACTS_KEY, _store().contacts(params.positive_int(request.args, "studentId", maximum=params.MAX_INT))
    )


@api.get("/v1/operoo/students")
def operoo_students() -> Response:
    params.check_known(request.args, params.PAGING_PARAMS)
    return _page(v.STUDENTS_KEY, _store(custom=True).operoo_students())


@api.get("/v1/operoo/contacts")
def operoo_contacts() -> Response:
    params.check_known(request.args, (*params.PAGING_PARAMS, "studentId"))
    return _page(
        v.CONTACTS_KEY,
        _store(custom=True).operoo_contacts(params.positive_int(request.args, "studentId", maximum=params.MAX_INT)),
    )


def _store(custom: bool = False) -> DistrictStore:
    client = require_client()
    if custom and not client.custom_endpoints:
        raise Forbidden("the Operoo custom endpoints are not enabled for this client")
    return current().registry.store(client.tenant)


def _page(key: str, view: View) -> Response:
    page_no, page_size = params.paging(request.args)
    return Response(encode_page(key, view, page_no, page_size), mimetype="application/json")
