"""mock-esd as a user gets it: the sdist and the wheel built from a copy of this checkout, installed (not
editable) into fresh virtualenvs. uv makes each virtualenv in about a second, from its cache; what the cache
lacks comes from PyPI, and without it a build or an install fails (InstallError), it is never skipped.

`tests/e2e/test_wheel.py` uses these; run as a script, this measures each install for the README's "Install"
table (site-packages as pip leaves it, bytecode compiled, and the distributions it holds):

    .venv/bin/python -m tests.e2e.installs
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION: str = PYPROJECT["project"]["version"]
# The extras a user installs; the others (test, lint, second-opinion) are this repository's own.
REPO_EXTRAS = frozenset({"test", "lint", "second-opinion", "docs"})
USER_EXTRAS = tuple(e for e in PYPROJECT["project"]["optional-dependencies"] if e not in REPO_EXTRAS)
# What a copy of the checkout leaves out: no virtualenv, no earlier build, no caches.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    "node_modules", "*.db", "*.report.html",
)  # fmt: skip
# Variables that would make a child see something other than its own virtualenv, or a command read options
# the test did not give (ESD_URL, MOCK_ESD_SYNC_DB, an outer pytest's or xdist's own).
_FOREIGN = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSAFEPATH",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "PYTEST_",
    "MOCK_ESD_",
    "ESD_",
)


class InstallError(Exception):
    """A build or an install failed; the message names it and quotes the tool's last lines."""


def uv() -> str:
    """The uv binary the test extra installs."""
    from uv import find_uv_bin

    return str(find_uv_bin())


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would leak into a child (_FOREIGN), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
    return {**env, **extra}


def _tool(args: list[str], what: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, env=clean_env())
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise InstallError(
            f"{what} failed (exit {done.returncode}); it needs PyPI reachable (or uv's cache holding what it asks):\n"
            f"{tail}"
        )
    return done.stdout + done.stderr


@dataclass(frozen=True)
class Dist:
    """The built sdist and wheel, and what `twine check` said of them."""

    wheel: Path
    sdist: Path
    twine: str
    twine_exit: int

    @classmethod
    def at(cls, out: Path) -> Dist:
        """The distribution `build(out)` made."""
        (wheel,), (sdist,) = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
        exit_code, _, said = (out / "twine-check.txt").read_text().partition("\n")
        return cls(wheel, sdist, said, int(exit_code))

    def requirement(self, extra: str | None = None) -> str:
        """`mock-esd[extra]` from this wheel, as an installer takes it."""
        return f"mock-esd{f'[{extra}]' if extra else ''} @ {self.wheel.as_uri()}"


def build(out: Path) -> Dist:
    """Build the sdist, and the wheel from that sdist (uv build's way, so the sdist is shown complete), from a
    copy of the checkout (the checkout gets no egg-info or build/), into `out`; then `twine check` both."""
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    _tool([uv(), "build", "--quiet", "--out-dir", str(out), str(source)], "uv build")
    shutil.rmtree(source)
    dist = [str(p) for p in sorted(out.iterdir()) if p.suffix in (".whl", ".gz")]
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *dist],
        capture_output=True, text=True, timeout=120, env=clean_env(NO_COLOR="1"),
    )  # fmt: skip
    said = re.sub(r"\x1b\[[0-9;]*m", "", check.stdout + check.stderr)  # its colours, whatever NO_COLOR says
    (out / "twine-check.txt").write_text(f"{check.returncode}\n{said}")
    return Dist.at(out)


@dataclass(frozen=True)
class Venv:
    """A virtualenv made by `make_venv`."""

    root: Path

    def bin(self, name: str) -> str:
        """The path of a script the virtualenv holds (`python`, `mock-esd`)."""
        return str(self.root / "bin" / name)

    @property
    def site_packages(self) -> Path:
        return self.root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def env(self, pythonpath: Path | None = None) -> dict[str, str]:
        """The environment of a command run in this virtualenv (as if activated), with `pythonpath` first on sys.path."""
        extra = {"VIRTUAL_ENV": str(self.root), "PATH": f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        if pythonpath is not None:
            extra["PYTHONPATH"] = str(pythonpath)
        return clean_env(**extra)

    def run(
        self, script: str, *args: str, cwd: Path, pythonpath: Path | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the virtualenv's `script` (`python`, `mock-esd`) with `args` in `cwd`, output captured."""
        return subprocess.run(
            [self.bin(script), *args], cwd=cwd, env=self.env(pythonpath), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def distributions(self) -> set[str]:
        """The names (lower case) of the distributions installed."""
        listed = self.run(
            "python", "-c", "import importlib.metadata as m; print(*{d.metadata['Name'] for d in m.distributions()})",
            cwd=self.root,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        return {name.lower() for name in listed.stdout.split()}


def make_venv(root: Path, *requirements: str, compile_bytecode: bool = False) -> Venv:
    """A fresh virtualenv at `root`, on this Python's version, with `requirements` installed (not editable)."""
    _tool([uv(), "venv", "--quiet", "--python", sys.executable, str(root)], f"uv venv {root}")
    venv = Venv(root)
    flags = ["--compile-bytecode"] if compile_bytecode else []
    _tool(
        [uv(), "pip", "install", "--quiet", *flags, "--python", venv.bin("python"), *requirements],
        f"installing {' '.join(requirements)} into {root}",
    )
    return venv


def _size(path: Path, bytecode: bool) -> int:
    return sum(
        f.stat().st_size
        for f in path.rglob("*")
        if f.is_file() and not f.is_symlink() and (bytecode or "__pycache__" not in f.parts)
    )


def main() -> None:
    """Print the README's install table rows: each install's size and distributions, in fresh virtualenvs."""
    with tempfile.TemporaryDirectory(prefix="mock-esd-installs-") as tmp:
        dist = build(Path(tmp) / "dist")
        print("| install | site-packages (bytecode compiled, as pip leaves it) | without bytecode | distributions |")
        for extra in (None, *USER_EXTRAS):
            venv = make_venv(Path(tmp) / (extra or "base"), dist.requirement(extra), compile_bytecode=True)
            compiled, plain = _size(venv.site_packages, True), _size(venv.site_packages, False)
            name = f"mock-esd[{extra}]" if extra else "mock-esd"
            print(f"| `{name}` | {compiled / 2**20:.0f} MB | {plain / 2**20:.0f} MB | {len(venv.distributions())} |")


if __name__ == "__main__":
    main()
