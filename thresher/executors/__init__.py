"""Executors by name, imported on first use (``import ray`` lives in one module only).

    executor = load_executor("local")()
    executor.start(config, nodes=1, per_node=4)

The interface they implement is ``thresher.executors.base.Executor``.
"""

from __future__ import annotations

import importlib

from thresher.errors import MissingExtraError, ThresherError

EXECUTORS: dict[str, str] = {
    "local": "thresher.executors.local:LocalExecutor",
    "ray": "thresher.executors.ray:RayExecutor",
}
# Backends that need an optional dependency: name -> (package, pip extra), e.g. {"ray": ("ray", "ray")}.
_EXTRAS: dict[str, tuple[str, str]] = {"ray": ("ray", "ray")}

__all__ = ["EXECUTORS", "load_executor"]


def load_executor(name: str) -> type:
    """The executor class registered under ``name``.

    Raises ``MissingExtraError`` (with the pip command) when the backend's optional dependency is not
    installed, and ``ThresherError`` listing the known names for an unknown one.
    """
    if name not in EXECUTORS:
        known = ", ".join(sorted(EXECUTORS))
        raise ThresherError(
            f"Compute type {name!r} is not a known executor; known executors are: {known}.",
            fix=f"Use one of: {known}.",
        )
    module_name, _, class_name = EXECUTORS[name].partition(":")
    extra = _EXTRAS.get(name)
    try:
        if extra is not None:
            importlib.import_module(extra[0])
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None)
        if extra is not None and missing is not None and (missing == extra[0] or module_name.startswith(missing)):
            raise MissingExtraError(f"Compute '{name}'", extra[0], extra[1]) from exc
        raise
    executor: type = getattr(module, class_name)
    return executor
