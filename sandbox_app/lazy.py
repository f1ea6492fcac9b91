"""Names a package exports but imports on first use (PEP 562), so that a worker or client process stays light."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module


def lazy_exports(package: str, homes: dict[str, str]) -> tuple[Callable, Callable]:
    """A `__getattr__` and a `__dir__` for `package`: each name of `homes` imported from its module when first asked."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(homes[name], package), name)
        namespace[name] = value  # asked once: the next lookup finds it without coming here
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
