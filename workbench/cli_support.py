"""What every `mock-esd` subcommand shares: exit codes, one-line errors instead of tracebacks, -v/-q/--log-level,
and environment variables for options."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import click

from mock_esd_contracts.answers import DEFAULT_MAX_RESPONSE_BYTES
from mock_esd_contracts.connection import DEFAULT_TIMEOUT, INSECURE_WARNING, MAX_TIMEOUT, Connection, check_ca_bundle
from mock_esd_contracts.extras import MissingExtra, require

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


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout (what every command's --json and `export` print)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


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


def one_line_errors(
    *expected: type[Exception] | Callable[[], type[Exception]], failed: tuple[type[Exception], ...] = ()
) -> Callable[[F], F]:
    """Turn the expected errors of a command into one line and exit code 2 (never a traceback).

    The `failed` ones (a run refused because another holds the database, say) end with exit code 1. An
    expected error may be given as a function that imports it, so the command's module stays light.
    """

    def decorate(command: F) -> F:
        @wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            catch: tuple[type[Exception], ...] = (
                *(e if isinstance(e, type) else e() for e in expected),
                ValueError,
                OSError,
            )
            try:
                return command(*args, **kwargs)
            except BrokenPipeError:  # `mock-esd export | head`: the reader left; not an error
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(EXIT_OK)
            except catch as exc:
                fail(str(exc), EXIT_FAILED if isinstance(exc, failed) else EXIT_USAGE)

        return run  # type: ignore[return-value]

    return decorate


def esd_error() -> type[Exception]:
    """The mock's error root (`mock_esd.errors.EsdError`), imported when a command's errors are caught."""
    from mock_esd.errors import EsdError

    return EsdError


def recording_error() -> type[Exception]:
    """A recording's error (`mock_esd_workbench.recording.RecordingError`), imported when it is caught."""
    from mock_esd_workbench.recording import RecordingError

    return RecordingError


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the command stands (`stop_on_sigterm`): handled as Ctrl+C is, and told apart."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(self.signal.name)


def interrupt_signal(exc: KeyboardInterrupt) -> signal.Signals:
    """The signal that raised `exc`: SIGTERM for `Interrupted` (or what it carries), SIGINT (Ctrl+C) otherwise."""
    return getattr(exc, "signal", signal.SIGINT)


def interrupted_by(exc: KeyboardInterrupt) -> str:
    """`interrupted by Ctrl+C` or `interrupted by SIGTERM`: how a line says what stopped the command."""
    signum = interrupt_signal(exc)
    return f"interrupted by {'Ctrl+C' if signum == signal.SIGINT else signum.name}"


def interrupt_exit(exc: KeyboardInterrupt) -> int:
    """The exit code of a command the signal behind `exc` stopped: 128 + the signal (130 Ctrl+C, 143 SIGTERM)."""
    return 128 + interrupt_signal(exc)


def interrupts_in_one_line(outcome: str) -> Callable[[F], F]:
    """Ctrl+C, or SIGTERM once `stop_on_sigterm` or `sigterm_interrupts` made it one, that reaches the command's top
    ends it with one line (`interrupted by SIGTERM; OUTCOME`) and exit 130 or 143, not click's "Aborted!" and 1."""

    def decorate(command: F) -> F:
        @wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt as exc:
                fail(f"{interrupted_by(exc)}; {outcome}", interrupt_exit(exc))

        return run  # type: ignore[return-value]

    return decorate


def stop_on_sigterm() -> None:
    """From here on SIGTERM ends the command as Ctrl+C does (as `Interrupted`, a KeyboardInterrupt), so `finally`
    blocks and cleanups run (the default action kills the process where it stands)."""
    signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """`stop_on_sigterm` while the block runs; then SIGTERM is handled as before (a test's process, say)."""
    before = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def needs_extra(extra: str) -> Callable[[F], F]:
    """A command that runs only with an extra of the distribution installed (`mock-esd[server]`): without it,
    one line naming the extra to install and exit 2, before anything of the extra is imported."""

    def decorate(command: F) -> F:
        @wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                require(extra, f"mock-esd {click.get_current_context().info_name}")
            except MissingExtra as exc:
                fail(str(exc))
            return command(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def max_response_option(command: F) -> F:
    """--max-response-bytes: the largest answer body, decoded, that a command reading a server accepts."""
    return click.option(
        "--max-response-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_RESPONSE_BYTES, show_default=True,
        help="Refuse an answer whose body, decoded, is larger than this many bytes (a gzip bomb stops here).",
    )(command)  # fmt: skip


# -- Logging: -v/-q/--log-level on every command --------------------------------------------------------------

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_LOG_LEVEL = "info"  # progress lines and `serve`'s request lines are info: shown unless -q
LOG_LEVEL_ENVVAR = "MOCK_ESD_LOG_LEVEL"  # one name for every command (not MOCK_ESD_<COMMAND>_LOG_LEVEL)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log_level(verbose: int, quiet: int, named: str | None) -> int:
    """The level a command logs at: --log-level if given, else info moved down by -v and up by -q."""
    if named is not None:
        return logging.getLevelNamesMapping()[named.upper()]
    index = LOG_LEVELS.index(DEFAULT_LOG_LEVEL) - verbose + quiet
    return logging.getLevelNamesMapping()[LOG_LEVELS[max(0, min(index, len(LOG_LEVELS) - 1))].upper()]


class _Stderr(logging.StreamHandler[TextIO]):
    """A handler on whatever `sys.stderr` is when a record is written (click's test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """The stream is always the current stderr."""


class PlainFormatter(logging.Formatter):
    """Log lines for a file or a pipe: no terminal colour codes (werkzeug colours its request lines)."""

    def format(self, record: logging.LogRecord) -> str:
        return _ANSI.sub("", super().format(record))


@contextmanager
def logging_to_stderr(level: int) -> Iterator[None]:
    """While a command runs, log records at `level` and above to stderr: as they come on a terminal, without
    colour codes otherwise. Afterwards the logging configuration is as it was (a test's runner, say)."""
    root, werkzeug = logging.getLogger(), logging.getLogger("werkzeug")
    before = root.level, werkzeug.level
    handler = _Stderr()
    handler.setLevel(level)
    plain = not sys.stderr.isatty()
    handler.setFormatter((PlainFormatter if plain else logging.Formatter)("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # werkzeug sets its logger to info and adds a colouring handler of its own unless it finds one at that
    # level: given the level, it finds ours (or, under -q, logs nothing at info).
    werkzeug.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(before[0])
        werkzeug.setLevel(before[1])


def chatty() -> bool:
    """Whether progress and stage lines are wanted: the command logs at info or below (no -q)."""
    return logging.getLogger().isEnabledFor(logging.INFO)


def log_options(command: F) -> F:
    """-v/--verbose, -q/--quiet and --log-level, applied before the command runs. Every command takes them:

    @click.command()
    @log_options
    def record(...): ...
    """

    @wraps(command)
    def run(*args: Any, verbose: int, quiet: int, log_level_name: str | None, **kwargs: Any) -> Any:
        with logging_to_stderr(log_level(verbose, quiet, log_level_name)):
            return command(*args, **kwargs)

    for option in (
        click.option(
            "--log-level", "log_level_name", type=click.Choice(LOG_LEVELS, case_sensitive=False),
            envvar=LOG_LEVEL_ENVVAR, help=f"Log at this level (default {DEFAULT_LOG_LEVEL}; overrides -v and -q).",
        ),
        click.option("-q", "--quiet", count=True, allow_from_autoenv=False, help="Say less: -q no progress, -qq errors only."),
        click.option("-v", "--verbose", count=True, allow_from_autoenv=False, help="Say more (-v: debug)."),
    ):  # fmt: skip
        run = option(run)
    return run  # type: ignore[return-value]


# -- Reaching an eSD server: --ca-bundle, --insecure, --timeout on `sync`, `verify` and `record` ------------------


class Seconds(click.FloatRange):
    """A number of seconds above 0 and at most `max`: "nan" (which passes any range) and "inf" are refused too."""

    name = "number of seconds"

    def __init__(self, max: float) -> None:
        super().__init__(min=0, max=max, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a number of seconds (0 < x <= {self.max:g})", param, ctx)
        return seconds


def connection_options(command: F) -> F:
    """--ca-bundle FILE, --insecure and --timeout SECONDS (ESD_CA_BUNDLE, ESD_INSECURE, ESD_TIMEOUT, read alike by
    every command that reaches an eSD server), given to the command as one `connection: Connection`.

    A bundle that is missing or holds no certificate, or both options at once, is one line and exit 2 before
    anything is sent; --insecure says on stderr, once, what it gives up.
    """

    @wraps(command)
    def run(*args: Any, ca_bundle: str | None, insecure: bool, timeout: float, **kwargs: Any) -> Any:
        if ca_bundle is not None and insecure:
            fail("give --ca-bundle or --insecure, not both")
        if ca_bundle is not None:
            try:
                check_ca_bundle(ca_bundle)
            except ValueError as exc:
                fail(str(exc))
        if insecure:
            warn(INSECURE_WARNING)
        return command(*args, connection=Connection(ca_bundle, insecure, timeout), **kwargs)

    for option in (
        click.option(
            "--timeout", type=Seconds(MAX_TIMEOUT), default=DEFAULT_TIMEOUT, show_default=True, envvar="ESD_TIMEOUT",
            metavar="SECONDS",
            help=f"Seconds for each answer whole, from connecting to its last byte (at most {MAX_TIMEOUT:g}).",
        ),
        click.option(
            "--insecure", is_flag=True, envvar="ESD_INSECURE",
            help="Do not check the server's TLS certificate (says so on stderr; prefer --ca-bundle).",
        ),
        click.option(
            "--ca-bundle", type=click.Path(), metavar="FILE", envvar="ESD_CA_BUNDLE",
            help="Trust the CA certificates in this PEM file for an https:// server (a private CA's, say).",
        ),
    ):  # fmt: skip
        run = option(run)
    return run  # type: ignore[return-value]


# -- Environment variables: every option can be given as one, and --help says which ----------------------------


ENVVAR_PREFIX = "MOCK_ESD"


class Group(click.Group):
    """A group whose commands read every option from an environment variable too, named in their --help.

    The name is MOCK_ESD_<COMMAND>_<OPTION> after the option's long flag (`sync --db`: MOCK_ESD_SYNC_DB),
    or MOCK_ESD_<OPTION> for a command whose context_settings set `auto_envvar_prefix` to "MOCK_ESD"
    (`serve --port`: MOCK_ESD_PORT), unless the option names its own (`--url`: ESD_URL). An option made
    with `allow_from_autoenv=False` has none. Commands registered later get the same.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        prefix = cmd.context_settings.get("auto_envvar_prefix") or f"{ENVVAR_PREFIX}_{name or cmd.name}"
        for param in cmd.params:
            if isinstance(param, click.Option) and param.allow_from_autoenv:
                if param.envvar is None:
                    flag = max(param.opts, key=len).lstrip("-")
                    param.envvar = f"{prefix}_{flag}".upper().replace("-", "_")
                param.show_envvar = True
        super().add_command(cmd, name)
