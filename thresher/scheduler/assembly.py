"""Assembling the ``append_row`` output file from the workers' parts, in input order.

Parts are what workers wrote, one per task (``thresher.runtime.formats``): text parts (azure, mlflow,
csv, jsonl) hold whole lines with no header; Parquet parts are complete files. Text parts are
concatenated byte for byte (a csv output first gets a header line built from ``columns``); Parquet
parts are streamed row group by row group into one ``ParquetWriter`` whose schema is the first
non-empty part's. A part with other column types is cast when no value can change (null to any type,
integer and float widths, string and binary flavours, timestamp units, and the cast checks each
value); different columns, or any other type change, is an error naming the part and both schemas.

The output is written to a hidden partial file beside the target (its name is the job's, with the
runner's claim in it, so two runners never write the same one; its bytes are the same on every
attempt) and published with ``os.link``, which fails if the target exists:
thresher never replaces an output file, not even one that appeared while it was assembling. On file
systems without hard links an exclusive create reserves the name first. Publishing again after a
crash finds its own file already there (the same bytes) and succeeds, so finalizing is idempotent.
"""

from __future__ import annotations

import csv
import errno
import filecmp
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, StorageError, ThresherError
from thresher.runtime.protocol import OutputFormat
from thresher.storage.disk import writing

_CHUNK = 1 << 20
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV, errno.EMLINK}


@dataclass(frozen=True)
class AssemblyResult:
    """The assembled file: data rows (lines of text, without the csv header) and its size in bytes."""

    rows: int
    bytes: int


def _exists_error(target: Path) -> ConflictError:
    return ConflictError(
        f"Output file {target} already exists; thresher never overwrites outputs.",
        fix="Choose another --output-path (or output_file_name), or delete the file and resume the job.",
    )


def assemble(
    parts: Iterable[Path], target: Path, *, format: OutputFormat | str, columns: list[str] | None, job: str = "job"
) -> AssemblyResult:
    """Write ``target`` from ``parts`` in the given order: ``write_partial`` then ``publish``.

    ``columns`` is the csv header (no header when None) and the schema of a Parquet output whose
    parts are all empty; other formats ignore it. Raises ConflictError if another file is at
    ``target`` and StorageError if a part is missing; ``target`` is never left half-written.
    """
    partial = partial_path(target, job)
    result = write_partial(parts, partial, format=format, columns=columns)
    publish(partial, target)
    return result


def partial_path(target: Path, job: str) -> Path:
    """Where ``job`` writes ``target`` before publishing it: a hidden file beside it, the same every time."""
    return target.parent / f".{target.name}.{job}.partial"


def write_partial(
    parts: Iterable[Path], partial: Path, *, format: OutputFormat | str, columns: list[str] | None
) -> AssemblyResult:
    """Write the whole output to ``partial`` (replacing what is there) and flush it to disk.

    The bytes depend only on the parts, so writing it again (a runner killed while finalizing, then
    resumed) gives the same file. On failure (a full disk) nothing is left behind.
    """
    try:
        fmt = OutputFormat(format)
    except ValueError:
        known = ", ".join(f.value for f in OutputFormat)
        raise ThresherError(f"Output format '{format}' is unknown.", fix=f"Use one of: {known}.") from None
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.unlink(missing_ok=True)
    try:
        with writing(partial):
            if fmt is OutputFormat.PARQUET:
                rows = _write_parquet(parts, str(partial), columns)
            else:
                # An ordinary file, as the user's tools would create it (umask applies).
                with partial.open("wb") as out:
                    rows = _write_text(parts, out, columns if fmt is OutputFormat.CSV else None)
            _fsync(str(partial))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return AssemblyResult(rows, partial.stat().st_size)


def publish(partial: Path, target: Path) -> None:
    """Give ``partial`` the name ``target``, atomically, unless another file has it.

    If ``target`` exists with the same bytes, it was published by an earlier attempt that was
    killed before it could clean up: ``partial`` is dropped and that is success. Any other file at
    ``target`` is a ConflictError: thresher never replaces an output file.
    """
    try:
        if target.exists():
            if filecmp.cmp(partial, target, shallow=False):
                return
            raise _exists_error(target)
        _link(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _open_part(part: Path) -> io.BufferedReader:
    try:
        return part.open("rb")
    except OSError as exc:
        raise StorageError(
            f"Result part {part} cannot be read: {exc.strerror or exc}. It was committed, so something "
            "removed or changed it.",
            fix="Leave the job's parts folder alone; resume the job to write the missing part again.",
        ) from exc


def _write_text(parts: Iterable[Path], out: io.BufferedWriter, columns: list[str] | None) -> int:
    if columns is not None:
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(columns)
        out.write(header.getvalue().encode("utf-8", "surrogateescape"))  # as the parts are written
    rows = 0
    for part in parts:
        last = b"\n"
        with _open_part(part) as handle:
            while chunk := handle.read(_CHUNK):
                out.write(chunk)
                rows += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":  # a part must end with a newline; never glue two parts' lines together
            out.write(b"\n")
            rows += 1
    return rows


def _write_parquet(parts: Iterable[Path], temp: str, columns: list[str] | None) -> int:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    writer: Any = None
    first: tuple[Path, Any] | None = None  # the part that set the schema, and the schema
    fallback: Any = None  # schema of an empty part, for an output without rows
    rows = 0
    try:
        for part in parts:
            _open_part(part).close()
            try:
                file = pq.ParquetFile(str(part))
            except Exception as exc:  # ArrowInvalid, OSError, ...
                raise StorageError(
                    f"Result part {part} is not a readable Parquet file: {exc}",
                    fix="Leave the job's parts folder alone; resume the job to write the part again.",
                ) from exc
            if file.metadata.num_rows == 0:
                if fallback is None or not len(fallback):
                    fallback = file.schema_arrow
                continue
            if first is None:
                first = (part, file.schema_arrow)
                writer = pq.ParquetWriter(temp, first[1])
            for index in range(file.metadata.num_row_groups):
                table = _conform(pa, file.read_row_group(index), first, part)
                writer.write_table(table)
                rows += table.num_rows
        if writer is None:
            if fallback is None or (not len(fallback) and columns):
                fallback = pa.schema([(name, pa.null()) for name in columns or []])
            writer = pq.ParquetWriter(temp, fallback)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _kind(pa: Any, kind: Any) -> str:
    types = pa.types
    if types.is_dictionary(kind):
        return _kind(pa, kind.value_type)
    for name, test in (
        ("number", lambda t: types.is_integer(t) or types.is_floating(t)),
        (
            "text",
            lambda t: (
                types.is_string(t) or types.is_large_string(t) or getattr(types, "is_string_view", lambda _: False)(t)
            ),
        ),
        ("binary", lambda t: types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t)),
        ("timestamp", types.is_timestamp),
    ):
        if test(kind):
            return name
    return str(kind)


def _conform(pa: Any, table: Any, first: tuple[Path, Any], part: Path) -> Any:
    source, schema = first
    if table.schema.equals(schema, check_metadata=False):
        return table

    def mismatch(detail: str) -> ThresherError:
        def show(s: Any) -> str:
            return ", ".join(f"{field.name}: {field.type}" for field in s)

        return ThresherError(
            f"Result part {part} does not fit the Parquet output's schema ({detail}).\n"
            f"  output (from {source.name}): {show(schema)}\n  part: {show(table.schema)}",
            fix="Make run() return the same columns with the same types for every mini-batch "
            "(e.g. df.astype({...}) before returning).",
        )

    if sorted(table.schema.names) != sorted(schema.names):
        raise mismatch("different columns")
    table = table.select(schema.names)
    for field in schema:
        kind = table.schema.field(field.name).type
        if kind != field.type and not pa.types.is_null(kind) and _kind(pa, kind) != _kind(pa, field.type):
            raise mismatch(f"column {field.name} is {kind}, not {field.type}")
    try:
        return table.cast(schema, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise mismatch(f"a value cannot be cast: {exc}") from exc


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _link(temp: Path, target: Path) -> None:
    """Give ``temp`` the name ``target`` unless ``target`` exists, atomically; ``temp`` may stay."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise _exists_error(target) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        try:  # no hard links here: reserve the name exclusively, then move the file over our own placeholder
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            raise _exists_error(target) from None
        os.replace(temp, target)
    try:  # make the new name durable
        folder = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)
