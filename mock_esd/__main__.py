"""`python -m mock_esd` runs the `mock-esd` command, which lives in the composition layer above the mock.

The one import from the mock upward, allowed by name in the import-linter contract (pyproject.toml).
"""

from mock_esd_workbench.cli import main

main()
