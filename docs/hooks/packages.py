"""The import names, for griffe: `build/docs-packages/` holds a link per top-level package of pyproject.toml.

mkdocstrings reads the code statically (griffe), finding a package as a folder of its import name. The
repository keeps `sync/`, `contracts/` and `workbench/` under other names (`[tool.setuptools.package-dir]`),
and an editable install hides the mapping differently per mode: a strict one has a link tree under
`build/__editable__*`, a lenient one (CI's `pip install -e`) an import hook griffe cannot follow. So the site
makes its own link tree from pyproject.toml, the same in every install, and mkdocs.yml points griffe at it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

LINKS = Path("build") / "docs-packages"


def package_folders(root: Path) -> dict[str, Path]:
    """Each top-level package's import name and its folder, as pyproject.toml maps them."""
    setuptools = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    renamed: dict[str, str] = setuptools.get("package-dir", {})
    tops = sorted({name.split(".")[0] for name in setuptools["packages"]})
    return {name: root / renamed.get(name, name) for name in tops}


def link_packages(root: Path) -> Path:
    """Make (or mend) `build/docs-packages/<import name>` -> the package's folder; return that directory."""
    links = root / LINKS
    links.mkdir(parents=True, exist_ok=True)
    for name, folder in package_folders(root).items():
        link = links / name
        if link.is_symlink() and Path(os.readlink(link)) == folder.resolve():
            continue
        if link.is_symlink():
            link.unlink()
        try:
            link.symlink_to(folder.resolve(), target_is_directory=True)
        except FileExistsError:  # another build made it at the same moment
            pass
    return links


def on_config(config: Any) -> Any:
    """Before any page is rendered (mkdocstrings reads the code then), lay out the import names."""
    link_packages(Path(config["config_file_path"]).resolve().parent)
    return config
