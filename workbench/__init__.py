"""The composition layer: what puts the mock, the sync and the contract together.

The `mock-esd` command and every subcommand, the demo, the Schemathesis second opinion, exit codes and
one-line errors, and the wiring that lends the sync's rule replay to the mock's browser view. Nothing
below imports this package (checked by import-linter; see pyproject.toml).

Its names are imported when first used, so `mock-esd --help` does not import the server.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from mock_esd_workbench.browser import rule_paths, with_rule_paths
    from mock_esd_workbench.cli import main

__all__ = ["main", "rule_paths", "with_rule_paths"]
_HOMES = {
    "main": "mock_esd_workbench.cli",
    "rule_paths": "mock_esd_workbench.browser",
    "with_rule_paths": "mock_esd_workbench.browser",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'mock_esd_workbench' has no attribute {name!r}")
    value = globals()[name] = getattr(_importlib.import_module(_HOMES[name]), name)
    return value
