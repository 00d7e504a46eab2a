"""Errors of the contract harness.

ContractError            the root
└── CannotRun            the server cannot be judged (unreachable, no token): exit 2
"""

from __future__ import annotations


class ContractError(Exception):
    """Root of the contract harness's errors."""


class CannotRun(ContractError):
    """The verifier cannot run against this server at all."""
