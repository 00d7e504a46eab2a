"""Build the documentation site as `tox -e docs` and `.ci/run` do: `mkdocs build --strict`, so a warning fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.layout import ROOT


def build_site(out: Path) -> Path:
    """The site built into `out`; AssertionError with mkdocs' output when the build fails or warns."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
    result = subprocess.run(
        [*command, "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    return out
