"""A job's remote input and output: listing, fetching into a local cache, and publishing outputs.

Inputs in object storage are listed the way local folders are (``thresher.scheduler.input_files``):
depth-first, each folder's entries sorted by name, names starting with ``.`` and ``MLTable`` files
skipped, one folder level held at a time; a flat prefix of a million objects costs its listing and
nothing more. The items of the plan are the objects' URLs. The fingerprint of what was listed
(relative name, size, ETag or modification time) is summed as a multiset hash, like a local input's,
so a resumed job whose objects changed is refused.

Workers get local paths, as Azure's mounts give: ``fetch_items`` downloads a mini-batch's files (all
at once: the backends are asynchronous) into a cache folder, keeping their path below the input's
root, just before the mini-batch runs. A tabular slice is fetched by byte range (CSV, JSON Lines) or
by row group (Parquet, through the file's footer), never as the whole file.

Outputs are published with ``publish``: an object appears whole or not at all (S3 multipart uploads
and Azure block blobs are committed at the end), an existing object is never replaced, and
publishing the same bytes again (a runner killed after the upload, then resumed) succeeds.

Every call goes through ``thresher.storage.retry.retrying``: timeouts, throttling, 5xx answers and
dropped connections are retried with backoff for up to ``outage_limit`` seconds (the workspace's
``THRESHER_STORAGE_OUTAGE_LIMIT``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, StorageError
from thresher.runtime.protocol import TabularSlice
from thresher.storage.listing import list_folder, version_of
from thresher.storage.remote import RemoteURL
from thresher.storage.retry import OUTAGE_LIMIT, retrying

MLTABLE = "MLTable"
_MODULUS = 1 << 256
_COMPARE_CHUNK = 1 << 20


class RemoteFingerprint:
    """The multiset hash of listed objects: (relative name, size, version), order-independent."""

    def __init__(self) -> None:
        self._sum = self.files = self.bytes = 0

    def add(self, relative: str, size: int, version: str) -> None:
        digest = hashlib.sha256(f"{relative}\0{size}\0{version}".encode()).digest()
        self._sum = (self._sum + int.from_bytes(digest, "big")) % _MODULUS
        self.files += 1
        self.bytes += size

    def hexdigest(self) -> str:
        return hashlib.sha256(f"remote\0{self.files}\0{self.bytes}\0{self._sum:064x}".encode()).hexdigest()


def _listing(fs: Any, folder: str, root: RemoteURL, limit: float) -> Iterator[dict[str, Any]]:
    """The folder's entries in input order, page by page, without hidden names, MLTable files and itself."""

    def call(request: Any) -> Any:
        return retrying(root.label, request, outage_limit=limit)

    top = folder.rstrip("/")
    for entry in list_folder(fs, root.protocol, folder, call=call):
        name = entry["name"]
        base = name.rsplit("/", 1)[-1]
        if name == top or not base or base.startswith("."):
            continue
        if entry["type"] != "directory" and base == MLTABLE:
            continue
        yield entry


def iter_remote_files(
    root: RemoteURL, fingerprint: RemoteFingerprint | None = None, *, outage_limit: float = OUTAGE_LIMIT
) -> Iterator[str]:
    """Yield the URL of every object under ``root`` in input order (see the module docstring).

    ``fingerprint`` accumulates what was listed. A missing ``root`` raises StorageError naming it.
    """
    fs, top = root.fs()
    top = top.rstrip("/")
    info = _info(fs, top, root, outage_limit)
    if info.get("type") != "directory":
        if fingerprint is not None:
            fingerprint.add(top.rsplit("/", 1)[-1], int(info.get("size") or 0), version_of(info))
        yield root.url
        return
    prefix = top + "/"
    stack = [_listing(fs, top, root, outage_limit)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        name = entry["name"]
        if entry["type"] == "directory":
            stack.append(_listing(fs, name, root, outage_limit))
            continue
        if fingerprint is not None:
            fingerprint.add(name[len(prefix) :], entry["size"], entry["version"])
        yield str(fs.unstrip_protocol(name))


def remote_fingerprint(root: RemoteURL, *, outage_limit: float = OUTAGE_LIMIT) -> str:
    """The fingerprint of the objects under ``root`` now, comparable with a plan's."""
    fingerprint = RemoteFingerprint()
    for _ in iter_remote_files(root, fingerprint, outage_limit=outage_limit):
        pass
    return fingerprint.hexdigest()


def _info(fs: Any, path: str, root: RemoteURL, limit: float) -> dict[str, Any]:
    try:
        info: dict[str, Any] = retrying(root.label, lambda: fs.info(path), outage_limit=limit)
    except FileNotFoundError:
        raise StorageError(
            f"Input {root.label} does not exist.",
            fix="Check the path (and the datastore's container or bucket), then invoke again.",
        ) from None
    return info


def relative_name(root: RemoteURL, url: str) -> str:
    """The object's path below the input's root (its own name when the root is the object)."""
    base = root.url.rstrip("/")
    if url == base:
        return url.rsplit("/", 1)[-1]
    if not url.startswith(base + "/"):
        raise StorageError(
            f"Item {url} is not below the job's input {root.label}; the plan does not belong to this input.",
            fix="Invoke a new job.",
        )
    return url[len(base) + 1 :]


def _path_of(fs: Any, url: str) -> str:
    """The filesystem's path of an item's URL (``bucket/key``; a web address stays whole)."""
    return str(fs._strip_protocol(url))


def fetch_items(root: RemoteURL, items: list[Any], cache: Path, *, outage_limit: float = OUTAGE_LIMIT) -> list[Any]:
    """The mini-batch's items as local files under ``cache`` (see the module docstring).

    An object that is gone since planning keeps its URL: the worker fails that item with its own
    message. Transient errors are retried (``retrying``); an outage past the limit raises.
    """
    fs, _ = root.fs()
    local: list[Any] = []
    wanted: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, dict):
            local.append(fetch_slice(root, item, cache, outage_limit=outage_limit))  # type: ignore[arg-type]
            continue
        target = cache / relative_name(root, item)
        target.parent.mkdir(parents=True, exist_ok=True)
        wanted.append((_path_of(fs, item), str(target)))
        local.append(str(target))
    if wanted:
        sources, targets = [source for source, _ in wanted], [target for _, target in wanted]
        try:
            retrying(root.label, lambda: fs.get(sources, targets), outage_limit=outage_limit)
        except FileNotFoundError:  # one of them is gone: fetch one by one to find which
            _fetch_each(fs, root, wanted, outage_limit)
    return _gone_to_urls(local, items)


def fetched_names(local: list[Any], items: list[Any]) -> dict[str, str]:
    """Local path -> URL for a fetched mini-batch (``fetch_items``'s result and its items), so that failure
    reports name the object, not the cache."""

    def name(item: Any) -> str:
        return str(item.get("path") if isinstance(item, dict) else item)

    return {name(mine): name(theirs) for mine, theirs in zip(local, items, strict=True)}


def _fetch_each(fs: Any, root: RemoteURL, wanted: list[tuple[str, str]], limit: float) -> None:
    for source, target in wanted:
        try:
            retrying(root.label, lambda s=source, t=target: fs.get_file(s, t), outage_limit=limit)  # type: ignore[misc]
        except FileNotFoundError:
            Path(target).unlink(missing_ok=True)


def _gone_to_urls(local: list[Any], items: list[Any]) -> list[Any]:
    """A file that could not be fetched is passed on as its URL, which the worker reports as gone."""
    return [
        original if isinstance(path, str) and not os.path.exists(path) else path
        for path, original in zip(local, items, strict=True)
    ]


def fetch_slice(
    root: RemoteURL, piece: TabularSlice, cache: Path, *, outage_limit: float = OUTAGE_LIMIT
) -> TabularSlice:
    """A local file holding just the slice's records (and the CSV header), and the slice pointing at it."""
    if piece.get("unusable") or piece.get("format") is None:
        return piece
    fs, _ = root.fs()
    source = _path_of(fs, piece["path"])
    relative = relative_name(root, piece["path"])
    target = cache / f"{relative}.{piece['start']}-{piece['stop']}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if piece["format"] == "parquet":
            return _fetch_row_groups(fs, root, source, piece, target, outage_limit)
        header_end = int(piece.get("data_start", 0))
        header = (
            retrying(root.label, lambda: fs.cat_file(source, start=0, end=header_end), outage_limit=outage_limit)
            if header_end
            else b""
        )
        data = retrying(
            root.label, lambda: fs.cat_file(source, start=piece["start"], end=piece["stop"]), outage_limit=outage_limit
        )
    except FileNotFoundError:
        return piece  # gone since planning: the worker says so
    target.write_bytes(header + data)
    fetched: TabularSlice = {**piece, "path": str(target), "start": len(header), "stop": len(header) + len(data)}
    if piece["format"] == "csv":
        fetched["data_start"] = len(header)
    return fetched


def _fetch_row_groups(
    fs: Any, root: RemoteURL, source: str, piece: TabularSlice, target: Path, limit: float
) -> TabularSlice:
    """The row groups that hold rows ``start:stop``, read through the footer, as a small local Parquet file."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    def read() -> tuple[Any, int]:
        # No read-ahead cache: pyarrow asks for the footer and then each column chunk it needs, by range.
        with fs.open(source, "rb", cache_type="none") as handle:
            file = pq.ParquetFile(handle)
            meta = file.metadata
            groups, offset, first = [], 0, None
            for index in range(meta.num_row_groups):
                rows = meta.row_group(index).num_rows
                if offset < piece["stop"] and offset + rows > piece["start"]:
                    groups.append(index)
                    first = offset if first is None else first
                offset += rows
            table = file.read_row_groups(groups) if groups else file.schema_arrow.empty_table()
            return table, first or 0

    table, first = retrying(root.label, read, outage_limit=limit)
    pq.write_table(table, str(target))
    return {**piece, "path": str(target), "start": piece["start"] - first, "stop": piece["stop"] - first}


def publish(local: Path, target: RemoteURL, *, outage_limit: float = OUTAGE_LIMIT) -> None:
    """Upload ``local`` to ``target`` whole, unless ``target`` already holds the same bytes.

    Raises ConflictError when another object is at ``target``: outputs are never replaced.
    """
    fs, path = target.fs()
    if retrying(target.label, lambda: fs.exists(path), outage_limit=outage_limit):
        if _same_bytes(fs, path, local, target, outage_limit):
            return  # published by an earlier attempt of this job
        raise ConflictError(
            f"Output {target.label} already exists; thresher never overwrites outputs.",
            fix="Choose another --output-path (or output_file_name), or delete the object and resume the job.",
        )
    parent = path.rsplit("/", 1)[0]
    retrying(target.label, lambda: fs.makedirs(parent, exist_ok=True), outage_limit=outage_limit)
    retrying(target.label, lambda: fs.put_file(str(local), path), outage_limit=outage_limit)


def _same_bytes(fs: Any, path: str, local: Path, target: RemoteURL, limit: float) -> bool:
    size = int(retrying(target.label, lambda: fs.info(path), outage_limit=limit).get("size") or 0)
    if size != local.stat().st_size:
        return False

    def compare() -> bool:
        with fs.open(path, "rb") as remote, local.open("rb") as mine:
            while True:
                theirs, ours = remote.read(_COMPARE_CHUNK), mine.read(_COMPARE_CHUNK)
                if theirs != ours:
                    return False
                if not ours:
                    return True

    return bool(retrying(target.label, compare, outage_limit=limit))


def exists(target: RemoteURL, *, outage_limit: float = OUTAGE_LIMIT) -> bool:
    """Whether an object is at ``target``."""
    fs, path = target.fs()
    return bool(retrying(target.label, lambda: fs.exists(path), outage_limit=outage_limit))


def upload(local: Path, target: RemoteURL, *, outage_limit: float = OUTAGE_LIMIT) -> None:
    """Put ``local`` at ``target``, replacing what is there (a part written again by a retried piece)."""
    fs, path = target.fs()
    retrying(target.label, lambda: fs.put_file(str(local), path), outage_limit=outage_limit)


def download(source: RemoteURL, local: Path, *, outage_limit: float = OUTAGE_LIMIT) -> None:
    """Get ``source`` into ``local`` (its folder made first)."""
    fs, path = source.fs()
    local.parent.mkdir(parents=True, exist_ok=True)
    retrying(source.label, lambda: fs.get_file(path, str(local)), outage_limit=outage_limit)


def remove_tree(target: RemoteURL, *, outage_limit: float = OUTAGE_LIMIT) -> None:
    """Delete everything below ``target`` (nothing there is fine)."""
    fs, path = target.fs()
    with contextlib.suppress(FileNotFoundError):
        retrying(target.label, lambda: fs.rm(path, recursive=True), outage_limit=outage_limit)
