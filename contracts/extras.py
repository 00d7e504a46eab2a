"""Which optional parts of the `mock-esd` distribution are installed, read from its own metadata.

`pip install mock-esd` brings what a partner needs for `verify` and `sync`; the mock server and the test
helpers come with extras (pyproject.toml `[project.optional-dependencies]`, the one place they are listed).
A feature whose extra is missing says so in one line naming it, never with an ImportError's traceback:

    require("server", "mock-esd serve")   # MissingExtra: mock-esd serve needs the 'server' extra: ...
"""

from __future__ import annotations

import functools
import re
from importlib import metadata

DISTRIBUTION = "mock-esd"
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?[^;]*(?:;(?P<marker>.*))?$"
)
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["'](?P<extra>[^"']+)["']""")


class MissingExtra(ImportError):
    """A feature needs an extra of the distribution that is not installed; the message says how to install it."""

    def __init__(self, extra: str, feature: str, missing: list[str]) -> None:
        self.extra, self.feature, self.missing = extra, feature, missing
        super().__init__(
            f"{feature} needs the '{extra}' extra: pip install '{DISTRIBUTION}[{extra}]' (missing: {', '.join(missing)})"
        )


@functools.cache
def _requirements() -> tuple[tuple[str, frozenset[str], str | None], ...] | None:
    """(name, its extras, the extra that asks for it or None) for each requirement; None when not installed."""
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a checkout without an install: nothing to say
        return None
    out = []
    for line in lines:
        match = _REQUIREMENT.match(line)
        if match is None:
            continue
        marker = _EXTRA_MARKER.search(match["marker"] or "")
        extras = frozenset(e.strip() for e in (match["extras"] or "").split(",") if e.strip())
        out.append((match["name"], extras, marker["extra"] if marker else None))
    return tuple(out)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(extra: str) -> list[str]:
    """The distributions `mock-esd[extra]` installs beyond the base ones, an extra naming others included."""
    requirements = _requirements() or ()
    if extra not in {asked for _, _, asked in requirements if asked is not None}:
        raise ValueError(f"{DISTRIBUTION} has no extra {extra!r}")
    names: list[str] = []
    todo, seen = [extra], set()
    while todo:
        current = todo.pop()
        seen.add(current)
        for name, extras, asked in requirements:
            if asked != current:
                continue
            if _normal(name) == DISTRIBUTION:
                todo += [e for e in extras if e not in seen]
            elif name not in names:
                names.append(name)
    return names


@functools.cache
def missing(extra: str) -> tuple[str, ...]:
    """The distributions of `extra` that are not installed (none when the distribution itself is not)."""
    if _requirements() is None:
        return ()
    absent = []
    for name in distributions(extra):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            absent.append(name)
    return tuple(absent)


def require(extra: str, feature: str) -> None:
    """Raise MissingExtra, naming `feature` and how to install `extra`, unless every distribution of it is installed."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(extra, feature, list(absent))
