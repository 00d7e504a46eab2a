"""The `mock-esd` command line: one click group, and every command of `mock_esd_workbench.commands` in it."""

from __future__ import annotations

import importlib

import click

from mock_esd_workbench.cli_support import ENVVAR_PREFIX, Group
from mock_esd_workbench.commands import COMMANDS


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": ENVVAR_PREFIX},
    epilog="The sync rules R1-R11 that traces and reports cite: `mock-esd rules`, or docs/rules.md in the repository.",
)
@click.version_option(package_name="mock-esd")
def main() -> None:
    """A mock eSchoolData server, an Operoo-style sync, and a contract harness."""


def _register() -> None:
    """Each command from its module: `mock-esd X` is `mock_esd_workbench.commands.X.X`."""
    for name in COMMANDS:
        command = getattr(importlib.import_module(f"mock_esd_workbench.commands.{name}"), name)
        main.add_command(command, name)


_register()
