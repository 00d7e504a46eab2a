"""Where each installed package lives in the repository, read from pyproject.toml's `package-dir` mapping."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]

PACKAGES: list[str] = _SETUPTOOLS["packages"]  # every package the wheel holds, sub-packages too


def folder_of(package: str) -> Path:
    """Where a package's modules are in the repository, e.g. "mock_esd_sync" -> ROOT / "sync"."""
    top, *rest = package.split(".")
    return ROOT.joinpath(_SETUPTOOLS["package-dir"].get(top, top), *rest)


# the installed top-level packages -> their folders
FOLDERS: dict[str, Path] = {name: folder_of(name) for name in PACKAGES if "." not in name}

REINSTALL = ".venv/bin/pip install -e '.[test]'"


def stale_install() -> str | None:
    """What differs between a package's folder here and the copy Python imports, or None when they agree.

    The README's editable install imports from the folders themselves and always agrees. A strict
    editable install (`--config-settings editable_mode=strict`, for mypy) links each file that existed
    when it ran, so a module added or removed since is missing or left over; a plain install is a copy,
    stale after any edit. Either way the tests would run other code than this checkout's.
    """
    import importlib.util

    for name, folder in FOLDERS.items():
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return f"{name} is not installed"
        installed = Path(next(iter(spec.submodule_search_locations)))
        if installed.resolve() == folder.resolve():
            continue
        here, there = _sources(folder), _sources(installed)
        differing = sorted((here ^ there) | {p for p in here & there if _read(folder / p) != _read(installed / p)})
        if differing:
            shown = ", ".join(differing[:3]) + (f" and {len(differing) - 3} more" if len(differing) > 3 else "")
            return f"{name} is imported from {installed}, which differs from {folder.name}/ here in {shown}"
    return None


def _sources(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if "__pycache__" not in p.parts}


def _read(path: Path) -> bytes:
    return path.read_bytes()
