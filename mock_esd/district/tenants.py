"""Clients, their districts (tenants), and OAuth2 client-credentials tokens.

Tokens are signed, not stored: `[client_id, expiry]` signed by itsdangerous (HMAC-SHA256, URL-safe), so
every worker process that shares the signing key accepts the token any of them issued. Expiry is a claim
checked against the app's clock, not itsdangerous's timestamp, so tests can move time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.listings import DEFAULT_CACHE_BYTES
from mock_esd.district.store import DistrictStore, replaying
from mock_esd.errors import Conflict, Invalid, NotFound, Unauthorized
from mock_esd_contracts.schema import control_schema, shown

CLIENT_HOST_SUFFIX = ".guru.eschooldata.com/api"
DEFAULT_TENANT = "default"
TOKEN_SALT = "mock-esd access token"
_NAMESPACE = uuid.UUID("6f1c1d4e-7a4b-4e55-9a3e-2f6f3f1b7a10")
# What may name a tenant, written once (the control schema's `$defs/tenant/properties/name`): a name is a part
# of URLs (`DELETE /_mock/tenants/{name}`), so no `/`, no control character, and not `.` or `..`, which a
# client resolves away (`/_mock/tenants/..` is `/_mock/`): such a tenant could be made but never deleted.
TENANT_NAME = re.compile(control_schema()["$defs"]["tenant"]["properties"]["name"]["pattern"])
_NAME_RULE = "a tenant's name is 1 to 100 letters, digits, _ . or -, and not . or .."
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_.-]")


def tenant_name_problem(name: str) -> str | None:
    """What is wrong with `name` as a tenant's name (None: nothing), as the control API's 400 says it."""
    if TENANT_NAME.fullmatch(name):  # fullmatch: the schema's `$` would also match before a final newline
        return None
    return f"{_NAME_RULE}, got {shown(name)}"


def tenant_name_from(text: str) -> str:
    """A tenant's name made from any `text` (a test's node id, say): each other character as `_`, its last 80."""
    name = _NOT_IN_NAMES.sub("_", text)[-80:]
    return name if tenant_name_problem(name) is None else f"t{name}"


@dataclass(frozen=True)
class Client:
    """An OAuth2 client: belongs to one district; may or may not use the Operoo custom endpoints."""

    client_id: str
    secret: str
    tenant: str
    custom_endpoints: bool

    @property
    def kind(self) -> str:
        """`custom` or `standard`: how a scenario's `clients` names it."""
        return "custom" if self.custom_endpoints else "standard"

    def as_json(self) -> dict[str, object]:
        return {
            "clientId": self.client_id,
            "clientSecret": self.secret,
            "tenant": self.tenant,
            "customEndpoints": self.custom_endpoints,
        }


@functools.lru_cache(maxsize=1024)  # a fresh district per test names the same tenants again and again
def default_clients(tenant: str, secret_key: bytes | None = None) -> tuple[Client, Client]:
    """The two clients of a tenant, derived from its name: (custom endpoints on, off).

    Without `secret_key` the secrets derive from the name alone (anyone can work them out: fine on
    loopback, where tests want them stable); with one, from the key and the name.
    """
    out = []
    for custom in (True, False):
        name = f"{tenant}:{'custom' if custom else 'standard'}"
        client_id = f"{uuid.uuid5(_NAMESPACE, name)}{CLIENT_HOST_SUFFIX}"
        if secret_key is None:
            secret = hashlib.sha256(f"mock-esd secret {name}".encode()).hexdigest()[:32]
        else:
            secret = hmac.new(secret_key, name.encode(), hashlib.sha256).hexdigest()[:32]
        out.append(Client(client_id, secret, tenant, custom))
    return out[0], out[1]


Recipe = dict[str, Any]  # how to rebuild a district: {"spec": {...}} or {"scenario": {...}, "merge": bool}
ChangeListener = Callable[[str, str, list[Any]], None]  # tenant, operation, JSON arguments


class Registry:
    """Tenants (one district each) and the clients that reach them.

    Every change (here and in each tenant's store) is reported to `listener` as an operation with
    JSON arguments; `mock_esd.state.changelog` appends them to a log that other worker processes replay.
    """

    def __init__(self, listener: ChangeListener | None = None, secret_key: bytes | None = None) -> None:
        self._stores: dict[str, DistrictStore] = {}
        self._clients: dict[str, Client] = {}
        self.listener = listener
        self.secret_key = secret_key  # see default_clients; workers share it (forked after it is made)
        self._view_cache_limit: tuple[int, int] | None = None

    def set_view_cache_limit(self, limit: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        """Bound the view cache of every district, present and future: views kept, and bytes they hold."""
        self._view_cache_limit = (limit, max_bytes)
        for store in self._stores.values():
            store.set_cache_limit(limit, max_bytes)

    def _notify(self, tenant: str, op: str, args: list[Any]) -> None:
        if self.listener is not None and not replaying():
            self.listener(tenant, op, args)

    def _attach(self, tenant: str, store: DistrictStore) -> None:
        self._stores[tenant] = store
        if self._view_cache_limit is not None:
            store.set_cache_limit(*self._view_cache_limit)
        store.on_change = lambda op, args: self._notify(tenant, op, args)

    def add_tenant(self, tenant: str, store: DistrictStore, recipe: Recipe | None = None) -> tuple[Client, ...]:
        problem = tenant_name_problem(tenant)
        if problem is not None:
            raise Invalid("tenant", [{"path": "name", "message": problem}])
        if tenant in self._stores:
            raise Conflict(f"tenant {tenant!r} already exists")
        self._attach(tenant, store)
        clients = self._admit(tenant, recipe)
        self._notify(tenant, "add_tenant", [recipe])
        return clients

    def replace_store(self, tenant: str, store: DistrictStore, recipe: Recipe | None = None) -> None:
        self.store(tenant)
        self._attach(tenant, store)
        if recipe is not None:
            self._admit(tenant, recipe)
        self._notify(tenant, "replace_store", [recipe])

    def _admit(self, tenant: str, recipe: Recipe | None) -> tuple[Client, ...]:
        """The tenant's clients: both, or those its scenario's `clients` names (a recording keeps what it saw)."""
        kinds = ((recipe or {}).get("scenario") or {}).get("clients", ("custom", "standard"))
        clients = tuple(c for c in default_clients(tenant, self.secret_key) if c.kind in kinds)
        self._clients = {k: c for k, c in self._clients.items() if c.tenant != tenant}
        self._clients.update((c.client_id, c) for c in clients)
        return clients

    def remove_tenant(self, tenant: str) -> None:
        self.store(tenant)
        del self._stores[tenant]
        self._clients = {k: c for k, c in self._clients.items() if c.tenant != tenant}
        self._notify(tenant, "remove_tenant", [])

    def store(self, tenant: str) -> DistrictStore:
        try:
            return self._stores[tenant]
        except KeyError:
            raise NotFound(f"no tenant {tenant!r}") from None

    def tenants(self) -> list[str]:
        return sorted(self._stores)

    def clients(self, tenant: str | None = None) -> list[Client]:
        return [c for c in self._clients.values() if tenant is None or c.tenant == tenant]

    def authenticate(self, client_id: str, secret: str) -> Client:
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret, secret):
            raise Unauthorized("invalid client credentials")
        return client

    def client(self, client_id: str) -> Client:
        client = self._clients.get(client_id)
        if client is None:
            raise Unauthorized("the token's client no longer exists")
        return client


def _serializer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=TOKEN_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def issue_token(client: Client, key: bytes, now: float, ttl: int) -> str:
    """A bearer token for `client`, valid for `ttl` seconds from `now`."""
    return str(_serializer(key).dumps([client.client_id, int(now) + ttl]))


def verify_token(token: str, key: bytes, now: float) -> str:
    """The client id a valid, unexpired token was issued to; Unauthorized otherwise."""
    client_id, expires_at = _signed_claims(token, key)
    if now >= expires_at:
        raise Unauthorized("access token expired")
    return client_id


def _signed_claims(token: str, key: bytes) -> tuple[str, int]:
    try:
        client_id, expiry = _serializer(key).loads(token)
    except (BadData, ValueError, TypeError):  # forged, altered or not a token; or signed, but not a [client_id, expiry]
        raise Unauthorized("invalid access token") from None
    return str(client_id), int(expiry)


class TokenVerifier:
    """`verify_token` that checks each token's signature once: a client sends the same token with every
    page, and the HMAC was a sixth of serving a 100-record page. Expiry is still checked on every call."""

    def __init__(self, key: bytes, limit: int = 10_000) -> None:
        self._key, self._limit = key, limit
        self._claims: dict[str, tuple[str, int]] = {}

    def __call__(self, token: str, now: float) -> str:
        claims = self._claims.get(token)
        if claims is None:
            claims = _signed_claims(token, self._key)
            if len(self._claims) >= self._limit:
                self._claims.clear()  # bounded; a forgotten token is only verified again
            self._claims[token] = claims
        client_id, expires_at = claims
        if now >= expires_at:
            raise Unauthorized("access token expired")
        return client_id


def default_registry(spec: DistrictSpec, secret_key: bytes | None = None) -> Registry:
    """A registry with the default tenant's district generated from `spec`."""
    registry = Registry(secret_key=secret_key)
    registry.add_tenant(DEFAULT_TENANT, DistrictStore(spec))
    return registry
