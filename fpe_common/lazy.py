"""Lazy package exports (PEP 562): ``import pkg`` stays cheap, and each public name imports
its submodule (and that submodule's heavy dependencies) on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: Mapping[str, str], namespace: dict) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``(__getattr__, __dir__)`` for ``package`` from ``table`` (public name -> submodule,
    relative to the package). A name equal to its submodule's last component hands out the
    submodule itself (a name that is both a function and a module). Found values are cached
    in ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod = importlib.import_module(f"{package}.{module}")
        value = mod if module.rsplit(".", 1)[-1] == name else getattr(mod, name)
        namespace[name] = value
        return value

    def __dir__() -> list:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
