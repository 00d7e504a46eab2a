"""Each package's public names are exported, and exist."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from tests.layout import FOLDERS


@pytest.mark.parametrize("package", sorted(FOLDERS))
def test_all_names_are_exported_and_real(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    public = {n for n in vars(module) if not n.startswith("_") and not isinstance(getattr(module, n), type(module))}
    assert public == set(module.__all__), public ^ set(module.__all__)


def test_no_exported_name_shadows_a_submodule() -> None:
    """`mock_esd_contracts.errors` the module stays reachable: no package re-exports a name equal to one of its modules."""
    for package in FOLDERS:
        module = importlib.import_module(package)
        for name in module.__all__:
            assert not isinstance(getattr(module, name), type(module)), f"{package}.{name} is a module"
            spec = importlib.util.find_spec(f"{package}.{name}")
            assert spec is None, f"{package}.__all__ names {name!r}, which is also a module of {package}"
