"""Writing one task's result part in the job's output format, atomically.

    azure    Azure's append_row: a DataFrame row per line, values separated by single spaces, no
             header or index, quoted (``"`` doubled) only when they hold a space, quote or newline,
             i.e. ``df.to_csv(sep=" ", header=False, index=False)``; any other element is
             ``str(element)`` on its own line.
    csv      comma-separated, no header (the assembler writes one from ``columns``).
    jsonl    one JSON object per line.
    parquet  a complete Parquet file.

For csv, jsonl and parquet a list of dicts gives one column per key of the first dict; any other
element is one column named ``result``. The part is written to a temporary file in ``parts_dir`` and
renamed over ``part`` (no fsync: the scheduler's commit is what makes a part count), so a retry
overwrites the same name and a reader never sees half a part.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
from typing import Any, TextIO

from thresher.runtime.results import Result

FORMATS = ("azure", "csv", "jsonl", "parquet")
RESULT_COLUMN = "result"


def _records(elements: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and one dict per element: dicts keyed by the first dict's keys, else ``{"result": e}``."""
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


def _write_azure(result: Result, out: TextIO) -> None:
    if result.frame is not None:
        result.frame.to_csv(out, sep=" ", header=False, index=False, lineterminator="\n")
    elif result.elements:
        out.write("\n".join(map(str, result.elements)) + "\n")


def _write_csv(result: Result, out: TextIO) -> list[str] | None:
    if result.frame is not None:
        result.frame.to_csv(out, header=False, index=False, lineterminator="\n")
        return result.columns
    columns, records = _records(result.elements or [])
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writerows(records)
    return columns or None


def _write_jsonl(result: Result, out: TextIO) -> list[str] | None:
    if result.frame is not None:
        if len(result.frame):
            text = result.frame.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
            out.write(text if text.endswith("\n") else text + "\n")
        return result.columns
    columns, records = _records(result.elements or [])
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return columns or None


def _write_parquet(result: Result, path: str) -> list[str] | None:
    pa = importlib.import_module("pyarrow")
    pq = importlib.import_module("pyarrow.parquet")
    if result.frame is not None:
        table = pa.Table.from_pandas(result.frame, preserve_index=False)
        columns = result.columns
    else:
        columns, records = _records(result.elements or [])
        try:
            table = pa.Table.from_pylist(records)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            if columns != [RESULT_COLUMN]:
                raise
            # Mixed or unusual elements: keep them, as their text (what Azure's format would write).
            table = pa.Table.from_pylist([{RESULT_COLUMN: str(r[RESULT_COLUMN])} for r in records])
    pq.write_table(table, path)
    return columns or None


def write_part(result: Result, output_format: str, parts_dir: str, part: str) -> tuple[int, list[str] | None]:
    """Write ``result`` as ``parts_dir/part``; returns (rows written, column names or None).

    The part is always written, even with no rows, so that it replaces any part an earlier attempt
    left under the same name.
    """
    if output_format not in FORMATS:
        raise ValueError(f"output_format is {output_format!r}; it must be one of {', '.join(FORMATS)}.")
    final = os.path.join(parts_dir, part)
    temporary = os.path.join(parts_dir, f".{part}.{os.getpid()}.tmp")
    try:
        if output_format == "parquet":
            columns = _write_parquet(result, temporary)
        else:
            with open(temporary, "w", encoding="utf-8", newline="") as out:
                if output_format == "azure":
                    _write_azure(result, out)
                    columns = result.columns
                elif output_format == "csv":
                    columns = _write_csv(result, out)
                else:
                    columns = _write_jsonl(result, out)
        os.replace(temporary, final)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return len(result), columns
