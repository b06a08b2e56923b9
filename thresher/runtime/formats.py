"""Writing one task's result part in the job's output format, atomically.

    azure    Azure's append_row: a DataFrame row per line, values separated by single spaces, no
             header or index, quoted (``"`` doubled) only when they hold a space, quote or newline,
             i.e. ``df.to_csv(sep=" ", header=False, index=False)``; any other element is
             ``str(element)`` on its own line.
    mlflow   what Azure's no-code MLflow driver writes: comma-separated, no header, csv-quoted where
             needed (``row,prediction,file_name``); the job's output file never gets a header either.
             No-code MLflow jobs use it where the deployment says ``azure``.
    csv      comma-separated, no header (the assembler writes one from ``columns``).
    jsonl    one JSON object per line.
    parquet  a complete Parquet file (``thresher.runtime.parquet_part``).

For csv, mlflow, jsonl and parquet a list of dicts gives one column per key of the first dict; any
other element is one column named ``result``. A part is written to a temporary file in ``parts_dir``
and renamed over ``part`` (no fsync: the scheduler's commit is what makes a part count), so a retry
overwrites the same name and a reader never sees half a part. ``PartWriter`` writes a part result by
result and can take back what was written since its last ``mark()`` (a failed item's rows).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO

from thresher.runtime.protocol import ItemFailure, OutputFormat
from thresher.runtime.results import Result, normalise, records


def _write_azure(result: Result, out: TextIO) -> list[str] | None:
    if result.frame is not None:
        result.frame.to_csv(out, sep=" ", header=False, index=False, lineterminator="\n")
    elif result.elements:
        out.write("\n".join(map(str, result.elements)) + "\n")
    return result.columns


def _write_csv(result: Result, out: TextIO) -> list[str] | None:
    if result.frame is not None:
        result.frame.to_csv(out, header=False, index=False, lineterminator="\n")
        return result.columns
    columns, rows = records(result.elements or [])
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writerows(rows)
    return columns or None


def _write_jsonl(result: Result, out: TextIO) -> list[str] | None:
    if result.frame is not None:
        if len(result.frame):
            text = result.frame.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
            out.write(text if text.endswith("\n") else text + "\n")
        return result.columns
    columns, rows = records(result.elements or [])
    for record in rows:
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return columns or None


_TEXT_WRITERS = {
    OutputFormat.AZURE: _write_azure,
    OutputFormat.MLFLOW: _write_csv,
    OutputFormat.CSV: _write_csv,
    OutputFormat.JSONL: _write_jsonl,
}


def _output_format(value: OutputFormat | str) -> OutputFormat:
    try:
        return OutputFormat(value)
    except ValueError:
        known = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"output_format is {value!r}; it must be one of {known}.") from None


class PartWriter:
    """One part, written result by result; ``rollback`` takes back what came after a ``mark()``.

        with PartWriter(OutputFormat.CSV, parts_dir, "000000007-000000.part") as writer:
            mark = writer.mark()
            writer.write(normalise(frame))
            writer.rollback(mark)            # e.g. the item failed half-way
            rows, columns = writer.commit()  # renames the part into place

    ``output_format`` None writes nothing (``summary_only``), so ``commit`` says 0 rows. Leaving the block
    without ``commit()`` removes the temporary file.
    """

    def __init__(self, output_format: OutputFormat | str | None, parts_dir: str, part: str) -> None:
        self.format = None if output_format is None else _output_format(output_format)
        self.rows = 0
        self.columns: list[str] | None = None
        self._final = os.path.join(parts_dir, part)
        self._temporary = os.path.join(parts_dir, f".{part}.{os.getpid()}.tmp")
        self._text: TextIO | None = None
        self._parquet: Any = None
        if self.format is OutputFormat.PARQUET:
            from thresher.runtime.parquet_part import ParquetPart

            self._parquet = ParquetPart(self._temporary)
        elif self.format is not None:
            self._text = open(self._temporary, "w", encoding="utf-8", newline="")  # noqa: SIM115

    def write(self, result: Result) -> None:
        """Append ``result``'s rows (a DataFrame or a list of elements)."""
        if self._text is not None:
            assert self.format is not None
            columns = _TEXT_WRITERS[self.format](result, self._text)
        elif self._parquet is not None:
            columns = self._parquet.write(result)
        else:
            columns = result.columns
        if columns and (self.columns is None or (self.rows == 0 and len(result))):
            self.columns = list(columns)
        self.rows += len(result)

    def mark(self) -> tuple[int, list[str] | None, int]:
        """Keep everything written so far; what is written after this can be rolled back to here."""
        position = 0
        if self._text is not None:
            position = self._text.tell()
        elif self._parquet is not None:
            self._parquet.mark()
        return self.rows, self.columns, position

    def rollback(self, mark: tuple[int, list[str] | None, int]) -> None:
        """Take back every row written since ``mark`` (the last mark taken)."""
        self.rows, self.columns, position = mark
        if self._text is not None:
            self._text.seek(position)
            self._text.truncate()
        elif self._parquet is not None:
            self._parquet.rollback()

    def commit(self) -> tuple[int, list[str] | None]:
        """Finish the part and rename it into place: (rows written, column names or None)."""
        if self._text is not None:
            self._text.close()
            self._text = None
        elif self._parquet is not None:
            self._parquet.close(self.columns)
            self._parquet = None
        elif self.format is None:
            return 0, self.columns  # nothing was written
        os.replace(self._temporary, self._final)
        return self.rows, self.columns

    def discard(self) -> None:
        """Drop the part being written."""
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._parquet is not None:
            self._parquet.discard()
            self._parquet = None
        if os.path.exists(self._temporary):
            os.unlink(self._temporary)

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.discard()


def write_part(
    result: Result, output_format: OutputFormat | str, parts_dir: str, part: str
) -> tuple[int, list[str] | None]:
    """Write ``result`` as ``parts_dir/part``; returns (rows written, column names or None).

    The part is always written, even with no rows, so that it replaces any part an earlier attempt
    left under the same name.
    """
    with PartWriter(output_format, parts_dir, part) as writer:
        writer.write(result)
        return writer.commit()


@dataclass(frozen=True)
class Written:
    """What writing one task's result gave: rows and columns of the part, failed items, items streamed."""

    rows: int
    columns: list[str] | None
    failures: list[ItemFailure]
    streamed_ok: int  # items of a streamed result whose rows were all written


def write_result(
    result: Result,
    output_format: OutputFormat | str | None,
    parts_dir: str,
    part: str,
    on_item_error: Callable[[str, Exception], ItemFailure],
) -> Written:
    """Write ``result`` as ``parts_dir/part`` (``output_format`` None: count only, write nothing).

    A streamed result is written item by item; an item whose chunks raise is rolled back out of the
    part and listed as failed: ``on_item_error(item, exception)`` gives its ``{"item", "error", ...}``.
    """
    failures = list(result.failures)
    done = 0
    with PartWriter(output_format, parts_dir, part) as writer:
        if result.streamed is None:
            writer.write(result)
        else:
            for entry in result.streamed:
                mark = writer.mark()
                try:
                    for chunk in entry.chunks:
                        writer.write(normalise(chunk))
                except Exception as exc:
                    writer.rollback(mark)
                    failures.append(on_item_error(str(entry.item), exc))
                else:
                    done += 1
        rows, columns = writer.commit()
    return Written(rows, columns, failures, done)
