"""Each package's public names are exported, and exist."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["mock_esd", "sync", "contracts"])
def test_all_names_are_exported_and_real(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    public = {n for n in vars(module) if not n.startswith("_") and not isinstance(getattr(module, n), type(module))}
    assert public == set(module.__all__), public ^ set(module.__all__)
