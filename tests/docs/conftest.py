"""The documentation site, built once per session (per xdist worker) into a temporary folder, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.site import build_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (`mkdocs build --strict`)."""
    return build_site(tmp_path_factory.mktemp("site"))
