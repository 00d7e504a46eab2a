"""A mock eSchoolData server: a seeded district, the eSD API, and a control API for tests.

The names below are imported when first used (PEP 562), not with the package: the pytest plugin
(`mock_esd.pytest_plugin`, loaded by every pytest run in an environment that has this package) must
not pull Flask, Faker and the rest into test runs that never use a mock eSD fixture.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from mock_esd.district.generator import District, DistrictSpec, generate_district
    from mock_esd.district.store import DistrictStore
    from mock_esd.district.tenants import default_clients
    from mock_esd.errors import EsdError
    from mock_esd.limits import Limits
    from mock_esd.qa.client import ControlClient, ControlError
    from mock_esd.server.app import create_app
    from mock_esd.server.inprocess import routed
    from mock_esd.server.live import LiveServer
    from mock_esd.state.config import AppConfig
    from mock_esd.testing import Districts, EsdDistrict, mock_district

__all__ = [
    "AppConfig", "ControlClient", "ControlError", "District", "DistrictSpec", "DistrictStore", "Districts",
    "EsdDistrict", "EsdError", "Limits", "LiveServer", "create_app", "default_clients", "generate_district",
    "mock_district", "routed",
]  # fmt: skip

_HOME = {
    "create_app": "server.app", "AppConfig": "state.config", "ControlClient": "qa.client",
    "ControlError": "qa.client", "EsdError": "errors", "District": "district.generator",
    "DistrictSpec": "district.generator", "generate_district": "district.generator", "routed": "server.inprocess",
    "Limits": "limits", "LiveServer": "server.live", "DistrictStore": "district.store",
    "default_clients": "district.tenants", "Districts": "testing", "EsdDistrict": "testing",
    "mock_district": "testing",
}  # fmt: skip


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from mock_esd_contracts.extras import MissingExtra, missing

    try:
        module = _importlib.import_module(f"{__name__}.{home}")
    except MissingExtra:  # the module said which extra it needs (`routed`: testing)
        raise
    except ImportError as exc:  # installed without the server extra (Flask, Faker): say which to install
        absent = missing("server")
        if absent:  # from None: the message says it all, no "No module named 'flask'" chained before it
            raise MissingExtra("server", f"mock_esd.{name}", list(absent)) from None
        raise exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
