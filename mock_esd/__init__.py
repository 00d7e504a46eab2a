"""A mock eSchoolData server: a seeded district, the eSD API, and a control API for tests.

The names below are imported when first used (PEP 562), not with the package: the pytest plugin
(`mock_esd.pytest_plugin`, loaded by every pytest run in an environment that has this package) must
not pull Flask, Faker and the rest into test runs that never use a mock eSD fixture.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from mock_esd.app import create_app
    from mock_esd.context import AppConfig
    from mock_esd.control_client import ControlClient, ControlError
    from mock_esd.errors import EsdError
    from mock_esd.generator import District, DistrictSpec, generate_district
    from mock_esd.inprocess import routed
    from mock_esd.limits import Limits
    from mock_esd.server import LiveServer
    from mock_esd.store import DistrictStore
    from mock_esd.tenants import default_clients

__all__ = [
    "AppConfig", "ControlClient", "ControlError", "District", "DistrictSpec", "DistrictStore", "EsdError",
    "Limits", "LiveServer", "create_app", "default_clients", "generate_district", "routed",
]  # fmt: skip

_HOME = {
    "create_app": "app", "AppConfig": "context", "ControlClient": "control_client", "ControlError": "control_client",
    "EsdError": "errors", "District": "generator", "DistrictSpec": "generator", "generate_district": "generator",
    "routed": "inprocess", "Limits": "limits", "LiveServer": "server", "DistrictStore": "store",
    "default_clients": "tenants",
}  # fmt: skip


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
