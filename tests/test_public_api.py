"""Every module states its public API in ``__all__``, and nothing else leaks into it.

A name defined in a module (class, function) that does not start with an underscore must be
listed in ``__all__``; everything listed must exist. Private modules (leading underscore)
and migration scripts are exempt.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import detente

EXEMPT_PARTS = ("migrations",)


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(detente.__path__, prefix="detente."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or any(p in EXEMPT_PARTS for p in parts):
            continue
        names.append(info.name)
    return sorted(names)


def _defined_here(module: ModuleType) -> set[str]:
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if (inspect.isclass(value) or inspect.isfunction(value)) and getattr(
            value, "__module__", None
        ) == module.__name__:
            names.add(name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_module_declares_its_public_api(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        if (
            module.__file__
            and module.__file__.endswith("__init__.py")
            and not _defined_here(module)
        ):
            return  # a bare package marker
        pytest.fail(f"{name} has no __all__")
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists names it does not define: {missing}"
    leaked = sorted(_defined_here(module) - set(exported))
    assert not leaked, f"{name} defines public names not in __all__: {leaked}"


def test_there_are_modules_to_check() -> None:
    assert "detente.tlog.proof" in _modules()
