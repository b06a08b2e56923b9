"""Partitioning tabular files by key columns: one mini-batch per distinct combination of key values.

Each key is taken from a hive-style folder name in the file's path (``region=west/``) when there is
one, else from the file's column of that name. Only the key columns are read (in chunks, so memory is
bounded by a chunk and the set of distinct combinations). A combination's items are one slice per
file that holds it, with ``"filter": {column: value}`` naming the rows that belong to it (keys from
folder names need no filter). A CSV or JSON Lines slice spans the whole file and the worker keeps the
matching rows; a Parquet slice is narrowed to the rows from the first to the last match. ``rows``
and ``first_row`` count the matching rows. Partitions come in order of first appearance (files in
sorted path order, rows in file order).

Value types: CSV key columns are read as text (the slice's ``read_options["dtype"]`` says so, for
the worker too), so ``day=01`` stays ``"01"``; JSON Lines keeps JSON's types; Parquet keeps the
column type. Keys must be text, integer, float or boolean; a missing value is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError
from thresher.runtime.entries import unusable
from thresher.runtime.protocol import TabularSlice
from thresher.scheduler.input_files import hive_values
from thresher.scheduler.tabular_plan import (
    csv_data_start,
    csv_quote,
    file_format,
    make_slice,
    parquet_file,
    unusable_slice,
)

_CHUNK_ROWS = 1 << 18
Partition = tuple[dict[str, Any], list[TabularSlice]]


def partition_slices(
    files: Iterable[Path],
    keys: Sequence[str],
    *,
    format: str | None = None,
    read_options: dict[str, Any] | None = None,
) -> list[Partition]:
    """``(partition, slices)`` per distinct key combination of ``files`` (absolute paths).

    Files without rows are added, as zero-row slices, to the first partition's items, so that every
    input file is in the plan (see ``tabular_plan``). So is an entry that cannot be read (a broken link,
    a FIFO, ...), as an ``unusable`` slice for the worker to fail, unless its folder names give all the
    keys: then it goes to that partition. Without any partition, unusable entries form one whose keys
    are all None.
    """
    groups: dict[tuple[Any, ...], Partition] = {}
    empty: list[TabularSlice] = []
    refused: list[TabularSlice] = []  # unusable entries without a partition of their own
    for path in files:
        hive = hive_values(path.as_posix())
        problem = unusable(str(path))
        if problem is not None:  # never opened here: a FIFO would block planning for good
            refusal = unusable_slice(path, problem)
            if all(key in hive for key in keys):
                partition = {key: hive[key] for key in keys}
                groups.setdefault(tuple(partition.values()), (partition, []))[1].append(refusal)
            else:
                refused.append(refusal)
            continue
        fmt, options = file_format(path, format, read_options)
        columns = [key for key in keys if key not in hive]
        if fmt == "csv" and columns and (options.get("dtype") is None or isinstance(options.get("dtype"), dict)):
            options = {**options, "dtype": {**(options.get("dtype") or {}), **dict.fromkeys(columns, "str")}}
        whole = _whole_file(path, fmt, options)
        found = 0
        for values, first, last, count in _combinations(path, fmt, options, columns):
            found += count
            partition = {key: hive[key] if key in hive else values[columns.index(key)] for key in keys}
            piece: TabularSlice = {**whole, "first_row": first, "rows": count}
            if columns:
                piece["filter"] = dict(zip(columns, values, strict=True))
            if fmt == "parquet":
                piece["start"], piece["stop"] = first, last + 1
            groups.setdefault(tuple(partition.values()), (partition, []))[1].append(piece)
        if not found:
            empty.append({**whole, "first_row": 0, "rows": 0, "stop": whole["start"]})
    partitions = list(groups.values())
    if refused and not partitions:  # the entries must be in the plan, to be failed and fingerprinted
        partitions.append((dict.fromkeys(keys), []))
    empty += refused
    if partitions:
        partitions[0][1].extend(empty)
    return partitions


def _whole_file(path: Path, fmt: str, options: dict[str, Any]) -> TabularSlice:
    if fmt == "parquet":
        rows = parquet_file(path).metadata.num_rows
        return make_slice(path, fmt, 0, rows, read_options=options)
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        splittable, quote = csv_quote(options) if fmt == "csv" else (True, None)
        start = csv_data_start(handle, options, quote) if fmt == "csv" and splittable else 0
    return make_slice(path, fmt, start, size, read_options=options, data_start=start)


def _combinations(
    path: Path, fmt: str, options: dict[str, Any], columns: list[str]
) -> Iterator[tuple[tuple[Any, ...], int, int, int]]:
    """``(values, first row, last row, row count)`` per combination of ``columns``, by first appearance."""
    if not columns:  # every key comes from folder names: the whole file is one combination
        rows = _count_rows(path, fmt, options)
        if rows:
            yield (), 0, rows - 1, rows
        return
    seen: dict[tuple[Any, ...], list[int]] = {}
    present: set[str] = set()
    offset = 0
    for chunk in _key_chunks(path, fmt, options, columns):
        present.update(column for column in columns if column in chunk.columns)
        if fmt == "jsonl":  # a record may leave a key out: that is a missing value, not a missing column
            chunk = chunk.reindex(columns=columns)
        elif len(present) < len(columns):
            _no_column(path, columns, present, chunk.columns)
        positions = chunk.assign(_row=range(offset, offset + len(chunk)))
        stats = positions.groupby(columns, dropna=False, sort=False)["_row"].agg(["min", "max", "size"])
        for index, (first, last, count) in zip(stats.index, stats.itertuples(index=False), strict=True):
            values = tuple(_plain(path, column, value) for column, value in zip(columns, _as_tuple(index), strict=True))
            if values in seen:
                seen[values][1:] = [int(last), seen[values][2] + int(count)]
            else:
                seen[values] = [int(first), int(last), int(count)]
        offset += len(chunk)
    if offset and len(present) < len(columns):
        _no_column(path, columns, present, None)
    for values, (first, last, count) in seen.items():
        yield values, first, last, count


def _no_column(path: Path, columns: list[str], present: set[str], names: Any) -> None:
    missing = [column for column in columns if column not in present]
    listing = f"; its columns are {', '.join(map(str, names))}" if names is not None else ""
    raise ThresherError(
        f"{path} has no column {', '.join(missing)} for partition_keys, and no {missing[0]}=... folder in its "
        f"path{listing}.",
        fix="Fix partition_keys, or remove the file from the input.",
    )


def _key_chunks(path: Path, fmt: str, options: dict[str, Any], columns: list[str]) -> Iterator[Any]:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    try:
        if fmt == "parquet":
            file = parquet_file(path)
            if not set(columns) <= set(file.schema_arrow.names):
                yield pd.DataFrame(columns=file.schema_arrow.names)
                return
            for batch in file.iter_batches(batch_size=_CHUNK_ROWS, columns=columns or None):
                yield batch.to_pandas()
        elif path.stat().st_size == 0:
            return
        elif fmt == "csv":
            header = pd.read_csv(path, **{**options, "nrows": 0}).columns
            if not set(columns) <= set(header):
                yield pd.DataFrame(columns=header)
                return
            with pd.read_csv(path, **{**options, "usecols": columns or header[:1], "chunksize": _CHUNK_ROWS}) as reader:
                yield from reader
        else:
            with pd.read_json(path, lines=True, chunksize=_CHUNK_ROWS, **{"dtype": False, **options}) as reader:
                yield from reader
    except ThresherError:
        raise
    except Exception as exc:  # pandas and pyarrow raise many types; name the file
        raise ThresherError(
            f"Cannot read the partition_keys columns of {path}: {type(exc).__name__}: {exc}",
            fix="Check the file, and read_options of the input.",
        ) from exc


def _count_rows(path: Path, fmt: str, options: dict[str, Any]) -> int:
    if fmt == "parquet":
        return int(parquet_file(path).metadata.num_rows)
    return sum(len(chunk) for chunk in _key_chunks(path, fmt, options, []))


def _as_tuple(index: Any) -> tuple[Any, ...]:
    return index if isinstance(index, tuple) else (index,)


def _plain(path: Path, column: str, value: Any) -> Any:
    """A key value as plain JSON data: numpy scalars unwrapped, missing values None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    raise ThresherError(
        f"partition_keys column {column} of {path} holds {value!r} ({type(value).__name__}); partition keys "
        "must be text, integer, float or boolean columns.",
        fix=f"Store {column} as text (e.g. an ISO date string), or partition by another column.",
    )
