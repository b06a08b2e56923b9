"""thresher: self-hosted batch inference and ML pipelines for Python models.

The package root stays light: the worker runtime (``thresher.runtime``) is imported inside users'
model environments, which have none of thresher's own dependencies, so the SDK loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thresher.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    SpecError,
    ThresherError,
)

if TYPE_CHECKING:
    from thresher.sdk import Workspace

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "NotFoundError",
    "SpecError",
    "ThresherError",
    "Workspace",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from thresher.sdk import Workspace

        return Workspace
    raise AttributeError(f"module 'thresher' has no attribute {name!r}")
