"""Integration settings (the TOML docs/developers/sync.md shows), validated by R4 with every reason at once."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from mock_esd_contracts import vocabulary as esd
from mock_esd_sync import vocabulary as o
from mock_esd_sync.errors import SettingsError
from mock_esd_sync.rulebook import R4


class PermissionSource(StrEnum):
    """Where a contact link's permission comes from (R9): its relationship, or its priority."""

    RELATIONSHIP = "relationship"
    PRIORITY = "priority"


RELATIONSHIP, PRIORITY = PermissionSource.RELATIONSHIP, PermissionSource.PRIORITY
DEFAULT_RELATIONSHIPS = ("Mother", "Father", "Guardian")


@dataclass(frozen=True)
class ContactSettings:
    """Where a contact link's permission comes from (R9)."""

    permission_source: str = RELATIONSHIP
    relationships: frozenset[str] = frozenset(DEFAULT_RELATIONSHIPS)
    max_priority: int = 2


@dataclass(frozen=True)
class Settings:
    """A district's integration settings; `schools` maps school id to its selected options."""

    custom_endpoints: bool = False
    schools: Mapping[str, frozenset[str]] = field(default_factory=dict)
    contacts: ContactSettings = field(default_factory=ContactSettings)
    max_archive_share: float = 0.10

    @cached_property
    def selected(self) -> dict[str, frozenset[str]]:
        """Schools with at least one option: an empty set is "three white crosses", not selected."""
        return {school: options for school, options in self.schools.items() if options}

    def as_json(self) -> dict[str, Any]:
        return {
            "custom_endpoints": self.custom_endpoints,
            "schools": {k: sorted(v) for k, v in sorted(self.schools.items())},
            "contacts": {
                "permission_source": self.contacts.permission_source,
                "relationships": sorted(self.contacts.relationships),
                "max_priority": self.contacts.max_priority,
            },
            "safety": {"max_archive_share": self.max_archive_share},
        }


MAX_SETTINGS_BYTES = 1_000_000  # a settings file is a few hundred bytes; more is not one (`--settings /dev/zero`)


def load_settings(path: str | Path) -> Settings:
    """Read and validate a settings file; SettingsError (one line) for anything that is not one."""
    text = _settings_text(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        raise SettingsError(f"settings file {path} nests arrays or tables too deeply to be a settings file") from None
    settings = parse_settings(raw, source=str(path))
    check_selects_something(settings, str(path))
    return settings


def _settings_text(path: str | Path) -> str:
    """The file's text, read no further than MAX_SETTINGS_BYTES (a device or a pipe may never end)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist") from None
    except IsADirectoryError:
        raise SettingsError(f"settings file {path} is a directory; give the TOML file in it") from None
    except OSError as exc:
        raise SettingsError(f"settings file {path} cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(
            f"settings file {path} is larger than {MAX_SETTINGS_BYTES} bytes (MAX_SETTINGS_BYTES): not a settings file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"settings file {path} is not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def check_selects_something(settings: Settings, source: str = "settings") -> None:
    """A settings file that selects no school, with custom endpoints off, would sync nobody and archive everyone."""
    if not settings.selected and not settings.custom_endpoints:
        raise SettingsError(
            f"{source}: selects nothing: no school in [schools] has an option and custom_endpoints is false, so a "
            'sync would take no student and archive every synced one; select a school (e.g. "0101" = ["Enrolled"])'
        )


def parse_settings(raw: Mapping[str, Any], source: str = "settings") -> Settings:
    """Settings from parsed TOML (or JSON); every problem is reported, not just the first."""
    problems: list[str] = []
    _unknown_keys(raw, ("custom_endpoints", "schools", "contacts", "safety"), "", problems)
    custom = raw.get("custom_endpoints", False)
    if not isinstance(custom, bool):
        problems.append(f"custom_endpoints must be true or false, got {custom!r}")
        custom = False
    schools = _schools(raw.get("schools", {}), custom, problems)
    contacts = _contacts(raw.get("contacts", {}), problems)
    share = _share(raw.get("safety", {}), problems)
    if problems:
        raise SettingsError(f"{source}: " + "; ".join(problems))
    return Settings(custom, schools, contacts, share)


def check_settings(settings: Settings) -> None:
    """R4 on an already built Settings (for settings made in code, e.g. by Hypothesis strategies)."""
    problems: list[str] = []
    for school, options in settings.schools.items():
        _check_options(school, options, settings.custom_endpoints, problems)
    if problems:
        raise SettingsError("; ".join(problems))


def check_known_schools(settings: Settings, known: set[str]) -> None:
    """R4: a selected school that eSD does not know is an error."""
    unknown = sorted(set(settings.selected) - known)
    if unknown:
        raise SettingsError(
            f"{R4}: selected school "
            + ", ".join(unknown)
            + f" is not known to eSD (its schools: {', '.join(sorted(known)) or 'none'})"
        )


def _unknown_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in sorted(set(table) - set(allowed)):
        problems.append(f"unknown setting {where}{key!r} (expected {', '.join(allowed)})")


def _schools(raw: Any, custom: bool, problems: list[str]) -> dict[str, frozenset[str]]:
    if not isinstance(raw, Mapping):
        problems.append("[schools] must be a table of school id = [options]")
        return {}
    schools: dict[str, frozenset[str]] = {}
    for school, options in raw.items():
        if not isinstance(options, list) or not all(isinstance(x, str) for x in options):
            problems.append(f"school {school}: options must be a list of {', '.join(o.OPTIONS)}, got {options!r}")
            continue
        unknown = [x for x in options if x not in o.OPTIONS]
        if unknown:
            problems.append(
                f"school {school}: unknown option {', '.join(map(repr, unknown))} (expected {', '.join(o.OPTIONS)})"
            )
            continue
        _check_options(school, frozenset(options), custom, problems)
        schools[str(school)] = frozenset(options)
    return schools


def _check_options(school: str, options: frozenset[str], custom: bool, problems: list[str]) -> None:
    if not custom and {o.Option.ENROLLED, o.Option.PRE_ENROLLED} <= options:
        problems.append(
            f"{R4}: school {school} selects both Enrolled and Pre-Enrolled, which needs custom_endpoints = true "
            "(without custom endpoints choose one of them, with or without Future)"
        )


def _contacts(raw: Any, problems: list[str]) -> ContactSettings:
    if not isinstance(raw, Mapping):
        problems.append("[contacts] must be a table")
        return ContactSettings()
    _unknown_keys(raw, ("permission_source", "relationships", "max_priority"), "contacts.", problems)
    source = raw.get("permission_source", RELATIONSHIP)
    if source not in (RELATIONSHIP, PRIORITY):
        problems.append(f"contacts.permission_source must be {RELATIONSHIP!r} or {PRIORITY!r}, got {source!r}")
    relationships = raw.get("relationships", list(DEFAULT_RELATIONSHIPS))
    if not isinstance(relationships, list) or not all(isinstance(r, str) for r in relationships):
        problems.append(f"contacts.relationships must be a list of relationship names, got {relationships!r}")
        relationships = list(DEFAULT_RELATIONSHIPS)
    unknown = [r for r in relationships if r not in esd.RELATIONSHIPS]
    if unknown:
        problems.append(
            f"contacts.relationships: unknown relationship {', '.join(_with_guess(r, esd.RELATIONSHIPS) for r in unknown)}"
            f" (eSD's relationships: {', '.join(esd.RELATIONSHIPS)})"
        )
    max_priority = raw.get("max_priority", 2)
    if not isinstance(max_priority, int) or isinstance(max_priority, bool) or max_priority < 1:
        problems.append(f"contacts.max_priority must be an integer >= 1, got {max_priority!r}")
        max_priority = 2
    return ContactSettings(str(source), frozenset(relationships), max_priority)


def _with_guess(value: str, allowed: tuple[str, ...]) -> str:
    """`'mother' (did you mean 'Mother'?)` when only the case differs."""
    same = [a for a in allowed if a.casefold() == value.casefold()]
    return f"{value!r} (did you mean {same[0]!r}?)" if same else repr(value)


def _share(raw: Any, problems: list[str]) -> float:
    if not isinstance(raw, Mapping):
        problems.append("[safety] must be a table")
        return 0.10
    _unknown_keys(raw, ("max_archive_share",), "safety.", problems)
    share = raw.get("max_archive_share", 0.10)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        problems.append(f"safety.max_archive_share must be a number from 0 to 1, got {share!r}")
        return 0.10
    return float(share)
