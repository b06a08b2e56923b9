"""Planning a batch job: cutting its inputs into mini-batches, streamed, and persisting the plan.

This module is the planner's public face; the pieces live beside it (``minibatch``, ``input_files``,
``tabular_plan``, ``tabular_partitions``, ``plan_file``). Planning streams: file inputs hold one
folder listing per folder level and one mini-batch at a time, so a million input files never become
a million objects at once. Partitioned plans are the exception: a partition is one mini-batch
however many files it holds, so they are grouped in memory.

Example (what the runner does)::

    size = parse_mini_batch_size(settings.mini_batch_size, tabular=False)
    batches = plan_files(iter_input_paths(root), size.amount)
    summary = write_plan(batches, job_dir / "plan.jsonl", root=root)
    ...
    if plan_fingerprint(root) != summary.fingerprint:  # on resume
        raise ConflictError(...)
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError
from thresher.runtime.entries import unusable
from thresher.scheduler.input_files import hive_values, iter_input_files, iter_input_paths
from thresher.scheduler.minibatch import BatchSize, MiniBatch, parse_mini_batch_size
from thresher.scheduler.plan_file import PlanSummary, plan_fingerprint, read_plan, write_plan
from thresher.scheduler.tabular_plan import file_format, file_slices, unusable_slice

__all__ = [
    "BatchSize",
    "MiniBatch",
    "PlanSummary",
    "iter_input_files",
    "iter_input_paths",
    "parse_mini_batch_size",
    "plan_files",
    "plan_fingerprint",
    "plan_partitions",
    "plan_tabular",
    "read_plan",
    "write_plan",
]


def plan_files(files: Iterable[str | os.PathLike[str]], size: int) -> Iterator[MiniBatch]:
    """Consecutive groups of ``size`` absolute path strings; the last group may be smaller.

    >>> [b.items for b in plan_files(map(Path, ["/d/a", "/d/b", "/d/c"]), 2)]
    [['/d/a', '/d/b'], ['/d/c']]
    """
    if size < 1:
        raise ThresherError(f"Files per mini-batch is {size}; it must be at least 1.", fix="Use a size of 1 or more.")
    iterator = iter(files)
    for index in itertools.count():
        items = [_absolute(path) for path in itertools.islice(iterator, size)]
        if not items:
            return
        yield MiniBatch(index, items)


def _absolute(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return text if os.path.isabs(text) or "://" in text else os.path.abspath(text)


def plan_tabular(
    files: Iterable[Path],
    size: BatchSize,
    *,
    format: str | None = None,
    read_options: dict[str, Any] | None = None,
) -> Iterator[MiniBatch]:
    """One mini-batch per slice of about ``size`` bytes or rows; a slice never crosses a file boundary.

    The format comes from each file's extension (``.csv``, ``.tsv``, ``.parquet``/``.pqt``,
    ``.jsonl``/``.json``/``.ndjson``, JSON meaning JSON Lines) unless ``format`` is given;
    ``read_options`` go to pandas (``sep``, ``encoding``, ``dtype``, ...). The slice contract is in
    ``thresher.scheduler.tabular_plan``. An entry that cannot be read (a broken link, a FIFO, ...) is
    one ``unusable`` slice, alone in its mini-batch, for the worker to fail.
    """
    if size.unit == "files":
        raise ThresherError(
            f"A tabular input is cut by bytes or rows, not by {size.amount} files.",
            fix="Give mini_batch_size as a size such as '10mb' or a row count such as '5000 rows'.",
        )
    index = itertools.count()
    for path in files:
        absolute = Path(os.path.abspath(path))
        problem = unusable(str(absolute))
        if problem is not None:  # never opened here: a FIFO would block planning for good
            yield MiniBatch(next(index), [unusable_slice(absolute, problem)])
            continue
        fmt, options = file_format(path, format, read_options)
        for piece in file_slices(absolute, size.unit, size.amount, fmt, options):
            yield MiniBatch(next(index), [piece])


def plan_partitions(
    files: Iterable[Path] | Path,
    keys: Sequence[str],
    *,
    tabular: bool,
    format: str | None = None,
    read_options: dict[str, Any] | None = None,
) -> Iterator[MiniBatch]:
    """One mini-batch per distinct combination of ``partition_keys`` values, in order of first appearance.

    File inputs take the keys from hive-style folder names in each file's path
    (``.../region=west/day=1/a.jpg`` is ``{"region": "west", "day": "1"}``); the items are the
    files' absolute paths, and every file must have every key. Tabular inputs: see
    ``thresher.scheduler.tabular_partitions``. Each mini-batch's ``partition`` is ``{key: value}``
    in the order of ``keys``. ``files`` may be the input folder itself (it is listed with
    ``iter_input_files``). Unlike the other planners this one holds the whole plan in memory: a
    partition is one mini-batch, however many files it holds.
    """
    if not keys:
        raise ThresherError("partition_keys is empty.", fix="Name at least one key, or leave partition_keys out.")
    listing = iter_input_files(files) if isinstance(files, Path) else files
    paths = (Path(os.path.abspath(path)) for path in listing)
    if tabular:
        from thresher.scheduler.tabular_partitions import partition_slices

        groups: Iterable[tuple[dict[str, Any], list[Any]]] = partition_slices(
            paths, keys, format=format, read_options=read_options
        )
    else:
        groups = _file_partitions(paths, keys)
    for index, (partition, items) in enumerate(groups):
        yield MiniBatch(index, items, partition)


def _file_partitions(paths: Iterable[Path], keys: Sequence[str]) -> list[tuple[dict[str, Any], list[Any]]]:
    return file_partitions(((str(path), path.as_posix()) for path in paths), keys)


def file_partitions(items: Iterable[tuple[str, str]], keys: Sequence[str]) -> list[tuple[dict[str, Any], list[Any]]]:
    """Group ``(item, its posix path)`` pairs by the hive-style ``key=value`` folders of the path."""
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[Any]]] = {}
    for item, posix in items:
        values = hive_values(posix)
        missing = [key for key in keys if key not in values]
        if missing:
            raise ThresherError(
                f"Input file {item} is not under a {missing[0]}=... folder, so it has no value for partition "
                f"key '{missing[0]}'; partition_keys of a folder input come from folder names like "
                f"{'/'.join(f'{key}=VALUE' for key in keys)}/FILE.",
                fix="Move the file into its partition folder, remove it, or change partition_keys.",
            )
        partition = {key: values[key] for key in keys}
        groups.setdefault(tuple(partition.values()), (partition, []))[1].append(item)
    return list(groups.values())
