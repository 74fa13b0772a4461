"""Package ``__getattr__`` that imports a public name's module on first use (PEP 562).

Stage packages declare their public surface in ``__init__`` without importing torch, OpenCV or
pandas when the package itself is imported (docs/architecture.md R14).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, public: Mapping[str, str]) -> Callable[[str], Any]:
    """``__getattr__`` for ``package`` serving ``public`` (name -> module that defines it)."""

    def __getattr__(name: str) -> Any:
        if name in public:
            return getattr(importlib.import_module(public[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
