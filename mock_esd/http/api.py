"""The eSD API routes: parse the request, ask the district store, encode the answer. Nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, request
from werkzeug.datastructures import MultiDict

from mock_esd.district.listings import Listing, encode_page
from mock_esd.district.store import DistrictStore, StudentFilter
from mock_esd.district.tenants import Client, Registry
from mock_esd.errors import BadRequest, Forbidden
from mock_esd.http import hooks, params
from mock_esd.http.request import current, json_response, require_client
from mock_esd_contracts import endpoints
from mock_esd_contracts.endpoints import Endpoint

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


@dataclass(frozen=True)
class ListRoute:
    """A list endpoint as the mock serves it: the contract's endpoint, the query parameters it takes (paging and
    its filters: any other is a 400), and how the district lists it."""

    endpoint: Endpoint
    params: tuple[str, ...]
    listing: Callable[[DistrictStore, MultiDict[str, str]], Listing]


def _given(args: MultiDict[str, str], name: str) -> str | None:
    """`args.get(name)`, without the exception werkzeug's MultiDict raises and catches for a missing key."""
    return args[name] if name in args else None  # noqa: SIM401 (.get is the slow path this avoids)


def _student_id(args: MultiDict[str, str]) -> int | None:
    return params.positive_int(args, "studentId", maximum=params.MAX_INT)


# How the district lists each endpoint; which endpoints there are, their keys and filters are the contract's
# table (mock_esd_contracts.endpoints), so a new one is a row there and its listing here.
LISTED_BY: dict[str, Callable[[DistrictStore, MultiDict[str, str]], Listing]] = {
    endpoints.SCHOOLS.path: lambda store, _: store.schools(),
    endpoints.STUDENTS.path: lambda store, args: store.students(
        StudentFilter(_given(args, "schoolId"), _given(args, "studentStatus"))
    ),
    endpoints.CONTACTS.path: lambda store, args: store.contacts(_student_id(args)),
    endpoints.OPEROO_STUDENTS.path: lambda store, _: store.operoo_students(),
    endpoints.OPEROO_CONTACTS.path: lambda store, args: store.operoo_contacts(_student_id(args)),
}
LISTINGS: dict[str, ListRoute] = {  # by path under /api
    e.path: ListRoute(e, (*params.PAGING_PARAMS, *e.filters), LISTED_BY[e.path]) for e in endpoints.ENDPOINTS
}


def listing_page(path: str, args: MultiDict[str, str], client: Client, registry: Registry) -> bytes:
    """The body of one page of the listing at `path` (a key of LISTINGS), or the EsdError to answer instead.

    Checked in this order: unknown or repeated parameters, the client's right to the endpoint, the
    listing's filter, the paging. The Flask routes and `mock_esd.server.shortcut` both answer with it.
    """
    route = LISTINGS[path]
    params.check_known(args, route.params)
    if route.endpoint.custom and not client.custom_endpoints:
        raise Forbidden("the Operoo custom endpoints are not enabled for this client")
    listing = route.listing(registry.store(client.tenant), args)
    page_no, page_size = params.paging(args)
    return encode_page(route.endpoint.key, listing, page_no, page_size)


def _listing(path: str) -> Response:
    body = listing_page(path, request.args, require_client(), current().registry)
    return Response(body, mimetype="application/json")


@api.get("/v1/schools")
def schools() -> Response:
    return _listing("/v1/schools")


@api.get("/v1/students")
def students() -> Response:
    return _listing("/v1/students")


@api.get("/v1/students/<enrolled_id>")
def student(enrolled_id: str) -> Response:
    params.check_known(request.args, ())
    client = require_client()
    return json_response(current().registry.store(client.tenant).student(enrolled_id))


@api.get("/v1/contacts")
def contacts() -> Response:
    return _listing("/v1/contacts")


@api.get("/v1/operoo/students")
def operoo_students() -> Response:
    return _listing("/v1/operoo/students")


@api.get("/v1/operoo/contacts")
def operoo_contacts() -> Response:
    return _listing("/v1/operoo/contacts")
