"""A Parquet result part, written in row groups, from which the rows of a failed item can be taken back.

Rows are buffered until a row group of about ``GROUP_ROWS`` rows is ready, and a row group never
mixes the rows of the item being written (since the last ``mark()``) with the rows of items already
finished, so ``rollback()`` can always drop exactly that item's rows: the buffered ones are
forgotten, and row groups already written are left out when the file is closed (the file is then
copied once without them, row group by row group). Memory stays bounded by a few row groups.

Every table is cast to the schema of the first one that had rows, when no value changes (an
integer column that came out float in a later chunk is an error naming both schemas).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from thresher.runtime.results import RESULT_COLUMN, Result, records

GROUP_ROWS = 65536


class ParquetPart:
    """The Parquet file at ``path``, written table by table; see the module docstring."""

    def __init__(self, path: str) -> None:
        self._pa = importlib.import_module("pyarrow")
        self._pq = importlib.import_module("pyarrow.parquet")
        self._path = path
        self._writer: Any = None
        self._schema: Any = None  # of the first table with rows
        self._empty_schema: Any = None  # of the first table, for a part without rows
        self._kept: list[Any] = []  # finished items' rows, not yet written
        self._current: list[Any] = []  # rows since the last mark
        self._groups = 0
        self._current_groups: list[int] = []
        self._dropped: set[int] = set()

    def write(self, result: Result) -> list[str] | None:
        """Buffer ``result``'s rows (writing row groups when enough are buffered); its column names."""
        pa = self._pa
        if result.frame is not None:
            table = pa.Table.from_pandas(result.frame, preserve_index=False)
            columns = result.columns
        else:
            columns, rows = records(result.elements or [])
            try:
                table = pa.Table.from_pylist(rows)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                if columns != [RESULT_COLUMN]:
                    raise
                # Mixed or unusual elements: keep them, as their text (what Azure's format would write).
                table = pa.Table.from_pylist([{RESULT_COLUMN: str(r[RESULT_COLUMN])} for r in rows])
        if self._empty_schema is None:
            self._empty_schema = table.schema
        if table.num_rows:
            self._current.append(self._conform(table))
            if _rows(self._kept) + _rows(self._current) >= 2 * GROUP_ROWS:
                self._flush_kept()
                self._current_groups.append(self._write(self._current))
                self._current = []
        return columns or None

    def _conform(self, table: Any) -> Any:
        if self._schema is None:
            self._schema = table.schema
            return table
        if table.schema.equals(self._schema, check_metadata=False):
            return table
        try:
            return table.select(self._schema.names).cast(self._schema, safe=True)
        except (KeyError, self._pa.ArrowInvalid, self._pa.ArrowNotImplementedError, self._pa.ArrowTypeError) as exc:
            raise ValueError(
                f"rows with the schema ({_show(table.schema)}) cannot join a Parquet part whose rows have the "
                f"schema ({_show(self._schema)}): {exc}"
            ) from exc

    def _write(self, tables: list[Any]) -> int:
        """Write ``tables`` as one row group; its index."""
        table = self._pa.concat_tables(tables)
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self._path, self._schema)
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        self._groups += 1
        return self._groups - 1

    def _flush_kept(self) -> None:
        if self._kept:
            self._write(self._kept)
            self._kept = []

    def mark(self) -> None:
        """The rows since the last mark are kept for good."""
        self._kept.extend(self._current)
        self._current, self._current_groups = [], []
        if _rows(self._kept) >= GROUP_ROWS:
            self._flush_kept()

    def rollback(self) -> None:
        """Forget the rows written since the last mark."""
        self._dropped.update(self._current_groups)
        self._current, self._current_groups = [], []

    def close(self, columns: list[str] | None) -> None:
        """Write what is buffered and finish the file (an empty file with the known schema if no rows)."""
        self.mark()
        self._flush_kept()
        if self._writer is None:
            schema = self._empty_schema
            if schema is None:
                schema = self._pa.schema([(name, self._pa.null()) for name in columns or []])
            self._pq.write_table(schema.empty_table(), self._path)
            return
        self._writer.close()
        self._writer = None
        if self._dropped:
            self._rewrite_without_dropped()

    def _rewrite_without_dropped(self) -> None:
        source = self._pq.ParquetFile(self._path)
        kept = f"{self._path}.kept"
        with self._pq.ParquetWriter(kept, source.schema_arrow) as writer:
            for index in range(source.metadata.num_row_groups):
                if index not in self._dropped:
                    writer.write_table(source.read_row_group(index))
        source.close()
        os.replace(kept, self._path)

    def discard(self) -> None:
        """Stop writing (the caller removes the file)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _rows(tables: list[Any]) -> int:
    return sum(table.num_rows for table in tables)


def _show(schema: Any) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in schema)
