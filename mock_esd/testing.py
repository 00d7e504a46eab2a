"""A mock eSD district in a test, a script or a notebook: with pytest or without, in-process or on a live port.

    import mock_esd

    with mock_esd.mock_district(students=50) as esd:          # in-process: no socket
        requests.post(f"{esd.base_url}/v1/auth/token", ...)     # routed into the mock (the `responses` library)
        esd.control.withdraw(12)

    @mock_esd.mock_district(seed=4, live=True)                 # a server of its own on 127.0.0.1, stopped after
    def test_sync(esd): ...                                    # the district comes last, as `mock.patch` gives its mock

The district is the one the pytest fixtures give (`esd_inprocess`, `esd_server`): the fixtures are built on
`Districts`, the cache of generated districts and servers below. A district is generated once per
(seed, size, today) per `Districts`; each use gets a copy-on-write fork of it, so a fresh district costs
about what a hand-written `responses` stub does, and what one use changes no other sees.

In-process mode routes `requests` calls (only those) for the district's base URL into the app, as moto's
`mock_aws` routes boto's; a live district answers any HTTP client.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mock_esd.district.defaults import (
    DEFAULT_SCHOOLS,
    DEFAULT_SEED,
    DEFAULT_TODAY,
    SPEC_FIELDS,
    TEST_STUDENTS,
    UNFIRED_FAULTS,
)
from mock_esd_contracts.extras import require

if TYPE_CHECKING:
    from flask import Flask

    from mock_esd.district.generator import DistrictSpec
    from mock_esd.district.scenario_cache import ScenarioCache
    from mock_esd.district.store import DistrictStore
    from mock_esd.district.tenants import Client, Recipe, Registry
    from mock_esd.limits import Limits
    from mock_esd.qa.client import ControlClient, Credentials
    from mock_esd.server.live import LiveServer

T = TypeVar("T")
_KIND_NAMES = {int: "a whole number", dt.date: "a datetime.date"}


@dataclass(frozen=True)
class EsdDistrict:
    """A running mock district: where its API is, who may call it, and the control API for it.

    `base_url` is what an eSD client is given (`.../api`); `custom` are the credentials of a client with the
    Operoo custom endpoints, `standard` of one without (403 on `/v1/operoo/*`); `clients` has those the
    district has by kind (`"custom"`, `"standard"`: both, unless its scenario's `clients` names one);
    `control` changes this district and asserts what was asked of it; `tenant` names it on its server.
    """

    base_url: str
    tenant: str
    clients: Mapping[str, Credentials]
    control: ControlClient

    @property
    def custom(self) -> Credentials:
        """The client with the Operoo custom endpoints; LookupError when the district's scenario names none."""
        return self._client("custom")

    @property
    def standard(self) -> Credentials:
        """The client without the Operoo custom endpoints; LookupError when the district's scenario names none."""
        return self._client("standard")

    def _client(self, kind: str) -> Credentials:
        if kind not in self.clients:
            raise LookupError(
                f"this district has no {kind} client: its scenario's clients are {', '.join(self.clients)}"
            )
        return self.clients[kind]


def district_spec(**fields: Any) -> DistrictSpec:
    """The `DistrictSpec` of `seed`, `students`, `schools` and `today` (the fields left out: their defaults).

    Raises TypeError naming a field it does not know or a value of the wrong type, ValueError for a value
    out of range (students below 0, schools below 2); MissingExtra (an ImportError) naming the `server` extra
    when it is not installed.
    """
    require("server", "a mock district")  # the generator needs Faker: one line naming the extra, not its ImportError
    from mock_esd.district.generator import DistrictSpec

    unknown = sorted(set(fields) - set(SPEC_FIELDS))
    if unknown:
        raise TypeError(f"a district takes only {', '.join(SPEC_FIELDS)}; got {', '.join(unknown)}")
    for name, value in fields.items():
        kind = SPEC_FIELDS[name]
        if (
            not isinstance(value, kind)
            or isinstance(value, bool)
            or (kind is dt.date and isinstance(value, dt.datetime))
        ):
            raise TypeError(f"{name} must be {_KIND_NAMES[kind]}, got {type(value).__name__}")
    defaults = {"seed": DEFAULT_SEED, "students": TEST_STUDENTS, "schools": DEFAULT_SCHOOLS, "today": DEFAULT_TODAY}
    return DistrictSpec(**{**defaults, **fields})


def scenario_path(scenario: object, fields: dict[str, Any], base: Path | None = None) -> Path:
    """A scenario file's path made absolute (against `base`, default the working directory); TypeError for
    anything else than a path, or when spec `fields` are given beside it (the scenario says its district)."""
    if fields:
        raise TypeError(
            f"a district from a scenario takes no {', '.join(sorted(fields))}: the scenario says its district "
            "(its base, today)"
        )
    if not isinstance(scenario, str | os.PathLike) or not str(scenario):
        raise TypeError(f"scenario must be a path to a YAML or JSON file, got {type(scenario).__name__}")
    path = Path(scenario)
    return path if path.is_absolute() else (base or Path.cwd()) / path


def check_unfired_faults(value: object) -> str:
    """`value` if it is one of UNFIRED_FAULTS; else ValueError naming them."""
    if value not in UNFIRED_FAULTS:
        raise ValueError(f"unfired_faults must be one of {', '.join(UNFIRED_FAULTS)}, got {value!r}")
    return str(value)


def _registry(store: DistrictStore, recipe: Recipe | None = None) -> Registry:
    """A registry whose default tenant is `store` (what `create_app` would generate, already generated), with
    the clients its `recipe` (a scenario's) names."""
    from mock_esd.district.tenants import DEFAULT_TENANT, Registry

    registry = Registry()
    registry.add_tenant(DEFAULT_TENANT, store, recipe)
    return registry


def _district(base_url: str, tenant: str, clients: list[Client], control: ControlClient) -> EsdDistrict:
    from mock_esd.qa.client import Credentials

    by_kind = {
        c.kind: Credentials(c.client_id, c.secret) for c in sorted(clients, key=lambda c: not c.custom_endpoints)
    }
    return EsdDistrict(base_url, tenant, by_kind, control)


class Districts:
    """Districts and the servers that serve them, kept for many uses (a pytest session, a test module).

    `fork(spec)` generates a district once per spec and hands out isolated copies of it; `scenario(path)` does
    the same for a scenario file (parsed and built once per content); `inprocess(source)` and `live(source)`
    give a running `EsdDistrict` of a spec or a scenario file for a `with` block. Live districts share one
    server (started at their first use, with a default tenant of `default_spec`), each as its own tenant;
    `close()` stops it. The servers keep the scenarios loaded through their control API
    (`ControlClient.load_scenario`) parsed too, for every later test. Also a context manager that closes itself.

    Each spec is a `DistrictSpec` (`district_spec(**options)` makes one; anything else is a TypeError) and keeps
    to `limits` (default `mock_esd.Limits()`): a district above `max_students` or `max_schools`, or live ones
    together above `max_total_students` or `max_tenants`, is a ValueError naming the limit and its setting; a
    scenario file keeps to them too (`max_scenario_bytes` and all).
    """

    def __init__(self, default_spec: DistrictSpec | None = None, limits: Limits | None = None) -> None:
        from mock_esd.limits import Limits

        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"Districts' limits must be a mock_esd.Limits, got {type(limits).__name__}")
        self.limits = limits if limits is not None else Limits()
        self.default_spec = self.check(default_spec, "Districts") if default_spec is not None else district_spec()
        self._pristine: dict[DistrictSpec, DistrictStore] = {}
        self._idle: list[tuple[Flask, str]] = []  # in-process apps not in use, each with the base URL it answers
        self._apps = 0
        self._server: LiveServer | None = None
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._scenarios: ScenarioCache | None = None  # made at first use: it imports the district's modules

    def check(self, spec: DistrictSpec, taker: str = "Districts.fork") -> DistrictSpec:
        """`spec` when it is a `DistrictSpec` within these districts' limits; TypeError naming what `taker`
        takes, or ValueError naming the limit and its setting."""
        from mock_esd.district.generator import DistrictSpec

        if not isinstance(spec, DistrictSpec):
            raise TypeError(
                f"{taker} takes a DistrictSpec (mock_esd.testing.district_spec(**options) makes one), "
                f"got {type(spec).__name__}"
            )
        self.limits.check_spec(spec.students, spec.schools)
        return spec

    def fork(self, spec: DistrictSpec) -> DistrictStore:
        """A fresh, isolated district of `spec`: what one use changes in it no other sees. TypeError or
        ValueError as `check` says."""
        from mock_esd.district.store import DistrictStore

        self.check(spec)
        with self._lock:
            pristine = self._pristine.get(spec)
            if pristine is None:
                pristine = self._pristine[spec] = DistrictStore(spec)
        return pristine.fork()

    def scenario(self, path: str | os.PathLike[str]) -> tuple[DistrictStore, Recipe]:
        """A fresh, isolated district of the scenario file at `path` (YAML or JSON), and its recipe.

        The file is read each time, but parsed, checked and built once per content (within these districts'
        `limits`, `max_scenario_bytes` and all): each use gets a fork. BadRequest (a ValueError) naming the
        file and what is wrong with it.
        """
        from mock_esd.district.scenario import file_bytes
        from mock_esd.errors import BadRequest, EsdError
        from mock_esd.state.changelog import scenario_recipe

        try:
            data = file_bytes(path, self.limits)
            recipe, store = scenario_recipe(data, str(path), self.scenarios(), self.limits, file=True)
        except EsdError as exc:  # a schema problem or a limit: say which file (a reading error names it already)
            if str(path) in exc.detail:
                raise
            raise BadRequest(f"{path}: {exc.detail}") from None
        return store, recipe

    def scenarios(self) -> ScenarioCache:
        """The scenarios these districts and their servers keep parsed and built (`max_cached_scenarios`)."""
        from mock_esd.district.scenario_cache import ScenarioCache

        with self._lock:
            if self._scenarios is None:
                limits = self.limits
                self._scenarios = ScenarioCache(limits.max_cached_scenarios, limits.max_students)
            return self._scenarios

    def _made(self, source: DistrictSpec | str | os.PathLike[str], taker: str) -> tuple[DistrictStore, Recipe | None]:
        """A fresh district of a spec or a scenario file, and the scenario's recipe (None for a spec); TypeError
        naming what `taker` takes for anything else, ValueError for a district above the limits."""
        if isinstance(source, str | os.PathLike):
            return self.scenario(source)
        return self.fork(self.check(source, taker)), None

    @contextmanager
    def inprocess(self, source: DistrictSpec | str | os.PathLike[str]) -> Iterator[EsdDistrict]:
        """A district of a spec or a scenario file, reached in-process (no socket) for the block: `requests`
        calls for its base URL go into the app.

        Blocks may nest: each district active at once answers its own host (`http://esd.invalid/api`, then
        `http://esd-2.invalid/api`, ...).
        """
        require("testing", "an in-process mock district")
        import requests

        from mock_esd.qa.client import ControlClient
        from mock_esd.server.inprocess import routed
        from mock_esd.state.mock_state import renew_state

        store, recipe = self._made(source, "Districts.inprocess")
        app, base_url = self._acquire_app()
        try:
            state = renew_state(app, _registry(store, recipe))
            with routed(app, base_url), requests.Session() as session:
                control = ControlClient(session, base_url.removesuffix("/api"))
                yield _district(base_url, state.registry.tenants()[0], state.registry.clients(), control)
        finally:
            with self._lock:
                self._idle.append((app, base_url))

    def _acquire_app(self) -> tuple[Flask, str]:
        from mock_esd.server.app import create_app
        from mock_esd.server.inprocess import DEFAULT_BASE_URL
        from mock_esd.state.config import AppConfig

        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._apps += 1
            n = self._apps
        base_url = DEFAULT_BASE_URL if n == 1 else DEFAULT_BASE_URL.replace("//esd.", f"//esd-{n}.", 1)
        app = create_app(AppConfig(spec=self.default_spec, limits=self.limits), _registry(self.fork(self.default_spec)))
        self._share_scenarios(app)
        return app, base_url

    def _share_scenarios(self, app: Flask) -> None:
        """Let `app` keep the scenarios its control API loads where every app of these districts finds them."""
        from mock_esd.state.mock_state import EXTENSION

        app.extensions[EXTENSION].scenarios = self.scenarios()

    def server(self) -> LiveServer:
        """The live server of these districts on a free 127.0.0.1 port, started at the first call."""
        require("server", "a live mock district")
        from mock_esd.server.app import create_app
        from mock_esd.server.live import LiveServer
        from mock_esd.state.config import AppConfig

        with self._lock:
            if self._server is not None:
                return self._server
        app = create_app(AppConfig(spec=self.default_spec, limits=self.limits), _registry(self.fork(self.default_spec)))
        self._share_scenarios(app)
        with self._lock:
            if self._server is None:  # the first of two threads to get here serves; the other's app goes
                self._server = LiveServer(app).start()
            return self._server

    @contextmanager
    def live(self, source: DistrictSpec | str | os.PathLike[str], name: str | None = None) -> Iterator[EsdDistrict]:
        """A district of a spec or a scenario file on the live server for the block, as a tenant of its own
        (named `name`, made unique).

        Afterwards whatever the block left goes: its tenant, the tenants and fault rules it made, the journal,
        and a changed default tenant (given a fresh fork), so the next block finds the server as it was.
        """
        import requests

        from mock_esd.district.tenants import DEFAULT_TENANT
        from mock_esd.errors import BadRequest
        from mock_esd.qa.client import ControlClient
        from mock_esd.state.changelog import spec_recipe
        from mock_esd.state.mock_state import EXTENSION, MockState

        store, recipe = self._made(source, "Districts.live")
        server = self.server()
        state: MockState = server.app.extensions[EXTENSION]
        stem = name or f"district-{next(self._names)}"
        with state.changing():
            tenant, n = stem, 1
            while tenant in state.registry.tenants():
                n += 1
                tenant = f"{stem}-{n}"
            tenants_before = set(state.registry.tenants())
            beside = sum(len(state.registry.store(t).all_students()) for t in tenants_before)
            try:  # the server's limits hold for the districts of a test as for those POSTed to it
                state.config.limits.check_tenants(len(tenants_before) + 1)
                state.config.limits.check_total(beside, len(store.all_students()))
            except BadRequest as exc:
                raise ValueError(f"{exc.detail} (a setting of mock_esd.Limits)") from None
            default = state.registry.store(DEFAULT_TENANT)
            default_before = default, default.version
            kept = recipe if recipe is not None else spec_recipe(cast("DistrictSpec", source))
            clients = state.registry.add_tenant(tenant, store, kept)
            rules_before = {rule.rule_id for rule in state.faults.rules()}
        try:
            with requests.Session() as session:
                yield _district(server.base_url, tenant, list(clients), ControlClient(session, server.root_url, tenant))
        finally:
            with state.changing():
                for rule in state.faults.rules():
                    if rule.rule_id not in rules_before:  # a rule without a tenant would reach the next block's
                        state.faults.remove(rule.rule_id)
                for made in set(state.registry.tenants()) - tenants_before:
                    state.registry.remove_tenant(made)
                spec0 = self.default_spec
                if DEFAULT_TENANT not in state.registry.tenants():
                    state.registry.add_tenant(DEFAULT_TENANT, self.fork(spec0), spec_recipe(spec0))
                else:
                    now = state.registry.store(DEFAULT_TENANT)
                    if (now, now.version) != default_before:
                        state.registry.replace_store(DEFAULT_TENANT, self.fork(spec0), spec_recipe(spec0))
                state.journal.clear()

    def close(self) -> None:
        """Stop the live server, if one was started."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Districts:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_shared: Districts | None = None
_shared_lock = threading.Lock()


def shared_districts() -> Districts:
    """The districts `mock_district` generates in-process districts from when given none: one per process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Districts()
        return _shared


_DECORATED = "__mock_district__"  # set on what mock_district decorated: a subclass's decorator leaves it alone


def _district_parameter(func: Callable[..., Any], label: str) -> tuple[str | None, inspect.Signature | None]:
    """The name the district is passed by (None: appended positionally) and `func`'s signature without it.

    The district goes to the last positional parameter: by name when it may be named, so that keyword
    arguments before it (pytest's fixtures) land where they belong. TypeError when `func` has none.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin without a signature: as mock.patch does, append it
        return None, None
    params = list(signature.parameters.values())
    positional = _positional(params)
    if not positional:
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            return None, signature
        raise TypeError(f"mock_district: {label} takes no parameter for the district (its last positional one)")
    last = positional[-1]
    rest = signature.replace(parameters=[p for p in params if p is not last])
    return (last.name if last.kind is last.POSITIONAL_OR_KEYWORD else None), rest


def _takes_one_after_self(method: Callable[..., Any]) -> bool:
    """Whether a test method has a positional parameter after `self` (or *args) for the district."""
    params = list(inspect.signature(method).parameters.values())
    return len(_positional(params)) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _positional(params: list[inspect.Parameter]) -> list[inspect.Parameter]:
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


class mock_district:
    """A mock eSD district as a context manager, a decorator, or with `start()` and `stop()`.

    Takes what the pytest marker takes: `seed`, `students` (default 200), `schools`, `today`, or instead
    `scenario` (a YAML or JSON scenario file's path, relative to the working directory when it is made: the
    district it describes, parsed once per content), and `unfired_faults="fail"` to fail (AssertionError) a
    district whose armed fault rules did not all fire. `live=True` serves it on a free 127.0.0.1 port of its
    own, stopped when the block ends; otherwise it is reached in-process, `requests` calls only. `districts`:
    the `Districts` to take it from (default: one per process, so the same spec is generated once).

    As a decorator (`@mock_district(...)`, or `@mock_district` for the defaults) of a function, each call gets
    a fresh district as its last positional parameter (a generator's lasts until it is exhausted, a coroutine's
    until it returns; pytest sees the signature without it, so fixtures still inject); of a
    `unittest.TestCase` class, each `test*` method does, inherited ones included. Raises TypeError or ValueError at once for an option or field
    it does not know or a value it cannot take, and `MissingExtra` (an ImportError) naming the extra to
    install when the package was installed without it.
    """

    def __new__(cls, target: Any = None, /, **options: Any) -> Any:
        """`mock_district(...)` makes the district; `@mock_district` without parentheses decorates at once."""
        if target is None:
            return super().__new__(cls)
        if options:  # mock_district(f, students=5): neither a decorator nor a district
            raise TypeError("mock_district takes its options by name: @mock_district(students=5), then the function")
        return cls()(target)

    def __init__(
        self,
        target: Callable[..., Any] | None = None,  # @mock_district without parentheses: decorated in __new__
        /,
        *,
        live: bool = False,
        districts: Districts | None = None,
        unfired_faults: str = "ignore",
        scenario: str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> None:
        if not isinstance(live, bool):
            raise TypeError(f"mock_district's live must be True or False, got {type(live).__name__}")
        if districts is not None and not isinstance(districts, Districts):
            raise TypeError(f"mock_district's districts must be a mock_esd.Districts, got {type(districts).__name__}")
        if not isinstance(unfired_faults, str):
            raise TypeError(f"mock_district's unfired_faults must be a str, got {type(unfired_faults).__name__}")
        from mock_esd.limits import DEFAULT_LIMITS

        self.scenario = scenario_path(scenario, fields) if scenario is not None else None
        self.spec = district_spec(**fields)
        if not live:  # `responses` routes its requests: said now, not at the first start()
            require("testing", "an in-process mock_district (live=True needs only the 'server' extra)")
        if districts is not None:
            districts.check(self.spec, "mock_district")
        else:
            DEFAULT_LIMITS.check_spec(self.spec.students, self.spec.schools)
        self.live, self.districts = live, districts
        self.unfired_faults = check_unfired_faults(unfired_faults)
        self._stack: ExitStack | None = None
        self._esd: EsdDistrict | None = None

    def start(self) -> EsdDistrict:
        """Start the district and return it; `stop()` ends it. For a `unittest` `setUp` or a notebook."""
        if self._stack is not None:
            raise RuntimeError("this mock_district is already started; stop() it first, or make another")
        stack = ExitStack()
        source = self.scenario or self.spec
        try:
            if self.live and self.districts is None:
                districts = stack.enter_context(Districts(self.spec))  # its own server, stopped with the district
                esd = stack.enter_context(districts.live(source))
            elif self.live:
                esd = stack.enter_context(cast(Districts, self.districts).live(source))
            else:
                esd = stack.enter_context((self.districts or shared_districts()).inprocess(source))
        except BaseException:
            stack.close()
            raise
        self._stack, self._esd = stack, esd
        return esd

    def stop(self) -> None:
        """End the district started by `start()` (its server too, when it has its own); nothing if not started.

        With `unfired_faults="fail"`, first asserts that every fault rule armed for it fired (AssertionError
        naming each that did not, with the nearest requests); the district ends either way."""
        self._end(check=True)

    def _end(self, check: bool) -> None:
        stack, esd, self._stack, self._esd = self._stack, self._esd, None, None
        if stack is None:
            return
        with stack:
            if check and esd is not None and self.unfired_faults == "fail":
                esd.control.assert_faults_fired()

    def __enter__(self) -> EsdDistrict:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(check=exc_type is None)  # the block's own error says more than a rule it did not get to fire

    def __call__(self, target: T) -> T:
        """Decorate a function (the district comes as its last positional parameter) or a TestCase's test methods.

        A generator function keeps its district until it is exhausted or closed, a coroutine function until
        it returns; the decorated function's signature leaves the district out, so pytest still injects the
        fixtures named by its other parameters. Raises TypeError at once for what it cannot decorate.
        """
        import unittest

        if isinstance(target, type):
            if not issubclass(target, unittest.TestCase):
                raise TypeError(
                    f"mock_district decorates functions and unittest.TestCase classes, not {target.__name__}"
                )
            prefix = unittest.TestLoader.testMethodPrefix
            methods = {  # inherited test methods too, wrapped on this class (the base is left alone)
                name: method
                for name in dir(target)
                if name.startswith(prefix)
                and inspect.isfunction(method := inspect.getattr_static(target, name))
                and not hasattr(method, _DECORATED)
            }
            for name, method in methods.items():  # all checked before any is wrapped: an error changes nothing
                if not _takes_one_after_self(method):
                    raise TypeError(
                        f"mock_district: {target.__name__}.{name} takes no parameter for the district after self "
                        f"(def {name}(self, esd)), or start one in setUp with mock_district(...).start()"
                    )
            for name, method in methods.items():
                setattr(target, name, self(method))
            return target
        if not callable(target):
            raise TypeError(
                f"mock_district decorates functions and unittest.TestCase classes, not {target!r}; "
                "its options go by name: @mock_district(students=5)"
            )
        func = cast(Callable[..., Any], target)
        label = getattr(func, "__qualname__", repr(func))
        if inspect.isasyncgenfunction(func):
            raise TypeError(
                f"mock_district cannot decorate the async generator function {label}: nothing says when its "
                "district may end; use `with mock_district(...) as esd:` inside it"
            )
        by_name, signature = _district_parameter(func, label)

        def call(args: tuple[Any, ...], kwargs: dict[str, Any], esd: EsdDistrict) -> Any:
            return func(*args, **kwargs, **{by_name: esd}) if by_name else func(*args, esd, **kwargs)

        wrapper: Callable[..., Any]
        if inspect.iscoroutinefunction(func):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._again() as esd:
                    return await call(args, kwargs, esd)

        elif inspect.isgeneratorfunction(func):

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._again() as esd:  # open while the generator runs, ended when it is exhausted or closed
                    return (yield from call(args, kwargs, esd))

        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._again() as esd:  # a fresh district for every call
                    return call(args, kwargs, esd)

        functools.update_wrapper(wrapper, func)
        if signature is not None:  # what pytest reads: the district's parameter is not a fixture to look for
            setattr(wrapper, "__signature__", signature)  # noqa: B010 (a function has no such attribute to mypy)
        setattr(wrapper, _DECORATED, True)
        return cast(T, wrapper)

    def _again(self) -> mock_district:
        """Another mock_district of the same spec and mode: a decorated function may run many times, or at once."""
        twin = object.__new__(mock_district)
        twin.spec, twin.scenario, twin.live, twin.districts, twin.unfired_faults = (
            self.spec,
            self.scenario,
            self.live,
            self.districts,
            self.unfired_faults,
        )
        twin._stack = twin._esd = None
        return twin
