"""What ``run()`` returned, normalised: a pandas DataFrame, or a list of elements, and failed items.

Azure's contract: ``run()`` returns a DataFrame, list or tuple, and each element (row) is one succeeded
input item. thresher also takes a generator or any other iterator (materialised), a numpy array or a
pandas Series (their elements, as Python values). Anything else is a mistake in the script, reported
as the task's failure with what was returned and what is expected. pandas and numpy are never
imported here: a value can only be one of theirs if the script already imported them.

A script that knows which of its items failed returns ``ItemResults``; the other items of the
mini-batch still count as succeeded, and each failure is reported with its own message::

    from thresher.runtime.results import ItemResults

    def run(mini_batch):
        rows, failures = [], []
        for path in mini_batch:
            try:
                rows.append(score(path))
            except ValueError as exc:
                failures.append({"item": path, "error": exc})
        return ItemResults(rows=rows, failures=failures)

The built-in MLflow driver streams instead: ``ItemResults(streamed=...)`` gives one ``ItemRows`` per
item, whose chunks are made while the part is written, so a big file never sits in memory; an item
whose chunks raise is failed and the rows it had written are taken back out of the part.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from thresher.runtime.protocol import ItemFailure

MAX_ERROR_CHARS = 500
RESULT_COLUMN = "result"  # the one column of returned elements that are not dicts


@dataclass(frozen=True)
class ItemRows:
    """One input item's output, made lazily: each chunk is what ``run()`` may return (a DataFrame, a list).

    If iterating ``chunks`` raises, the item failed and none of its rows are kept.
    """

    item: str
    chunks: Iterable[Any]


@dataclass(frozen=True)
class ItemResults:
    """``run()``'s answer when it knows which items failed (see the module docstring).

    ``failures`` are ``{"item": path, "error": message or exception}``; an item listed twice counts once.
    """

    rows: Any = ()
    failures: Iterable[Mapping[str, Any]] = ()
    streamed: Iterable[ItemRows] | None = None


@dataclass(frozen=True)
class Result:
    """Either ``frame`` (a pandas DataFrame) or ``elements`` (a list) is set, or ``streamed`` items.

    ``failures`` are the items ``run()`` reported as failed, as ``{"item", "error"}`` with the error as
    ``"Type: message"``; ``itemised`` is true when ``run()`` returned ``ItemResults``, so that every item
    not listed there succeeded whatever the number of rows.
    """

    frame: Any = None
    elements: list[Any] | None = None
    streamed: Iterable[ItemRows] | None = None
    failures: list[ItemFailure] = field(default_factory=list)
    itemised: bool = False

    def __len__(self) -> int:
        return len(self.frame) if self.frame is not None else len(self.elements or ())

    @property
    def columns(self) -> list[str] | None:
        """The DataFrame's column names, or None for a list."""
        return [str(c) for c in self.frame.columns] if self.frame is not None else None


def records(elements: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and one dict per returned element: dicts keyed by the first dict's keys, else ``{"result": e}``."""
    if not elements:
        return [], []
    if not isinstance(elements[0], dict):
        return [RESULT_COLUMN], [{RESULT_COLUMN: e} for e in elements]
    columns = [str(k) for k in elements[0]]
    known = set(columns)
    for index, element in enumerate(elements):
        if not isinstance(element, dict):
            raise TypeError(
                f"run() returned dicts and a {type(element).__name__} (element {index}); "
                "return only dicts, or no dicts at all."
            )
        extra = [str(k) for k in element if str(k) not in known]
        if extra:
            raise ValueError(
                f"run() returned element {index} with keys {extra} that the first element lacks; "
                f"every element must use the first one's keys {columns} (missing keys are left empty)."
            )
    return columns, [{str(k): v for k, v in e.items()} for e in elements]


def error_text(error: Any) -> str:
    """An error as one short ``"Type: message"`` line (an exception, or a message as it is)."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _failure(entry: Any, index: int) -> ItemFailure:
    if not isinstance(entry, Mapping) or "item" not in entry or "error" not in entry:
        raise TypeError(
            f"ItemResults.failures[{index}] is {type(entry).__name__}; each failure must be a dict "
            '{"item": <input item>, "error": <message or exception>}.'
        )
    return {"item": str(entry["item"]), "error": error_text(entry["error"])}


def _is_instance(value: Any, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    types = tuple(getattr(loaded, name) for name in names if isinstance(getattr(loaded, name, None), type))
    return bool(types) and isinstance(value, types)


def normalise(value: Any) -> Result:
    """The returned value as a ``Result``; ``TypeError`` naming the value for anything else."""
    if isinstance(value, ItemResults):
        failures = [_failure(entry, index) for index, entry in enumerate(value.failures)]
        if value.streamed is not None:
            return Result(streamed=value.streamed, failures=failures, itemised=True)
        rows = normalise(value.rows)
        return Result(frame=rows.frame, elements=rows.elements, failures=failures, itemised=True)
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
        "DataFrame with one element (row) per succeeded input item, or an ItemResults."
    )
