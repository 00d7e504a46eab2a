"""The eSD API contract (OpenAPI 3.1, JSON Schemas) and the verifier that checks a server against it."""

from mock_esd_contracts.answers import ResponseTooLarge
from mock_esd_contracts.errors import CannotRun, ContractError
from mock_esd_contracts.probe import Target
from mock_esd_contracts.schema import openapi, violations
from mock_esd_contracts.verifier import Result, verify

__all__ = ["CannotRun", "ContractError", "ResponseTooLarge", "Result", "Target", "openapi", "verify", "violations"]
