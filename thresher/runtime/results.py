"""What ``run()`` returned, normalised: a pandas DataFrame, or a list of elements.

Azure's contract: ``run()`` returns a DataFrame, list or tuple, and each element (row) is one succeeded
input item. thresher also takes a generator or any other iterator (materialised), a numpy array or a
pandas Series (their elements, as Python values). Anything else is a mistake in the script, reported
as the task's failure with what was returned and what is expected. pandas and numpy are never
imported here: a value can only be one of theirs if the script already imported them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """Either ``frame`` (a pandas DataFrame) or ``elements`` (a list) is set."""

    frame: Any = None
    elements: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.frame) if self.frame is not None else len(self.elements or ())

    @property
    def columns(self) -> list[str] | None:
        """The DataFrame's column names, or None for a list."""
        return [str(c) for c in self.frame.columns] if self.frame is not None else None


def _is_instance(value: Any, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    types = tuple(getattr(loaded, name) for name in names if isinstance(getattr(loaded, name, None), type))
    return bool(types) and isinstance(value, types)


def normalise(value: Any) -> Result:
    """The returned value as a ``Result``; ``TypeError`` naming the value for anything else."""
    if isinstance(value, list):
        return Result(elements=value)
    if isinstance(value, tuple):
        return Result(elements=list(value))
    if _is_instance(value, "pandas", "DataFrame"):
        return Result(frame=value)
    if _is_instance(value, "pandas", "Series") or _is_instance(value, "numpy", "ndarray"):
        if getattr(value, "ndim", 1) == 0:
            raise TypeError(f"run() returned a 0-dimensional array ({value!r}); it must return one element per item.")
        return Result(elements=value.tolist())
    if isinstance(value, Iterator):
        return Result(elements=list(value))
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise TypeError(
        f"run() returned {type(value).__name__} {shown}; it must return a list, tuple, generator or pandas "
        "DataFrame with one element (row) per succeeded input item."
    )
