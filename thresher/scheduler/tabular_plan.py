"""Cutting tabular files into slices: the items of tabular mini-batches, read by ``thresher.runtime.tabular``.

A slice never crosses a file boundary. It is plain JSON-able data, the contract with the worker::

    {"path": "/data/a.csv", "format": "csv" | "jsonl" | "parquet",
     "start": int, "stop": int, "unit": "bytes" | "rows",
     "first_row": int | None, "rows": int | None, "read_options": {...},
     "data_start": int,                  # csv and jsonl only
     "filter": {column: value}}          # partitioned plans only, see tabular_partitions

- csv / jsonl: ``unit`` is bytes; ``start:stop`` are byte offsets of whole records. For csv the
  header is ``bytes[0:data_start]`` and belongs to every slice; ``start >= data_start``.
- parquet: ``unit`` is rows; ``start:stop`` are row indices in the file.
- ``first_row`` is the 0-based index in the file of the slice's first record and ``rows`` the number
  of records (lines for csv/jsonl, so blank lines count), or None where planning did not count them
  (jsonl cut by bytes, csv read whole). ``rows == 0`` marks a file without records: it is still
  planned, alone in its mini-batch, so that the plan lists every input file (and its fingerprint
  matches ``plan_fingerprint``); the scheduler may complete such a mini-batch without calling run().
- An input entry that cannot be read (a broken link, a FIFO, ...; see ``thresher.runtime.entries``)
  is one slice ``{"path", "format": None, "start": 0, "stop": 0, "unit": "bytes", "first_row": None,
  "rows": None, "read_options": {}, "unusable": why}``, alone in its mini-batch: it keeps the entry
  in the plan, counts as one failed item, and the worker fails it without reading it.

CSV is cut at record ends found by ``RecordScanner``, which reads the whole file once and respects
quoted fields (a newline inside quotes never ends a slice), so the row counts are exact. Options the
scanner cannot follow (``skiprows``, ``comment``, ``escapechar``, a ``header`` other than 0 or None,
UTF-16/32 encodings, ...) make the file one slice read whole, never a wrong cut. JSON Lines cut by
bytes only reads around each cut; cut by rows it counts newlines. Parquet is cut by row groups
(consecutive groups up to the amount of rows or compressed bytes); a row group bigger than the
amount is split evenly by row index.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath
from typing import Any, BinaryIO, Literal, cast

from thresher.errors import ThresherError
from thresher.runtime.protocol import TabularSlice
from thresher.scheduler.record_scan import RecordScanner, line_end_at_or_after

SliceFormat = Literal["csv", "jsonl", "parquet"]
_EXTENSIONS: dict[str, tuple[str, dict[str, Any]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".parquet": ("parquet", {}),
    ".pqt": ("parquet", {}),
    ".jsonl": ("jsonl", {}),
    ".json": ("jsonl", {}),
    ".ndjson": ("jsonl", {}),
}
_FORMATS = {"csv": "csv", "tsv": "csv", "parquet": "parquet", "jsonl": "jsonl", "json": "jsonl"}
# Opens a table file for planning: a binary handle (seekable) and the file's size. Remote inputs pass
# one that reads through fsspec by range; local files are opened directly.
Opener = Callable[[], tuple[BinaryIO, int]]
_CSV_UNSPLITTABLE = ("skiprows", "skipfooter", "nrows", "comment", "escapechar", "lineterminator", "compression")


def file_format(path: PurePath, format: str | None, read_options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The slice format of ``path`` (csv, jsonl or parquet) and its read options, defaults first."""
    if format is not None:
        name = format.lower()
        if name not in _FORMATS:
            raise ThresherError(
                f"Tabular format '{format}' is not supported; supported: csv, tsv, parquet, jsonl, json (lines).",
                fix="Set the input's format to one of them.",
            )
        fmt, defaults = _FORMATS[name], ({"sep": "\t"} if name == "tsv" else {})
    else:
        found = _EXTENSIONS.get(path.suffix.lower())
        if found is None:
            raise ThresherError(
                f"Cannot tell the tabular format of {path} from its extension '{path.suffix}'; "
                f"known: {', '.join(_EXTENSIONS)}.",
                fix="Rename the file, remove it from the input folder, or give the input's format explicitly.",
            )
        fmt, defaults = found
    return fmt, {**defaults, **(read_options or {})}


def make_slice(path: Path | str, fmt: str, start: int, stop: int, **fields: Any) -> TabularSlice:
    """A slice (see the module docstring); ``fields`` sets first_row, rows, read_options, data_start."""
    piece: TabularSlice = {
        "path": str(path),
        "format": cast(SliceFormat, fmt),
        "start": start,
        "stop": stop,
        "unit": "rows" if fmt == "parquet" else "bytes",
        "first_row": fields.get("first_row"),
        "rows": fields.get("rows"),
        "read_options": dict(fields.get("read_options") or {}),
    }
    if fmt != "parquet":
        piece["data_start"] = fields.get("data_start", 0)
    return piece


def unusable_slice(path: Path, why: str) -> TabularSlice:
    """The slice of an entry that cannot be read: ``why`` says why (see the module docstring)."""
    return {
        "path": str(path),
        "format": None,
        "start": 0,
        "stop": 0,
        "unit": "bytes",
        "first_row": None,
        "rows": None,
        "read_options": {},
        "unusable": why,
    }


def csv_quote(options: dict[str, Any]) -> tuple[bool, bytes | None]:
    """Whether a CSV read with ``options`` can be cut at record ends, and the quote byte to track."""
    encoding = str(options.get("encoding") or "utf-8").lower().replace("_", "-")
    if any(options.get(key) for key in _CSV_UNSPLITTABLE) or encoding.startswith(
        ("utf-16", "utf-32", "utf16", "utf32")
    ):
        return False, None
    if options.get("header", "infer") not in ("infer", 0, None):
        return False, None
    if options.get("quoting") == 3:  # csv.QUOTE_NONE: quotes are plain characters
        return True, None
    quote = str(options.get("quotechar", '"'))
    return (True, quote.encode()) if len(quote.encode()) == 1 else (False, None)


def csv_data_start(handle: Any, options: dict[str, Any], quote: bytes | None) -> int:
    """Byte offset just after the header record (0 when ``header=None``)."""
    if options.get("header", "infer") is None:
        return 0
    return RecordScanner(handle, 0, quote=quote).advance(rows=1)[0]


def file_slices(
    path: Path | str, unit: str, amount: int, fmt: str, options: dict[str, Any], *, opener: Opener | None = None
) -> Iterator[TabularSlice]:
    """The slices of one file, in file order, each about ``amount`` bytes or rows.

    ``opener`` opens the file (a remote object); by default ``path`` is a local file.
    """
    if fmt == "parquet":
        yield from _parquet_slices(path, unit, amount, options, opener)
        return
    handle, size = opener() if opener is not None else _open(Path(path))
    with handle:
        splittable, quote = csv_quote(options) if fmt == "csv" else (True, None)
        if not splittable:
            yield make_slice(path, fmt, 0, size, first_row=0, read_options=options)
            return
        if fmt == "jsonl":
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
            if head.startswith(b"["):
                raise ThresherError(
                    f"{path} holds a JSON array, not JSON Lines (one object per line).",
                    fix="Convert it to JSON Lines: pandas.read_json(path).to_json(out, orient='records', lines=True)",
                )
        data_start = csv_data_start(handle, options, quote) if fmt == "csv" else 0
        scanner = RecordScanner(handle, data_start, quote=quote)
        start, first_row = data_start, 0
        fields = {"read_options": options, "data_start": data_start}
        while start < size:
            if unit == "rows":
                stop, rows = scanner.advance(rows=amount)
            elif fmt == "csv":
                stop, rows = scanner.advance(until=start + amount)
            else:  # JSON Lines by bytes: seek to each cut instead of reading what lies between
                stop = line_end_at_or_after(handle, start + amount, size)
                yield make_slice(path, fmt, start, stop, **fields)
                start = stop
                continue
            yield make_slice(path, fmt, start, stop, first_row=first_row, rows=rows, **fields)
            start, first_row = stop, first_row + rows
        if data_start >= size:
            yield make_slice(path, fmt, data_start, data_start, first_row=0, rows=0, **fields)


def _open(path: Path) -> tuple[BinaryIO, int]:
    try:
        handle = path.open("rb")
        return handle, os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise ThresherError(f"Cannot read input file {path}: {exc.strerror or exc}.", fix="Check it exists.") from exc


def parquet_file(path: Path | str, handle: BinaryIO | None = None) -> Any:
    """``pyarrow.parquet.ParquetFile`` of ``path`` (read through ``handle`` when given); errors name the file."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    try:
        return pq.ParquetFile(handle if handle is not None else str(path))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise ThresherError(
            f"Cannot read {path} as Parquet: {exc}", fix="Check the file is a complete Parquet file."
        ) from exc


def _parquet_slices(
    path: Path | str, unit: str, amount: int, options: dict[str, Any], opener: Opener | None
) -> Iterator[TabularSlice]:
    if opener is None:
        meta = parquet_file(path).metadata
    else:  # only the footer is read
        handle, _ = opener()
        with handle:
            meta = parquet_file(path, handle).metadata
    ranges: list[tuple[int, int]] = []
    start = offset = weight = 0
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        rows = group.num_rows
        if rows == 0:
            continue
        size = rows if unit == "rows" else sum(group.column(c).total_compressed_size for c in range(group.num_columns))
        if weight and weight + size > amount:
            ranges.append((start, offset))
            start, weight = offset, 0
        if size >= amount:  # a big row group alone, cut evenly by row index
            step = math.ceil(rows / math.ceil(size / amount))
            ranges.extend((s, min(s + step, offset + rows)) for s in range(offset, offset + rows, step))
            start = offset + rows
        else:
            weight += size
        offset += rows
    if weight:
        ranges.append((start, offset))
    if not ranges:
        ranges.append((0, 0))
    for first, last in ranges:
        yield make_slice(path, "parquet", first, last, first_row=first, rows=last - first, read_options=options)
