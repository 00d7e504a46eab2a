"""The eSD API contract (OpenAPI 3.1, JSON Schemas) and the verifier that checks a server against it."""

from contracts.errors import CannotRun, ContractError
from contracts.probe import Target
from contracts.schema import openapi, violations
from contracts.verifier import Result, verify

__all__ = ["CannotRun", "ContractError", "Result", "Target", "openapi", "verify", "violations"]
