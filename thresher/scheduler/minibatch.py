"""What a mini-batch is, and how ``settings.mini_batch_size`` says how big one should be.

File inputs (``uri_folder``) are cut by file count. Tabular inputs (``mltable``) are cut by bytes
(``"1MB"``, ``"100kb"``, ``"10 mb"``) or by rows (``"5000 rows"``); a bare number for a tabular input
means **rows** (Azure reads an approximate size there; a row count is what people mean when they
write ``mini_batch_size: 1000`` for a table, and it is exact). Sizes use binary units: 1kb = 1024
bytes, 1mb = 1024², 1gb = 1024³, case-insensitive, the space and the trailing ``b`` optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from thresher.errors import Problem, SpecError

Unit = Literal["files", "bytes", "rows"]

_FORM = re.compile(r"^\s*(\d+)\s*(?:([kmg])b?|(b)|(rows?)|(files?))?\s*$", re.IGNORECASE)
_MULTIPLIER = {"k": 1024, "m": 1024**2, "g": 1024**3}
_PATH = "settings.mini_batch_size"
_FORMS = (
    "it must be a number of files such as 10 for folder inputs; for tabular (mltable) inputs a size such "
    "as '1MB', '100kb' or '10 mb' (1kb = 1024 bytes) or a row count such as '5000 rows' (a bare number "
    "means rows)."
)


@dataclass(frozen=True)
class MiniBatch:
    """One unit of work given to ``run()``.

    ``items`` are absolute file paths (file inputs) or slice dicts (tabular inputs, see
    ``thresher.scheduler.tabular_plan``). ``partition`` is the ``partition_keys`` value of the
    mini-batch, passed to ``run`` as ``mini_batch_context.partition_key_value``.
    """

    index: int
    items: list[Any]
    partition: dict[str, Any] | None = None


@dataclass(frozen=True)
class BatchSize:
    """A parsed ``mini_batch_size``: ``amount`` files, bytes or rows per mini-batch (at least 1)."""

    unit: Unit
    amount: int


def _error(message: str, fix: str) -> SpecError:
    return SpecError([Problem("<settings>", None, _PATH, message)], what="mini_batch_size setting", fix=fix)


def parse_mini_batch_size(value: int | str, *, tabular: bool) -> BatchSize:
    """Parse ``settings.mini_batch_size`` for a file (``tabular=False``) or tabular input.

    >>> parse_mini_batch_size(10, tabular=False)
    BatchSize(unit='files', amount=10)
    >>> parse_mini_batch_size("10 mb", tabular=True)
    BatchSize(unit='bytes', amount=10485760)
    >>> parse_mini_batch_size("5000 rows", tabular=True)
    BatchSize(unit='rows', amount=5000)

    Raises SpecError naming the value, the accepted forms and the fix.
    """
    fix = "Set settings.mini_batch_size to one of the accepted forms, e.g. --set settings.mini_batch_size=10"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _error(f"{_PATH} is {value!r}; {_FORMS}", fix)
    match = _FORM.match(str(value))
    if match is None:
        raise _error(f"{_PATH} is '{value}'; {_FORMS}", fix)
    number, multiple, byte, rows, files = match.groups()
    unit: Unit
    if multiple or byte:
        unit, amount = "bytes", int(number) * _MULTIPLIER.get((multiple or "").lower(), 1)
    elif rows:
        unit, amount = "rows", int(number)
    elif files:
        unit, amount = "files", int(number)
    else:
        unit, amount = ("rows" if tabular else "files"), int(number)
    if amount < 1:
        raise _error(f"{_PATH} is {value!r}; it must be at least 1.", fix)
    if tabular and unit == "files":
        raise _error(
            f"{_PATH} is '{value}', a file count, but the input is tabular (mltable), which is cut by size or rows.",
            "Give a size such as '10mb' or a row count such as '5000 rows' (a bare number means rows).",
        )
    if not tabular and unit != "files":
        raise _error(
            f"{_PATH} is '{value}', a {'size' if unit == 'bytes' else 'row count'}, but the input is a folder "
            "of files (uri_folder), which is cut by file count.",
            "Give a number of files such as 10, or use a tabular (mltable) input to cut by size or rows.",
        )
    return BatchSize(unit, amount)
