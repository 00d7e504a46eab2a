"""A mock eSchoolData server: a seeded district, the eSD API, and a control API for tests."""

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
