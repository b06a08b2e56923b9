"""Lazy exports for the shim's packages: ``from azureml.core import Run`` imports ``run`` only, so a step
script imports nothing it does not use (a step may run in an interpreter without thresher), and a v1
class that thresher does not provide fails at its import with the fix, not later."""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["NotSupported", "exports"]


class NotSupported(ImportError):
    """A v1 SDK feature thresher does not provide; the message names it and says what to do instead."""


def exports(package: str, names: dict[str, str], unsupported: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``names`` maps a name to the submodule defining it,
    ``unsupported`` a v1 name to the fix for it."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is not None:
            return getattr(importlib.import_module(module, package), name)
        fix = unsupported.get(name)
        if fix is not None:
            raise NotSupported(f"{package}.{name} is not supported by thresher. {fix}")
        raise AttributeError(f"module {package!r} has no attribute {name!r} (thresher's v1 SDK shim)")

    return __getattr__
