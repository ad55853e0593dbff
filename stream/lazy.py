"""Public names of a package that are imported on first use.

The runtime, commands and bench packages export their public names, but importing
them eagerly would load Faust (and patch it), PyTorch or the whole CLI whenever any
module of the package is imported. A package lists its names and where they live; the
module is imported when a name is first read (PEP 562).

>>> import stream.runtime
>>> stream.runtime.PATCHED_FAUST
'0.15.3'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: dict[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """``__all__`` and a module ``__getattr__`` for ``package``: ``where`` maps each public
    name to the submodule (relative to ``package``) that defines it."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return sorted(where), __getattr__
