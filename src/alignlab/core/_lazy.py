"""Lazy public names for instrument packages: importing an instrument stays cheap (no SciPy, pandas or
torch) until a name is used, so registry lookups and worker start-up do not pay for what they never touch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, sources: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``sources[name]`` on first use and caches it."""

    def __getattr__(name: str) -> Any:
        if name in sources:
            value = getattr(importlib.import_module(sources[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
