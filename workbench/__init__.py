"""The composition layer: what puts the mock, the sync and the contract together.

The `mock-esd` command and every subcommand, the demo, the Schemathesis second opinion, exit codes and
one-line errors, and the wiring that lends the sync's rule replay to the mock's browser view. Nothing
below imports this package (checked by import-linter; see pyproject.toml).
"""

from workbench.browser import rule_paths, with_rule_paths
from workbench.cli import main

__all__ = ["main", "rule_paths", "with_rule_paths"]
