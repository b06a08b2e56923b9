"""Reading tabular slices into the DataFrame a scoring script's ``run()`` gets.

Runs in the model's environment: the standard library, plus pandas and pyarrow imported when a
tabular mini-batch arrives. The slice dicts are planned by ``thresher.scheduler.tabular_plan``
(whose docstring is the contract); this module must not import it.

- csv: the header bytes ``[0:data_start]`` and the data bytes ``[start:stop]`` are parsed together by
  ``pandas.read_csv(**read_options)``. Each slice infers its own dtypes, as pandas does for each
  chunk of a big file: give ``dtype`` in read_options where a column's type must not depend on which
  rows a mini-batch holds.
- jsonl: ``pandas.read_json(lines=True)`` over ``[start:stop]``, with ``dtype=False`` unless
  read_options say otherwise, so JSON strings stay strings in every slice ("01" is not 1).
- parquet: rows ``[start:stop]`` via pyarrow, reading only the row groups that hold them;
  read_options may give ``columns``.

A ``filter`` ({column: value}, None meaning missing) keeps the rows of one partition.
"""

from __future__ import annotations

import importlib
import io
from typing import Any

from thresher.runtime.protocol import TabularSlice

_PARQUET_OPTIONS = {"columns"}


class TabularReadError(Exception):
    """A tabular slice cannot be read; the message names the file, the range and what to do."""


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        package = name.split(".")[0]
        raise TabularReadError(
            f"Tabular inputs need {package} in the model's environment, and it is not installed. "
            f"Add {package} (and pandas and pyarrow) to the deployment's environment."
        ) from exc


def read_slices(slices: list[TabularSlice]) -> Any:
    """One ``pandas.DataFrame`` of every slice's rows, in order, with a fresh 0..n-1 index.

    Errors name the file and the byte or row range.
    """
    pd = _import("pandas")
    frames = [_read_slice(piece) for piece in slices]
    if not frames:
        return pd.DataFrame()
    rows = [frame for frame in frames if len(frame)] or frames[:1]
    if len(rows) == 1:
        return rows[0].reset_index(drop=True)
    return pd.concat(rows, ignore_index=True)


def _read_slice(piece: TabularSlice) -> Any:
    path, fmt, start, stop = piece["path"], piece["format"], piece["start"], piece["stop"]
    unit = "rows" if fmt == "parquet" else "bytes"
    where = f"{path} ({unit} {start}..{stop}" + (
        f", rows from {piece['first_row']})" if piece.get("first_row") is not None and unit == "bytes" else ")"
    )
    options = dict(piece.get("read_options") or {})
    try:
        if fmt == "csv":
            frame = _read_csv(path, piece.get("data_start", 0), start, stop, options)
        elif fmt == "jsonl":
            frame = _read_jsonl(path, start, stop, options)
        elif fmt == "parquet":
            frame = _read_parquet(path, start, stop, options)
        else:
            raise ValueError(f"unknown slice format {fmt!r}; expected csv, jsonl or parquet")
    except TabularReadError:
        raise
    except FileNotFoundError as exc:
        raise TabularReadError(
            f"Input file {path} is gone: it was planned but cannot be found now. "
            "Don't change the input while the job runs; invoke a new job on the input as it is now."
        ) from exc
    except Exception as exc:  # pandas and pyarrow raise many types; name the file and range
        raise TabularReadError(
            f"Cannot read {fmt} slice {where}: {type(exc).__name__}: {exc}. "
            "Check the file, and the input's read_options (they are passed to pandas)."
        ) from exc
    return _filter(frame, piece.get("filter"), where)


def _byte_range(path: str, start: int, stop: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(stop - start)
    if len(data) != stop - start:
        raise ValueError(f"the file is {start + len(data)} bytes now, shorter than planned; it changed")
    return data


def _read_csv(path: str, data_start: int, start: int, stop: int, options: dict[str, Any]) -> Any:
    pd = _import("pandas")
    header = _byte_range(path, 0, data_start) if data_start else b""
    data = header + _byte_range(path, start, stop)
    if not data.strip():
        return pd.DataFrame()
    return pd.read_csv(io.BytesIO(data), **options)


def _read_jsonl(path: str, start: int, stop: int, options: dict[str, Any]) -> Any:
    pd = _import("pandas")
    encoding = options.pop("encoding", None) or "utf-8"
    text = _byte_range(path, start, stop).decode(encoding)
    if not text.strip():
        return pd.DataFrame()
    return pd.read_json(io.StringIO(text), lines=True, **{"dtype": False, **options})


def _read_parquet(path: str, start: int, stop: int, options: dict[str, Any]) -> Any:
    unknown = sorted(set(options) - _PARQUET_OPTIONS)
    if unknown:
        raise ValueError(f"read_options {unknown} are not supported for Parquet; supported: columns")
    parquet = _import("pyarrow.parquet")
    file = parquet.ParquetFile(path)
    meta = file.metadata
    if stop > meta.num_rows:
        raise ValueError(f"the file has {meta.num_rows} rows now, fewer than planned; it changed")
    groups, offset, first = [], 0, None
    for index in range(meta.num_row_groups):
        rows = meta.row_group(index).num_rows
        if offset < stop and offset + rows > start:
            groups.append(index)
            first = offset if first is None else first
        offset += rows
    columns = options.get("columns")
    if not groups:
        return file.schema_arrow.empty_table().select(columns or file.schema_arrow.names).to_pandas()
    table = file.read_row_groups(groups, columns=columns)
    return table.slice(start - (first or 0), stop - start).to_pandas()


def _filter(frame: Any, where: dict[str, Any] | None, place: str) -> Any:
    if not where or not len(frame):
        return frame
    missing = [column for column in where if column not in frame.columns]
    if missing:
        raise TabularReadError(f"Slice {place} has no partition column {', '.join(missing)}; the file changed?")
    keep = None
    for column, value in where.items():
        match = frame[column].isna() if value is None else frame[column] == value
        keep = match if keep is None else keep & match
    return frame[keep].reset_index(drop=True)
