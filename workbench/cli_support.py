"""What every `mock-esd` subcommand shares: exit codes and one-line errors instead of tracebacks."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def invocation() -> str:
    """How the user can run `mock-esd` again from here: the bare name only if PATH finds this very program.

    After `pip install` into a virtualenv that is not activated, that is `.venv/bin/mock-esd`; under
    `python -m mock_esd`, the interpreter's path and `-m mock_esd`.
    """
    script = Path(sys.argv[0])
    if script.name == "__main__.py":
        return f"{_as_typed(Path(sys.executable))} -m mock_esd"
    found = shutil.which(script.name)
    if found and Path(found).resolve() == script.resolve():
        return script.name
    return _as_typed(script)


def _as_typed(path: Path) -> str:
    """A path as short as it can be typed from the current directory (relative below it, else absolute)."""
    absolute = path.absolute()
    try:
        return shlex.quote(str(absolute.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(absolute))


def error(message: str) -> None:
    """One error line on stderr, prefixed as every error of the command line is."""
    click.echo(f"mock-esd: error: {message}", err=True)


def warn(message: str) -> None:
    """One warning line on stderr."""
    click.echo(f"mock-esd: warning: {message}", err=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr and an exit code: how every expected error ends."""
    error(message)
    sys.exit(code)


def one_line_errors(*expected: type[Exception], failed: tuple[type[Exception], ...] = ()) -> Callable[[F], F]:
    """Turn the expected errors of a command into one line and exit code 2 (never a traceback).

    The `failed` ones (a run refused because another holds the database, say) end with exit code 1.
    """

    catch: tuple[type[Exception], ...] = (*expected, ValueError, OSError)

    def decorate(command: F) -> F:
        @wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except BrokenPipeError:  # `mock-esd export | head`: the reader left; not an error
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(EXIT_OK)
            except catch as exc:
                fail(str(exc), EXIT_FAILED if isinstance(exc, failed) else EXIT_USAGE)

        return run  # type: ignore[return-value]

    return decorate
