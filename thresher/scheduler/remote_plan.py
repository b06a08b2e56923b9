"""Planning a job whose input is in object storage: the same plans as for a local folder, from a listing.

Files: consecutive groups of object URLs, in input order (``thresher.storage.remote_files``).
Tabular: each object is cut into slices as a local file is (``thresher.scheduler.tabular_plan``),
reading through fsspec: a CSV file is scanned once (quotes decide where records end), a JSON Lines
file read around each cut, and a Parquet file only by its footer. Partitions of file inputs come
from hive-style folder names in the objects' paths, as for local folders.

    listed = RemoteFingerprint()
    batches = plan_remote(root, size, tabular=False, listed=listed)
    summary = write_plan(batches, plan_path, listed=listed)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from thresher.errors import ThresherError
from thresher.scheduler.minibatch import BatchSize, MiniBatch
from thresher.scheduler.planner import file_partitions, plan_files
from thresher.scheduler.tabular_plan import file_format, file_slices
from thresher.storage.remote import RemoteURL
from thresher.storage.remote_files import RemoteFingerprint, iter_remote_files, relative_name
from thresher.storage.retry import OUTAGE_LIMIT, retrying

_SCAN_BLOCK = 8 << 20  # CSV scanning reads sequentially: big read-ahead blocks, few requests


def plan_remote(
    root: RemoteURL,
    size: BatchSize,
    *,
    tabular: bool,
    listed: RemoteFingerprint,
    format: str | None = None,
    read_options: dict[str, Any] | None = None,
    partition_keys: Sequence[str] = (),
    outage_limit: float = OUTAGE_LIMIT,
) -> Iterator[MiniBatch]:
    """The mini-batches of the remote input ``root``; ``listed`` accumulates its fingerprint."""
    urls = iter_remote_files(root, listed, outage_limit=outage_limit)
    if partition_keys:
        if tabular:
            raise ThresherError(
                f"partition_keys of a tabular input need the table files on this machine; {root.label} is remote.",
                fix="Leave partition_keys out for this input, or copy the files to a local folder or datastore.",
            )
        return _partitions(root, urls, partition_keys)
    if not tabular:
        return plan_files(urls, size.amount)
    if size.unit == "files":
        raise ThresherError(
            f"A tabular input is cut by bytes or rows, not by {size.amount} files.",
            fix="Give mini_batch_size as a size such as '10mb' or a row count such as '5000 rows'.",
        )
    return _tabular(root, urls, size, format, read_options, outage_limit)


def _tabular(
    root: RemoteURL,
    urls: Iterator[str],
    size: BatchSize,
    format: str | None,
    read_options: dict[str, Any] | None,
    limit: float,
) -> Iterator[MiniBatch]:
    fs, _ = root.fs()
    index = itertools.count()
    for url in urls:
        path = str(fs._strip_protocol(url))
        fmt, options = file_format(PurePosixPath(relative_name(root, url)), format, read_options)

        def opener(path: str = path, fmt: str = fmt) -> tuple[BinaryIO, int]:
            length = int(retrying(root.label, lambda: fs.info(path), outage_limit=limit).get("size") or 0)
            if fmt == "parquet":  # the footer only: no read-ahead
                handle = retrying(root.label, lambda: fs.open(path, "rb", cache_type="none"), outage_limit=limit)
            else:
                handle = retrying(root.label, lambda: fs.open(path, "rb", block_size=_SCAN_BLOCK), outage_limit=limit)
            return handle, length

        for piece in file_slices(url, size.unit, size.amount, fmt, options, opener=opener):
            yield MiniBatch(next(index), [piece])


def _partitions(root: RemoteURL, urls: Iterator[str], keys: Sequence[str]) -> Iterator[MiniBatch]:
    pairs = ((url, "/" + relative_name(root, url)) for url in urls)  # partitions come from the path below the root
    for index, (partition, items) in enumerate(file_partitions(pairs, keys)):
        yield MiniBatch(index, items, partition)
