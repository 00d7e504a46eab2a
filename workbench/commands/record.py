"""`mock-esd record`: bring a district home as a scenario file the mock serves back (scrubbed if asked).

The scrub options and the scenario writing here are `mock-esd proxy --record`'s too."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from mock_esd_contracts.connection import Connection, open_session
from mock_esd_sync.errors import AuthError, FetchError, SyncError, TooLargeError, UnreachableError, UrlError
from mock_esd_workbench.cli_support import (
    EXIT_FAILED,
    connection_options,
    esd_error,
    fail,
    interrupt_exit,
    interrupted_by,
    log_options,
    max_response_option,
    needs_extra,
    one_line_errors,
    recording_error,
    sigterm_interrupts,
    warn,
)
from mock_esd_workbench.terminal import Progress

if TYPE_CHECKING:  # imported where used: `mock-esd --help` must not import the mock (Flask, Faker)
    from mock_esd_workbench.recording import Recording


SCENARIO_SUFFIXES: Final = (".json", ".yaml", ".yml")


def scrub_options(command: Any) -> Any:
    """--scrub, --scrub-key, --scrub-school-names, --today: how a recording is scrubbed and dated."""
    command = click.option(
        "--today", type=click.DateTime(["%Y-%m-%d"]),
        help="The district's reference date written into the scenario (default: today's date, UTC).",
    )(command)  # fmt: skip
    command = click.option(
        "--scrub-school-names", is_flag=True, help="With --scrub, replace school names too (ids are always kept)."
    )(command)
    command = click.option(
        "--scrub-key",
        help="With --scrub, the key of the keyed hash choosing replacements: the same key, the same replacements. "
        "Default: a random key, printed once.",
    )(command)
    return click.option("--scrub", is_flag=True, help="Replace every personal value (names, emails, phones, ...).")(
        command
    )


def check_scrub_options(scrub: bool, scrub_key: str | None, school_names: bool) -> None:
    """--scrub-key and --scrub-school-names mean nothing without --scrub: refused, not ignored."""
    if not scrub and (scrub_key is not None or school_names):
        fail("--scrub-key and --scrub-school-names go with --scrub")
    if scrub_key is not None and not scrub_key:
        fail("--scrub-key is empty; give a key or leave the option out for a random one")


def check_out_path(out: str, option: str = "--out") -> Path:
    """The scenario file to write: JSON or YAML by its suffix, in a directory that exists (checked before reading)."""
    path = Path(out)
    if path.suffix.lower() not in SCENARIO_SUFFIXES:
        fail(f"{option} {out!r} must end in .json, .yaml or .yml")
    if not path.parent.is_dir():
        fail(f"{option} {out!r}: directory {str(path.parent)!r} does not exist")
    return path


def finish(
    recording: Recording, out: Path, scrub: bool, scrub_key: str | None, school_names: bool,
    say: Callable[[str], None] | None = None,
) -> None:  # fmt: skip
    """Scrub if asked (printing a random key once), write the file atomically, and print the summary.

    What scrubbing replaced beyond the personal fields (free text where eSD has a list) is said on stderr;
    what it cannot vouch for stops the recording (exit 1), naming the record and the field.
    """
    from mock_esd_workbench.scrub import Scrubber, ScrubError, random_key

    for line in recording.dropped_lines():
        warn(line)
    scenario = recording.scenario
    if scrub:
        key = scrub_key
        if key is None:
            key = random_key()
            click.echo(f"scrub key (keep it to scrub the next recording alike; it is not stored): {key}", err=True)
        if say is not None:
            say("scrubbing")
        scrubber = Scrubber(key, school_names)
        try:
            scenario = scrubber.scenario(scenario)
        except ScrubError as exc:
            fail(str(exc), EXIT_FAILED)
        if scrubber.replaced:
            counts = ", ".join(f"{name} {n}" for name, n in sorted(scrubber.replaced.items()))
            warn(
                f"--scrub replaced values outside eSD's lists (free text, which may be personal) with keyed ones: "
                f"{counts}; the sync reads them as it read the originals"
            )
    if say is not None:
        say(f"writing {out}")
    write_scenario(out, scenario)
    click.echo(f"recorded {recording.summary()}; wrote {out}{' (scrubbed)' if scrub else ''}")


def write_scenario(out: Path, scenario: dict[str, Any]) -> None:
    """JSON or YAML by suffix, written beside and renamed into place: a failed write leaves no file."""
    from mock_esd.district.scenario import encode_file  # the mock's file format (the server extra: PyYAML)

    data = encode_file(scenario, out.suffix)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as handle:  # not mkstemp: the file gets the umask's permissions, as any other
            handle.write(data)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@click.command()
@click.option("--url", envvar="ESD_URL", required=True, help="Base URL of the server, e.g. https://host/api [ESD_URL]")
@click.option(
    "--client-id", envvar="ESD_CLIENT_ID", required=True, help="A client with the custom endpoints [ESD_CLIENT_ID]"
)
@click.option("--client-secret", envvar="ESD_CLIENT_SECRET", required=True, help="[ESD_CLIENT_SECRET]")
@click.option("--client-id-standard", help="A client without the custom endpoints: recorded as seen too.")
@click.option("--client-secret-standard")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="The scenario file to write (.json, .yaml)."
)
@scrub_options
@connection_options
@max_response_option
@needs_extra("server")
@log_options
@one_line_errors(SyncError, recording_error, esd_error)
def record(
    url: str, client_id: str, client_secret: str, client_id_standard: str | None, client_secret_standard: str | None,
    out: str, scrub: bool, scrub_key: str | None, scrub_school_names: bool, today: dt.datetime | None,
    connection: Connection,
    max_response_bytes: int,
) -> None:  # fmt: skip
    """Record every endpoint of an eSD-compatible server as a scenario `mock-esd serve --scenario` serves back.

    Reads as `mock-esd sync` reads (same retries; an incomplete or inconsistent listing aborts with
    nothing written), then proves the scenario serves the same records before writing it. Exit 0
    written; 1 aborted (a listing not whole, or what the scenario format cannot hold); 2 usage,
    URL, credentials, or no answer at all (refused, timed out, TLS). Ctrl+C or SIGTERM stops it with one
    line saying whether --out was written, exit 130 or 143 (128 + the signal).
    """
    from mock_esd_workbench.recording import Credentials, RecordingError, record_district

    if (client_id_standard is None) != (client_secret_standard is None):
        fail("give both --client-id-standard and --client-secret-standard, or neither")
    check_scrub_options(scrub, scrub_key, scrub_school_names)
    path = check_out_path(out)
    standard = (
        Credentials(client_id_standard, client_secret_standard)
        if client_id_standard and client_secret_standard
        else None
    )
    day = today.date() if today else dt.datetime.now(dt.UTC).date()
    description = "Recorded with mock-esd record" + ("" if scrub else f" from {url}")
    before = _file_state(path)
    try:
        with sigterm_interrupts(), Progress() as progress:
            try:
                with open_session(connection) as session:
                    recording = record_district(
                        session, url, Credentials(client_id, client_secret), standard, day, description,
                        progress, progress.say, connection.timeout, max_response_bytes,
                    )  # fmt: skip
            except (AuthError, UrlError, UnreachableError, TooLargeError):
                raise  # wrong credentials or URL, no server answering there, or an answer past the limit: exit 2
            except (FetchError, RecordingError) as exc:
                fail(str(exc), EXIT_FAILED)  # the district could not be read whole, or not held faithfully: aborted
            finish(recording, path, scrub, scrub_key, scrub_school_names, progress.say)
    except KeyboardInterrupt as exc:  # the file is written whole or not at all (`write_scenario`)
        tail = f" after writing {out}" if _file_state(path) != before else f"; nothing was written to {out}"
        fail(interrupted_by(exc) + tail, interrupt_exit(exc))


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """Which file is at `path` (inode, size, modification time), to tell whether a recording replaced it."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
