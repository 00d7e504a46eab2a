"""The eSD API contract (OpenAPI 3.1, JSON Schemas) and the verifier that checks a server against it.

The names below are imported when first used (PEP 562), not with the package: every part imports this
one, and a module of it that needs nothing heavy (`mock_esd_contracts.extras`, `vocabulary`) must not pull
jsonschema and requests into a pytest run that only loads the mock's plugin.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from mock_esd_contracts.answers import ResponseTooLarge
    from mock_esd_contracts.connection import Connection, open_session
    from mock_esd_contracts.errors import CannotRun, ContractError
    from mock_esd_contracts.probe import Target
    from mock_esd_contracts.schema import openapi, violations
    from mock_esd_contracts.verifier import Result, verify

__all__ = [
    "CannotRun", "Connection", "ContractError", "ResponseTooLarge", "Result", "Target", "open_session", "openapi",
    "verify", "violations",
]  # fmt: skip
_HOME = {
    "CannotRun": "errors", "ContractError": "errors", "Target": "probe", "openapi": "schema",
    "violations": "schema", "Result": "verifier", "verify": "verifier", "Connection": "connection",
    "open_session": "connection", "ResponseTooLarge": "answers",
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
