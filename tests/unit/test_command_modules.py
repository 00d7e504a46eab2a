"""One naming rule for the command modules: `mock-esd X` is the click command `X` of `mock_esd_workbench.commands.X`."""

from __future__ import annotations

import importlib
import pkgutil

import click

from mock_esd_workbench import commands
from mock_esd_workbench.cli import main


def test_every_command_module_defines_the_command_it_is_named_after() -> None:
    modules = {m.name for m in pkgutil.iter_modules(commands.__path__)}
    assert modules == set(commands.COMMANDS), "a module of commands/ that COMMANDS does not list, or the other way"
    for name in commands.COMMANDS:
        command = getattr(importlib.import_module(f"mock_esd_workbench.commands.{name}"), name, None)
        assert isinstance(command, click.Command), f"commands/{name}.py defines no click command {name!r}"
        assert main.get_command(click.Context(main), name) is command


def test_the_cli_has_no_command_from_anywhere_else() -> None:
    assert set(main.list_commands(click.Context(main))) == set(commands.COMMANDS)
